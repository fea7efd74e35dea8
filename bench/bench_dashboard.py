"""/api/dashboard latency with 10,000 and with 1,000,000 history rows (1,000 users); /api/usage and /api/ledger too.

Beside it, in the same process and run, a bare view that does one SELECT 1
through the same middleware: the floor of a request here. Requests go through
Django's full stack in-process (WSGI handler, middleware, token auth, RLS
context, serialization); no network.

And the cost of row level security: the same endpoint with the API's RLS
wrap (versatools.rls.rls_api_reads: a transaction, the role switch, the
policies on every read) and without it (rls_as_user replaced by a no-op, so
the reads run in autocommit as the table owner, as before the wrap), the two
interleaved request by request.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/versatools python bench/bench_dashboard.py [--big 1000000]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import bench_database_url, recreate_database  # noqa: E402

SECRET = "bench-jwt-secret-0123456789abcdef0123"


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--small", type=int, default=10_000)
    parser.add_argument("--big", type=int, default=1_000_000)
    parser.add_argument("--users", type=int, default=1_000)
    parser.add_argument("--requests", type=int, default=400)
    args = parser.parse_args()

    url = bench_database_url("versatools_bench_dashboard")
    recreate_database(url)
    os.environ.update(DATABASE_URL=url, DEBUG="false", SUPABASE_JWT_SECRET=SECRET, SLOW_QUERY_MS="0")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "versatools.settings")
    import django

    django.setup()
    import logging
    from contextlib import nullcontext

    import jwt
    from django.db import connection, reset_queries
    from django.http import JsonResponse
    from django.test import Client, override_settings
    from django.test.utils import CaptureQueriesContext
    from django.urls import path

    import versatools.rls
    from demo.services import demo_seed
    from history.models import History

    logging.disable(logging.WARNING)

    def select_one(request):
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            return JsonResponse({"one": cursor.fetchone()[0]})

    import versatools.urls

    rls_as_user = versatools.rls.rls_as_user

    def without_rls(user_id, **_):
        return nullcontext()

    def wrap(enabled: bool) -> None:
        # rls_api_reads looks rls_as_user up in its module at each request.
        versatools.rls.rls_as_user = rls_as_user if enabled else without_rls

    def statements_of(client, endpoint: str = "/api/dashboard") -> list[dict]:
        reset_queries()  # the request_started signal empties the log; start from empty too
        with CaptureQueriesContext(connection) as queries:
            assert client.get(endpoint).status_code == 200
        return [q for q in queries.captured_queries if q["sql"] not in ("BEGIN", "COMMIT")]

    # The analytics endpoints of the same user: their query count must not grow with the data.
    analytics = ("/api/usage?days=30", "/api/ledger?limit=20")

    def measure_analytics(client) -> dict[str, tuple[float, float, int]]:
        figures = {}
        for endpoint in analytics:
            samples = []
            for _ in range(args.requests // 4):
                started = time.perf_counter()
                assert client.get(endpoint).status_code == 200
                samples.append((time.perf_counter() - started) * 1000)
            figures[endpoint] = (
                statistics.median(samples),
                percentile(samples, 0.95),
                len(statements_of(client, endpoint)),
            )
        return figures

    module = type(sys)("bench_urls")
    module.urlpatterns = [path("bench/select1", select_one), *versatools.urls.urlpatterns]
    sys.modules["bench_urls"] = module

    def measure(label: str) -> dict[str, float]:
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE")
        heaviest = (
            History.objects.values("user_id").order_by().annotate(n=django.db.models.Count("id")).order_by("-n")[0]
        )
        token = jwt.encode(
            {"sub": str(heaviest["user_id"]), "aud": "authenticated", "exp": int(time.time()) + 3600},
            SECRET,
            algorithm="HS256",
        )
        client = Client(HTTP_AUTHORIZATION=f"Bearer {token}")
        with override_settings(ROOT_URLCONF="bench_urls"):
            for _ in range(20):  # warm-up
                assert client.get("/api/dashboard").status_code == 200
                client.get("/bench/select1")
            wrap(False)
            plain_statements = statements_of(client)
            wrap(True)
            statements = statements_of(client)
            dashboard, plain, bare = [], [], []
            for i in range(args.requests):
                pair = ((True, dashboard), (False, plain))
                for enabled, samples in pair if i % 2 else pair[::-1]:  # neither always goes first
                    wrap(enabled)
                    started = time.perf_counter()
                    response = client.get("/api/dashboard")
                    samples.append((time.perf_counter() - started) * 1000)
                    assert response.status_code == 200
                wrap(True)
                started = time.perf_counter()
                client.get("/bench/select1")
                bare.append((time.perf_counter() - started) * 1000)
            wrap(True)
            analytics_figures = measure_analytics(client)
        result = {
            "rows": History.objects.count(),
            "user_runs": heaviest["n"],
            "p50": statistics.median(dashboard),
            "p95": percentile(dashboard, 0.95),
            "plain_p50": statistics.median(plain),
            "plain_p95": percentile(plain, 0.95),
            "bare_p50": statistics.median(bare),
            "bare_p95": percentile(bare, 0.95),
            "queries": len(statements),
            "plain_queries": len(plain_statements),
        }
        print(
            f"  {label:>10} rows={result['rows']:>9,} user runs={result['user_runs']:>7,}  dashboard p50 "
            f"{result['p50']:6.2f} ms p95 {result['p95']:6.2f} ms  | SELECT 1 view p50 {result['bare_p50']:5.2f} ms "
            f"p95 {result['bare_p95']:5.2f} ms | {result['queries']} queries"
        )
        print(
            f"  {'':>10} without the RLS wrap: p50 {result['plain_p50']:6.2f} ms p95 {result['plain_p95']:6.2f} ms, "
            f"{result['plain_queries']} queries, no transaction | RLS costs p50 "
            f"{result['p50'] - result['plain_p50']:+.2f} ms, p95 {result['p95'] - result['plain_p95']:+.2f} ms"
        )
        for endpoint, (p50, p95, queries) in analytics_figures.items():
            print(f"  {'':>10} {endpoint}: p50 {p50:6.2f} ms p95 {p95:6.2f} ms, {queries} queries")
        return result

    print(f"dashboard, {args.users} users, {args.requests} requests each")
    demo_seed(seed=1, users=args.users, runs=args.small, max_files=0)
    small = measure("small")
    demo_seed(seed=1, users=args.users, runs=args.big, max_files=0, reset=True)
    big = measure("big")
    floor_small, floor_big = small["p95"] / small["bare_p95"], big["p95"] / big["bare_p95"]
    print(
        f"  p95 ratio big/small: {big['p95'] / small['p95']:.2f} (aim <= 1.3); "
        f"dashboard p95 / SELECT 1 p95: {floor_small:.1f}x small, {floor_big:.1f}x big"
    )
    print(
        f"  p95 with / without the RLS wrap: {small['p95'] / small['plain_p95']:.2f} small, "
        f"{big['p95'] / big['plain_p95']:.2f} big"
    )


if __name__ == "__main__":
    main()
