from __future__ import annotations

from typing import Any

from celery import shared_task

from billing.subscriptions import subscriptions_roll


# Idempotent (each move is conditional on the state it was read in, each
# period's credits are granted under one ledger key), so a redelivered or
# overlapping roll moves nothing twice.
@shared_task(name="billing.tasks.roll_subscriptions", acks_late=True, reject_on_worker_lost=True)
def roll_subscriptions() -> dict[str, Any]:
    result = subscriptions_roll()
    return {key: value for key, value in result.as_dict().items() if key != "due"}
