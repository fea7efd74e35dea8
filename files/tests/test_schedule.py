"""The beat schedule: one place, every entry with an expiry, cleanup on its setting."""

from __future__ import annotations

import importlib

from celery.schedules import crontab

from versatools.celery import app
from versatools.schedule import beat_schedule


def period_seconds(schedule) -> float:
    if isinstance(schedule, crontab):
        # Daily or weekly here: the shortest gap is a day unless the entry says otherwise.
        return 7 * 86400 if schedule.day_of_week != set(range(7)) else 86400
    return float(schedule)


def test_every_entry_expires_before_its_next_run():
    schedule = beat_schedule()

    assert set(schedule) == {
        "storage-cleanup-expired",
        "history-reap-stuck-runs",
        "sessions-clear-expired",
        "storage-reconcile-weekly",
        "subscriptions-roll",
        "database-backup-daily",
        "stats-roll-tool-events",
    }
    for name, entry in schedule.items():
        expires = entry["options"]["expires"]
        assert 0 < expires <= period_seconds(entry["schedule"]), name


def test_cleanup_runs_every_cleanup_interval_minutes(settings):
    settings.CLEANUP_INTERVAL_MINUTES = 7

    entry = beat_schedule()["storage-cleanup-expired"]

    assert entry["schedule"] == 7 * 60 and entry["options"]["expires"] == 7 * 60


def test_the_celery_app_uses_this_schedule_and_every_task_exists():
    # What autodiscovery imports in a worker (without the worker's start-up checks).
    for entry in beat_schedule().values():
        importlib.import_module(entry["task"].rsplit(".", 1)[0])

    assert app.conf.beat_schedule.keys() == beat_schedule().keys()
    for entry in beat_schedule().values():
        assert entry["task"] in app.tasks, entry["task"]
