"""Small charts rendered on the server as inline SVG: no JavaScript, no CDN, nothing to ship.

Each function takes plain numbers and returns a ``SafeString`` holding one
``<svg>`` element; every text in it is escaped. The SVG scales with its
container (``viewBox``, ``width: 100%``) and carries a ``<title>`` per bar,
which browsers show on hover.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

# Colour-blind-safe (Okabe-Ito), in series order.
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000")
STATUS_COLOURS = {"completed": "#15803d", "failed": "#b91c1c", "in progress": "#2563eb"}
FONT = 'font-family="system-ui, sans-serif" font-size="11" fill="#374151"'


def _svg(width: int, height: int, label: str, body: list[str], css_class: str) -> SafeString:
    label = escape(label)
    return mark_safe(
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart {css_class}" viewBox="0 0 {width} {height}" '
        f'width="100%" role="img" aria-label="{label}" style="max-width:{width}px;height:auto">'
        f"<title>{label}</title>{''.join(body)}</svg>"
    )


def _empty(width: int, height: int, label: str, css_class: str) -> SafeString:
    return _svg(
        width,
        height,
        label,
        [f'<text x="{width / 2}" y="{height / 2}" text-anchor="middle" {FONT}>No data yet</text>'],
        css_class,
    )


def _nice_max(value: float) -> float:
    """The axis top: 1, 2 or 5 times a power of ten, at least ``value``."""
    if value <= 0:
        return 1
    magnitude = 10 ** (len(str(int(value))) - 1)
    for step in (1, 2, 5, 10):
        if step * magnitude >= value:
            return step * magnitude
    return 10 * magnitude


def _number(value: float) -> str:
    return f"{value:,.0f}"


def stacked_bar_chart(
    *, labels: Sequence[str], series: Mapping[str, Sequence[int]], title: str, width: int = 760, height: int = 260
) -> SafeString:
    """One bar per label (a day), stacked by series (a tool), with a legend under the plot."""
    totals = [sum(values[i] for values in series.values()) for i in range(len(labels))]
    if not labels or not any(totals):
        return _empty(width, height, title, "stacked-bars")
    left, right, top = 44, 8, 10
    legend_rows = (len(series) + 3) // 4
    bottom = 24 + 16 * legend_rows
    plot_w, plot_h = width - left - right, height - top - bottom
    top_value = _nice_max(max(totals))
    slot = plot_w / len(labels)
    bar_w = max(1.0, slot * 0.75)
    body = []
    for fraction in (0, 0.5, 1):
        y = top + plot_h * (1 - fraction)
        body.append(f'<line x1="{left}" x2="{width - right}" y1="{y:.1f}" y2="{y:.1f}" stroke="#e5e7eb"/>')
        body.append(
            f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end" {FONT}>{_number(top_value * fraction)}</text>'
        )
    for i, label in enumerate(labels):
        x = left + i * slot + (slot - bar_w) / 2
        y = top + plot_h
        for index, (name, values) in enumerate(series.items()):
            value = values[i]
            if not value:
                continue
            h = plot_h * value / top_value
            y -= h
            body.append(
                f'<rect class="bar" x="{x:.1f}" y="{y:.1f}" width="{bar_w:.1f}" height="{h:.1f}" '
                f'fill="{PALETTE[index % len(PALETTE)]}"><title>{escape(label)} {escape(name)}: '
                f"{_number(value)}</title></rect>"
            )
        if i % max(1, len(labels) // 6) == 0 or i == len(labels) - 1:
            body.append(
                f'<text x="{x + bar_w / 2:.1f}" y="{top + plot_h + 14}" text-anchor="middle" {FONT}>'
                f"{escape(label)}</text>"
            )
    for index, name in enumerate(series):
        x = left + (index % 4) * (plot_w / 4)
        y = height - 16 * (legend_rows - index // 4) + 4
        colour = PALETTE[index % len(PALETTE)]
        body.append(f'<rect x="{x:.1f}" y="{y - 9}" width="10" height="10" fill="{colour}"/>')
        body.append(f'<text class="legend" x="{x + 14:.1f}" y="{y}" {FONT}>{escape(name)}</text>')
    return _svg(width, height, title, body, "stacked-bars")


def horizontal_bar_chart(
    *,
    rows: Sequence[tuple[str, float]],
    title: str,
    value_format: Callable[[float], str] = _number,
    width: int = 480,
    colour: str = PALETTE[0],
    label_width: int = 150,
) -> SafeString:
    """One labelled bar per row, longest first as given, with its value at the end."""
    row_h, label_w, value_w = 22, label_width, 80
    height = max(40, row_h * len(rows) + 8)
    if not rows or not any(value for _, value in rows):
        return _empty(width, height, title, "hbars")
    top_value = max(value for _, value in rows)
    plot_w = width - label_w - value_w
    body = []
    for i, (label, value) in enumerate(rows):
        y = 4 + i * row_h
        w = max(1.0, plot_w * value / top_value) if value else 0
        body.append(
            f'<text x="{label_w - 6}" y="{y + 14}" text-anchor="end" {FONT}>{escape(_clip(label, label_w // 6))}</text>'
        )
        body.append(
            f'<rect class="bar" x="{label_w}" y="{y + 3}" width="{w:.1f}" height="{row_h - 8}" rx="2" '
            f'fill="{colour}"><title>{escape(label)}: {escape(value_format(value))}</title></rect>'
        )
        body.append(f'<text x="{label_w + w + 6:.1f}" y="{y + 14}" {FONT}>{escape(value_format(value))}</text>')
    return _svg(width, height, title, body, "hbars")


def status_mix_chart(*, rows: Sequence[tuple[str, dict[str, int]]], title: str, width: int = 560) -> SafeString:
    """Per tool, one 100% bar split into completed, failed and in progress, with the failure rate."""
    row_h, label_w, value_w = 24, 130, 120
    height = max(40, row_h * len(rows) + 30)
    if not rows or not any(sum(mix.values()) for _, mix in rows):
        return _empty(width, height, title, "status-mix")
    plot_w = width - label_w - value_w
    body = []
    for i, (label, mix) in enumerate(rows):
        y = 4 + i * row_h
        total = sum(mix.values())
        body.append(f'<text x="{label_w - 6}" y="{y + 15}" text-anchor="end" {FONT}>{escape(_clip(label, 20))}</text>')
        x = float(label_w)
        for status, colour in STATUS_COLOURS.items():
            count = mix.get(status, 0)
            if not count:
                continue
            w = plot_w * count / total
            body.append(
                f'<rect class="bar" data-status="{status}" x="{x:.1f}" y="{y + 3}" width="{w:.1f}" '
                f'height="{row_h - 8}" fill="{colour}"><title>{escape(label)} {status}: {_number(count)} '
                f"({count / total:.1%})</title></rect>"
            )
            x += w
        failed_share = mix.get("failed", 0) / total if total else 0
        body.append(
            f'<text class="failure-rate" x="{label_w + plot_w + 6}" y="{y + 15}" {FONT}>'
            f"{failed_share:.1%} failed</text>"
        )
    legend_y = height - 8
    for index, (status, colour) in enumerate(STATUS_COLOURS.items()):
        x = label_w + index * 110
        body.append(f'<rect x="{x}" y="{legend_y - 9}" width="10" height="10" fill="{colour}"/>')
        body.append(f'<text class="legend" x="{x + 14}" y="{legend_y}" {FONT}>{status}</text>')
    return _svg(width, height, title, body, "status-mix")


def _clip(text: str, length: int) -> str:
    return text if len(text) <= length else text[: length - 1] + "…"
