"""Audits of reviewer dispositions: how often reviewers override ptcheck's suggestions, by rule, by rule set
and version, by reviewer and by ptcheck outcome; why (the spread of coded override reasons); and, where the
actual IMR/IRO result is known, how often the decision that went out held (the suggestion when accepted, the
reviewer's own when overridden).

An item's disposition is its latest one (a card can be acted on again); an item counts under every rule that
decided it (a modify under each of its limits) and once under each rule set those rules belong to. "Held" is
an IMR/IRO result of `upheld`: the utilization review decision stood.
"""
from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field

from ._reasons import OverrideReasons
from ._store import Store


def _rate(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


@dataclass
class Tally:
    """Dispositions of one group: how many items were decided, how many got a disposition, how many overridden."""
    items: int = 0
    accepted: int = 0
    overridden: int = 0

    def add(self, disposition: str | None) -> None:
        self.items += 1
        if disposition == "accepted":
            self.accepted += 1
        elif disposition == "overridden":
            self.overridden += 1

    def as_dict(self) -> dict:
        reviewed = self.accepted + self.overridden
        return {"items": self.items, "dispositions": reviewed, "accepted": self.accepted,
                "overridden": self.overridden, "override_rate": _rate(self.overridden, reviewed)}


@dataclass
class DispositionAudit:
    """The figures of `ptcheck dispositions audit` (as_dict() is its stable JSON)."""
    decisions: int = 0
    overall: Tally = field(default_factory=Tally)
    by_rule: dict[tuple[str, str, str], Tally] = field(default_factory=dict)
    by_ruleset: dict[tuple[str, str], Tally] = field(default_factory=dict)
    by_reviewer: dict[str, Tally] = field(default_factory=dict)
    by_outcome: dict[str, Tally] = field(default_factory=dict)
    reasons: Counter = field(default_factory=Counter)
    reason_names: dict[str, str] = field(default_factory=dict)
    held: dict[str, Counter] = field(default_factory=dict)       # accepted / overridden / none -> upheld etc.

    def as_dict(self) -> dict:
        overrides = sum(self.reasons.values())
        held = {}
        for who in ("accepted", "overridden", "no_disposition"):
            c = self.held.get(who, Counter())
            n = sum(c.values())
            held[who] = {"with_outcome": n, "upheld": c["upheld"], "overturned": c["overturned"],
                         "partially_overturned": c["partially_overturned"], "held_rate": _rate(c["upheld"], n)}
        return {
            "decisions": self.decisions,
            "overall": self.overall.as_dict(),
            "by_rule": [{"ruleset": k[0], "version": k[1], "rule": k[2], **t.as_dict()}
                        for k, t in sorted(self.by_rule.items())],
            "by_ruleset": [{"ruleset": k[0], "version": k[1], **t.as_dict()} for k, t in sorted(self.by_ruleset.items())],
            "by_reviewer": [{"reviewer": k, **t.as_dict()} for k, t in sorted(self.by_reviewer.items())],
            "by_outcome": [{"outcome": k, **t.as_dict()} for k, t in sorted(self.by_outcome.items())],
            "override_reasons": [{"reason": code, "display": self.reason_names.get(code, "(not in the published list)"
                                                                               if code != "(none)" else "no reason given"),
                                  "count": n, "share": _rate(n, overrides)}
                                 for code, n in sorted(self.reasons.items(), key=lambda kv: (-kv[1], kv[0]))],
            "review_outcomes": held,
        }

    def to_json(self) -> str:
        return json.dumps(self.as_dict(), indent=2, ensure_ascii=False)


def audit_dispositions(store: Store, reasons: OverrideReasons | None = None) -> DispositionAudit:
    """The disposition audit of everything in the store."""
    report = DispositionAudit(reason_names=dict(reasons.reasons) if reasons else {})
    report.decisions = len(store.table("decisions"))
    latest: dict[tuple[str, str], dict] = {}
    for d in store.table("dispositions"):               # ordered by time, then id: the last one wins
        latest[(d["assertion_id"], d["request"])] = d
    actual: dict[tuple[str, str], str] = {}
    for o in store.table("review_outcomes"):
        actual[(o["assertion_id"], o["request"])] = o["actual"]
    for item in store.table("decision_items"):
        key = (item["assertion_id"], item["request"])
        disp = latest.get(key)
        verdict = disp["disposition"] if disp else None
        report.overall.add(verdict)
        report.by_outcome.setdefault(item["outcome"], Tally()).add(verdict)
        rules = item["rules"] or [{"rule": "(none)", "ruleset": "(none)", "version": "-"}]
        for r in rules:
            report.by_rule.setdefault((r["ruleset"], r["version"], r["rule"]), Tally()).add(verdict)
        for rs in sorted({(r["ruleset"], r["version"]) for r in rules}):
            report.by_ruleset.setdefault(rs, Tally()).add(verdict)
        if disp:
            report.by_reviewer.setdefault(disp["reviewer"], Tally()).add(verdict)
            if verdict == "overridden":
                report.reasons[disp["reason"] or "(none)"] += 1
        if key in actual:
            report.held.setdefault(verdict or "no_disposition", Counter())[actual[key]] += 1
    return report


def render_html(report: DispositionAudit) -> str:
    """A self-contained HTML page (no scripts, no links) of the audit."""
    from importlib import resources

    from jinja2 import Environment, select_autoescape
    env = Environment(autoescape=select_autoescape(default=True, default_for_string=True))
    template = env.from_string((resources.files("ptcheck.dispositions") / "templates" / "audit.html.j2")
                               .read_text(encoding="utf-8"))
    return template.render(r=report.as_dict(), pct=lambda x: "n/a" if x is None else f"{100 * x:.1f}%")
