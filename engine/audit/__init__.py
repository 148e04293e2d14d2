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

