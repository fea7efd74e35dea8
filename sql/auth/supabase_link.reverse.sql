-- Removes exactly what supabase_link.sql added; the rows it backfilled stay.
DO $unlink$
BEGIN
    IF to_regclass('auth.users') IS NOT NULL THEN
        DROP TRIGGER IF EXISTS versatools_auth_user_created ON auth.users;
        DROP TRIGGER IF EXISTS versatools_auth_user_changed ON auth.users;
    END IF;
END
$unlink$;
DROP TRIGGER IF EXISTS users_ensure_auth_user ON public.users;
DROP TRIGGER IF EXISTS users_deleted ON public.users;
ALTER TABLE public.users DROP CONSTRAINT IF EXISTS users_id_auth_users_fkey;
DROP FUNCTION IF EXISTS public.versatools_auth_user_created();
DO $unlink_profile$
BEGIN
    IF to_regclass('auth.users') IS NOT NULL THEN
        DROP FUNCTION IF EXISTS public.versatools_auth_profile_open(auth.users);
    END IF;
END
$unlink_profile$;
DROP FUNCTION IF EXISTS public.versatools_auth_user_changed();
DROP FUNCTION IF EXISTS public.versatools_auth_email_verified(uuid, text, timestamptz);
DROP FUNCTION IF EXISTS public.versatools_users_ensure_auth_user();
DROP FUNCTION IF EXISTS public.versatools_users_deleted();
