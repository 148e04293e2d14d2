"""Public API for the audit job: check many cases with their recorded outcomes and measure agreement.

    from ptcheck.audit import audit

    report = audit(["cases/"], jobs=4)
    print(report.accuracy, report.kappa, report.disagreement_count)
    open("audit.json", "w").write(report.to_json())

    audit(["part-1.jsonl"], tally_out="1.tally"); audit(["part-2.jsonl"], tally_out="2.tally")
    whole = Tally.read("1.tally").merge(Tally.read("2.tally"))   # in input order
    whole.report()                         # the report of one audit over both parts

A Tally is everything a report is computed from (counts, the confusion matrix over a fixed label set, per
origin group matrices for the baselines, breakdowns, the listed disagreements and errors); merge() is
associative, so tallies of any split of the input, merged in order, give the whole's report.

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
from ._tally import Tally, TallyError

__all__ = ["AuditAborted", "AuditError", "AuditReport", "CheckpointError", "Confusion", "Group", "StopPoint",
           "Tally", "TallyError", "audit", "estimate_cases"]

