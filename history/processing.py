"""Processing a run: its inputs taken in (``POST /api/runs``) and its work done (the Celery task).

Two orchestrations over the state machine of ``history.services`` and the
stored files of ``files.services``: ``run_submit`` checks, stores and starts;
``run_process`` marks the run PROCESSING, runs the tool, stores the output
and completes it, or fails it with a readable message and a refund.
"""

from __future__ import annotations

import hashlib
import logging
import uuid
from contextlib import suppress
from dataclasses import dataclass
from typing import IO, Any

from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.db import transaction

from accounts.selectors import email_is_verified
from billing.selectors import PlanLimits, effective_plan
from core.errors import NotFound, ServiceError
from files import storage
from files.models import ObjectRole, StorageObject
from files.services import (
    UploadReservation,
    storage_object_delete,
    storage_object_store,
    storage_objects_discard,
    storage_upload_reserve,
    storage_uploads_check,
    storage_uploads_for_start,
)
from files.validation import SNIFF_BYTES, clean_file_name, measure_size, run_input_summary, sniff_content_type
from history.exceptions import EmailUnverified, IllegalTransition, InvalidRunInput, RunNotFound, UnknownTool
from history.models import History, RunStatus
from history.services import (
    RunStart,
    run_complete,
    run_fail,
    run_fingerprint,
    run_mark_processing,
    run_replay,
    run_start,
)
from tools.contract import ToolInput, ToolInputError
from tools.registry import ToolSpec, get_tool

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Upload:
    file: IO[bytes]
    name: str | bytes


def run_submit(
    *,
    user_id: uuid.UUID,
    tool_id: str,
    uploads: list[Upload],
    idempotency_key: str,
    limits: PlanLimits | None = None,
    email_verified: bool | None = None,
) -> RunStart:
    """Take uploaded inputs and start a run on them (``POST /api/runs``); the work is queued.

    Order matters for "bad input changes nothing": the uploads are checked
    (count, names, sizes) before anything is written; the inputs are stored
    (row, then blob; each sniffed for its type) before the run is charged;
    if any of that is refused, or the key turns out to be a replay, what was
    stored is deleted again, so neither a credit nor a file is left behind.
    The key is checked once, by run_start's INSERT: a replay is rare, and
    asking first would cost every upload a query. ``limits``: the sender's
    plan limits when the caller already has them (the upload middleware).
    Two transactions for a one-file run: the input's row, then the start.
    A sender whose address is not verified is refused before anything is
    stored (REQUIRE_VERIFIED_EMAIL_FOR_RUNS); ``email_verified``: what the
    upload middleware read with the limits, in the same statement.
    """
    tool = _tool_for_inputs(tool_id=tool_id, idempotency_key=idempotency_key, inputs=len(uploads))
    _check_sender(user_id=user_id, email_verified=email_verified)
    limits = limits or effective_plan(user_id=user_id).limits
    max_bytes = limits.max_file_bytes
    names = [clean_file_name(upload.name) for upload in uploads]
    total = sum(measure_size(upload.file, max_bytes=max_bytes) for upload in uploads)
    summary = run_input_summary(names)
    digest = _uploads_sha256([upload.file for upload in uploads])

    stored = []
    try:
        for upload, name in zip(uploads, names, strict=True):
            stored.append(
                storage_object_store(user_id=user_id, content=upload.file, name=name, tool_id=tool.id, limits=limits)
            )
        result = run_start(
            user_id=user_id,
            tool_id=tool.id,
            input_file_name=summary,
            input_bytes=total,
            idempotency_key=idempotency_key,
            input_sha256=digest,
            input_object_ids=tuple(obj.id for obj in stored),
            metadata={"inputs": names} if len(names) > 1 else None,
        )
    except Exception:
        _discard_uploads(user_id=user_id, stored=stored)
        raise
    if not result.created:  # a concurrent twin of this request won the key
        _discard_uploads(user_id=user_id, stored=stored)
        return result
    _enqueue(result.run)
    return result


def run_upload_reserve(
    *,
    user_id: uuid.UUID,
    tool_id: str,
    name: str,
    content_type: str,
    size: int,
    limits: PlanLimits | None = None,
    email_verified: bool | None = None,
) -> UploadReservation:
    """Reserve a direct upload for a run of ``tool_id`` (``POST /api/uploads``).

    The sender's rules are the run's: a known tool, a verified address;
    then files reserves the bytes against the plan and the quota and signs
    a target the client sends them to.
    """
    tool = get_tool(tool_id)
    if tool is None:
        raise UnknownTool(f"There is no tool {tool_id!r}.")
    _check_sender(user_id=user_id, email_verified=email_verified)
    return storage_upload_reserve(
        user_id=user_id, name=name, content_type=content_type, size=size, tool_id=tool.id, limits=limits
    )


def run_submit_uploaded(
    *,
    user_id: uuid.UUID,
    tool_id: str,
    upload_ids: list[uuid.UUID],
    idempotency_key: str,
    email_verified: bool | None = None,
) -> RunStart:
    """Start a run on direct uploads (``POST /api/runs`` with ``upload_id``); the work is queued.

    A replay of the key returns its run before anything else is looked at
    (its uploads are used by then). Otherwise each upload is checked in
    storage (files.services.storage_uploads_check: a refused one is deleted
    and its bytes released), then the run starts and attaches them in its
    own transaction, where a reservation that expired or was deleted
    meanwhile undoes the start. A refusal of the start itself (credits, the
    run quota, a disabled tool) leaves the reservations as they were, to
    retry within their lifetime. Of two concurrent twins, one starts the
    run and the other replays it.
    """
    tool = _tool_for_inputs(tool_id=tool_id, idempotency_key=idempotency_key, inputs=len(upload_ids))
    _check_sender(user_id=user_id, email_verified=email_verified)
    # An upload id names one key of one reservation, so the tool and the ids
    # are the request: the replay is found from them alone, before the
    # uploads are read (their files may be gone by the time a retry comes).
    digest = hashlib.sha256("\n".join(str(upload_id) for upload_id in upload_ids).encode()).hexdigest()
    fingerprint = run_fingerprint(tool_id=tool.id, input_file_name="", input_bytes=0, input_sha256=digest)
    replayed = run_replay(user_id=user_id, idempotency_key=idempotency_key, fingerprint=fingerprint)
    if replayed is not None:
        return replayed
    uploads = storage_uploads_for_start(user_id=user_id, upload_ids=upload_ids)
    storage_uploads_check(user_id=user_id, uploads=uploads, tool_id=tool.id)
    names = [obj.original_name for obj in uploads]
    result = run_start(
        user_id=user_id,
        tool_id=tool.id,
        input_file_name=run_input_summary(names),
        input_bytes=sum(obj.size for obj in uploads),
        idempotency_key=idempotency_key,
        fingerprint=fingerprint,
        input_object_ids=tuple(obj.id for obj in uploads),
        metadata={"inputs": names} if len(names) > 1 else None,
    )
    if result.created:
        _enqueue(result.run)
    return result


def _tool_for_inputs(*, tool_id: str, idempotency_key: str, inputs: int) -> ToolSpec:
    tool = get_tool(tool_id)
    if tool is None:
        raise UnknownTool(f"There is no tool {tool_id!r}.")
    if not idempotency_key or len(idempotency_key) > 255:
        raise InvalidRunInput("An Idempotency-Key header of 1 to 255 characters is required.")
    if not 1 <= inputs <= tool.max_inputs:
        raise InvalidRunInput(f"{tool.name} takes 1 to {tool.max_inputs} file(s); got {inputs}.")
    return tool


def _check_sender(*, user_id: uuid.UUID, email_verified: bool | None) -> None:
    """REQUIRE_VERIFIED_EMAIL_FOR_RUNS; ``email_verified``: already read with the limits (the middleware)."""
    if settings.REQUIRE_VERIFIED_EMAIL_FOR_RUNS and not (
        email_verified if email_verified is not None else email_is_verified(user_id=user_id)
    ):
        raise EmailUnverified("Verify your email address before starting a run.")


def _enqueue(run: History) -> None:
    from history.tasks import process_run  # the tasks module imports this one

    # Robust: if the broker is down, the run stays PENDING and the stuck-run
    # reaper fails and refunds it; the request itself has succeeded.
    transaction.on_commit(lambda: process_run.delay(str(run.id)), robust=True)


def _discard_uploads(*, user_id: uuid.UUID, stored: list[Any]) -> None:
    """Delete inputs stored for a start that did not happen (a replay, a refusal)."""
    storage_objects_discard(user_id=user_id, objects=stored)


def _uploads_sha256(files: list[IO[bytes]]) -> str:
    """One sha256 over every input's bytes, in order (each file left at its start)."""
    digest = hashlib.sha256()
    for content in files:
        content.seek(0)
        while chunk := content.read(1 << 20):
            digest.update(chunk)
        # Each file's end is marked, so moving bytes between files changes the digest.
        digest.update(b"\x00--end-of-file--\x00")
        content.seek(0)
    return digest.hexdigest()


def run_process(*, run_id: uuid.UUID) -> None:
    """Do a PENDING run's work: PROCESSING, the tool, the output stored, then COMPLETED.

    Any way it can go wrong ends the run FAILED with a readable message and
    its credits refunded: a corrupt or hostile input (ToolInputError), an
    output the plan cannot store, storage going away, or a bug in the tool
    (logged with its traceback). A run another worker already took is left
    alone, so a redelivered task is harmless.
    """
    try:
        run_mark_processing(run_id=run_id)
    except (IllegalTransition, RunNotFound) as error:
        logger.info("run not processed run_id=%s reason=%s", run_id, error)
        return
    run = History.objects.filter(id=run_id).first()
    if run is None:  # deleted by its owner the moment it was taken
        return
    tool = get_tool(run.tool_id)
    if tool is None:
        _fail_quietly(run_id=run_id, error_message=f"The tool {run.tool_id!r} no longer exists.")
        return
    objects = list(StorageObject.objects.filter(run_id=run_id, role=ObjectRole.INPUT).order_by("created_at", "id"))
    opened: list[ToolInput] = []
    try:
        for obj in objects:
            backend = storage.backend_for(obj.provider, obj.bucket)
            content = storage.open_for_read(backend=backend, key=obj.key)
            opened.append(ToolInput(name=obj.original_name, content_type=obj.content_type, size=obj.size, file=content))
            if obj.upload_writable_until is not None:  # only a signed target can rewrite a checked file
                _check_unchanged(opened[-1], stored_size=content.size)
        if not opened:
            raise ToolInputError("The run has no input file.")
        output = tool.process(opened)
    except ToolInputError as error:
        _fail_quietly(run_id=run_id, error_message=str(error))
        return
    except SoftTimeLimitExceeded:
        _fail_quietly(run_id=run_id, error_message="The tool took too long and was stopped.")
        return
    except Exception:
        if not History.objects.filter(id=run_id, status=RunStatus.PROCESSING).exists():
            # Deleted (its inputs with it) or reaped while the tool read them: not a crash.
            logger.info("run gone while processing run_id=%s tool=%s", run_id, run.tool_id)
            return
        logger.exception("tool crashed run_id=%s tool=%s", run_id, run.tool_id)
        _fail_quietly(run_id=run_id, error_message="The tool failed unexpectedly; your credits were refunded.")
        return
    finally:
        for source in opened:
            source.file.close()
    try:
        stored = storage_object_store(
            user_id=run.user_id, content=output.content, name=output.file_name, run_id=run_id, role=ObjectRole.OUTPUT
        )
    except ServiceError as error:
        _fail_quietly(run_id=run_id, error_message=f"The result could not be stored: {error.message}")
        return
    try:
        run_complete(
            run_id=run_id,
            output_file_name=stored.original_name,
            bytes_out=stored.size,
            file_key=stored.key,
            metadata=output.metadata,
        )
    except BaseException as error:
        # Not completed (the reaper or the owner got there first, or the task
        # was stopped): the output must not outlive this attempt.
        with suppress(NotFound):
            storage_object_delete(user_id=run.user_id, object_id=stored.id)
        if isinstance(error, (IllegalTransition, RunNotFound)):
            logger.info("run finished elsewhere run_id=%s reason=%s", run_id, error)
            return
        raise


def _check_unchanged(source: ToolInput, *, stored_size: int) -> None:
    """The input is still the size and type it was checked as.

    A direct upload's signed target stays valid for its lifetime, so its
    object can be written again after the start checked it (with a storage
    that does not enforce the target's size, larger too). Before a tool sees
    it, the worker compares its size in storage (``stored_size``; S3: a
    HEAD, before any byte is read) and sniffs the 8 KB it reads anyway. Files
    the app wrote itself (no signed target) cannot change and are not asked.
    """
    if stored_size != source.size:
        raise ToolInputError(
            f"{source.name} changed after it was checked: it is now {stored_size} bytes, not {source.size}."
        )
    head = source.file.read(SNIFF_BYTES)
    source.file.seek(0)
    sniffed = sniff_content_type(head)
    if sniffed != source.content_type:
        raise ToolInputError(f"{source.name} changed after it was checked: it is now {sniffed}.")


def _fail_quietly(*, run_id: uuid.UUID, error_message: str) -> None:
    """run_fail, unless the run was failed or deleted meanwhile (then there is nothing to do)."""
    try:
        run_fail(run_id=run_id, error_message=error_message)
    except (IllegalTransition, RunNotFound) as error:
        logger.info("run not failed run_id=%s reason=%s", run_id, error)
