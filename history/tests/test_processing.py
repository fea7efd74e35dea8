"""run_submit + run_process: real tools on real files, every way a run can end."""

from __future__ import annotations

import io
from dataclasses import replace

import pytest
from pypdf import PdfReader

from billing.models import CreditBalance, Plan, Subscription
from billing.services import credit_balance_open
from files.models import StorageObject
from files.tests.conftest import fs_storage  # noqa: F401  (shared storage fixture)
from history.models import History, RunStatus
from history.processing import Upload, run_process, run_submit
from tools import registry
from tools.tests.test_tools import pdf_bytes, png_bytes

# Processing is queued on commit (eager here); on the filesystem, so the SQLite pass runs it all.
pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.both_dialects]


def submit(user, tool_id: str, *files: tuple[str, bytes], key: str = "k1") -> History:
    uploads = [Upload(file=io.BytesIO(content), name=name) for name, content in files]
    result = run_submit(user_id=user.id, tool_id=tool_id, uploads=uploads, idempotency_key=key)
    return History.objects.get(id=result.run.id)


def balance(user) -> int:
    return CreditBalance.objects.get(user=user).credits_remaining


def test_pdf_merge_runs_to_completion_with_its_output_stored(user, fs_storage) -> None:  # noqa: F811
    credit_balance_open(user_id=user.id, credits=10)

    run = submit(user, "pdf-merge", ("a.pdf", pdf_bytes(2)), ("b.pdf", pdf_bytes(3)))

    assert run.status == RunStatus.COMPLETED
    assert run.metadata == {"inputs": ["a.pdf", "b.pdf"], "pages": 5, "inputFiles": 2}
    assert run.input_file_name == "a.pdf (+1 more)"
    output = StorageObject.objects.get(run=run, role="output")
    assert (run.file_key, run.output_file_name, run.bytes_out) == (output.key, "a-merged.pdf", output.size)
    assert len(PdfReader(fs_storage.root / output.key).pages) == 5
    assert StorageObject.objects.filter(run=run, role="input").count() == 2
    assert balance(user) == 8


def test_image_compress_records_its_ratio(user, fs_storage) -> None:  # noqa: F811
    run = submit(user, "image-compress", ("photo.png", png_bytes()))

    assert run.status == RunStatus.COMPLETED
    assert {"width", "height", "format", "compressionRatio"} <= set(run.metadata)
    assert run.metadata["compressionRatio"] <= 1


def test_a_corrupt_pdf_fails_readably_with_a_refund_and_no_output(user, fs_storage) -> None:  # noqa: F811
    credit_balance_open(user_id=user.id, credits=10)

    run = submit(user, "pdf-compress", ("broken.pdf", b"%PDF-1.4\nnot a pdf at all"))

    assert run.status == RunStatus.FAILED
    assert "not a readable PDF" in run.error_message
    assert balance(user) == 10
    assert not StorageObject.objects.filter(run=run, role="output").exists()


def test_a_decompression_bomb_fails_the_run_not_the_worker(user, fs_storage) -> None:  # noqa: F811
    from PIL import Image

    bomb = io.BytesIO()
    Image.new("1", (20_000, 20_000)).save(bomb, format="PNG")

    run = submit(user, "image-compress", ("bomb.png", bomb.getvalue()))

    assert run.status == RunStatus.FAILED
    assert "pixels" in run.error_message or "decompression bomb" in run.error_message


def test_a_crashing_tool_fails_the_run_with_a_generic_message(user, fs_storage, monkeypatch) -> None:  # noqa: F811
    credit_balance_open(user_id=user.id, credits=10)

    def crash(inputs):
        raise ZeroDivisionError("a bug in the tool")

    monkeypatch.setitem(
        registry._REGISTRY, "image-compress", replace(registry.get_tool("image-compress"), process=crash)
    )

    run = submit(user, "image-compress", ("photo.png", png_bytes()))

    assert run.status == RunStatus.FAILED
    assert run.error_message == "The tool failed unexpectedly; your credits were refunded."
    assert "ZeroDivisionError" not in run.error_message
    assert balance(user) == 10


def test_an_output_over_the_storage_quota_fails_the_run_and_refunds(user, fs_storage) -> None:  # noqa: F811
    source = pdf_bytes(1)
    plan = Plan.objects.create(key="tiny-storage", name="Tiny", credits=0, storage_bytes=len(source) + 10)
    Subscription.objects.create(user=user, plan=plan)
    credit_balance_open(user_id=user.id, credits=10)

    run = submit(user, "pdf-merge", ("a.pdf", source))

    assert run.status == RunStatus.FAILED
    assert run.error_message.startswith("The result could not be stored")
    assert balance(user) == 10


def test_a_redelivered_task_for_a_finished_run_changes_nothing(user, fs_storage) -> None:  # noqa: F811
    run = submit(user, "image-compress", ("photo.png", png_bytes()))
    before = History.objects.values().get(id=run.id)
    objects = StorageObject.objects.filter(run=run).count()

    run_process(run_id=run.id)

    assert History.objects.values().get(id=run.id) == before
    assert StorageObject.objects.filter(run=run).count() == objects


def test_too_many_files_for_a_tool_is_refused_before_anything_is_stored(user, fs_storage) -> None:  # noqa: F811
    from history.exceptions import InvalidRunInput

    with pytest.raises(InvalidRunInput, match="takes 1 to 1 file"):
        submit(user, "image-compress", ("a.png", png_bytes()), ("b.png", png_bytes()))

    assert not StorageObject.objects.filter(user=user).exists()
    assert not History.objects.filter(user=user).exists()
