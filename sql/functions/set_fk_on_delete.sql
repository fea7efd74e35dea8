-- versatools_set_fk_on_delete(table, column, action)
--
-- Rewrites the single-column foreign key on table(column) so that it carries
-- ON DELETE <action>, keeping everything else Django generated (name, target,
-- DEFERRABLE INITIALLY DEFERRED). Django 5.2 emulates CASCADE in Python only;
-- a user deleted from Supabase's dashboard or with raw SQL must take their
-- rows along, so the database has to know.
CREATE OR REPLACE FUNCTION public.versatools_set_fk_on_delete(p_table regclass, p_column text, p_action text)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog
AS $$
DECLARE
    fk record;
    definition text;
BEGIN
    IF upper(p_action) NOT IN ('CASCADE', 'SET NULL', 'RESTRICT', 'NO ACTION') THEN
        RAISE EXCEPTION 'unsupported ON DELETE action: %', p_action;
    END IF;
    FOR fk IN
        SELECT con.conname, pg_get_constraintdef(con.oid) AS def
        FROM pg_constraint con
        JOIN pg_attribute att ON att.attrelid = con.conrelid AND att.attnum = con.conkey[1]
        WHERE con.conrelid = p_table
          AND con.contype = 'f'
          AND cardinality(con.conkey) = 1
          AND att.attname = p_column
    LOOP
        definition := regexp_replace(fk.def, ' ON DELETE (CASCADE|SET NULL|SET DEFAULT|RESTRICT|NO ACTION)', '');
        definition := regexp_replace(definition, '(REFERENCES \S+\([^)]*\))', '\1 ON DELETE ' || upper(p_action));
        EXECUTE format('ALTER TABLE %s DROP CONSTRAINT %I', p_table, fk.conname);
        EXECUTE format('ALTER TABLE %s ADD CONSTRAINT %I %s', p_table, fk.conname, definition);
        RETURN;
    END LOOP;
    RAISE EXCEPTION 'no single-column foreign key on %.%', p_table, p_column;
END;
$$;
