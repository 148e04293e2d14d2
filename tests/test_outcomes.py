"""The three situations the engine issue names: within the guideline, partly within, and unknown prior
visits with no documented improvement; plus determinism and isolation between cases."""
from ptcheck import to_json, validate_case
from tests.conftest import case_dict


def decide(checker, **over):
    loaded = validate_case(case_dict(**over))
    assert loaded.ok, loaded.problems
    return checker.check(loaded.case)


def test_within_the_guideline_is_certified(checker):
    d = decide(checker, history={"therapy": [{"service": "physical_therapy", "body_regions": ["lumbar"], "visits_completed": 4}]})
    it = d.items[0]
    assert (it.outcome, it.certified_visits, it.missing) == ("certify", 6, [])


def test_partly_within_is_modified_to_the_remainder(checker):
    d = decide(checker, history={"therapy": [{"service": "physical_therapy", "body_regions": ["lumbar"], "visits_completed": 7}],
                                 "documentation": {"functional_improvement": True}})
    it = d.items[0]
    assert (it.outcome, it.certified_visits) == ("modify", 3)             # 10 - 7
    assert any("7 visits completed + 6 requested = 13" in f.message for f in it.findings)


def test_unknown_prior_visits_without_improvement_names_the_missing_documentation(checker):
    d = decide(checker, history={"therapy": [{"service": "physical_therapy", "body_regions": ["lumbar"]}]})
    it = d.items[0]
    assert it.outcome in ("non_certify", "pend")
    # the rule set decides on the unknown count itself (pm.prior-count-and-improvement-undocumented)
    from ptcheck.core._documentation import words
    assert words("prior_visits") in it.missing


def test_what_would_change_the_answer_is_computed_and_holds(checker):
    """4 visits given + 8 requested = 12 > 10 without documented improvement: non-certify. Documenting the
    improvement is listed with the answer it leads to, and deciding again with it gives exactly that."""
    history = {"therapy": [{"service": "physical_therapy", "body_regions": ["lumbar"], "visits_completed": 4}]}
    reqs = [{"id": "1", "service": "physical_therapy", "body_regions": ["lumbar"], "visits": 8}]
    it = decide(checker, history=history, requests=reqs).items[0]
    assert it.outcome == "non_certify"
    change = next(c for c in it.would_change if c.fact == "functional_improvement")
    assert (change.outcome, change.certified_visits) == ("modify", 6)
    again = decide(checker, history={**history, "documentation": {"functional_improvement": True}}, requests=reqs).items[0]
    assert (again.outcome, again.certified_visits) == ("modify", 6)
    assert not any(c.fact == "functional_improvement" for c in again.would_change)   # documented: never listed


def test_unaddressed_service_pends_with_the_reason(checker):
    d = decide(checker, requests=[{"id": "1", "service": "hypnotherapy", "visits": 4}])
    it = d.items[0]
    assert it.outcome == "pend" and it.findings[0].rule == "engine.not-addressed"
    assert "hypnotherapy" in it.findings[0].message


def test_no_review_date_uses_the_newest_rules_and_says_so(checker):
    d = decide(checker, review={"kind": "ur"})
    assert d.review_date is None and "newest rule versions" in d.notes[0]


def test_same_input_same_json_and_no_state_between_cases(checker):
    a = validate_case(case_dict(id="a")).case
    b = validate_case(case_dict(id="b", jurisdiction="TX", diagnoses=[{"icd9": "847.2"}],
                                history={"therapy": [{"service": "physical_therapy", "visits_completed": 20}]})).case
    first = to_json(checker.check(a))
    for _ in range(5):
        checker.check(b)
    assert to_json(checker.check(a)) == first


def test_skipping_rule_sets_that_cannot_fire_never_changes_a_decision(checker, monkeypatch):
    """CompiledRuleSet.may_fire skips sessions where no rule can fire; it must be sound."""
    import random
    import sys

    from ptcheck.core._compile import CompiledRuleSet
    sys.path.insert(0, str(__import__("tests.conftest").conftest.ROOT / "bench"))
    from bench_batch import synthetic
    rnd = random.Random(11)
    cases = [validate_case(synthetic(i, rnd)).case for i in range(400)]
    fast = [to_json(checker.check(c)) for c in cases]
    monkeypatch.setattr(CompiledRuleSet, "may_fire", lambda self, facts: True)
    slow = [to_json(checker.check(c)) for c in cases]
    assert fast == slow


def test_unexplained_check_decides_the_same(checker):
    """Audits check without explanations first; the decision itself must not change (the computed 'what
    would change the answer', which decides the item again, and the findings are made only with
    explanations)."""
    import random
    import sys
    sys.path.insert(0, str(__import__("tests.conftest").conftest.ROOT / "bench"))
    from bench_batch import synthetic
    rnd = random.Random(5)
    for i in range(300):
        case = validate_case(synthetic(i, rnd)).case
        full, bare = checker.check(case), checker.check(case, explain=False)
        for a, b in zip(full.items, bare.items):
            assert (a.outcome, a.certified_visits, a.review_outcome, a.rulesets_run) == \
                   (b.outcome, b.certified_visits, b.review_outcome, b.rulesets_run)
            assert b.would_change == [] and set(b.missing) <= set(a.missing)
            assert a.findings and b.findings == []         # an item not shown builds no findings
