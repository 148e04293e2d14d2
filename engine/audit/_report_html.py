"""The audit report as one self-contained HTML page (no network: inline CSS and SVG, no scripts, no fonts).

    from ptcheck.audit._report_html import render_html
    Path("audit.html").write_text(render_html(report), encoding="utf-8")

All text goes through jinja2 with autoescaping on; the numbers for the heat map and the bar charts
are computed here, so the template only places them.
"""
from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path

import jinja2

from ._audit import REVIEW_LABELS, UR_LABELS, AuditReport

TEMPLATES = Path(__file__).resolve().parent / "templates"

_BAR_H, _BAR_GAP, _LABEL_W, _BAR_W, _VALUE_W = 18, 6, 300, 360, 150
_DIMENSION_TITLES = {"jurisdiction": "Jurisdiction", "service": "Service", "ruleset": "Rule set",
                     "review_kind": "Review kind"}


def _env() -> jinja2.Environment:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(TEMPLATES)), autoescape=True,
                             undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    env.filters["pct"] = pct
    env.filters["label"] = lambda s: "" if s is None else str(s).replace("_", " ")
    return env


def pct(x: float | None, digits: int = 1) -> str:
    return "n/a" if x is None else f"{100 * x:.{digits}f}%"


def _mix(t: float, rgb: tuple[int, int, int]) -> str:
    """White (t = 0) to the full colour (t = 1), as #rrggbb."""
    t = max(0.0, min(1.0, t))
    return "#" + "".join(f"{round(255 + (c - 255) * t):02x}" for c in rgb)


def heatmap(report: AuditReport) -> list[dict]:
    """One heat map per label space in use (UR outcomes, review outcomes; across them every count is 0):
    rows (predicted) of cells with their counts, share of the actual column, and colours. The colour
    scale is the square root of count / largest count, so that small cells still show."""
    labels, matrix = report.confusion.labels, report.confusion.matrix
    top = max((v for row in matrix for v in row), default=0) or 1
    spaces = [[lab for lab in labels if lab in UR_LABELS], [lab for lab in labels if lab in REVIEW_LABELS]]
    spaces.append([lab for lab in labels if lab not in spaces[0] + spaces[1]])
    blocks = []
    for space in spaces:
        idx = [labels.index(lab) for lab in space]
        if not idx or not any(matrix[i][j] for i in idx for j in idx):
            continue
        col_totals = [sum(matrix[i][j] for i in idx) for j in idx]
        rows = []
        for i in idx:
            cells = []
            for k, j in enumerate(idx):
                v = matrix[i][j]
                t = math.sqrt(v / top)
                colour = (22, 128, 61) if i == j else (185, 28, 28)
                cells.append({"value": v, "bg": _mix(0.06 + 0.94 * t if v else 0.0, colour),
                              "fg": "#ffffff" if t > 0.6 else "#111111",
                              "share": pct(v / col_totals[k] if col_totals[k] else None, 0),
                              "title": f"predicted {labels[i]}, actual {labels[j]}: {v}"})
            rows.append({"label": labels[i], "cells": cells, "total": sum(matrix[i][j] for j in idx)})
        blocks.append({"labels": space, "rows": rows, "col_totals": col_totals, "total": sum(col_totals)})
    return blocks


def bar_chart(tallies) -> dict:
    """Geometry of one horizontal bar chart of agreement (inline SVG)."""
    bars = []
    for k, t in enumerate(tallies):
        y = k * (_BAR_H + _BAR_GAP)
        acc = t.accuracy or 0.0
        bars.append({"key": t.key, "y": y, "ty": y + _BAR_H - 5, "w": round(_BAR_W * acc, 1),
                     "fill": _mix(1.0, (22, 128, 61)) if acc >= 0.8 else
                     _mix(1.0, (202, 138, 4)) if acc >= 0.5 else _mix(1.0, (185, 28, 28)),
                     "value": f"{t.agree}/{t.items} ({pct(t.accuracy)})"})
    height = max(1, len(bars)) * (_BAR_H + _BAR_GAP)
    return {"bars": bars, "height": height, "width": _LABEL_W + _BAR_W + _VALUE_W,
            "label_w": _LABEL_W, "bar_w": _BAR_W, "bar_h": _BAR_H, "value_x": _LABEL_W + _BAR_W + 8}


def render_html(report: AuditReport, *, title: str = "ptcheck audit") -> str:
    return "".join(html_chunks(report, title=title))


def html_chunks(report: AuditReport, *, title: str = "ptcheck audit") -> Iterator[str]:
    """The page of render_html, in pieces as the template produces them: the disagreements are read one
    at a time (a spooled report is never held whole)."""
    charts = [{"name": dim, "title": _DIMENSION_TITLES.get(dim, dim), "chart": bar_chart(tallies),
               "empty": not tallies}
              for dim, tallies in report.breakdowns.items()]
    return _env().get_template("audit.html.j2").generate(
        title=title, r=report, heat=heatmap(report), charts=charts,
        disagreements=report.iter_disagreements(), listed=report.listed)


__all__ = ["bar_chart", "heatmap", "html_chunks", "pct", "render_html"]
