"""Plain SVG drawings for snapshot.py: a time-series panel and a trace's spans as a timeline."""

from __future__ import annotations

from html import escape
from typing import Any

COLORS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f")
SERVICE_COLORS = {"gateway": "#1f77b4", "payments": "#2ca02c", "catalog": "#ff7f0e",
                  "auth": "#9467bd"}
W, H, LEFT, TOP, BOTTOM = 640, 300, 56, 30, 70
UNITS = {"s": "s", "ops": "/s", "short": "", "percentunit": ""}


def _number(value: float, unit: str) -> str:
    if unit == "s" and value < 1:
        return f"{value * 1000:.0f} ms"
    text = f"{value:.3g}" if abs(value) < 1000 else f"{value:,.0f}"
    return text + (f" {UNITS.get(unit, unit)}" if UNITS.get(unit, unit) else "")


def chart(title: str, series: list[tuple[str, list[tuple[float, float]]]], unit: str) -> str:
    points = [p for _, values in series for p in values]
    t0 = min((t for t, _ in points), default=0.0)
    t1 = max((t for t, _ in points), default=1.0)
    top = max((v for _, v in points), default=1.0) or 1.0
    plot_w, plot_h = W - LEFT - 10, H - TOP - BOTTOM

    def xy(t: float, v: float) -> str:
        x = LEFT + (t - t0) / ((t1 - t0) or 1) * plot_w
        return f"{x:.1f},{TOP + plot_h - v / top * plot_h:.1f}"

    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" '
           f'font-family="sans-serif" font-size="11">',
           f'<rect width="{W}" height="{H}" fill="#fff" stroke="#ccc"/>',
           f'<text x="8" y="18" font-size="13" font-weight="bold">{escape(title)}</text>']
    for i in range(5):
        y, value = TOP + plot_h * i / 4, top * (1 - i / 4)
        out += [f'<line x1="{LEFT}" x2="{W - 10}" y1="{y:.1f}" y2="{y:.1f}" stroke="#eee"/>',
                f'<text x="{LEFT - 4}" y="{y + 4:.1f}" text-anchor="end">'
                f'{escape(_number(value, unit))}</text>']
    out.append(f'<text x="{LEFT}" y="{TOP + plot_h + 14}">{(t1 - t0) / 60:.1f} min</text>')
    for i, (label, values) in enumerate(series[:8]):
        color = COLORS[i % len(COLORS)]
        if values:
            out.append(f'<polyline fill="none" stroke="{color}" stroke-width="1.5" points="'
                       + " ".join(xy(t, v) for t, v in values) + '"/>')
        x, y = 8 + (i % 3) * 210, H - BOTTOM + 34 + (i // 3) * 14
        out += [f'<rect x="{x}" y="{y - 8}" width="10" height="3" fill="{color}"/>',
                f'<text x="{x + 14}" y="{y - 4}">{escape(label[:34])}</text>']
    if not series:
        out.append(f'<text x="{W / 2}" y="{H / 2}" text-anchor="middle">no data</text>')
    return "\n".join([*out, "</svg>"]) + "\n"


def _depths(spans: list[dict[str, Any]]) -> dict[str, int]:
    by_id = {s["spanId"]: s for s in spans}
    depth: dict[str, int] = {}
    for span in spans:
        level, parent = 0, span.get("parentSpanId")
        while parent in by_id and level < 20:
            level, parent = level + 1, by_id[parent].get("parentSpanId")
        depth[span["spanId"]] = level
    return depth


def trace(spans: list[dict[str, Any]]) -> str:
    """The spans of one trace, one row each, start order, indented by depth."""
    rows = sorted(spans, key=lambda s: s["startTimeUnixNano"])
    depth = _depths(rows)
    t0 = min((s["startTimeUnixNano"] for s in rows), default=0)
    t1 = max((s["endTimeUnixNano"] for s in rows), default=1)
    label_w, row_h = 300, 18
    height = 40 + row_h * len(rows) + 20
    scale = (W + 260 - label_w - 20) / ((t1 - t0) or 1)
    trace_id = escape(rows[0]["traceId"]) if rows else "-"
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{W + 260}" height="{height}" '
           f'font-family="sans-serif" font-size="11">',
           f'<rect width="{W + 260}" height="{height}" fill="#fff" stroke="#ccc"/>',
           f'<text x="8" y="18" font-size="13" font-weight="bold">One checkout: '
           f'{len(rows)} spans, {(t1 - t0) / 1e6:.1f} ms, trace {trace_id}</text>']
    for i, span in enumerate(rows):
        y = 32 + i * row_h
        color = SERVICE_COLORS.get(span["service"], "#7f7f7f")
        x = label_w + (span["startTimeUnixNano"] - t0) * scale
        width = max(1.0, (span["endTimeUnixNano"] - span["startTimeUnixNano"]) * scale)
        ms = (span["endTimeUnixNano"] - span["startTimeUnixNano"]) / 1e6
        name = span["name"] if len(span["name"]) < 34 else span["name"][:33] + "…"
        out += [f'<text x="{8 + depth[span["spanId"]] * 10}" y="{y + 12}">'
                f'{escape(span["service"])}: {escape(name)}</text>',
                f'<rect x="{x:.1f}" y="{y + 3}" width="{width:.1f}" height="12" fill="{color}"/>',
                f'<text x="{x + width + 4:.1f}" y="{y + 12}" fill="#555">{ms:.1f} ms</text>']
    return "\n".join([*out, "</svg>"]) + "\n"
