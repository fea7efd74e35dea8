-- Nothing to undo: handing the stand-ins to supabase_auth_admin and dropping
-- an unused auth.jwt() stand-in are what every later state wants too; the
-- stand-ins themselves go with the reverse of sql/rls/auth_schema.sql.
SELECT 1;
