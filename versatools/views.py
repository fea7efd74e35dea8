from __future__ import annotations

from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from versatools.health import health_report, is_down


@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    """200 when the database, Redis and storage all answer; 503 naming those that do not.

    Redis without REDIS_URL reads "not_configured" and is not down: tasks run in-process.
    """
    report = health_report()
    down = sorted(name for name, state in report.items() if is_down(state))
    status = 503 if down else 200
    return JsonResponse({"status": "down" if down else "ok", "down": down, "checks": report}, status=status)
