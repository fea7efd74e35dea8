"""Whoever deletes a stored file's row, its blob and its quota follow.

The database's storage_objects_deleted trigger owes each deleted row's blob a
delete and gives the bytes back to the owner's storage counter, in the
deleting transaction. These tests delete rows every way there is (the app's
services, the ORM, an FK cascade from a run or a user, raw SQL, Supabase's
Data API under RLS) and check the same end state after one cleanup pass:
no blob without a row, no row without a blob, counters equal to live bytes.
"""

from __future__ import annotations

import threading
import uuid
from datetime import UTC, datetime, timedelta

import psycopg
import pytest
from django.db import connection, transaction
from django.db.models import Sum

from billing.models import UsageCounter
from billing.selectors import STORAGE_METRIC, STORAGE_WINDOW
from core.errors import NotFound
from files import storage
from files.cleanup import storage_deletions_process
from files.models import ObjectRole, StorageDeletion, StorageObject
from files.reconcile import storage_reconcile
from files.services import storage_object_store
from files.tests.conftest import test_database_url as database_url
from history.expiry import expire_runs_and_files
from history.models import History, RunStatus
from history.services import run_delete
from versatools.rls import rls_as_user

PDF = b"%PDF-1.4\n" + b"%" * 40 + b"\n%%EOF\n"

pytestmark = pytest.mark.django_db(transaction=True)


def counted(user) -> int:
    row = UsageCounter.objects.filter(user_id=user.id, metric=STORAGE_METRIC, window_start=STORAGE_WINDOW[0]).first()
    return row.count if row else 0


def live_bytes(user) -> int:
    return StorageObject.objects.filter(user_id=user.id).aggregate(n=Sum("size"))["n"] or 0


def other_connection() -> psycopg.Connection:
    """A connection of its own, as a second client (a worker, the Data API) would have."""
    return psycopg.connect(database_url(), autocommit=True)


def delete_with_raw_sql(run, user) -> None:
    with other_connection() as conn:
        conn.execute("DELETE FROM history WHERE id = %s", [run.id])


def delete_through_the_data_api(run, user) -> None:
    # PostgREST runs the user's request as `authenticated` with their claims.
    with transaction.atomic(), rls_as_user(user.id), connection.cursor() as cursor:
        cursor.execute("DELETE FROM history WHERE id = %s", [run.id])
        assert cursor.rowcount == 1


def delete_the_user_with_raw_sql(run, user) -> None:
    with other_connection() as conn:
        conn.execute("DELETE FROM users WHERE id = %s", [user.id])


def delete_the_user_with_the_orm(run, user) -> None:
    user.delete()


def delete_with_the_service(run, user) -> None:
    run_delete(user_id=user.id, run_id=run.id)


def delete_with_the_orm(run, user) -> None:
    History.objects.filter(id=run.id).delete()


WAYS = [
    delete_with_the_service,
    delete_with_the_orm,
    delete_with_raw_sql,
    delete_through_the_data_api,
    delete_the_user_with_the_orm,
    delete_the_user_with_raw_sql,
]


@pytest.mark.parametrize("delete", WAYS, ids=lambda f: f.__name__)
def test_every_way_of_deleting_a_run_owes_its_blobs_and_gives_its_bytes_back(any_storage, make_user, make_run, delete):
    owner, bystander = make_user(), make_user()
    run = make_run(owner, status=RunStatus.COMPLETED)
    storage_object_store(user_id=owner.id, content=PDF, name="in.pdf", run_id=run.id)
    storage_object_store(user_id=owner.id, content=PDF, name="out.pdf", run_id=run.id, role=ObjectRole.OUTPUT)
    kept = storage_object_store(user_id=owner.id, content=PDF, name="kept.pdf")
    theirs = storage_object_store(user_id=bystander.id, content=PDF, name="theirs.pdf")
    assert counted(owner) == 3 * len(PDF)

    delete(run, owner)

    user_gone = not type(owner).objects.filter(id=owner.id).exists()
    if not user_gone:
        # Counted in the deleting transaction, whoever deleted.
        assert counted(owner) == live_bytes(owner) == len(PDF)
    expire_runs_and_files()  # finishes whatever was owed and not yet done
    assert StorageDeletion.objects.count() == 0
    assert any_storage.keys() == ({theirs.key} if user_gone else {kept.key, theirs.key})
    assert set(StorageObject.objects.values_list("key", flat=True)) == any_storage.keys()
    assert counted(bystander) == len(PDF)


def test_billings_storage_release_names_the_storage_counter_billing_reads():
    # The SQL function the trigger calls spells the metric and the standing window out; they must stay billing's.
    assert STORAGE_METRIC == "storage_bytes"
    assert STORAGE_WINDOW[0] == datetime(2000, 1, 1, tzinfo=UTC)
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_get_functiondef('public.versatools_storage_usage_release'::regproc)")
        source = cursor.fetchone()[0]
    assert f"'{STORAGE_METRIC}'" in source and "'2000-01-01 00:00:00+00'" in source


def test_cleanup_owes_nothing_for_blobs_it_deleted_itself(fs_storage, user, make_run):
    run = make_run(user, status=RunStatus.COMPLETED)
    storage_object_store(user_id=user.id, content=PDF, name="a.pdf", run_id=run.id)
    History.objects.filter(id=run.id).update(expires_at=datetime(2001, 1, 1, tzinfo=UTC))

    result = expire_runs_and_files()

    assert (result.runs_deleted, result.object_rows_deleted, result.bytes_released) == (1, 1, len(PDF))
    assert StorageDeletion.objects.count() == 0 and result.deletions_completed == 0
    assert counted(user) == 0 and fs_storage.keys() == set()


def test_an_output_stored_while_its_run_is_being_deleted_waits_then_finds_nothing(fs_storage, user, make_run):
    """The deadlock of a delete racing the worker: now the delete holds the run, the worker waits for it."""
    run = make_run(user, status=RunStatus.PROCESSING)
    storage_object_store(user_id=user.id, content=PDF, name="in.pdf", run_id=run.id)
    outcome: list[BaseException | StorageObject] = []

    with other_connection() as deleter:
        deleter.execute("BEGIN")
        deleter.execute("SELECT 1 FROM history WHERE id = %s FOR UPDATE", [run.id])

        def store_output() -> None:
            try:
                outcome.append(
                    storage_object_store(
                        user_id=user.id, content=PDF, name="out.pdf", run_id=run.id, role=ObjectRole.OUTPUT
                    )
                )
            except BaseException as error:  # noqa: BLE001 (reported to the test thread)
                outcome.append(error)
            finally:
                connection.close()

        worker = threading.Thread(target=store_output)
        worker.start()
        worker.join(timeout=1)
        assert worker.is_alive(), "the store should wait for the run the delete holds"
        deleter.execute("DELETE FROM history WHERE id = %s", [run.id])
        deleter.execute("COMMIT")
        worker.join(timeout=30)

    assert len(outcome) == 1 and isinstance(outcome[0], NotFound)
    expire_runs_and_files()
    assert fs_storage.keys() == set() and StorageObject.objects.count() == 0
    assert counted(user) == 0 and StorageDeletion.objects.count() == 0


def test_a_row_deleted_while_its_blob_is_written_takes_the_blob_with_it(fs_storage, user, make_run, monkeypatch):
    """The owed delete can run before the blob exists; the writer then deletes what it wrote."""
    run = make_run(user, status=RunStatus.PROCESSING)
    write = storage.write

    def slow_write(*, backend, key, content, content_type):
        # Meanwhile, the run is deleted and its owed deletes are done at once.
        with other_connection() as conn:
            conn.execute("DELETE FROM history WHERE id = %s", [run.id])
        storage_deletions_process(keys=[key])
        write(backend=backend, key=key, content=content, content_type=content_type)

    monkeypatch.setattr(storage, "write", slow_write)
    with pytest.raises(NotFound):
        storage_object_store(user_id=user.id, content=PDF, name="out.pdf", run_id=run.id, role=ObjectRole.OUTPUT)

    expire_runs_and_files()
    assert fs_storage.keys() == set() and StorageDeletion.objects.count() == 0
    assert counted(user) == 0


def test_reconcile_recounts_storage_counters_from_live_rows(fs_storage, make_user):
    right, drifted, missing_counter = make_user(), make_user(), make_user()
    for person in (right, drifted, missing_counter):
        storage_object_store(user_id=person.id, content=PDF, name="a.pdf")
    UsageCounter.objects.filter(user_id=drifted.id, metric=STORAGE_METRIC).update(count=999_999)
    UsageCounter.objects.filter(user_id=missing_counter.id, metric=STORAGE_METRIC).delete()

    report = storage_reconcile(repair=False)
    assert (report.counters_off, report.counters_repaired) == (2, 0)
    assert counted(drifted) == 999_999

    repaired = storage_reconcile(repair=True)
    assert (repaired.counters_off, repaired.counters_repaired) == (2, 2)
    assert [counted(p) for p in (right, drifted, missing_counter)] == [len(PDF)] * 3
    assert storage_reconcile(repair=True).counters_off == 0


def test_a_user_whose_files_are_all_gone_is_recounted_to_zero(fs_storage, user):
    obj = storage_object_store(user_id=user.id, content=PDF, name="a.pdf")
    # A hand edit that went around the trigger (as the table owner, with triggers off).
    with connection.cursor() as cursor:
        cursor.execute("ALTER TABLE storage_objects DISABLE TRIGGER storage_objects_deleted")
        cursor.execute("DELETE FROM storage_objects WHERE id = %s", [obj.id])
        cursor.execute("ALTER TABLE storage_objects ENABLE TRIGGER storage_objects_deleted")
    assert counted(user) == len(PDF)

    storage_reconcile(repair=True, grace=timedelta(0))

    assert counted(user) == 0 and fs_storage.keys() == set()


def test_unknown_user_ids_owe_nothing(fs_storage):
    # A delete that matches nothing fires the statement trigger with an empty set.
    StorageObject.objects.filter(user_id=uuid.uuid4()).delete()
    assert StorageDeletion.objects.count() == 0
