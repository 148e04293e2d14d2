"""`ptcheck rules diff OLD NEW`: what changed between two versions of a rule set, and which cases change.

OLD and NEW are each a rule file path, `ID@VERSION` (or `ID`, the newest) from the library, or
`REV:PATH` (a file as it is in git revision REV, e.g. `HEAD:rules/mtus/.../physical-medicine.yaml`).
Impact: every case under the given paths is checked twice, with the library's versions of that rule set
replaced by OLD and then by NEW (each pinned, so review dates do not hide the change); items whose
outcome or certified visits differ are listed with the findings that appeared or disappeared.
"""
from __future__ import annotations

import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from ..core._caseload import load_cases
from ..core._check import Checker
from ..core._errors import Problem, RuleError
from ..core._library import Library
from ..core._ruleparse import parse_ruleset
from ..core._ruleset import RuleSet

_FIELDS = ("when", "then", "message", "citation", "missing", "notes")
_TABLE_FIELDS = ("title", "hit", "by", "complete", "when", "inputs", "outputs", "label", "export")
_SET_FIELDS = ("version", "title", "jurisdictions", "guideline", "effective_from", "effective_to", "scope")


@dataclass
class RuleChange:
    """One rule or table row added, removed or changed between two versions, with each changed field."""
    kind: str                           # added | removed | changed
    rule: str
    changes: dict[str, tuple] = field(default_factory=dict)    # field -> (old, new)


@dataclass
class Impact:
    """One request item of a case whose outcome differs between the two versions: old and new outcome, the
    rules that appeared or disappeared, and the new version's messages."""
    case: str
    source: str
    request: str
    old: str
    new: str
    appeared: list[str]
    disappeared: list[str]
    messages: list[str]


@dataclass
class DiffReport:
    """What `ptcheck rules diff` reports: the rule-set level changes (version, dates, guideline, tables),
    the rule changes, and the impact on the cases checked. as_dict() is its --json form."""
    old: str
    new: str
    ruleset_changes: dict[str, tuple]
    rules: list[RuleChange]
    impact: list[Impact]
    cases_checked: int
    invalid_cases: int

    def as_dict(self) -> dict:
        return {
            "old": self.old, "new": self.new,
            "ruleset_changes": {k: [str(a), str(b)] for k, (a, b) in self.ruleset_changes.items()},
            "rules": [{"kind": c.kind, "rule": c.rule,
                       "changes": {k: [_plain(a), _plain(b)] for k, (a, b) in c.changes.items()}} for c in self.rules],
            "impact": [i.__dict__ for i in self.impact],
            "cases_checked": self.cases_checked, "invalid_cases": self.invalid_cases,
        }


def _plain(v):
    return v.model_dump(exclude_none=True) if hasattr(v, "model_dump") else v


def resolve(ref: str, lib: Library) -> RuleSet:
    p = Path(ref)
    if p.exists():
        text, where = p.read_text(encoding="utf-8"), p
    elif ":" in ref and not ref.startswith("/"):
        rev, _, path = ref.partition(":")
        try:
            text = subprocess.run(["git", "show", f"{rev}:{path}"], capture_output=True, text=True, check=True,
                                  cwd=lib.root or ".").stdout
        except (subprocess.CalledProcessError, FileNotFoundError) as e:
            raise RuleError(f"cannot read {ref!r} from git", [Problem(str(getattr(e, "stderr", e)).strip(),
                                                                       code="R300")]) from None
        where = Path(path)
    else:
        return lib.get(ref)
    rs, problems = parse_ruleset(text, where)
    if problems or rs is None:
        raise RuleError(f"{ref}: not a valid rule file", problems)
    return rs


def rule_changes(old: RuleSet, new: RuleSet) -> tuple[dict, list[RuleChange]]:
    set_changes = {}
    for f in _SET_FIELDS:
        a, b = getattr(old.spec, f), getattr(new.spec, f)
        if a != b:
            set_changes[f] = (_plain(a), _plain(b))
    for f in ("applies_when",):
        a, b = getattr(old.spec, f), getattr(new.spec, f)
        if a != b:
            set_changes[f] = (a, b)
    # a table's own settings (its rows are compared below, as the rules they compile to)
    told = {t.id: t for t in (old.written or old.spec).tables}
    tnew = {t.id: t for t in (new.written or new.spec).tables}
    for tid in sorted(set(told) | set(tnew)):
        a, b = told.get(tid), tnew.get(tid)
        if a is None or b is None:
            set_changes[f"table {tid}"] = ("absent" if a is None else "present", "absent" if b is None else "present")
            continue
        for f in _TABLE_FIELDS:
            if getattr(a, f) != getattr(b, f):
                set_changes[f"table {tid} {f}"] = (_plain(getattr(a, f)), _plain(getattr(b, f)))
    olds = {r.id: r for r in old.spec.rules}
    news = {r.id: r for r in new.spec.rules}
    out = []
    for rid, r in news.items():
        if rid not in olds:
            out.append(RuleChange("added", rid, {"when": (None, r.when), "then": (None, _plain(r.then))}))
            continue
        o = olds[rid]
        ch = {f: (_plain(getattr(o, f)), _plain(getattr(r, f))) for f in _FIELDS if getattr(o, f) != getattr(r, f)}
        if ch:
            out.append(RuleChange("changed", rid, ch))
    for rid, r in olds.items():
        if rid not in news:
            out.append(RuleChange("removed", rid, {"when": (r.when, None), "then": (_plain(r.then), None)}))
    return set_changes, out


def _with(lib: Library, rs: RuleSet) -> Checker:
    sets = [r for r in lib.rulesets if r.id != rs.id] + [rs]
    return Checker(Library(sets, lib.root), {rs.id: rs.version})


def diff(old_ref: str, new_ref: str, case_paths: list[Path], lib: Library | None = None) -> DiffReport:
    """Compare two versions of one rule set (ID@VERSION or a file path) and check the cases with each."""
    lib = lib or Library.load()
    old, new = resolve(old_ref, lib), resolve(new_ref, lib)
    if old.id != new.id:
        raise RuleError(f"{old.key} and {new.key} are different rule sets", [Problem(
            f"diff compares two versions of one rule set, not {old.id} and {new.id}", code="R300")])
    set_changes, changes = rule_changes(old, new)
    a, b = _with(lib, old), _with(lib, new)
    impact, checked, invalid = [], 0, 0
    for loaded in load_cases(case_paths):
        if not loaded.ok:
            invalid += 1
            continue
        checked += 1
        case = loaded.case
        assert case is not None                          # loaded.ok
        da, db = a.check(case), b.check(case)
        for ia, ib in zip(da.items, db.items):
            if (ia.outcome, ia.certified_visits) == (ib.outcome, ib.certified_visits):
                continue
            ra, rb = {f.rule for f in ia.findings}, {f.rule for f in ib.findings}
            old_msgs = {(f.rule, f.message) for f in ia.findings}
            impact.append(Impact(
                case=case.id, source=loaded.source, request=ia.request,
                old=_outcome(ia), new=_outcome(ib), appeared=sorted(rb - ra), disappeared=sorted(ra - rb),
                messages=[f"{f.rule}: {f.message}" for f in ib.findings
                          if (f.rule, f.message) not in old_msgs and f.effect != "derive"]))
    return DiffReport(f"{old.key} ({old.path})", f"{new.key} ({new.path})", set_changes, changes, impact,
                      checked, invalid)


def _outcome(item) -> str:
    return f"modify {item.certified_visits}" if item.outcome == "modify" else item.outcome
