-- versatools_set_updated_at(): BEFORE UPDATE trigger keeping updated_at right
-- for rows written outside Django: Supabase's dashboard, the Data
-- API, raw SQL, and QuerySet.update() calls that do not name the column.
--
-- A writer that sets updated_at itself keeps its value: Django's auto_now on
-- save(), services that write `updated_at = now()`, and backfills or tests
-- that set a past time on purpose.
CREATE OR REPLACE FUNCTION public.versatools_set_updated_at()
RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog
AS $$
BEGIN
    IF NEW.updated_at IS NOT DISTINCT FROM OLD.updated_at THEN
        NEW.updated_at := now();
    END IF;
    RETURN NEW;
END;
$$;
