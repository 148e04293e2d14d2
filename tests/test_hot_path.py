"""The audit hot path (issues 10 and 18): the per-item memo of durable_rules runs (by exact values and by
classes of readings), sessions that get only the facts a rule set reads, and the single audit pass that
explains only disagreeing items. Each must leave every answer and every word of output as it was; these
tests compare against the engine without them."""
import importlib.util
import json
import random

import pytest

import ptcheck.core._check as check_mod
import ptcheck.core._evaluate as evaluate_mod
from ptcheck import Checker, load_cases, to_json
from ptcheck.audit._audit import audit
from ptcheck.core._durable import Registered
from tests.conftest import ROOT

N_CASES = 120


def _bench():
    spec = importlib.util.spec_from_file_location("bench_audit", ROOT / "bench" / "bench_audit.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory):
    """Varied synthetic cases (bench/bench_audit.py's generator): unknown counts, documentation flags,
    surgeries, several services and regions, random actual outcomes (so about half disagree)."""
    path = tmp_path_factory.mktemp("hot") / "cases.jsonl"
    bench, rng = _bench(), random.Random(11)
    path.write_text("".join(json.dumps(bench.make_case(rng, i)) + "\n" for i in range(N_CASES)))
    return path


class _Forgetful(evaluate_mod.Memo):
    """A memo that never remembers: every rule set runs for every variant of an item, as before the memo."""

    def __init__(self) -> None:
        class Never(dict):
            def __setitem__(self, key, value) -> None:
                pass
        super().__init__(Never(), Never())


def _decisions(paths, explain=True) -> list[str]:
    checker = Checker()
    return [to_json(checker.check(loaded.case, explain=explain)) for loaded in load_cases(paths) if loaded.ok]


def test_the_memo_changes_no_decision_and_saves_sessions(synthetic, monkeypatch):
    runs = {"n": 0}
    real_run = Registered.run

    def counting(self, facts, encoded=None):
        runs["n"] += 1
        return real_run(self, facts, encoded)
    monkeypatch.setattr(Registered, "run", counting)
    paths = [synthetic, ROOT / "cases"]
    with_memo = _decisions(paths)
    sessions_with = runs["n"]
    monkeypatch.setattr(check_mod, "Memo", _Forgetful)
    runs["n"] = 0
    without = _decisions(paths)
    assert len(with_memo) > N_CASES and with_memo == without
    assert sessions_with < 0.7 * runs["n"]          # readings and "what would change" share most sessions


def test_a_session_given_only_the_names_it_needs_fires_as_with_every_fact(synthetic, monkeypatch):
    """A durable_rules session is given only the facts its rule set's conditions and internal derives read
    (CompiledRuleSet.session_names): on every run of the bundled and synthetic cases, the same firings and
    derived facts as a session given every fact of the item."""
    from ptcheck.core._durable import encode
    compared = {"n": 0}
    real = evaluate_mod.Evaluator._durable
    fresh: dict = {}

    def both(self, i, rs, values):
        run = real(self, i, rs, values)
        reg = self.registered(rs)
        if reg.compiled.may_fire(values):
            other = fresh.get(rs) or fresh.setdefault(rs, Registered(reg.compiled, reuse=False))
            firings, derived = other.run(values, encode(values))
            assert [(f.rule_index, f.derived) for f in sorted(firings, key=lambda f: f.rule_index)] == \
                [(f.rule_index, f.derived) for f in run.firings] and derived == run.derived, rs.key
            compared["n"] += 1
        return run
    monkeypatch.setattr(evaluate_mod.Evaluator, "_durable", both)
    _decisions([synthetic, ROOT / "cases"], explain=False)
    assert compared["n"] > 300


def test_the_single_audit_pass_lists_what_a_full_check_explains(synthetic):
    """audit checks a case once and decides 'what would change the answer' only for disagreeing items:
    each listed disagreement must carry exactly the rationale and missing documentation of check(case)."""
    report = audit([synthetic], jobs=1)
    assert report.disagreement_count > N_CASES // 4
    checker = Checker()
    full = {loaded.case.id: checker.check(loaded.case) for loaded in load_cases([synthetic]) if loaded.ok}
    with_changes = 0
    for dis in report.disagreements:
        item = next(i for i in full[dis.case].items if i.request == dis.request)
        assert dis.missing == item.missing
        assert [(f.rule, f.ruleset, f.effect, f.message, f.citation) for f in dis.rationale] == \
            [(f.rule, f.ruleset, f.effect, f.message, f.citation) for f in item.findings]
        with_changes += bool(item.would_change)
    assert with_changes > 0          # the comparison covers items whose explanation decides again per flag


def test_audit_jobs_1_and_2_give_the_same_report_on_synthetic_cases(synthetic):
    one = audit([synthetic], jobs=1)
    two = audit([synthetic], jobs=2)
    assert one.to_json() == two.to_json()


def test_readings_in_one_class_share_a_run_but_render_their_own_figures():
    """Two readings that differ only in a fact the conditions do not compare fall in one class and share one
    durable_rules run; each still renders its message and limit from its own facts."""
    from ptcheck import Library, parse_ruleset
    from ptcheck.core._evaluate import Memo
    from tests.conftest import HEAD, rule
    rs, problems = parse_ruleset(HEAD.format(name="shows") + rule("a", "request_visits > 1", "{limit: 'completed_visits + 1'}",
                                                                  msg="{completed_visits} before"), "shows.yaml")
    assert not problems, problems
    checker = Checker(Library([rs]))
    plan = checker.planner.plan("CA", None, "physical_therapy", ("lumbar",))
    variants = [{"request_visits": 3, "completed_visits": n, "service": "physical_therapy"} for n in (4, 9)]
    memo = Memo()
    evs = checker.evaluator.evaluate(plan, variants, frozenset({"completed_visits"}), memo)
    assert memo.runs == 1 and [e.hits[0].limit for e in evs] == [5, 10]
    shown = [checker.explainer.variant(plan, None, v, e, False)[0].finding for v, e in zip(variants, evs)]
    assert [f.message for f in shown] == ["4 before", "9 before"] and [f.limit for f in shown] == [5, 10]
    bigger = [{**variants[0], "request_visits": 0}]              # another class: request_visits > 1 is false
    assert checker.evaluator.evaluate(plan, bigger, frozenset({"request_visits"}), memo)[0].hits == ()
    assert memo.runs == 2


def test_what_would_change_is_the_answer_of_the_case_with_that_documentation(synthetic):
    """'What would change the answer' decides an item again on the readings and facts already derived,
    with the flag's fact set (no new readings, no new derivation). Each answer it gives, and each flag it
    leaves out as changing nothing, must be the answer of checking the case with that flag documented."""
    from ptcheck.core._documentation import FLAGS as DOC_FLAGS
    checker = Checker()
    compared = listed = 0
    for loaded in load_cases([synthetic, ROOT / "cases"]):
        if not loaded.ok:
            continue
        case = loaded.case
        decision = checker.check(case)
        doc = case.history.documentation
        for flag in DOC_FLAGS:
            if getattr(doc, flag) is True:
                continue
            alt = case.model_copy(update={"history": case.history.model_copy(
                update={"documentation": doc.model_copy(update={flag: True})})})
            for item, other in zip(decision.items, checker.check(alt, explain=False).items):
                change = next((c for c in item.would_change if c.fact == flag), None)
                if change is not None:
                    listed += 1
                    assert (change.outcome, change.certified_visits) == (other.outcome, other.certified_visits)
                elif not any(f.rule == "engine.not-addressed" for f in item.findings):
                    assert (other.outcome, other.certified_visits) == (item.outcome, item.certified_visits), \
                        (case.id, item.request, flag)
                compared += 1
    assert listed > 20 and compared > 500


def test_the_rule_sets_in_force_are_cached_by_span_of_dates_not_by_day():
    """Library.in_force caches by the span between two consecutive effective dates; every day of every
    span, the first and last days of each rule set included, must give what choosing afresh gives."""
    import datetime as dt
    lib = Checker().library
    days = {dt.date(2003, 1, 1) + dt.timedelta(days=n) for n in range(0, 9000, 17)}
    for rs in lib.rulesets:
        s = rs.spec
        days |= {s.effective_from, s.effective_from - dt.timedelta(days=1)}
        if s.effective_to is not None:
            days |= {s.effective_to, s.effective_to + dt.timedelta(days=1)}
    for j in ("CA", "TX"):
        for day in sorted(days):
            assert [r.key for r in lib.in_force(j, day)] == [r.key for r in lib._select(j, day, {})], (j, day)
    assert len(lib.__dict__["_in_force"]) < len(days)        # spans, not days


@pytest.mark.parametrize("jobs", [1, 2])
def test_a_capped_list_explains_only_the_disagreements_it_lists(synthetic, monkeypatch, jobs):
    """With max_listed=K only the first K disagreements of the input are listed, so a tally explains none
    after its own first K nor, once K are merged, any more: the report must be the full audit's with its
    list cut at K (counts, tallies and every listed word the same), over many small chunks."""
    import ptcheck.audit._audit as audit_mod
    full = audit([synthetic], jobs=1).to_json_dict()
    assert full["disagreement_count"] > 30 and not full["errors"]
    monkeypatch.setattr(audit_mod, "CHUNK_LINES", 7)          # many chunks, each with a few disagreements
    explained = {"n": 0}
    real = check_mod.Checker._would_change

    def counting(self, *a, **k):
        explained["n"] += 1
        return real(self, *a, **k)
    monkeypatch.setattr(check_mod.Checker, "_would_change", counting)
    for k in (0, 1, 5, 23, full["disagreement_count"]):
        explained["n"] = 0
        capped = audit([synthetic], jobs=jobs, max_listed=k).to_json_dict()
        want = dict(full, disagreements=full["disagreements"][:k], truncated=k < full["disagreement_count"])
        assert capped == want, k
        if jobs == 1:             # (workers count in their own processes)
            # explained: the listed ones, and the other items of a case that straddles K (at most 3 items)
            assert explained["n"] <= k + 2, (k, explained["n"])
    assert audit_mod.CHUNK_LINES == 7


def test_a_session_is_given_what_its_internal_derives_read():
    """A derive action computes its value from the case fact durable_rules matched: the facts its figure
    reads are given to the session even when no condition compares them."""
    from ptcheck import Library, parse_ruleset
    from ptcheck.core._evaluate import Memo
    from tests.conftest import HEAD, rule
    text = HEAD.format(name="derives") + rule("a", "request_visits > 1", "{derive: {x: 'request_visits + completed_visits'}}") \
        + rule("b", "x > 10")
    rs, problems = parse_ruleset(text, "derives.yaml")
    assert not problems, problems
    checker = Checker(Library([rs]))
    assert "completed_visits" in checker.evaluator.registered(rs).compiled.session_names
    plan = checker.planner.plan("CA", None, "physical_therapy", ("lumbar",))
    ev = checker.evaluator.evaluate(plan, [{"request_visits": 5, "completed_visits": 9}], frozenset(), Memo())[0]
    assert [rs.spec.rules[h.rule].id for h in ev.hits] == ["a", "b"]


def test_a_checker_keeps_no_memory_per_case():
    """Checking more cases does not grow what a Checker keeps (plans, analyses and caches are bounded by the
    rule sets and the kinds of items, never by the number of cases): after two windows of 1,500 cases fill
    the bounded caches, a third keeps under 1 MB more."""
    import gc
    import tracemalloc

    from ptcheck import validate_case
    bench, rng = _bench(), random.Random(23)
    loaded = [validate_case(bench.make_case(rng, i)).case for i in range(4500)]
    checker = Checker()
    tracemalloc.start()
    grown = []
    for window in (loaded[:1500], loaded[1500:3000], loaded[3000:]):
        gc.collect()
        before = tracemalloc.take_snapshot()
        for case in window:
            checker.check(case, explain=False)
        gc.collect()
        grown.append(sum(s.size_diff for s in tracemalloc.take_snapshot().compare_to(before, "filename")))
    tracemalloc.stop()
    assert grown[2] < 1024 * 1024, grown
