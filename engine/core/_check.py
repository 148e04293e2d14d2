"""Check a case: pick the rule sets in force, derive facts per item, run the rules, combine, explain.

Data flows one way: case -> facts -> rules (durable_rules) -> findings -> decision.
"""
from __future__ import annotations

import datetime as dt
import functools
import re
import string
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from . import _expr, _readings
from ._cases import Case, Request
from ._compile import compile_ruleset, exported_types
from ._decide import CaseDecision, Finding, ItemDecision, RuleSetRef, combine, deciding, review_outcome
from ._durable import Firing, Registered, encode
from ._errors import EngineError
from ._facts import EPOCH, FACT_TYPES, ItemFacts, derive, may_overlap
from ._rules import Library, RuleSet, template_names
from ._tables import export_policies, merge_exports
from ._version import engine_version

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
        # one conflict policy for exported facts, the hit policy of the tables that export them (lint R305)
        self.export_policies = export_policies(self.library.rulesets)[0]
        self.presumptions = _readings.load_presumptions(self.library.root) if self.library.root else []
        self.sequences = _load_search_sequences(self.library.root) if self.library.root else {}
        self._read_names: dict[Registered, tuple[str, ...]] = {}
        self._registered: dict[RuleSet, Registered] = {}
        self._plain_findings: dict[tuple, Finding] = {}     # (rule set, rule, limit) -> finding without words

    def registered(self, rs: RuleSet) -> Registered:
        reg = self._registered.get(rs)
        if reg is None:
            reg = self._registered[rs] = self._register(rs)
        return reg

    def _register(self, rs: RuleSet) -> Registered:
        key = (rs.key, rs.sha256, tuple(sorted(self.exports.items())))
        reg = _REGISTERED.get(key)
        if reg is None:
            with _REGISTER_LOCK:
                reg = _REGISTERED.get(key)
                if reg is None:
                    reg = _REGISTERED[key] = Registered(compile_ruleset(rs, self.exports))
        return reg

    def check(self, case: Case, *, explain: bool = True, memo: "_Memo | None" = None,
              would_change_for: Callable[[ItemDecision], bool] | None = None) -> CaseDecision:
        """Decide every requested item. explain=False skips rendering messages and figures (the outcome,
        certified visits, fired rules, limits and missing documentation are the same).

        memo: what the rule sets answered for this case (see _Memo); pass the same one to check the same
        case again and no rule set runs twice on the same facts.
        would_change_for: with explain, "what would change the answer" (deciding the item again per
        undocumented flag, the costly part of an explanation) only for the items it returns True for, given
        the item as decided without it; the other items get no would_change and only the documentation
        their rules name as missing. Audit uses it: only a disagreeing item's explanation is listed."""
        if memo is None:
            memo = _Memo()
        on = case.review.date
        sets = self.library.in_force(case.jurisdiction, on, self.pins)
        notes = []
        if on is None:
            notes.append("the case has no review date: the newest rule versions for "
                         f"{case.jurisdiction} were used")
        ran: dict[str, RuleSet] = {}          # key -> rule set consulted for some item, in first-use order
        items = []
        for req in case.requests:
            try:
                items.append(self._item(case, req, sets, on, ran, explain, memo, would_change_for))
            except EngineError as e:          # name the case and item; the caller's batch carries on
                raise EngineError(f"case {case.id!r}, item {req.id!r}: {e}", e.problems) from e
        order = {rs.key: i for i, rs in enumerate(sets)}
        refs = [RuleSetRef(id=rs.id, version=rs.version, sha256=rs.sha256)
                for rs in sorted(ran.values(), key=lambda r: (order.get(r.key, len(order)), r.key))]
        return CaseDecision.model_construct(case=case.id, jurisdiction=case.jurisdiction, review_kind=case.review.kind,
                            review_date=on.isoformat() if on else None, engine_version=engine_version(), rulesets=refs, items=items, notes=notes)

    # -- one item
    def _item(self, case: Case, req: Request, sets: list[RuleSet], on: dt.date | None,
              ran: dict, explain: bool = True, memo: "_Memo | None" = None,
              would_change_for: Callable[[ItemDecision], bool] | None = None) -> ItemDecision:
        memo = _Memo() if memo is None else memo
        if not req.body_regions:
            dx_regions = _dx_regions(case)
            if dx_regions:
                req = req.model_copy(update={"body_regions": dx_regions})
        addressing = [rs for rs in sets if _addresses(rs, req)]
        role = {rs.id: rs.spec.jurisdictions[case.jurisdiction] for rs in addressing}
        primary = [rs for rs in addressing if role[rs.id] == "primary"]
        fallback = [rs for rs in addressing if role[rs.id] == "fallback"] if not primary else []
        supplemental = [rs for rs in addressing if role[rs.id] == "supplemental"]
        pre: list[Finding] = []
        if fallback:
            note = self.library.fallback_note(case.jurisdiction, on)
            if note:
                pre.append(Finding(
                    rule="jurisdiction.fallback", ruleset=f"jurisdictions/{case.jurisdiction}", version="-",
                    citation=note.citation, effect="note",
                    message=note.message.format(service=req.service.replace("_", " "),
                                                guideline=fallback[0].spec.guideline.name)))
        if not primary and not fallback:
            pre.append(_engine_finding(
                "engine.not-addressed",
                f"No rule set in force for {case.jurisdiction}"
                f"{' on ' + on.isoformat() if on else ''} addresses {req.service.replace('_', ' ')}"
                f"{' for ' + ', '.join(req.body_regions) if req.body_regions else ''}: a reviewer must decide.",
                ["a guideline that addresses this service"]))
        sequence = _NO_SEQUENCE
        seq = self._search_sequence(case.jurisdiction, on, primary)
        if seq is not None:          # the MTUS in force gives no visit count: the search sequence goes on
            newest = {}
            for rs in self.library.rulesets:
                if rs.id in seq["use"] and (on is None or rs.in_force(on)) and _addresses(rs, req):
                    if rs.id not in newest or rs.spec.effective_from > newest[rs.id].spec.effective_from:
                        newest[rs.id] = rs
            used = list(newest.values())
            if used:
                primary = primary + used
                note = Finding(rule="jurisdiction.search-sequence", ruleset=f"jurisdictions/{case.jurisdiction}",
                               version="-", citation=seq["citation"], effect="note",
                               message=" ".join(seq["message"].split()).format(service=req.service.replace("_", " ")))
                sequence = _Sequence(frozenset(rs.key for rs in used), seq.get("unless"), note)
        consulted = _ordered(supplemental + primary + fallback)
        ran.update((rs.key, rs) for rs in consulted)
        addressed = bool(primary or fallback)
        d = self._decide(case, req, consulted, addressed, pre, explain, sequence, memo)
        on_unknown = set()           # rules that pend on an unknown the readings already name
        if d.combined is not None:
            for rs in consulted:
                on_unknown |= _ruleset_unknown_rules(rs, ("pend",))
        def decision(changes: list[dict] | None) -> ItemDecision:
            """changes None: 'what would change the answer' not computed (no explanations)."""
            missing = [c["documentation"] for c in changes or []]
            for f in deciding(d.findings, d.outcome):        # what the rules name that no fact can show
                if f.rule not in on_unknown:
                    missing += [m for m in f.missing if m not in missing and not _flag_settled(m, case, changes)]
            return ItemDecision.model_construct(            # our own typed values: no re-validation
                request=req.id, text=req.text, service=req.service, requested_visits=req.visits,
                outcome=d.outcome, certified_visits=d.certified if d.outcome in ("certify", "modify") else None,
                review_outcome=review_outcome(case.review.kind, d.outcome, case.jurisdiction),
                findings=d.findings, missing=missing, would_change=changes or [],
                facts=d.notes, rulesets_run=[rs.key for rs in consulted], actual=req.actual)
        if not (addressed and explain):     # deciding again per flag: only where the rationale is shown
            return decision(None)
        if would_change_for is not None:
            item = decision(None)
            if not would_change_for(item):
                return item
        return decision(self._would_change(case, req, consulted, pre, d, sequence, memo))

    def _search_sequence(self, jurisdiction: str, on: dt.date | None, primary: list[RuleSet]) -> dict | None:
        """The search-sequence entry that applies: the primary rule sets in force include one it names as
        silent on visit counts (rules/jurisdictions.yaml, <J>_search_sequence)."""
        for entry in self.sequences.get(jurisdiction, []):        # no review date: the newest rule sets
            dated = on is None or (entry["effective_from"] <= on and (entry.get("effective_to") is None
                                                                      or on <= entry["effective_to"]))
            if dated and any(rs.id in entry["silent"] for rs in primary):
                return entry
        return None

    def _decide(self, case: Case, req: Request, consulted: list[RuleSet], addressed: bool,
                pre: list[Finding], explain: bool, sequence: "_Sequence" = None,
                memo: "_Memo | None" = None, prepared: "_Prepared | None" = None,
                flags: dict | None = None) -> "_Evaluated":
        """The item's answer: one evaluation, or one per reading of the unknowns the rules read.

        prepared: the readings and derived facts of an earlier _decide of the same item (its result's
        `prepared`), reused instead of finding and deriving them again; `flags`: documentation facts set
        on top of them ("what would change the answer": documentation flags are facts of their own that no
        reading and no other fact is derived from, engine/core/_facts.py)."""
        memo = _Memo() if memo is None else memo
        if prepared is None:
            reads, numbers = self._reads(consulted)
            high = max([n for n in numbers if n < 500] or [24]) + 1
            prepared = _Prepared(_readings.readings(case, req, numbers, high, reads) if addressed else None)
        found = prepared.found
        if found is None:
            ev = self._evaluate(case, req, consulted, addressed, pre, explain, sequence, memo,
                                prepared.given, flags)
            prepared.given = ev.facts
            ev.prepared = prepared
            return ev
        # With unknowns, messages are rendered only for the evaluations whose findings are shown (the
        # facts as given, where the answer rests on them, and the first reading of the basis): the others
        # are evaluated without (same firings and answers), and an evaluation shown is completed with its
        # messages afterwards, from the memo (no rule set runs again).
        base = self._evaluate(case, req, consulted, addressed, pre, False, sequence, memo, prepared.given, flags)
        given = prepared.given = base.facts     # the facts as the records give them (derived once, by base)

        def explained(ev: _Evaluated, c: Case, r: Request, facts=None) -> _Evaluated:
            if not explain:
                return ev
            return self._evaluate(c, r, consulted, addressed, pre, True, sequence, memo, facts, flags)
        # A rule set may decide for an unknown itself: a rule that non-certifies on a history fact being
        # unknown (the guideline's own answer to undocumented prior care, e.g. seed 003's "prior therapy of
        # unknown extent without documented improvement"). A limit or certify on an unknown would assume a
        # value (a limit "for the request alone" assumes no prior visits): readings decide those.
        if base.outcome == "non_certify" and any(f.rule in self._unknown_rules(consulted) for f in base.findings
                                                 if f.effect == "non_certify"):
            out = explained(base, case, req, given)
            out.prepared = prepared
            return out
        unknown_list, base_rds = found
        derived = prepared.derived             # id(reading) -> its facts, derived once per item
        rds = [_readings.Reading(r.values, r.labels, r.case, r.request) for r in base_rds] if flags else base_rds
        facts_of: dict[int, ItemFacts] = {}
        for r, b in zip(rds, base_rds):
            ev = self._evaluate(r.case, r.request, consulted, addressed, pre, False, sequence, memo,
                                derived.get(id(b)), flags)
            r.findings, r.outcome, r.certified = ev.findings, ev.outcome, ev.certified
            derived[id(b)] = facts_of[id(r)] = ev.facts
        presumed = [(p, u) for u in unknown_list for p in self.presumptions
                    if p.unknown == u.kind and p.applies([rs.id for rs in consulted], given.values)]
        comb = _readings.combine_readings(unknown_list, rds, presumed)
        findings = _reading_findings(comb, unknown_list, rds)
        if comb.outcome != "pend":
            first = comb.basis[0]
            if explain:
                first.findings = explained(base, first.case, first.request, facts_of[id(first)]).findings
            findings += _prefixed(first.findings, first)
        else:                     # the rules' own words on the facts as given (what they say is missing)
            findings += [f for f in explained(base, case, req, given).findings
                         if f.effect in ("pend", "note", "derive")]
        return _Evaluated(findings, comb.outcome, comb.certified, given.notes, comb, prepared=prepared)

    def _would_change(self, case: Case, req: Request, consulted: list[RuleSet], pre: list[Finding],
                      d: "_Evaluated", sequence: "_Sequence" = None, memo: "_Memo | None" = None) -> list[dict]:
        """The documentation whose presence changes the answer, found by deciding again with it (never
        a flag the case already documents), and the unknowns that flip a pended answer."""
        reads, _ = self._reads(consulted)
        out = []
        doc = case.history.documentation
        for flag in DOC_FLAGS:
            if flag not in reads or getattr(doc, flag) is True:
                continue
            # the item decided again with the flag documented: the same readings and derived facts, the
            # flag's fact set (derive() writes it as tri(True))
            e = self._decide(case, req, consulted, True, pre, False, sequence, memo, d.prepared,
                             {flag: "true"})
            if (e.outcome, e.certified) != (d.outcome, d.certified):
                out.append({"documentation": DOC_WORDS[flag], "fact": flag, "value": True,
                            "outcome": e.outcome, "certified_visits": e.certified,
                            "message": f"with {DOC_WORDS[flag]}: {_readings.answer_words(e.outcome, e.certified)}"})
        comb = d.combined
        if comb is not None and comb.outcome == "pend":
            for u in comb.flipping:
                out.append({"documentation": u.need, "fact": u.kind, "value": None,
                            "outcome": None, "certified_visits": None,
                            "message": f"{u.need}: the answer depends on it"})
        elif comb is not None:
            for p, u in comb.presumed:
                other = {r.answer for r in comb.rebutted}
                out.append({"documentation": f"{u.need} (rebutting the presumption {p.id})",
                            "fact": u.kind, "value": None, "outcome": None, "certified_visits": None,
                            "message": "were the presumption rebutted: "
                                       + _readings.summarize_answers(other)})
        return out

    def _unknown_rules(self, consulted: list[RuleSet]) -> frozenset:
        """Ids of the rules that decide on a fact being unknown (their condition tests `== unknown`)."""
        out: set = set()
        for rs in consulted:
            out |= _ruleset_unknown_rules(rs)
        return frozenset(out)

    def _reads(self, consulted: list[RuleSet]) -> tuple[frozenset, frozenset]:
        """The case facts the rule sets read, and the numbers they state (for the readings)."""
        reads: set = set()
        numbers: set = set()
        for rs in consulted:
            r, n = _ruleset_reads(rs)
            reads |= r
            numbers |= n
        return frozenset(reads), frozenset(numbers)

    def _evaluate(self, case: Case, req: Request, consulted: list[RuleSet], addressed: bool,
                  pre: list[Finding], explain: bool, sequence: "_Sequence" = None,
                  memo: "_Memo | None" = None, facts: ItemFacts | None = None,
                  flags: dict | None = None) -> "_Evaluated":
        """One evaluation of the item's facts by the rule sets consulted (in durable_rules), combined.
        `facts`: derive(case, req), when the caller has it already; `flags`: documentation facts set on
        top of them (see _decide)."""
        if facts is None:
            facts = derive(case, req)
        values = dict(facts.values)
        if flags:
            values.update(flags)
        for name, ftype in self.exports.items():       # an exported yes/no nobody set is unknown
            if ftype == "tri":
                values.setdefault(name, "unknown")
        findings = list(pre)
        cache: dict = {}                       # the encoded facts, until an export changes them
        seq = sequence or _NO_SEQUENCE
        for rs in consulted:
            if rs.key in seq.keys:      # a search-sequence rule set: only where the MTUS in force is silent
                if seq.unless and values.get(seq.unless) == "true":
                    continue
                if seq.note not in findings:
                    findings.append(seq.note)
            findings += self._run(rs, values, cache, explain, memo)
        decisive = [f for f in findings if f.effect in ("certify", "limit", "non_certify", "pend")]
        if addressed and not decisive:
            findings.append(_engine_finding(
                "engine.no-decision",
                "The rules in force reached no decision for this item (no rule's condition was met).",
                ["documentation that places the request under a guideline row (diagnosis, prior visits)"]))
        outcome, certified = combine(findings, req.visits)
        return _Evaluated(findings, outcome, certified, facts.notes, facts=facts)

    def _run(self, rs: RuleSet, values: dict, cache: dict, explain: bool = True,
             memo: "_Memo | None" = None) -> list[Finding]:
        """The findings of one rule set on the item's facts; exported facts are merged into `values`.

        Memoized (memo) by the values of the names the rule set can read: an item's readings and the
        "what would change" evaluations differ in a few facts only, and most rule sets read none of them."""
        reg = self.registered(rs)
        if memo is None:
            return self._run_rules(rs, reg, values, cache, explain)
        if "safe" not in cache:         # what encode() would refuse is refused on a memo hit too
            if len(values) > 250 or not _PLAIN.issuperset(map(type, values.values())):
                encode(values)
            cache["safe"] = True
        names = self._read_names.get(reg)
        if names is None:          # only facts and exported facts are ever values
            known = FACT_TYPES.keys() | self.exports.keys()
            names = self._read_names[reg] = tuple(n for n in reg.compiled.read_names if n in known)
        key = (reg, explain, _project(values, names))
        hit = memo.runs.get(key)
        if hit is None:
            if not reg.compiled.exports:          # changes no value
                hit = memo.runs[key] = (self._run_rules(rs, reg, values, cache, explain, memo, key[2], names), ())
            else:
                before = dict(values)
                findings = self._run_rules(rs, reg, values, cache, explain, memo, key[2], names)
                exported = tuple((k, v) for k, v in values.items() if k not in before or before[k] is not v)
                hit = memo.runs[key] = (findings, exported)
        else:
            for name, v in hit[1]:
                values[name] = v
            if hit[1]:
                cache.pop("body", None)
        return list(hit[0])

    def _run_rules(self, rs: RuleSet, reg: Registered, values: dict, cache: dict, explain: bool,
                   memo: "_Memo | None" = None, projected: tuple | None = None,
                   names: tuple[str, ...] = ()) -> list[Finding]:
        if not reg.compiled.may_fire(values):
            return []
        session = memo.sessions.get((reg, projected)) if memo is not None else None
        if session is None:
            if memo is None:
                if "body" not in cache:
                    cache["body"] = encode(values)
                session = reg.run(values, cache["body"])
            else:              # the session gets the facts the rule set can read (the rest it cannot see)
                session = reg.run(values, encode({n: values[n] for n in names if n in values}))
                memo.sessions[(reg, projected)] = session
        firings, session_derived = session
        findings = []
        for fi in sorted(firings, key=lambda f: f.rule_index):
            compiled = reg.compiled.rules[fi.rule_index]
            rule = compiled.rule
            if not explain and rule.then.limit is None and not (rule.then.derive and rule.then.export):
                plain = self._plain_findings.get((reg, fi.rule_index, None))     # nothing to evaluate
                if plain is not None:
                    findings.append(plain)
                    continue
            env = {**values, **session_derived, **fi.derived}
            limit = None
            if rule.then.limit is not None:
                lv = _expr.evaluate(rule.then.limit, env)
                limit = None if lv is None else max(0, int(lv))
                env["limit"] = limit
            if rule.then.derive and rule.then.export:
                new = {name: _expr.fact_value(expr, env) for name, expr in rule.then.derive.items()}
                for name, v in merge_exports(values, new, self.exports, self.export_policies).items():
                    env[name] = values[name] = v
                    cache.pop("body", None)
            if not explain:          # a finding without its words depends on the rule and limit only
                plain = self._plain_findings.get((reg, fi.rule_index, limit))
                if plain is None:
                    plain = self._plain_findings[(reg, fi.rule_index, limit)] = Finding.model_construct(
                        rule=rule.id, ruleset=rs.id, version=rs.version, citation=rs.cited(rule),
                        effect=rule.then.kind, message="", limit=limit, missing=list(rule.missing), figures={})
                findings.append(plain)
                continue
            findings.append(Finding.model_construct(       # fields are ours and typed: no re-validation
                rule=rule.id, ruleset=rs.id, version=rs.version, citation=rs.cited(rule),
                effect=rule.then.kind, message=render(rule.message, env), limit=limit,
                missing=list(rule.missing), figures=_figures(compiled.shown, env)))
        return findings


def _load_search_sequences(root) -> dict[str, list[dict]]:
    """<J>_search_sequence sections of rules/jurisdictions.yaml, by jurisdiction."""
    from ._rules import load_yaml
    path = root / "jurisdictions.yaml"
    if not path.exists():
        return {}
    _, data = load_yaml(path.read_text(encoding="utf-8"), str(path))
    return {k[: -len("_search_sequence")]: v for k, v in (data or {}).items() if k.endswith("_search_sequence")}


class _Memo:
    """What the rule sets answered for one case, by the values of the names each can read
    (CompiledRuleSet.read_names): `sessions` the durable_rules firings and derived facts (explain or not),
    `runs` the findings and exported facts of _run. Lives as long as one check (or an audit's two checks
    of one case); the rules are deterministic, so an answer for the same read values is the same answer."""
    __slots__ = ("sessions", "runs")

    def __init__(self) -> None:
        self.sessions: dict = {}
        self.runs: dict = {}


_PLAIN = frozenset({type(None), bool, int, float, str, list, tuple})
_ABSENT = object()          # a name with no value (differs from every value, None included)
_AS_IS = frozenset({str, int, object})      # hashable, and equal only to their own kind


def _project(values: dict, names: tuple[str, ...]) -> tuple:
    """The values of `names`, hashable and exact (5 and 5.0, 1 and True, absent and None told apart)."""
    get = values.get
    out = [get(n, _ABSENT) for n in names]
    for i, v in enumerate(out):
        if type(v) not in _AS_IS:
            out[i] = _frozen(v)
    return tuple(out)


def _frozen(v):
    t = type(v)
    if t is list or t is tuple:
        if all(type(x) is str for x in v):    # the common case (regions, categories): strs, told apart from
            return (t, *v)                    # the general form, whose items are tuples
        return (t, *(_frozen(x) for x in v))
    if t is dict:
        return (t, *((k, _frozen(x)) for k, x in v.items()))
    return (t, v)


@dataclass(frozen=True)
class _Sequence:
    """Rule sets reached by the medical evidence search sequence for one item (rules/jurisdictions.yaml)."""
    keys: frozenset
    unless: str | None              # a fact that, when true, means the MTUS does speak (e.g. postsurgical)
    note: Finding | None


_NO_SEQUENCE = _Sequence(frozenset(), None, None)


@dataclass
class _Evaluated:
    findings: list
    outcome: str
    certified: int | None
    notes: list
    combined: object = None          # the readings' combination, when the item had unknowns
    facts: object = None             # the ItemFacts one evaluation derived
    prepared: "_Prepared | None" = None     # what _decide found and derived, for deciding again


@dataclass
class _Prepared:
    """One item's readings (None: no unknowns the rules read) and the facts derived for it: the facts as
    given and, by id of each reading, the reading's facts. Reused by "what would change the answer"."""
    found: tuple | None
    given: ItemFacts | None = None
    derived: dict = field(default_factory=dict)


# Documentation flags (history.documentation) and the words for "what would change the answer".
DOC_WORDS = {
    "functional_improvement": "documented objective functional improvement from the prior treatment",
    "objective_functional_deficits": "documented measurable functional deficits that therapy is to address",
    "home_exercise_program": "a documented home exercise program",
    "unable_to_do_home_exercise": "a documented reason a home program cannot replace supervised therapy",
    "new_injury_or_flare": "a documented new injury, re-injury or flare-up since the last course",
    "exceptional_factors": "a documented statement of exceptional factors justifying care beyond the guideline",
    "medication_reduction": "documented reduction of medication after treatment",
    "equipment_described": "a description of the equipment's contents",
    "therapy_plateau": "documented improvement in physical or occupational therapy followed by a plateau",
}
DOC_FLAGS = tuple(DOC_WORDS)
# the words by which a rule's 'missing' entry speaks of a documentation flag
_FLAG_WORDS = {
    "functional_improvement": ("functional improvement",),
    "objective_functional_deficits": ("functional deficit", "functional limitation"),
    "home_exercise_program": ("home exercise", "home program"),
    "unable_to_do_home_exercise": ("home exercise", "home program"),
    "new_injury_or_flare": ("flare", "new injury"),
    "exceptional_factors": ("exceptional factor",),
    "medication_reduction": ("medication",),
    "equipment_described": ("contents", "equipment"),
    "therapy_plateau": ("plateau",),
}


def _flag_settled(text: str, case: Case, changes: list[dict] | None) -> bool:
    """Is a rule's 'missing' entry about a documentation flag that the case already documents, or that the
    computed list ('would change the answer') already gives? Then it is not listed again. A flag the case
    leaves open and that does not change the answer alone (another unknown also holds it) stays listed.
    Without the computed list (changes None: no explanations) every entry about a flag is left out."""
    t = text.lower()
    if changes is None:
        return any(w in t for words in _FLAG_WORDS.values() for w in words)
    doc = case.history.documentation
    computed = {c["fact"] for c in changes}
    return any(getattr(doc, flag) is not None or flag in computed
               for flag, words in _FLAG_WORDS.items() if any(w in t for w in words))


_IDENT = re.compile(r"[a-z_][a-z0-9_]*")


def _ruleset_reads(rs: RuleSet) -> tuple[frozenset, frozenset]:
    cached = rs.__dict__.get("_reads")
    if cached is None:
        texts = []
        for r in rs.spec.rules:
            texts.append(r.when)
            if r.then.limit is not None:
                texts.append(str(r.then.limit))
            texts += [str(v) for v in (r.then.derive or {}).values()]
        names = {w for t in texts for w in _IDENT.findall(t) if w in FACT_TYPES}
        cached = rs.__dict__["_reads"] = (frozenset(names), _readings.rule_numbers(texts))
    return cached


# a test that a history fact the readings fill in is unknown
_UNKNOWN_TEST = re.compile(r"\b(completed_visits|total_visits|visits_since_surgery|postsurgical_total_visits|"
                           r"prior_therapy|service_visits_per_injury)\s*==\s*unknown\b")


def _ruleset_unknown_rules(rs: RuleSet, effects=("non_certify",)) -> frozenset:
    """Ids of the rules (with one of `effects`) whose condition tests a history fact for `== unknown`."""
    key = "_unknown_rules_" + "_".join(effects)
    cached = rs.__dict__.get(key)
    if cached is None:
        cached = rs.__dict__[key] = frozenset(
            r.id for r in rs.spec.rules if r.then.kind in effects and _UNKNOWN_TEST.search(r.when))
    return cached


def _reading_findings(comb, unknown_list, rds) -> list[Finding]:
    """The rationale of a decision over readings: what is unknown, and the answer under each reading."""
    what = "; ".join(u.label for u in unknown_list)

    def answers(rs) -> str:
        groups = _readings.group_answers(rs)
        shown = [f"{_readings.answer_words(*a)} for {_readings.describe(unknown_list, g)}" for a, g in groups[:5]]
        if len(groups) > 5:
            shown.append(f"... {len(groups) - 5} more answers")
        return "; ".join(shown)
    engine_note = dict(rule="engine.readings", ruleset="engine", version="-",
                       citation="ptcheck engine: decision under unknown facts", effect="note")
    if comb.outcome == "pend":
        flipping = "; ".join(u.label for u in comb.flipping)
        return [_engine_finding("engine.unknown-flips",
                                f"The answer depends on what the records leave unknown: {flipping}. "
                                f"{answers(rds) if rds else 'Too many readings to evaluate.'}",
                                [u.need for u in comb.flipping])]
    basis = _readings.describe(unknown_list, comb.basis[:1])
    if not comb.presumed:
        return [Finding(**engine_note, message=f"The records leave unknown: {what}. Every reading they allow "
                        f"gives the same answer ({_readings.answer_words(comb.outcome, comb.certified)}); the rules' findings "
                        f"are shown for {basis}.")]
    out = [Finding(rule=f"presumption.{p.id}", ruleset="presumptions", version="-", citation=p.citation,
                   effect="note", message=f"Presumed: {p.reason} ({u.label}).") for p, u in comb.presumed]
    out.append(Finding(**engine_note, message=f"The records leave unknown: {what}. On the presumption the answer "
                       f"is {_readings.answer_words(comb.outcome, comb.certified)} (findings shown for {basis}); were it "
                       f"rebutted: {answers(comb.rebutted)}."))
    return out


def _prefixed(findings: list[Finding], reading) -> list[Finding]:
    """Findings of one reading, each message saying which values the reading filled in."""
    if not reading.labels:
        return findings
    lead = "If " + ", ".join(reading.labels) + ": "
    return [f.model_copy(update={"message": lead + f.message}) if f.effect != "note" and f.message else f
            for f in findings]


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
    return may_overlap(scope.regions, regions)


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
