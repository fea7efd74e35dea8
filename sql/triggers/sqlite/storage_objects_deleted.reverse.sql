DROP TRIGGER IF EXISTS storage_objects_deleted
