"""Decisions under unknown facts (issue 9): the examples a reviewer raised, how readings combine, and two
properties over generated cases."""
import copy
import datetime as dt

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from ptcheck import validate_case
from ptcheck.core._decide import Answered, combine_readings
from ptcheck.core._jurisdictions import Presumption
from ptcheck.core._readings import Reading, Unknown


def decide(checker, case: dict):
    loaded = validate_case(case)
    assert loaded.ok, loaded.problems
    return checker.check(loaded.case)


def tx_case(**over):
    base = {"id": "t", "jurisdiction": "TX", "review": {"kind": "iro", "date": "2015-03-01"},
            "diagnoses": [{"icd9": "847.2", "region": "lumbar"}],
            "requests": [{"id": "1", "service": "physical_therapy", "body_regions": ["lumbar"], "visits": 6}],
            "history": {"therapy": []}}
    base.update(over)
    return base


# -- the examples of issue 9 ---------------------------------------------------------------------------

def test_a_course_of_zero_visits_is_no_prior_care(checker):
    with_zero = tx_case(requests=[{"id": "1", "service": "chiropractic", "body_regions": ["lumbar"], "visits": 6}],
                        history={"therapy": [{"service": "chiropractic", "body_regions": ["lumbar"], "visits_completed": 0}]})
    none = copy.deepcopy(with_zero)
    none["history"]["therapy"] = []
    a, b = decide(checker, with_zero).items[0], decide(checker, none).items[0]
    assert (a.outcome, a.certified_visits) == (b.outcome, b.certified_visits)
    assert a.outcome != "non_certify"


def test_undated_postsurgical_course_decided_when_every_reading_agrees(checker):
    """17 undated visits after a fusion with improvement, 12 requested: 17+12 = 29 <= 34 if they followed
    the surgery, 12 within the initial course if they did not: certify either way."""
    case = {"id": "f", "jurisdiction": "CA", "review": {"kind": "ur", "date": "2014-03-01"},
            "diagnoses": [{"icd9": "722.10", "region": "lumbar"}],
            "requests": [{"id": "1", "service": "physical_therapy", "body_regions": ["lumbar"], "visits": 12}],
            "history": {"therapy": [{"service": "physical_therapy", "body_regions": ["lumbar"], "visits_completed": 17}],
                        "surgeries": [{"kind": "fusion", "region": "lumbar", "date": "2013-12-01"}],
                        "documentation": {"functional_improvement": True}}}
    it = decide(checker, case).items[0]
    assert it.outcome == "certify", [f.message for f in it.findings]
    note = next(f for f in it.findings if f.rule == "engine.readings")
    assert "Every reading" in note.message and "before or after the surgery" in note.message


def test_unknown_prior_visits_never_assume_zero(checker):
    """12 visits six months after a meniscectomy, the history silent on therapy: not 'modify to 9' as if
    no therapy had been given."""
    case = tx_case(diagnoses=[{"icd9": "836.0", "region": "knee"}],
                   requests=[{"id": "1", "service": "physical_therapy", "body_regions": ["knee"], "visits": 12}],
                   history={"surgeries": [{"kind": "meniscectomy", "region": "knee", "date": "2014-09-01"}]})
    it = decide(checker, case).items[0]
    assert it.outcome != "modify"
    if it.outcome == "pend":
        assert any("therapy was already given" in m for m in it.missing), it.missing


def test_a_range_is_read_at_both_ends_and_decided_on_the_stated_presumption(checker):
    case = tx_case(requests=[{"id": "1", "service": "physical_therapy", "body_regions": ["lumbar"],
                              "text": "PT 2-3x/wk x 4-6 wks"}])
    it = decide(checker, case).items[0]
    assert it.requested_visits == 18
    assert it.outcome in ("modify", "non_certify", "certify")
    assert any(f.rule == "presumption.request-range-read-at-its-upper-end" for f in it.findings) or \
        any("Every reading" in f.message for f in it.findings if f.rule == "engine.readings")


def test_3x4wks_is_read(checker):
    case = tx_case(requests=[{"id": "1", "service": "physical_therapy", "body_regions": ["lumbar"], "text": "PT 3x4wks"}])
    assert decide(checker, case).items[0].requested_visits == 12


def test_postsurgical_visits_are_outside_the_4604_5_cap(checker):
    """24 visits in the six months after a laminectomy are exempt from Labor Code 4604.5's 24-visit cap."""
    def case(end):
        return {"id": "c", "jurisdiction": "CA", "review": {"kind": "ur", "date": "2014-11-01"}, "injury_date": "2013-01-01",
                "diagnoses": [{"icd9": "722.10", "region": "lumbar"}],
                "requests": [{"id": "1", "service": "physical_therapy", "body_regions": ["lumbar"], "visits": 4}],
                "history": {"therapy": [{"service": "physical_therapy", "body_regions": ["lumbar"], "visits_completed": 24,
                                         "end_date": end}],
                            "surgeries": [{"kind": "discectomy_laminectomy", "region": "lumbar", "date": "2013-08-26"}]}}
    inside = [f.rule for f in decide(checker, case("2014-01-15")).items[0].findings]
    outside = [f.rule for f in decide(checker, case("2013-06-01")).items[0].findings]
    assert not any(r.startswith("lc4604-5.") for r in inside)
    assert "lc4604-5.cap-reached" in outside


@pytest.mark.parametrize("jurisdiction,expected", [("CA", "upheld"), ("TX", "partially_overturned")])
def test_a_modify_is_predicted_per_jurisdiction(jurisdiction, expected):
    from ptcheck.core._decide import review_outcome
    assert review_outcome("imr" if jurisdiction == "CA" else "iro", "modify", jurisdiction) == expected
    assert review_outcome("ur", "modify", jurisdiction) is None


# -- how readings combine, row by row --------------------------------------------------------------

U = Unknown("course_visits", "0", "the visits of prior course 1", (1, 5, 20), frozenset({"completed_visits"}), "visits")
V = Unknown("course_dates", "0", "prior course 1 vs the surgery", ("before", "after"), frozenset(), "dates")


def R(values: dict, outcome, certified=None):
    return Answered(Reading({(u.kind, u.key): v for u, v in values.items()}, []), outcome, certified)


def test_combine_agreeing_readings_decide():
    c = combine_readings([U], [R({U: 1}, "non_certify"), R({U: 20}, "non_certify")], [])
    assert (c.outcome, c.flipping, c.presumed) == ("non_certify", [], [])


def test_combine_differing_readings_pend_naming_the_flipping_unknown_only():
    rs = [R({U: 1, V: "before"}, "certify", 6), R({U: 1, V: "after"}, "certify", 6),
          R({U: 20, V: "before"}, "non_certify"), R({U: 20, V: "after"}, "non_certify")]
    c = combine_readings([U, V], rs, [])
    assert c.outcome == "pend" and c.flipping == [U]


def test_combine_a_presumption_decides_and_keeps_the_rebutted_answers():
    p = Presumption(id="p", unknown="course_visits", reading="high", applies_to=["*"], reason="reason",
                    citation="cite")
    rs = [R({U: 1}, "certify", 6), R({U: 20}, "non_certify")]
    c = combine_readings([U], rs, [(p, U)])
    assert c.outcome == "non_certify" and [r.answer for r in c.rebutted] == [("certify", 6)]


def test_combine_a_presumption_that_does_not_settle_it_still_pends():
    p = Presumption(id="p", unknown="course_dates", reading="after", applies_to=["*"], reason="reason",
                    citation="cite")
    rs = [R({U: 1, V: "after"}, "certify", 6), R({U: 20, V: "after"}, "non_certify"),
          R({U: 1, V: "before"}, "certify", 6), R({U: 20, V: "before"}, "certify", 6)]
    c = combine_readings([U, V], rs, [(p, V)])
    assert c.outcome == "pend" and U in c.flipping


# -- properties over generated cases ----------------------------------------------------------------

counts = st.integers(0, 40)


@st.composite
def unknown_count_case(draw):
    j = draw(st.sampled_from(["CA", "TX"]))
    docs = {f: draw(st.booleans()) for f in ("functional_improvement", "exceptional_factors") if draw(st.booleans())}
    return {"id": "p", "jurisdiction": j, "review": {"kind": "ur", "date": draw(st.sampled_from(["2012-05-01", "2015-06-01"]))},
            "diagnoses": [{"icd9": draw(st.sampled_from(["729.1", "847.2", "724.4", "722.10"])), "region": "lumbar"}],
            "requests": [{"id": "1", "service": draw(st.sampled_from(["physical_therapy", "chiropractic"])),
                          "body_regions": ["lumbar"], "visits": draw(st.integers(1, 24))}],
            "history": {"therapy": [{"service": "physical_therapy", "body_regions": ["lumbar"]}], "documentation": docs}}


@settings(max_examples=40, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(unknown_count_case(), st.integers(1, 60))
def test_property_an_answer_decided_without_a_presumption_holds_for_every_allowed_value(checker, case, n):
    """(a) An item decided over readings (no presumption used) keeps its answer when the unknown count is
    filled with any value the records allow (a recorded course: 1 or more visits)."""
    it = decide(checker, case).items[0]
    used = [f for f in it.findings if f.rule.startswith("presumption.")]
    readings = [f for f in it.findings if f.rule == "engine.readings"]
    if it.outcome == "pend" or used or not readings:
        return
    filled = copy.deepcopy(case)
    filled["history"]["therapy"][0]["visits_completed"] = n
    again = decide(checker, filled).items[0]
    assert (again.outcome, again.certified_visits) == (it.outcome, it.certified_visits), (n, readings[0].message)


@settings(max_examples=40, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(unknown_count_case(), counts)
def test_property_filling_a_listed_change_gives_the_stated_answer(checker, case, n):
    """(b) Documenting what 'would change the answer' lists gives exactly the answer stated for it."""
    case = copy.deepcopy(case)
    case["history"]["therapy"][0]["visits_completed"] = n
    it = decide(checker, case).items[0]
    for change in it.would_change:
        if change.value is not True:
            continue
        filled = copy.deepcopy(case)
        filled["history"]["documentation"][change.fact] = True
        again = decide(checker, filled).items[0]
        assert (again.outcome, again.certified_visits) == (change.outcome, change.certified_visits)


@st.composite
def silent_history_case(draw):
    """A case whose history does not address prior therapy, over every service that counts visits."""
    j = draw(st.sampled_from(["CA", "TX"]))
    region = draw(st.sampled_from(["lumbar", "cervical", "knee", "shoulder", "wrist"]))
    docs = {f: draw(st.booleans()) for f in ("functional_improvement", "objective_functional_deficits",
                                              "exceptional_factors", "medication_reduction", "home_exercise_program")
            if draw(st.booleans())}
    req = {"id": "1", "service": draw(st.sampled_from(["physical_therapy", "aquatic_therapy", "acupuncture", "massage",
                                                      "work_conditioning", "work_hardening", "chiropractic"])),
           "body_regions": [region], "visits": draw(st.integers(1, 24))}
    if draw(st.booleans()):
        req["duration_weeks"] = draw(st.integers(1, 6))
    case = {"id": "p", "jurisdiction": j, "review": {"kind": "ur", "date": draw(st.sampled_from(["2012-05-01", "2015-06-01", "2019-03-01"]))},
            "diagnoses": [{"text": draw(st.sampled_from(["sprain", "myalgia", "radiculitis", "contusion"])), "region": region}],
            "requests": [req], "history": {"documentation": docs}}
    if draw(st.booleans()):                   # an injury before the review: 3 to 40 months
        review = dt.date.fromisoformat(case["review"]["date"])
        case["injury_date"] = (review - dt.timedelta(days=30 * draw(st.integers(3, 40)))).isoformat()
    return case


@settings(max_examples=60, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(silent_history_case(), st.sampled_from(["none", "pt", "same"]), st.integers(1, 40))
def test_property_an_answer_decided_on_a_silent_history_holds_for_any_history(checker, case, kind, n):
    """(a) for prior therapy: an item decided while the history is silent on it (no presumption used)
    keeps its answer when the history is filled in: no therapy, a course of physical therapy, or a
    course of the requested service, of any count."""
    it = decide(checker, case).items[0]
    if it.outcome == "pend" or any(f.rule.startswith("presumption.") for f in it.findings):
        return
    if not any(f.rule in ("engine.readings",) for f in it.findings):
        return                      # decided without reading prior therapy
    region = case["requests"][0]["body_regions"]
    filled = copy.deepcopy(case)
    filled["history"]["therapy"] = [] if kind == "none" else [
        {"service": "physical_therapy" if kind == "pt" else case["requests"][0]["service"],
         "body_regions": region, "visits_completed": n}]
    again = decide(checker, filled).items[0]
    assert (again.outcome, again.certified_visits) == (it.outcome, it.certified_visits), (kind, n)


# -- California from 2017-12-01: the medical evidence search sequence ---------------------------------

def test_a_california_request_after_2017_is_decided_with_the_guideline_chain(checker):
    """The ACOEM-based MTUS holds no visit count: ODG's row for the diagnosis is applied beside it, per
    8 CCR 9792.21.1, and the rationale says so (rules/jurisdictions.yaml CA_search_sequence)."""
    case = {"id": "ca", "jurisdiction": "CA", "review": {"kind": "ur", "date": "2019-03-01"},
            "diagnoses": [{"icd10": "S33.5XXA", "region": "lumbar"}],
            "requests": [{"id": "1", "service": "physical_therapy", "body_regions": ["lumbar"], "visits": 8}],
            "history": {"therapy": [{"service": "physical_therapy", "body_regions": ["lumbar"], "visits_completed": 6}],
                        "documentation": {"functional_improvement": True}}}
    d = decide(checker, case)
    it = d.items[0]
    assert (it.outcome, it.certified_visits) == ("modify", 4)            # ODG lumbar sprain 10 - 6 done
    rules = [f.rule for f in it.findings]
    assert "jurisdiction.search-sequence" in rules and "lb.row.lumbar-sprain" in rules
    assert "9792.21.1" in next(f.citation for f in it.findings if f.rule == "jurisdiction.search-sequence")
    assert {"mtus.cpmtg.physical-medicine", "odg.low-back.pt"} <= {r.id for r in d.rulesets}
    before = copy.deepcopy(case)
    before["review"]["date"] = "2017-06-01"                               # the 2016 CPMTG has its own count
    assert "jurisdiction.search-sequence" not in [f.rule for f in decide(checker, before).items[0].findings]


# -- what the rationale shows for a presumed count (new-user findings) ---------------------------------

def test_a_count_presumed_high_is_shown_at_the_least_count_that_gives_the_answer(checker):
    """An uncounted course read as complete: the figures are those of the least count giving the same
    answer (the boundary the answer turns on), never the stand-in beyond every number of the rules."""
    case = tx_case(requests=[{"id": "1", "service": "physical_therapy", "body_regions": ["lumbar"], "visits": 12}],
                   history={"therapy": [{"service": "physical_therapy", "body_regions": ["lumbar"]}],
                            "documentation": {"functional_improvement": True}})
    item = decide(checker, case).items[0]
    assert item.outcome == "non_certify"
    assert any(f.rule.startswith("presumption.") for f in item.findings)
    shown = [f for f in item.findings if f.effect in ("limit", "non_certify")]
    assert shown and all(f.message.startswith("If 10 or more visits in prior course 1") for f in shown)
    over = next(f for f in shown if f.rule == "pt.over-course")
    assert over.figures["completed_visits"] == 10          # the row's 10, not the stand-in count
    rebutted = next(w for w in item.would_change if "rebutting" in w.documentation)
    assert rebutted.message == "were the presumption rebutted: modify to 1-9 or non-certify"


@pytest.mark.parametrize("answers, words", [
    ({("modify", 1), ("modify", 2), ("modify", 3), ("non_certify", None)}, "modify to 1-3 or non-certify"),
    ({("modify", 2), ("modify", 5), ("certify", None)}, "modify to 2 or modify to 5 or certify"),
    ({("pend", None)}, "pend"),
])
def test_answers_are_summarised_with_runs_of_modifications(answers, words):
    from ptcheck.core._readings import summarize_answers
    assert summarize_answers(answers) == words


def test_a_pend_beside_a_decided_answer_is_shown_as_an_open_question(checker):
    from io import StringIO

    from rich.console import Console

    from ptcheck.core._render import render_case
    case = tx_case(diagnoses=[{"text": "shoulder pain", "region": "shoulder"}],
                   requests=[{"id": "1", "service": "physical_therapy", "body_regions": ["shoulder"], "visits": 12}],
                   history={"therapy": [{"service": "physical_therapy", "body_regions": ["shoulder"], "visits_completed": 26}]})
    d = decide(checker, case)
    item = d.items[0]
    assert item.outcome == "non_certify" and any(f.effect == "pend" for f in item.findings)
    buf = StringIO()
    Console(file=buf, width=160).print(render_case(d))
    text = buf.getvalue()
    assert "pend*" in text and "an open question that does not change this answer" in text
    assert text.index("non_certify") < text.index("pend*")


def test_a_diagnosis_read_from_words_is_shown_without_facts(checker):
    from io import StringIO

    from rich.console import Console

    from ptcheck.core._render import render_case
    d = decide(checker, tx_case(diagnoses=[{"text": "sprain", "region": "lumbar"}]))
    buf = StringIO()
    Console(file=buf, width=200).print(render_case(d))
    assert "read: diagnosis 'sprain' -> lumbar_sprain" in buf.getvalue()
    coded = decide(checker, tx_case())
    buf = StringIO()
    Console(file=buf, width=200).print(render_case(coded))
    assert "read: diagnosis" not in buf.getvalue()            # a code needs no reading
