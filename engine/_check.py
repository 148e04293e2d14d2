"""Check a case: pick the rule sets in force, derive facts per item, run the rules, combine, explain.

Data flows one way: case -> facts -> rules (durable_rules) -> findings -> decision.
"""
from __future__ import annotations

import datetime as dt
import functools
import string
import threading

from . import _expr
from ._cases import Case, Request
from ._compile import compile_ruleset, exported_types
from ._decide import CaseDecision, Finding, ItemDecision, RuleSetRef, combine, deciding, review_outcome
from ._durable import Firing, Registered, encode
from ._errors import EngineError
from ._facts import FACT_TYPES, EPOCH, derive, regions_overlap
from ._rules import Library, RuleSet, template_names

_REGISTERED: dict[tuple, Registered] = {}
_REGISTER_LOCK = threading.Lock()       # first use from several threads registers each rule set once


class Checker:
    """Checks cases against a library of rule sets. Compiles each rule set once per process."""

    def __init__(self, library: Library | None = None, pins: dict[str, str] | None = None):
        self.library = library or Library.load()
        self.pins = pins or {}
        for rid in self.pins:
            self.library.get(f"{rid}@{self.pins[rid]}")
        self.exports = exported_types(self.library)

    def registered(self, rs: RuleSet) -> Registered:
        key = (rs.key, rs.sha256, tuple(sorted(self.exports.items())))
        reg = _REGISTERED.get(key)
        if reg is None:
            with _REGISTER_LOCK:
                reg = _REGISTERED.get(key)
                if reg is None:
                    reg = _REGISTERED[key] = Registered(compile_ruleset(rs, self.exports))
        return reg

    def check(self, case: Case, *, explain: bool = True) -> CaseDecision:
        """Decide every requested item. explain=False skips rendering messages and figures (the outcome,
        certified visits, fired rules, limits and missing documentation are the same)."""
        on = case.review.date
        sets = self.library.in_force(case.jurisdiction, on, self.pins)
        notes = []
        if on is None:
            notes.append("the case has no review date: the newest rule versions for "
                         f"{case.jurisdiction} were used")
        ran: set[str] = set()
        items = []
        for req in case.requests:
            try:
                items.append(self._item(case, req, sets, on, ran, explain))
            except EngineError as e:          # name the case and item; the caller's batch carries on
                raise EngineError(f"case {case.id!r}, item {req.id!r}: {e}", e.problems) from e
        refs = [RuleSetRef(id=rs.id, version=rs.version, sha256=rs.sha256) for rs in sets if rs.id in ran]
        return CaseDecision.model_construct(case=case.id, jurisdiction=case.jurisdiction, review_kind=case.review.kind,
                            review_date=on.isoformat() if on else None, rulesets=refs, items=items, notes=notes)

    # -- one item
    def _item(self, case: Case, req: Request, sets: list[RuleSet], on: dt.date | None,
              ran: set[str], explain: bool = True) -> ItemDecision:
        if not req.body_regions:
            dx_regions = _dx_regions(case)
            if dx_regions:
                req = req.model_copy(update={"body_regions": dx_regions})
        facts = derive(case, req)
        values = dict(facts.values)
        for name, ftype in self.exports.items():       # an exported yes/no nobody set is unknown
            if ftype == "tri":
                values.setdefault(name, "unknown")
        addressing = [rs for rs in sets if _addresses(rs, req)]
        role = {rs.id: rs.spec.jurisdictions[case.jurisdiction] for rs in addressing}
        primary = [rs for rs in addressing if role[rs.id] == "primary"]
        fallback = [rs for rs in addressing if role[rs.id] == "fallback"] if not primary else []
        supplemental = [rs for rs in addressing if role[rs.id] == "supplemental"]
        findings: list[Finding] = []
        if fallback:
            note = self.library.fallback_note(case.jurisdiction, on)
            if note:
                findings.append(Finding(
                    rule="jurisdiction.fallback", ruleset=f"jurisdictions/{case.jurisdiction}", version="-",
                    citation=note.citation, effect="note",
                    message=note.message.format(service=req.service.replace("_", " "),
                                                guideline=fallback[0].spec.guideline.name)))
        if not primary and not fallback:
            findings.append(_engine_finding(
                "engine.not-addressed",
                f"No rule set in force for {case.jurisdiction}"
                f"{' on ' + on.isoformat() if on else ''} addresses {req.service.replace('_', ' ')}"
                f"{' for ' + ', '.join(req.body_regions) if req.body_regions else ''}: a reviewer must decide.",
                ["a guideline that addresses this service"]))
        consulted = _ordered(supplemental + primary + fallback)
        cache: dict = {}                       # the encoded facts, until an export changes them
        for rs in consulted:
            ran.add(rs.id)
            findings += self._run(rs, values, cache, explain)
        decisive = [f for f in findings if f.effect in ("certify", "limit", "non_certify", "pend")]
        if (primary or fallback) and not decisive:
            findings.append(_engine_finding(
                "engine.no-decision",
                "The rules in force reached no decision for this item (no rule's condition was met).",
                ["documentation that places the request under a guideline row (diagnosis, prior visits)"]))
        outcome, certified = combine(findings, req.visits)
        missing = []
        for f in deciding(findings, outcome):
            missing += [m for m in f.missing if m not in missing]
        return ItemDecision.model_construct(            # our own typed values: no re-validation
            request=req.id, text=req.text, service=req.service, requested_visits=req.visits,
            outcome=outcome, certified_visits=certified if outcome in ("certify", "modify") else None,
            review_outcome=review_outcome(case.review.kind, outcome), findings=findings, missing=missing,
            facts=facts.notes, rulesets_run=[rs.key for rs in consulted], actual=req.actual)

    def _run(self, rs: RuleSet, values: dict, cache: dict, explain: bool = True) -> list[Finding]:
        reg = self.registered(rs)
        if not reg.compiled.may_fire(values):
            return []
        if "body" not in cache:
            cache["body"] = encode(values)
        firings, session_derived = reg.run(values, cache["body"])
        findings = []
        for fi in sorted(firings, key=lambda f: f.rule_index):
            compiled = reg.compiled.rules[fi.rule_index]
            rule = compiled.rule
            env = {**values, **session_derived, **fi.derived}
            limit = None
            if rule.then.limit is not None:
                lv = _expr.evaluate(rule.then.limit, env)
                limit = None if lv is None else max(0, int(lv))
                env["limit"] = limit
            if rule.then.derive and rule.then.export:
                new = {name: _expr.fact_value(expr, env) for name, expr in rule.then.derive.items()}
                for name, v in _merge_exports(values, new, self.exports).items():
                    env[name] = values[name] = v
                    cache.pop("body", None)
            findings.append(Finding.model_construct(       # fields are ours and typed: no re-validation
                rule=rule.id, ruleset=rs.id, version=rs.version, citation=rs.cited(rule),
                effect=rule.then.kind, message=render(rule.message, env) if explain else "", limit=limit,
                missing=list(rule.missing), figures=_figures(compiled.shown, env) if explain else {}))
        return findings


def _merge_exports(values: dict, new: dict, types: dict) -> dict:
    """Several rules may export the same facts for an item (two guideline rows apply). Numbers keep the
    largest, the most generous applicable row; the words a rule exports with its numbers (the row's label)
    follow the numbers: they are replaced when that rule's number wins, otherwise kept if already set."""
    new = {k: ("true" if v else "false") if isinstance(v, bool) else v for k, v in new.items()}
    numeric = [k for k in new if types.get(k) in ("int", "num") and new[k] is not None]
    wins = any(values.get(k) is None or new[k] > values[k] for k in numeric)
    out = {}
    for k, v in new.items():
        old = values.get(k)
        if k in numeric:
            out[k] = v if old is None else max(old, v)
        elif old is None or (types.get(k) == "tri" and old == "unknown") or (wins and numeric):
            out[k] = v
    return out


def _engine_finding(rule: str, message: str, missing: list[str]) -> Finding:
    return Finding(rule=rule, ruleset="engine", version="-", citation="ptcheck engine (no guideline)",
                   effect="pend", message=message, missing=missing)


def _dx_regions(case: Case) -> list[str]:
    from . import _dx
    out = []
    for d in case.diagnoses:
        r = d.region or _dx.classify(icd9=d.icd9, icd10=d.icd10, text=d.text).region
        if r and r not in out:
            out.append(r)
    return out


def _addresses(rs: RuleSet, req: Request) -> bool:
    return _in_scope(rs, req.service, tuple(req.body_regions))


@functools.lru_cache(maxsize=16384)
def _in_scope(rs: RuleSet, service: str, regions: tuple) -> bool:
    scope = rs.spec.scope
    if service not in scope.services:
        return False
    return not scope.regions or not regions or regions_overlap(scope.regions, regions)


def _exports(rs: RuleSet) -> bool:
    cache = rs.__dict__.setdefault("_exports", [])
    if not cache:
        cache.append(any(r.then.derive and r.then.export for r in rs.spec.rules))
    return cache[0]


def _ordered(sets: list[RuleSet]) -> list[RuleSet]:
    """Rule sets that export facts run before the ones that use them; otherwise keep the given order."""
    return [rs for rs in sets if _exports(rs)] + [rs for rs in sets if not _exports(rs)]


class _Fmt(dict):
    def __missing__(self, key):
        return "unknown"


def _show(name: str, v):
    if v is None:
        return "unknown"
    t = FACT_TYPES.get(name)
    if t == "date" and isinstance(v, int):
        return (EPOCH + dt.timedelta(days=v)).isoformat()
    if t == "str" and isinstance(v, str):
        return v.replace("_", " ")
    if isinstance(v, list):
        return ", ".join(str(x).replace("_", " ") for x in v) or "none"
    if isinstance(v, float) and v.is_integer():
        return int(v)
    return v


def render(template: str, env: dict) -> str:
    return string.Formatter().vformat(template, (), _Fmt({k: _show(k, env[k]) for k in template_names(template)
                                                          if k in env}))


def _figures(names: tuple[str, ...], env: dict) -> dict:
    return {n: _show(n, env.get(n)) for n in names if n in env}


__all__ = ["Checker", "Firing", "render", "template_names"]
