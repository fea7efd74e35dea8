"""The Celery application. Tasks live in each app's ``tasks.py``."""

from __future__ import annotations

import logging
import os

from celery import Celery

from versatools.schedule import beat_schedule

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "versatools.settings")

app = Celery("versatools")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

logger = logging.getLogger(__name__)


@app.on_after_configure.connect
def _install_beat_schedule(sender: Celery, **kwargs: object) -> None:
    # The one place periodic tasks are declared: versatools/schedule.py.
    sender.conf.beat_schedule = beat_schedule()


@app.on_after_configure.connect
def _announce_eager_mode(sender: Celery, **kwargs: object) -> None:
    if sender.conf.task_always_eager:
        logger.warning("REDIS_URL is not set: Celery tasks run in-process (eager), no worker or beat needed.")
