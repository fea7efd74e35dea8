from __future__ import annotations

import pytest

pytestmark = pytest.mark.django_db


def test_healthz_is_200_when_database_redis_and_storage_answer(client, settings, tmp_path) -> None:
    import os

    settings.REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")

    response = client.get("/healthz")

    assert response.status_code == 200
    assert response.json()["checks"] == {"database": "ok", "redis": "ok", "storage": "ok"}


def test_healthz_is_503_naming_redis_when_it_is_unreachable(client, settings) -> None:
    settings.REDIS_URL = "redis://127.0.0.1:1/0"  # nothing listens on port 1

    response = client.get("/healthz")

    assert response.status_code == 503
    body = response.json()
    assert body["down"] == ["redis"]
    assert body["checks"]["database"] == "ok"
    assert body["checks"]["redis"].startswith("down: ConnectionError")


def test_healthz_says_redis_is_not_configured_without_a_redis_url_and_stays_200(client, settings) -> None:
    settings.REDIS_URL = None  # eager mode: tasks run in-process, no broker to reach

    response = client.get("/healthz")

    assert response.status_code == 200
    body = response.json()
    assert body["checks"] == {"database": "ok", "redis": "not_configured", "storage": "ok"}
    assert (body["status"], body["down"]) == ("ok", [])
