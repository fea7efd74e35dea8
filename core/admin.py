"""Pieces the operator admin shares: an estimating paginator and service-only admins.

Nothing is registered here; each app's ``admin.py`` registers its models.
"""

from __future__ import annotations

from typing import Any, cast

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db import connections
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.utils.functional import cached_property


class EstimatedCountPaginator(Paginator):
    """A paginator that never counts a big table's every row on a page view.

    Unfiltered, the count is PostgreSQL's own estimate (``pg_class.reltuples``,
    kept by autovacuum's ANALYZE), read in one catalog lookup. Filtered, it is
    an exact count that stops at ``count_cap`` rows (``SELECT count(*) FROM
    (... LIMIT cap)``): filters on indexed columns keep that short, and an
    operator looking past page ``cap / per_page`` should narrow the filter.
    """

    # Below this estimate, counting exactly is cheap and more helpful.
    estimate_above = 100_000
    count_cap = 10_000

    @cached_property
    def count(self) -> int:
        # The admin changelist hands its paginator a queryset, never a list.
        queryset = cast("QuerySet[Any]", self.object_list)
        if not queryset.query.where:
            estimate = self._estimate(queryset)
            if estimate is not None and estimate >= self.estimate_above:
                return estimate
        return queryset[: self.count_cap].count()

    @staticmethod
    def _estimate(queryset: Any) -> int | None:
        connection = connections[queryset.db]
        if connection.vendor != "postgresql":
            return None
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT reltuples::bigint FROM pg_class WHERE oid = %s::regclass", [queryset.model._meta.db_table]
            )
            row = cursor.fetchone()
        # -1: never analyzed (PostgreSQL 14+); fall back to a capped count.
        return int(row[0]) if row and row[0] >= 0 else None


class ReadOnlyAdmin(admin.ModelAdmin):
    """A table only services write: operators look, never add, change or delete."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class ServiceActionsMixin:
    """Admin actions that call services, refused with 403 to those not allowed to run them.

    Django silently ignores a posted action the user may not see (and shows
    the list again); an operator without the permission gets a plain 403, so
    that a view-only account provably cannot change anything.
    """

    def changelist_view(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> HttpResponse:
        action = request.POST.get("action") if request.method == "POST" else None
        if action and action not in self.get_actions(request):  # type: ignore[attr-defined]
            raise PermissionDenied
        return super().changelist_view(request, extra_context)  # type: ignore[misc]
