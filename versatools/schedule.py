"""Every periodic task, declared here and nowhere else (run exactly one beat).

Each entry says why it exists and carries an ``expires``: a message beat
queued but no worker picked up in time is dropped, so a backlog after an
outage runs a job once, not once per missed tick. Tasks are named by string
so that this module imports no app code.
"""

from __future__ import annotations

from typing import Any

from celery.schedules import crontab
from django.conf import settings

MINUTE = 60


def beat_schedule() -> dict[str, dict[str, Any]]:
    cleanup_every = settings.CLEANUP_INTERVAL_MINUTES * MINUTE
    reap_every = 5 * MINUTE
    return {
        # Expired runs and files really disappear: unfinished ones refunded,
        # expired runs with their files, owed deletes, expired objects
        # (history/expiry.py expire_runs_and_files).
        # Seed 000 says daily; every CLEANUP_INTERVAL_MINUTES (15) keeps a
        # file's life close to its promised expiry.
        "storage-cleanup-expired": {
            "task": "history.tasks.cleanup_expired",
            "schedule": cleanup_every,
            "options": {"expires": cleanup_every},
        },
        # The runs' tool usage events join the global per-tool counters
        # (stats/services.py stats_tool_events_roll); reads add what is not
        # rolled yet, so this keeps the tail short, not the figures right.
        "stats-roll-tool-events": {
            "task": "stats.tasks.roll_tool_events",
            "schedule": settings.STATS_ROLL_SECONDS,
            "options": {"expires": settings.STATS_ROLL_SECONDS},
        },
        # Runs stuck in PROCESSING past STUCK_RUN_TIMEOUT_MINUTES are failed
        # and refunded (history/services.py runs_reap_stuck).
        "history-reap-stuck-runs": {
            "task": "history.tasks.reap_stuck_runs",
            "schedule": reap_every,
            "options": {"expires": reap_every},
        },
        # Trials end, periods renew with their plan's credits (once each) or
        # lapse to past_due, past_due expires after SUBSCRIPTION_GRACE_DAYS
        # (billing/subscriptions.py subscriptions_roll).
        "subscriptions-roll": {
            "task": "billing.tasks.roll_subscriptions",
            "schedule": 60 * MINUTE,
            "options": {"expires": 60 * MINUTE},
        },
        # Seed 002: a daily database backup to BACKUP_STORAGE, copies older than
        # BACKUP_RETENTION_DAYS pruned (versatools/backups.py); a no-op while unset.
        "database-backup-daily": {
            "task": "versatools.tasks.backup_database",
            "schedule": crontab(minute=31, hour=2),
            "options": {"expires": 6 * 60 * MINUTE},
        },
        # Seed 003: expired sessions leave the django_session table (clearsessions).
        "sessions-clear-expired": {
            "task": "versatools.tasks.clear_expired_sessions",
            "schedule": crontab(minute=17, hour=3),
            "options": {"expires": 6 * 60 * MINUTE},
        },
        # Weekly safety net: objects nobody tracks and rows whose object is
        # missing, both older than RECONCILE_GRACE_HOURS, are repaired.
        "storage-reconcile-weekly": {
            "task": "files.tasks.reconcile_storage",
            "schedule": crontab(minute=43, hour=4, day_of_week="sunday"),
            "options": {"expires": 12 * 60 * MINUTE},
        },
    }
