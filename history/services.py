"""The run lifecycle: one front door per state change.

PENDING -> PROCESSING -> COMPLETED | FAILED, and PENDING -> FAILED. Each move
is one conditional UPDATE (``sql/queries/history_transition.sql``) in the same
transaction as its statistics and, for a failure, its refund. Views, admin
actions, Celery tasks and commands call these functions; none of them writes
``History`` directly.

Lock order. Every transaction that touches a run takes row locks in the same
order: the run, then its stored objects, then the user's rows (balance, usage
counters, user statistics). No run locks a row another person's run needs:
the global per-tool counters get an insert-only event
(``stats.models.ToolUsageEvent``), which beat rolls into ``tool_statistics``
and ``daily_tool_usage``, so runs of a popular tool never queue behind each
other's commits. Without the order, a delete and a worker storing
the output would deadlock on the run and the storage counter. So a delete
locks the run before anything else, and a worker storing an output holds the
run before it counts the bytes (files.services). Writers outside the app (a
cascade from a deleted user, the Data API) cannot be ordered; the outermost
transaction of each service is retried on a deadlock
(``core.retry``), never answered with a 500.
"""

from __future__ import annotations

import hashlib
import json
import logging
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from billing.selectors import RUNS_METRIC, run_start_context, usage_window_bounds
from billing.services import credits_charge, credits_refund, usage_consume, usage_release_at
from core.errors import Conflict
from core.retry import retry_on_lock_conflict
from core.sqlfiles import run_query
from files.services import storage_objects_attach, storage_objects_delete_for_run, storage_objects_expire_for_runs
from history.exceptions import (
    IdempotencyKeyReused,
    IllegalTransition,
    InvalidRunInput,
    RunNotFound,
    ToolDisabled,
    UnknownTool,
)
from history.models import UNFINISHED_STATUSES, History, RunStatus
from stats.services import stats_record_finish, stats_record_start
from tools.registry import get_tool

logger = logging.getLogger(__name__)

IDEMPOTENCY_CONSTRAINT = "history_user_idempotency_key_unique"


@dataclass(frozen=True)
class RunStart:
    run: History
    # False when the idempotency key replayed an earlier start: nothing was charged.
    created: bool


def run_fingerprint(*, tool_id: str, input_file_name: str, input_bytes: int, input_sha256: str = "") -> str:
    # The content's own hash: a different file of the same name and size is a
    # different request (409), not a replay.
    payload = json.dumps([tool_id, input_file_name, input_bytes, input_sha256])
    return hashlib.sha256(payload.encode()).hexdigest()


def _is_idempotency_conflict(exc: IntegrityError) -> bool:
    diag = getattr(exc.__cause__, "diag", None)
    if diag is not None:
        return getattr(diag, "constraint_name", None) == IDEMPOTENCY_CONSTRAINT
    return "idempotency_key" in str(exc)  # SQLite names columns, not constraints


@retry_on_lock_conflict
def run_start(
    *,
    user_id: uuid.UUID,
    tool_id: str,
    input_file_name: str,
    input_bytes: int,
    idempotency_key: str,
    input_sha256: str = "",
    input_object_ids: tuple[uuid.UUID, ...] = (),
    metadata: dict[str, Any] | None = None,
    fingerprint: str | None = None,
) -> RunStart:
    """Start a run: check the tool and the quota window, charge, create it PENDING, count it.

    All of it in one transaction, so an error (unknown or disabled tool,
    insufficient credits, quota exceeded) leaves nothing written. A replay of
    the same idempotency key returns the original run and charges nothing; the
    same key with different input raises IdempotencyKeyReused. A key whose
    run has been deleted (by its owner, or expired and cleaned up) is free
    again: it starts a new run, charged like any other.
    """
    # ``fingerprint``: what identifies the request when the caller knows better
    # than the input's name, size and hash (direct uploads: the tool and the upload ids).
    fingerprint = fingerprint or run_fingerprint(
        tool_id=tool_id, input_file_name=input_file_name, input_bytes=input_bytes, input_sha256=input_sha256
    )
    # Twice at most: the second attempt only after the key's original run
    # vanished between our failed INSERT and our read of it.
    for _ in range(2):
        started = _run_start_once(
            user_id=user_id,
            tool_id=tool_id,
            input_file_name=input_file_name,
            input_bytes=input_bytes,
            idempotency_key=idempotency_key,
            fingerprint=fingerprint,
            input_object_ids=input_object_ids,
            metadata=metadata,
        )
        if started is not None:
            return started
    raise Conflict("This idempotency key is being used by a request that is still changing; try again.")


def _run_start_once(
    *,
    user_id: uuid.UUID,
    tool_id: str,
    input_file_name: str,
    input_bytes: int,
    idempotency_key: str,
    fingerprint: str,
    input_object_ids: tuple[uuid.UUID, ...],
    metadata: dict[str, Any] | None,
) -> RunStart | None:
    if not idempotency_key or len(idempotency_key) > 255:
        raise InvalidRunInput("An idempotency key of 1 to 255 characters is required.")
    if input_bytes < 0:
        raise InvalidRunInput("The input size cannot be negative.")
    tool = get_tool(tool_id)
    if tool is None:
        raise UnknownTool(f"There is no tool {tool_id!r}.")
    now = timezone.now()
    try:
        # One transaction for everything, the two reads included (each read
        # outside it would be a transaction of its own).
        with transaction.atomic():
            context = run_start_context(user_id=user_id, tool_id=tool.id, default_cost=tool.default_cost)
            pricing, limits = context.pricing, context.limits
            if not pricing.enabled:
                raise ToolDisabled(f"The tool {tool_id!r} is switched off.")
            window_start, window_end = usage_window_bounds(window=limits.usage_window, at=now)
            # The INSERT comes before the charge: a concurrent start with the
            # same key waits on the unique index here, before anything is charged.
            run = History.objects.create(
                user_id=user_id,
                tool_id=tool.id,
                tool_name=tool.name,
                input_file_name=input_file_name,
                bytes_in=input_bytes,
                credits_charged=pricing.cost,
                idempotency_key=idempotency_key,
                request_fingerprint=fingerprint,
                metadata=metadata or {},
                created_at=now,
                expires_at=now + timedelta(hours=limits.retention_hours),
            )
            # The stored inputs join the run in its own transaction (the run,
            # then its objects: the lock order): a delete of the run can never
            # come between the start and the attach.
            if input_object_ids:
                storage_objects_attach(object_ids=list(input_object_ids), run_id=run.id, expires_at=run.expires_at)
            if pricing.cost:
                credits_charge(
                    user_id=user_id,
                    credits=pricing.cost,
                    idempotency_key=f"charge:{run.id}",
                    run_id=run.id,
                    details={"tool_id": tool.id},
                )
            usage_consume(
                user_id=user_id,
                metric=RUNS_METRIC,
                amount=1,
                limit=limits.runs_per_window,
                window_start=window_start,
                window_end=window_end,
            )
            stats_record_start(user_id=user_id, tool_id=tool.id, bytes_in=input_bytes, at=now)
    except IntegrityError as exc:
        if not _is_idempotency_conflict(exc):
            raise
        # None: deleted since our INSERT met it, so the key is free again.
        return run_replay(user_id=user_id, idempotency_key=idempotency_key, fingerprint=fingerprint)
    logger.info("run started run_id=%s tool=%s user_id=%s cost=%s", run.id, tool.id, user_id, run.credits_charged)
    return RunStart(run=run, created=True)


def run_replay(*, user_id: uuid.UUID, idempotency_key: str, fingerprint: str) -> RunStart | None:
    """The run an earlier start with this key made (``created=False``), or None if the key is free.

    The same key for a different request (another fingerprint) raises
    IdempotencyKeyReused.
    """
    original = History.objects.filter(user_id=user_id, idempotency_key=idempotency_key).first()
    if original is None:
        return None
    if original.request_fingerprint != fingerprint:
        raise IdempotencyKeyReused("This idempotency key was already used for a different request.")
    return RunStart(run=original, created=False)


def _transition(
    *,
    run_id: uuid.UUID,
    to_status: RunStatus,
    from_statuses: tuple[RunStatus, ...],
    at: datetime,
    output_file_name: str | None = None,
    file_key: str | None = None,
    bytes_out: int | None = None,
    error_message: str | None = None,
    metadata: dict[str, Any] | None = None,
) -> tuple[uuid.UUID, str, int, int, Any]:
    rows = run_query(
        "history_transition",
        {
            "run_id": run_id,
            "to_status": to_status.value,
            "from_statuses": [status.value for status in from_statuses],
            "at": at,
            "output_file_name": output_file_name,
            "file_key": file_key,
            "bytes_out": bytes_out,
            "error_message": error_message,
            "metadata": json.dumps(metadata or {}),
        },
    )
    if rows:
        moved = rows[0]
        return moved["user_id"], moved["tool_id"], moved["credits_charged"], moved["bytes_out"], moved["created_at"]
    current = History.objects.filter(id=run_id).values_list("status", flat=True).first()
    if current is None:
        raise RunNotFound(f"There is no run {run_id}.")
    raise IllegalTransition(f"A {current} run cannot become {to_status.value}.")


@retry_on_lock_conflict
def run_mark_processing(*, run_id: uuid.UUID) -> None:
    """A worker takes the run: PENDING -> PROCESSING. Of two workers, one wins."""
    _transition(run_id=run_id, to_status=RunStatus.PROCESSING, from_statuses=(RunStatus.PENDING,), at=timezone.now())


@retry_on_lock_conflict
@transaction.atomic
def run_complete(
    *,
    run_id: uuid.UUID,
    output_file_name: str,
    bytes_out: int,
    file_key: str = "",
    metadata: dict[str, Any] | None = None,
) -> None:
    """PROCESSING -> COMPLETED with the output and the tool's metadata, counted once."""
    if bytes_out < 0:
        raise InvalidRunInput("The output size cannot be negative.")
    now = timezone.now()
    user_id, tool_id, _, _, _ = _transition(
        run_id=run_id,
        to_status=RunStatus.COMPLETED,
        from_statuses=(RunStatus.PROCESSING,),
        at=now,
        output_file_name=output_file_name,
        file_key=file_key,
        bytes_out=bytes_out,
        metadata=metadata,
    )
    stats_record_finish(user_id=user_id, tool_id=tool_id, completed=True, bytes_out=bytes_out, at=now)
    logger.info("run completed run_id=%s tool=%s bytes_out=%s", run_id, tool_id, bytes_out)


@retry_on_lock_conflict
@transaction.atomic
def run_fail(
    *,
    run_id: uuid.UUID,
    error_message: str,
    from_statuses: tuple[RunStatus, ...] = (RunStatus.PENDING, RunStatus.PROCESSING),
) -> None:
    """PENDING or PROCESSING -> FAILED, counted once, its credits and its quota unit given back exactly once.

    The transition itself is the "exactly once": only one caller's UPDATE
    matches, and only that caller refunds and releases.
    """
    now = timezone.now()
    user_id, tool_id, credits_charged, _, created_at = _transition(
        run_id=run_id, to_status=RunStatus.FAILED, from_statuses=from_statuses, at=now, error_message=error_message
    )
    # The ledger's unique (user, idempotency key) makes a second refund impossible.
    credits_refund(
        user_id=user_id,
        credits=credits_charged,
        idempotency_key=f"refund:{run_id}",
        run_id=run_id,
        reason=error_message[:200],
    )
    # A run that did nothing for the user does not use up their window either.
    usage_release_at(user_id=user_id, metric=RUNS_METRIC, amount=1, at=created_at)
    stats_record_finish(user_id=user_id, tool_id=tool_id, completed=False, bytes_out=0, at=now)
    logger.info("run failed run_id=%s tool=%s refunded=%s", run_id, tool_id, credits_charged)


@dataclass(frozen=True)
class ReapResult:
    found: int
    failed: int


def runs_reap_stuck(*, timeout: timedelta | None = None, dry_run: bool = True, limit: int = 1000) -> ReapResult:
    """Fail and refund runs stuck PROCESSING (or never picked up, PENDING) past the timeout.

    A run that a worker finishes while the reaper looks at it is left alone:
    the conditional UPDATE in run_fail simply does not match it any more.
    """
    timeout = timeout or timedelta(minutes=settings.STUCK_RUN_TIMEOUT_MINUTES)
    cutoff = timezone.now() - timeout
    stuck = list(
        History.objects.filter(status=RunStatus.PROCESSING, started_at__lt=cutoff)
        .values_list("id", "status")
        .order_by("started_at")[:limit]
    )
    if len(stuck) < limit:
        stuck += list(
            History.objects.filter(status=RunStatus.PENDING, created_at__lt=cutoff)
            .values_list("id", "status")
            .order_by("created_at")[: limit - len(stuck)]
        )
    if dry_run:
        return ReapResult(found=len(stuck), failed=0)
    failed = 0
    minutes = int(timeout.total_seconds() // 60)
    for run_id, status in stuck:
        try:
            run_fail(
                run_id=run_id,
                error_message=f"Timed out after {minutes} minutes in {status}.",
                from_statuses=(RunStatus(status),),
            )
        except (IllegalTransition, RunNotFound):
            continue  # finished or deleted since the listing: one vanished run must not stop the pass
        failed += 1
    return ReapResult(found=len(stuck), failed=failed)


@retry_on_lock_conflict
@transaction.atomic
def run_delete(*, user_id: uuid.UUID, run_id: uuid.UUID) -> None:
    """The owner (or an operator acting for them) deletes a run.

    The run is locked first (the lock order), so a worker storing its output
    either committed before (and the output goes too) or finds it gone. An
    unfinished run is failed and refunded first. Its files go next; the
    database owes each blob a delete, done after commit, so a delete in a
    rolled-back transaction deletes nothing. Statistics and ledger stay.
    """
    locked = list(History.objects.select_for_update().filter(user_id=user_id, id=run_id).values_list("id", flat=True))
    if not locked:
        raise RunNotFound(f"There is no run {run_id}.")
    _fail_unfinished(run_ids=[run_id], user_id=user_id, reason="The run was deleted before it finished.")
    storage_objects_delete_for_run(run_id=run_id)
    History.objects.filter(id=run_id).delete()
    logger.info("run deleted run_id=%s user_id=%s", run_id, user_id)


def _fail_unfinished(*, run_ids: list[uuid.UUID], reason: str, user_id: uuid.UUID | None = None) -> int:
    """Fail (and so refund) those runs that are still PENDING or PROCESSING; how many this call failed.

    A run deleted or expired before it finished must not keep its credits; a
    worker still busy with it then finds it gone or FAILED and stops.
    """
    unfinished = History.objects.filter(id__in=run_ids, status__in=UNFINISHED_STATUSES)
    if user_id is not None:
        unfinished = unfinished.filter(user_id=user_id)
    failed = 0
    for run_id in unfinished.values_list("id", flat=True):
        try:
            run_fail(run_id=run_id, error_message=reason)
        except (IllegalTransition, RunNotFound):
            continue  # finished or deleted meanwhile
        failed += 1
    return failed


def runs_fail_expired_unfinished(*, now: datetime, limit: int | None = None) -> int:
    """Fail (and so refund) runs whose time ran out before they finished; how many.

    Expiry deletes only finished runs: one still PENDING or PROCESSING keeps
    its credits until it is failed here, and its files until the next batch
    of the same pass takes it.
    """
    expired = History.objects.filter(status__in=UNFINISHED_STATUSES, expires_at__lte=now).order_by("expires_at")
    run_ids = list(expired.values_list("id", flat=True)[:limit])
    return _fail_unfinished(run_ids=run_ids, reason="The run expired before it finished.")


def runs_expire_now(*, run_ids: list[uuid.UUID]) -> int:
    """An operator's "expire now": the runs and their files expire at once; cleanup deletes them.

    Nothing is deleted here: the next expiry pass takes them in its own order
    (blob, then row), exactly as if their time had run out. Runs already
    expired are left as they are. Returns how many runs this call expired.
    """
    ids = list(run_ids)
    _fail_unfinished(run_ids=ids, reason="The run was expired by an operator before it finished.")
    now = timezone.now()
    with transaction.atomic():  # lock order: the runs, then their objects
        expired = History.objects.filter(id__in=ids, expires_at__gt=now).update(expires_at=now, updated_at=now)
        storage_objects_expire_for_runs(run_ids=ids, at=now)
    logger.info("runs expired by operator count=%s", expired)
    return expired
