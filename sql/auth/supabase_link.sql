-- Supabase mode: public.users becomes the profile of auth.users, as the
-- schema this project implements says (users.id REFERENCES auth.users(id)
-- ON DELETE CASCADE). Installed only where Supabase's auth.users exists (by
-- the accounts migration, and again after every migrate, in case Supabase's
-- auth server created auth.users after this project migrated); on plain
-- PostgreSQL and SQLite nothing here runs. Idempotent.
--
-- * A Supabase sign-up (a row in auth.users) creates the profile, with email,
--   name and picture from the auth record, and opens the account: the
--   default plan and its credits (versatools_account_open, the one starting
--   rule). A confirmed email is recorded as verified (account_emailaddress,
--   the table the app reads verification from).
-- * A change of email, confirmation or name in auth.users follows.
-- * A user Django creates (createsuperuser, the admin, seed_demo, the
--   sign-up form) gets its auth.users row first, so the FK holds and Supabase
--   knows every user; Django's profile insert then finds it.
-- * Deleting the auth user deletes the profile and, through the FK cascades
--   of every table, all the user owns; the storage_objects_deleted trigger
--   owes each blob its delete and gives the bytes back. Deleting the profile
--   from the app deletes the auth user too.
-- * Auth users without a profile, and profiles without an auth user, are
--   backfilled before the FK is added; one email held by two different ids
--   stops the migration with their list (an operator must decide).
--
-- The functions are SECURITY DEFINER with a fixed search_path: the sign-up
-- trigger runs as Supabase's auth server (supabase_auth_admin), which may not
-- write the app's tables; the owner (the migrating role, postgres on
-- Supabase) may write auth.users. None is callable through the Data API.
DO $link$
DECLARE
    conflicting text;
BEGIN
    IF to_regclass('auth.users') IS NULL THEN
        RETURN;
    END IF;

    -- The profile of one auth user, and its account: for the sign-up trigger
    -- and the backfill alike. Idempotent (a profile already there is kept).
    CREATE OR REPLACE FUNCTION public.versatools_auth_profile_open(signed_up auth.users)
    RETURNS void
    LANGUAGE plpgsql
    SECURITY DEFINER
    SET search_path = pg_catalog, public
    AS $fn$
    BEGIN
        INSERT INTO public.users (id, password, is_superuser, email, name, image, is_active, is_staff,
                                  created_at, updated_at)
        VALUES (
            signed_up.id,
            -- Django's mark of an unusable password: this user signs in through Supabase.
            '!' || md5(random()::text || clock_timestamp()::text || signed_up.id::text),
            false,
            -- A phone-only sign-up has no email; the column is unique and required.
            coalesce(nullif(signed_up.email, ''), signed_up.id::text || '@users.invalid'),
            left(coalesce(signed_up.raw_user_meta_data ->> 'full_name', signed_up.raw_user_meta_data ->> 'name',
                          ''), 150),
            left(coalesce(signed_up.raw_user_meta_data ->> 'avatar_url',
                          signed_up.raw_user_meta_data ->> 'picture', ''), 500),
            true,
            false,
            coalesce(signed_up.created_at, now()),
            now()
        )
        ON CONFLICT (id) DO NOTHING;
        PERFORM public.versatools_account_open(signed_up.id);
        PERFORM public.versatools_auth_email_verified(signed_up.id, signed_up.email, signed_up.email_confirmed_at);
    END;
    $fn$;

    CREATE OR REPLACE FUNCTION public.versatools_auth_user_created()
    RETURNS trigger
    LANGUAGE plpgsql
    SECURITY DEFINER
    SET search_path = pg_catalog, public
    AS $fn$
    BEGIN
        -- Inserted by versatools_users_ensure_auth_user for a profile Django
        -- is creating right now: that insert is the profile, and Django opens
        -- its account.
        IF pg_trigger_depth() > 1 THEN
            RETURN NEW;
        END IF;
        PERFORM public.versatools_auth_profile_open(NEW);
        RETURN NEW;
    END;
    $fn$;

    CREATE OR REPLACE FUNCTION public.versatools_auth_user_changed()
    RETURNS trigger
    LANGUAGE plpgsql
    SECURITY DEFINER
    SET search_path = pg_catalog, public
    AS $fn$
    BEGIN
        IF NEW.email IS DISTINCT FROM OLD.email AND nullif(NEW.email, '') IS NOT NULL THEN
            UPDATE public.users SET email = NEW.email, updated_at = now() WHERE id = NEW.id;
        END IF;
        PERFORM public.versatools_auth_email_verified(NEW.id, NEW.email, NEW.email_confirmed_at);
        RETURN NEW;
    END;
    $fn$;

    -- Verification is read from allauth's account_emailaddress (the app's
    -- own sign-ups verify there too), so Supabase's confirmation is copied in.
    CREATE OR REPLACE FUNCTION public.versatools_auth_email_verified(
        verified_user_id uuid, verified_email text, confirmed_at timestamptz
    )
    RETURNS void
    LANGUAGE plpgsql
    SECURITY DEFINER
    SET search_path = pg_catalog, public
    AS $fn$
    BEGIN
        IF confirmed_at IS NULL OR nullif(verified_email, '') IS NULL
           OR to_regclass('public.account_emailaddress') IS NULL THEN
            RETURN;
        END IF;
        UPDATE public.account_emailaddress SET "primary" = false
        WHERE user_id = verified_user_id AND lower(email) <> lower(verified_email) AND "primary";
        INSERT INTO public.account_emailaddress (user_id, email, verified, "primary")
        VALUES (verified_user_id, lower(verified_email), true, true)
        ON CONFLICT (user_id, email) DO UPDATE SET verified = true, "primary" = true;
    END;
    $fn$;

    CREATE OR REPLACE FUNCTION public.versatools_users_ensure_auth_user()
    RETURNS trigger
    LANGUAGE plpgsql
    SECURITY DEFINER
    SET search_path = pg_catalog, public
    AS $fn$
    BEGIN
        -- Columns every version of Supabase's auth.users has; the rest default.
        INSERT INTO auth.users (instance_id, id, aud, role, email, raw_app_meta_data, raw_user_meta_data,
                                created_at, updated_at)
        VALUES ('00000000-0000-0000-0000-000000000000', NEW.id, 'authenticated', 'authenticated', NEW.email,
                '{"provider": "email", "providers": ["email"]}'::jsonb,
                jsonb_build_object('name', NEW.name), now(), now())
        ON CONFLICT (id) DO NOTHING;
        RETURN NEW;
    END;
    $fn$;

    CREATE OR REPLACE FUNCTION public.versatools_users_deleted()
    RETURNS trigger
    LANGUAGE plpgsql
    SECURITY DEFINER
    SET search_path = pg_catalog, public
    AS $fn$
    BEGIN
        -- Depth 1: the profile itself was deleted (the app, an operator), not
        -- cascaded from auth.users (then the auth row is already going).
        IF pg_trigger_depth() = 1 THEN
            DELETE FROM auth.users WHERE id = OLD.id;
        END IF;
        RETURN OLD;
    END;
    $fn$;

    REVOKE EXECUTE ON FUNCTION public.versatools_auth_profile_open(auth.users),
        public.versatools_auth_user_created(), public.versatools_auth_user_changed(),
        public.versatools_auth_email_verified(uuid, text, timestamptz),
        public.versatools_users_ensure_auth_user(), public.versatools_users_deleted()
        FROM PUBLIC, anon, authenticated, service_role;

    -- Backfill: one email, two ids cannot be linked without someone deciding.
    SELECT string_agg(u.email, ', ' ORDER BY u.email) INTO conflicting
    FROM public.users AS u
    JOIN auth.users AS a ON lower(a.email) = lower(u.email) AND a.id <> u.id;
    IF conflicting IS NOT NULL THEN
        RAISE EXCEPTION 'versatools: these emails belong to one user in auth.users and another in public.users: %',
            conflicting
            USING HINT = 'Delete or re-address one of each pair, then migrate again.';
    END IF;

    PERFORM public.versatools_auth_profile_open(a) FROM auth.users AS a;

    INSERT INTO auth.users (instance_id, id, aud, role, email, raw_app_meta_data, raw_user_meta_data, created_at,
                            updated_at)
    SELECT '00000000-0000-0000-0000-000000000000', u.id, 'authenticated', 'authenticated', u.email,
           '{"provider": "email", "providers": ["email"]}'::jsonb, jsonb_build_object('name', u.name),
           u.created_at, now()
    FROM public.users AS u
    WHERE NOT EXISTS (SELECT FROM auth.users AS a WHERE a.id = u.id);

    IF NOT EXISTS (SELECT FROM pg_catalog.pg_constraint WHERE conname = 'users_id_auth_users_fkey') THEN
        ALTER TABLE public.users
            ADD CONSTRAINT users_id_auth_users_fkey FOREIGN KEY (id) REFERENCES auth.users (id) ON DELETE CASCADE;
    END IF;

    CREATE OR REPLACE TRIGGER versatools_auth_user_created
        AFTER INSERT ON auth.users
        FOR EACH ROW EXECUTE FUNCTION public.versatools_auth_user_created();
    CREATE OR REPLACE TRIGGER versatools_auth_user_changed
        AFTER UPDATE OF email, email_confirmed_at ON auth.users
        FOR EACH ROW EXECUTE FUNCTION public.versatools_auth_user_changed();
    CREATE OR REPLACE TRIGGER users_ensure_auth_user
        BEFORE INSERT ON public.users
        FOR EACH ROW EXECUTE FUNCTION public.versatools_users_ensure_auth_user();
    CREATE OR REPLACE TRIGGER users_deleted
        AFTER DELETE ON public.users
        FOR EACH ROW EXECUTE FUNCTION public.versatools_users_deleted();
END
$link$;
