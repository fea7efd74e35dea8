-- Deliberately leaves the roles in place.
--
-- Roles belong to the whole cluster, not to this database: other databases
-- (the test database, another checkout, Supabase's own schemas) hold grants
-- and policies naming them, and DROP ROLE would fail there or break them.
-- Keeping them is harmless: NOLOGIN roles with no privileges here. The same
-- goes for USAGE on schema public, which Supabase grants to them itself.
SELECT 'anon, authenticated and service_role are cluster-wide: kept' AS note;
