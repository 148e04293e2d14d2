"""Public API for the audit job: check many cases with their recorded outcomes and measure agreement.

    from ptcheck.audit import audit

    report = audit(["cases/"], jobs=4)
    print(report.accuracy, report.kappa, report.disagreement_count)
    open("audit.json", "w").write(report.to_json())

What `ptcheck audit` computes, as a value. Thin re-exports of the private engine/audit/_audit.py, which may
change; these names do not.
"""
from __future__ import annotations

from ._audit import (
    AuditAborted,
    AuditError,
    AuditReport,
    CheckpointError,
    Confusion,
    Group,
    StopPoint,
    audit,
    estimate_cases,
)

__all__ = ["AuditAborted", "AuditError", "AuditReport", "CheckpointError", "Confusion", "Group", "StopPoint",
           "audit", "estimate_cases"]

if not AuditReport.__dict__.get("__doc__"):
    # engine/audit/_audit.py (being rewritten elsewhere) gives the class no docstring of its own yet; this one
    # stands in until it does (then this is a no-op)
    AuditReport.__doc__ = """The result of audit(): agreement of the engine's decisions with the recorded outcomes.

    files / cases / cases_valid / cases_checked: what was read and checked; items: request items with an
    actual outcome, agree of them predicted alike; accuracy, kappa (Cohen's), baseline_accuracy of always
    answering baseline_label; confusion (predicted x actual); breakdowns and groups (by case origin);
    disagreements and errors (lists capped when truncated, counts exact); partial / stopped_at when the
    audit was stopped. to_json() / to_json_dict() give the report as `ptcheck audit --json` writes it."""
