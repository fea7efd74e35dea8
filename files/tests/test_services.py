"""Uploads, downloads and ORM deletes, on the filesystem and on a real S3 server."""

from __future__ import annotations

import io
import re
import zipfile
from datetime import timedelta
from urllib.request import urlopen

import pytest
from django.db import transaction
from django.utils import timezone

from billing.exceptions import QuotaExceeded
from billing.models import Plan, Subscription, UsageCounter
from billing.selectors import STORAGE_METRIC
from core.errors import NotFound, ServiceError
from files.exceptions import FileNameInvalid, FileTooLarge, FileTypeNotAllowed, StorageUnavailable, UploadInvalid
from files.models import StorageDeletion, StorageObject
from files.selectors import storage_object_download
from files.services import storage_object_delete, storage_object_store, storage_objects_delete_for_run

PNG = (
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89"
    + b"\x00" * 64
)
PDF = b"%PDF-1.4\n1 0 obj\n<<>>\nendobj\ntrailer\n<<>>\n%%EOF\n"
KEY_SHAPE = re.compile(r"^(?P<user>[0-9a-f-]{36})/(?P<entity>runs|uploads)/\d{4}/\d{2}/[0-9a-f-]{36}\.(?P<ext>\w+)$")


def storage_used(user) -> int:
    counter = UsageCounter.objects.filter(user=user, metric=STORAGE_METRIC).first()
    return counter.count if counter else 0


def zip_bytes() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("a.txt", "hello")
    return buffer.getvalue()


@pytest.mark.both_dialects
@pytest.mark.django_db
def test_store_writes_object_under_seed_004_key_and_counts_quota(any_storage, user, make_run):
    run = make_run(user)

    obj = storage_object_store(user_id=user.id, content=PDF, name="Quarterly report.pdf", run_id=run.id)

    match = KEY_SHAPE.match(obj.key)
    assert match and match["user"] == str(user.id) and match["entity"] == "runs" and match["ext"] == "pdf"
    assert any_storage.keys() == {obj.key}
    assert (obj.original_name, obj.content_type, obj.size) == ("Quarterly report.pdf", "application/pdf", len(PDF))
    assert obj.expires_at == run.expires_at
    assert storage_used(user) == len(PDF)


@pytest.mark.both_dialects
@pytest.mark.django_db
def test_key_never_contains_the_client_name_and_extension_follows_content(fs_storage, user):
    obj = storage_object_store(user_id=user.id, content=PNG, name="holiday photo.pdf")

    assert "holiday" not in obj.key and obj.key.endswith(".png")
    assert obj.content_type == "image/png"


@pytest.mark.both_dialects
@pytest.mark.django_db
def test_key_prefix_setting_puts_every_key_under_it(fs_storage, user, settings):
    settings.STORAGE_KEY_PREFIX = "tenant-a/"

    obj = storage_object_store(user_id=user.id, content=PDF, name="a.pdf")

    assert obj.key.startswith(f"tenant-a/{user.id}/uploads/")
    assert fs_storage.keys() == {obj.key}


REJECTED_UPLOADS = [
    pytest.param({"content": PDF, "name": "../../etc/passwd"}, FileNameInvalid, 400, id="path-traversal-name"),
    pytest.param({"content": PDF, "name": b"r\xe9sum\xe9.pdf"}, FileNameInvalid, 400, id="non-utf8-bytes-name"),
    pytest.param({"content": PDF, "name": "r\udce9sum\udce9.pdf"}, FileNameInvalid, 400, id="surrogate-escaped-name"),
    pytest.param({"content": PDF, "name": "   "}, FileNameInvalid, 400, id="empty-name"),
    pytest.param({"content": PDF, "name": "a\x00b.pdf"}, FileNameInvalid, 400, id="nul-in-name"),
    pytest.param({"content": PDF, "name": "invoice\u202efdp.exe"}, FileNameInvalid, 400, id="rtl-override-name"),
    pytest.param({"content": PDF, "name": "C:\\x\\a.pdf"}, FileNameInvalid, 400, id="windows-path-name"),
    pytest.param({"content": b"", "name": "a.pdf"}, UploadInvalid, 400, id="empty-body"),
    pytest.param(
        {"content": b"<!DOCTYPE html><html><script>alert(1)</script></html>", "name": "cat.png"},
        FileTypeNotAllowed,
        415,
        id="html-named-png",
    ),
    pytest.param({"content": zip_bytes(), "name": "a.pdf"}, FileTypeNotAllowed, 415, id="zip-outside-allow-list"),
    pytest.param({"content": b"name,qty\nbolt,3\nnut,4\n", "name": "a.csv"}, FileTypeNotAllowed, 415, id="csv-no-tool"),
    pytest.param(
        {"content": PNG, "name": "a.png", "tool_id": "pdf-merge"}, FileTypeNotAllowed, 415, id="png-to-pdf-tool"
    ),
]


@pytest.mark.both_dialects
@pytest.mark.django_db
@pytest.mark.parametrize(("upload", "error", "status"), REJECTED_UPLOADS)
def test_rejected_upload_leaves_no_row_no_object_no_usage(any_storage, user, upload, error, status):
    with pytest.raises(error) as raised:
        storage_object_store(user_id=user.id, **upload)

    assert isinstance(raised.value, ServiceError) and raised.value.http_status == status
    assert raised.value.message
    assert StorageObject.objects.count() == 0
    assert any_storage.keys() == set()
    assert storage_used(user) == 0


@pytest.mark.both_dialects
@pytest.mark.django_db
def test_oversize_body_is_413_against_the_plan_limit(any_storage, user):
    plan = Plan.objects.create(key="tiny", name="Tiny", credits=0, max_file_bytes=1024, storage_bytes=10**6)
    Subscription.objects.create(user=user, plan=plan)

    with pytest.raises(FileTooLarge) as raised:
        storage_object_store(user_id=user.id, content=PDF + b"%" * 2000, name="big.pdf")

    assert raised.value.http_status == 413
    assert StorageObject.objects.count() == 0 and any_storage.keys() == set() and storage_used(user) == 0


@pytest.mark.both_dialects
@pytest.mark.django_db
def test_default_upload_limit_is_upload_max_bytes(fs_storage, user, settings):
    settings.UPLOAD_MAX_BYTES = 100

    with pytest.raises(FileTooLarge):
        storage_object_store(user_id=user.id, content=PDF + b"%" * 100, name="a.pdf")
    assert storage_object_store(user_id=user.id, content=PDF, name="a.pdf").size == len(PDF)


@pytest.mark.both_dialects
@pytest.mark.django_db
def test_storage_quota_refuses_the_upload_that_would_cross_it(fs_storage, user):
    plan = Plan.objects.create(key="small", name="Small", credits=0, max_file_bytes=1000, storage_bytes=len(PDF) * 2)
    Subscription.objects.create(user=user, plan=plan)
    storage_object_store(user_id=user.id, content=PDF, name="1.pdf")
    storage_object_store(user_id=user.id, content=PDF, name="2.pdf")

    with pytest.raises(QuotaExceeded):
        storage_object_store(user_id=user.id, content=PDF, name="3.pdf")

    assert StorageObject.objects.count() == 2 and len(fs_storage.keys()) == 2
    assert storage_used(user) == len(PDF) * 2


@pytest.mark.both_dialects
@pytest.mark.django_db
def test_upload_to_someone_elses_or_an_expired_run_is_not_found(fs_storage, make_user, make_run):
    owner, other = make_user(), make_user()
    run = make_run(owner)
    expired = make_run(owner, expires_at=timezone.now() - timedelta(seconds=1))

    with pytest.raises(NotFound):
        storage_object_store(user_id=other.id, content=PDF, name="a.pdf", run_id=run.id)
    with pytest.raises(NotFound):
        storage_object_store(user_id=owner.id, content=PDF, name="a.pdf", run_id=expired.id)
    assert StorageObject.objects.count() == 0 and fs_storage.keys() == set()


@pytest.mark.both_dialects
@pytest.mark.django_db
def test_store_inside_a_transaction_is_refused(fs_storage, user):
    # The row must be committed before the blob exists; nested, it would not be.
    with transaction.atomic(), pytest.raises(RuntimeError, match="durable"):
        storage_object_store(user_id=user.id, content=PDF, name="a.pdf")
    assert fs_storage.keys() == set()


@pytest.mark.django_db
def test_failed_write_on_a_stopped_s3_server_keeps_nothing(s3_storage, user):
    s3_storage.server.stop()

    with pytest.raises(StorageUnavailable) as raised:
        storage_object_store(user_id=user.id, content=PDF, name="a.pdf")

    assert raised.value.http_status == 503
    # The row was committed before the write: with storage down it cannot be
    # deleted for sure, so it is expired now for cleanup to finish.
    obj = StorageObject.objects.get()
    assert obj.expires_at <= timezone.now()
    s3_storage.server.start()
    assert s3_storage.keys() == set()


class BreaksAfterSniffing(io.BytesIO):
    """An upload stream that fails once the write starts reading it (a broken temp file)."""

    reads = 0

    def read(self, size=-1):
        self.reads += 1
        if self.reads > 1:
            raise OSError("input/output error")
        return super().read(size)


# Both dialects: undoing the store forgets the row through cleanup's queries
# (storage_blobs_deleted_by_caller, storage_cleanup_forget) and their SQLite twins.
@pytest.mark.django_db
@pytest.mark.both_dialects
def test_failed_write_with_storage_up_removes_row_object_and_usage(any_storage, user):
    with pytest.raises(StorageUnavailable):
        storage_object_store(user_id=user.id, content=BreaksAfterSniffing(PDF), name="a.pdf")

    assert StorageObject.objects.count() == 0 and any_storage.keys() == set()
    assert storage_used(user) == 0


@pytest.mark.django_db
def test_owner_gets_a_short_lived_signed_url_that_downloads_the_file(s3_storage, make_user):
    owner, other = make_user(), make_user()
    obj = storage_object_store(user_id=owner.id, content=PDF, name="report.pdf")

    download = storage_object_download(user_id=owner.id, object_id=obj.id)

    assert download.file is None and download.url is not None
    assert "X-Amz-Expires=300" in download.url
    with urlopen(download.url) as response:  # noqa: S310 (loopback test server)
        assert response.read() == PDF
        assert 'filename="report.pdf"' in response.headers["Content-Disposition"]
    with pytest.raises(NotFound):
        storage_object_download(user_id=other.id, object_id=obj.id)


@pytest.mark.django_db
def test_signed_url_never_outlives_the_file(s3_storage, user):
    obj = storage_object_store(user_id=user.id, content=PDF, name="a.pdf")
    StorageObject.objects.filter(id=obj.id).update(expires_at=timezone.now() + timedelta(seconds=40))

    download = storage_object_download(user_id=user.id, object_id=obj.id)

    expires = int(re.search(r"X-Amz-Expires=(\d+)", download.url)[1])
    assert 1 <= expires <= 40


@pytest.mark.both_dialects
@pytest.mark.django_db
def test_filesystem_download_is_an_open_file_for_the_owner_only_before_expiry(fs_storage, make_user):
    owner, other = make_user(), make_user()
    obj = storage_object_store(user_id=owner.id, content=PDF, name="a.pdf")

    download = storage_object_download(user_id=owner.id, object_id=obj.id)
    with download.file as handle:
        assert handle.read() == PDF
    assert download.url is None and download.content_type == "application/pdf"

    with pytest.raises(NotFound):
        storage_object_download(user_id=other.id, object_id=obj.id)
    with pytest.raises(NotFound):
        storage_object_download(user_id=owner.id, object_id=obj.id, now=obj.expires_at)


@pytest.mark.both_dialects
@pytest.mark.django_db(transaction=True)
def test_deleting_a_run_deletes_its_blobs_after_commit(any_storage, user, make_run):
    run = make_run(user)
    kept = storage_object_store(user_id=user.id, content=PDF, name="other.pdf")
    storage_object_store(user_id=user.id, content=PDF, name="in.pdf", run_id=run.id)
    storage_object_store(user_id=user.id, content=PNG, name="out.png", run_id=run.id)
    assert len(any_storage.keys()) == 3

    with transaction.atomic():
        run.delete()
        # Inside the transaction nothing has left storage yet.
        assert len(any_storage.keys()) == 3

    assert any_storage.keys() == {kept.key}
    assert StorageDeletion.objects.count() == 0
    assert storage_used(user) == len(PDF)


@pytest.mark.both_dialects
@pytest.mark.django_db(transaction=True)
def test_rolled_back_run_delete_deletes_nothing(any_storage, user, make_run):
    run = make_run(user)
    obj = storage_object_store(user_id=user.id, content=PDF, name="in.pdf", run_id=run.id)

    with pytest.raises(ZeroDivisionError), transaction.atomic():
        run.delete()
        1 / 0  # noqa: B018

    assert any_storage.keys() == {obj.key}
    assert StorageObject.objects.filter(id=obj.id).exists()
    assert StorageDeletion.objects.count() == 0 and storage_used(user) == len(PDF)


@pytest.mark.both_dialects
@pytest.mark.django_db(transaction=True)
def test_deleting_a_user_deletes_all_their_blobs(any_storage, make_user, make_run):
    doomed, other = make_user(), make_user()
    storage_object_store(user_id=doomed.id, content=PDF, name="a.pdf", run_id=make_run(doomed).id)
    storage_object_store(user_id=doomed.id, content=PNG, name="b.png")
    kept = storage_object_store(user_id=other.id, content=PDF, name="c.pdf")

    doomed.delete()

    assert any_storage.keys() == {kept.key}
    assert StorageDeletion.objects.count() == 0


@pytest.mark.both_dialects
@pytest.mark.django_db(transaction=True)
def test_owner_and_operator_deletes_go_through_the_same_path(fs_storage, make_user, make_run):
    owner, other = make_user(), make_user()
    run = make_run(owner)
    one = storage_object_store(user_id=owner.id, content=PDF, name="a.pdf")
    storage_object_store(user_id=owner.id, content=PDF, name="b.pdf", run_id=run.id)

    with pytest.raises(NotFound):
        storage_object_delete(user_id=other.id, object_id=one.id)
    storage_object_delete(user_id=owner.id, object_id=one.id)
    assert storage_objects_delete_for_run(run_id=run.id) == 1

    assert fs_storage.keys() == set() and StorageObject.objects.count() == 0
    assert storage_used(owner) == 0


@pytest.mark.django_db(transaction=True)
def test_blob_delete_that_fails_after_commit_is_left_owed_for_cleanup(s3_storage, user, make_run):
    from history.expiry import expire_runs_and_files

    run = make_run(user)
    obj = storage_object_store(user_id=user.id, content=PDF, name="a.pdf", run_id=run.id)
    s3_storage.server.stop()

    run.delete()  # the after-commit delete fails: storage is down

    owed = StorageDeletion.objects.get()
    assert owed.key == obj.key and s3_storage.keys() == {obj.key}
    s3_storage.server.start()
    result = expire_runs_and_files()
    assert result.deletions_completed == 1
    assert s3_storage.keys() == set() and StorageDeletion.objects.count() == 0
