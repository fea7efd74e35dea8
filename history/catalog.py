"""The tool hub's catalog: what a person can start, and with what limits (``GET /api/tools``, the hub's pages).

In the run lifecycle's layer: a tool is offered by the same three conditions a start checks
(``run_start_context.sql``), and the limits are the ones the start enforces.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from django.db.models import Q
from django.utils import timezone

from billing.models import AdminSettings, CreditBalance, UsageCounter
from billing.selectors import (
    RUNS_METRIC,
    STORAGE_METRIC,
    STORAGE_WINDOW,
    PlanLimits,
    effective_plan,
    usage_window_bounds,
)
from files.storage import default_backend, is_s3
from tools.models import Feature
from tools.registry import ToolSpec, all_tools

# How a browser sends a tool's input: straight to the bucket (POST /api/uploads,
# then the upload ids), or in the run's own multipart request.
UPLOAD_DIRECT, UPLOAD_MULTIPART = "direct", "multipart"


@dataclass(frozen=True)
class CatalogTool:
    id: str
    name: str
    description: str
    icon: str
    workspace: str
    tags: list[str]
    credit_cost: int
    accepted_types: list[str]
    min_files: int
    max_files: int


@dataclass(frozen=True)
class CallerLimits:
    """The caller's plan and where they stand in it: what the page checks before sending a file."""

    plan_key: str
    plan_name: str
    max_file_bytes: int
    runs_per_window: int | None
    usage_window: str
    runs_used: int
    window_resets_at: datetime
    storage_bytes: int
    storage_used_bytes: int
    retention_hours: int
    credits_remaining: int | None


def tools_enabled() -> list[CatalogTool]:
    """Every tool a person may start now, in the catalog's order: two queries.

    A tool is listed when it is registered (it can run), not switched off in
    the operators' settings, and its Feature, if it has one, is active: the
    same three conditions a run start checks (``run_start_context.sql``).
    """
    features = {feature.tool_id: feature for feature in Feature.objects.all()}
    admin = AdminSettings.objects.filter(pk=AdminSettings.SINGLETON_ID).only("feature_costs", "disabled_tools").first()
    costs = admin.feature_costs if admin else {}
    disabled = set(admin.disabled_tools) if admin else set()
    listed: list[tuple[tuple[int, str], CatalogTool]] = []
    for spec in all_tools():
        feature = features.get(spec.id)
        if spec.id in disabled or (feature is not None and not feature.active):
            continue
        listed.append(((feature.sort_order if feature else 0, spec.name), _catalog_tool(spec, feature, costs)))
    return [tool for _, tool in sorted(listed, key=lambda pair: pair[0])]


def tool_enabled(*, tool_id: str) -> CatalogTool | None:
    return next((tool for tool in tools_enabled() if tool.id == tool_id), None)


def _catalog_tool(spec: ToolSpec, feature: Feature | None, costs: dict[str, int]) -> CatalogTool:
    return CatalogTool(
        id=spec.id,
        name=feature.name if feature else spec.name,
        description=(feature.description if feature else "") or spec.description,
        icon=feature.icon if feature else "",
        workspace=feature.workspace if feature else "",
        tags=list(feature.tags) if feature else [],
        credit_cost=int(costs.get(spec.id, spec.default_cost)),
        accepted_types=list(spec.accepted_types),
        min_files=1,
        max_files=spec.max_inputs,
    )


def caller_limits(*, user_id: uuid.UUID, at: datetime | None = None) -> CallerLimits:
    """The caller's effective plan with the runs used in its current window, storage and credits: three queries."""
    now = at or timezone.now()
    plan = effective_plan(user_id=user_id, at=now)
    limits: PlanLimits = plan.limits
    window_start, window_end = usage_window_bounds(window=limits.usage_window, at=now)
    counters = dict(
        UsageCounter.objects.filter(
            Q(metric=RUNS_METRIC, window_start=window_start) | Q(metric=STORAGE_METRIC, window_start=STORAGE_WINDOW[0]),
            user_id=user_id,
        ).values_list("metric", "count")
    )
    balance = CreditBalance.objects.filter(user_id=user_id).values_list("credits_remaining", flat=True).first()
    return CallerLimits(
        plan_key=limits.plan_key,
        plan_name=plan.name,
        max_file_bytes=limits.max_file_bytes,
        runs_per_window=limits.runs_per_window,
        usage_window=limits.usage_window,
        runs_used=counters.get(RUNS_METRIC, 0),
        window_resets_at=window_end,
        storage_bytes=limits.storage_bytes,
        storage_used_bytes=counters.get(STORAGE_METRIC, 0),
        retention_hours=limits.retention_hours,
        credits_remaining=balance,
    )


def upload_method() -> str:
    return UPLOAD_DIRECT if is_s3(default_backend()) else UPLOAD_MULTIPART
