-- Back to PostgreSQL's default: EXECUTE for everyone.
GRANT EXECUTE ON FUNCTION public.versatools_set_fk_on_delete(regclass, text, text) TO PUBLIC;
GRANT EXECUTE ON FUNCTION public.versatools_set_updated_at() TO PUBLIC;
