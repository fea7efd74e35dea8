-- updated_at kept right on UPDATE for the billing app's tables (see function.sql).
CREATE TRIGGER plans_set_updated_at BEFORE UPDATE ON public.plans
    FOR EACH ROW EXECUTE FUNCTION public.versatools_set_updated_at();
CREATE TRIGGER subscriptions_set_updated_at BEFORE UPDATE ON public.subscriptions
    FOR EACH ROW EXECUTE FUNCTION public.versatools_set_updated_at();
CREATE TRIGGER credit_balances_set_updated_at BEFORE UPDATE ON public.credit_balances
    FOR EACH ROW EXECUTE FUNCTION public.versatools_set_updated_at();
CREATE TRIGGER usage_counters_set_updated_at BEFORE UPDATE ON public.usage_counters
    FOR EACH ROW EXECUTE FUNCTION public.versatools_set_updated_at();
CREATE TRIGGER admin_settings_set_updated_at BEFORE UPDATE ON public.admin_settings
    FOR EACH ROW EXECUTE FUNCTION public.versatools_set_updated_at();
