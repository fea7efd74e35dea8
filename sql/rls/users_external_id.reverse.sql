REVOKE SELECT (external_id) ON public.users FROM authenticated;
