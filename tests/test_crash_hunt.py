"""Crash hunt: generated valid cases are checked in a child process, so that a segfault in durable_rules
fails the test (naming the case) instead of killing pytest. Nothing a valid case does may crash the
process or raise anything but a decision.

Budget: PTCHECK_CRASH_HUNT examples (default 250, which .ci/run uses); `bench/crash_hunt.sh` runs a
longer hunt. Every crash found becomes a regression case in REGRESSIONS below.
"""
from __future__ import annotations

import concurrent.futures as cf
import datetime as dt
import json
import multiprocessing
import os

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from ptcheck.core._casetypes import KNOWN_SERVICES, Region

EXAMPLES = int(os.environ.get("PTCHECK_CRASH_HUNT", "250"))

DX_TEXTS = ["lumbar strain", "sciatica", "lumbar neuritis", "low back pain", "myalgia", "myositis",
            "radiculitis", "neck sprain", "cervicalgia", "CRPS", "reflex sympathetic dystrophy",
            "rotator cuff tear", "shoulder impingement", "knee sprain", "meniscus tear", "carpal tunnel syndrome",
            "lateral epicondylitis", "ankle sprain", "chronic pain", "something unheard of"]
ICD9 = ["729.1", "724.2", "724.4", "722.10", "847.0", "847.2", "840.4", "726.10", "836.0", "844.9",
        "354.0", "337.21", "723.1", "726.32", "845.00"]
ICD10 = ["M54.5", "M54.50", "M54.16", "S33.5XXA", "S13.4XXA", "M79.1", "M75.10", "S83.209A", "G56.00",
         "M77.10", "M54.2", "G90.521", "S93.401A", "M51.26", "M25.561"]
SURGERY_KINDS = ["discectomy_laminectomy", "fusion", "disc_arthroplasty", "arthroscopic_shoulder", "open_shoulder",
                 "rotator_cuff_repair", "bankart", "shoulder_arthroplasty", "meniscectomy", "acl_repair",
                 "knee_arthroplasty", "carpal_tunnel_release", "other_surgery", None]
REGIONS = [r.value for r in Region]
DOC_FLAGS = ["functional_improvement", "objective_functional_deficits", "home_exercise_program",
             "unable_to_do_home_exercise", "new_injury_or_flare", "exceptional_factors", "medication_reduction",
             "equipment_described"]
EDGE = st.sampled_from([0, 1, 2, 3, 4, 6, 8, 9, 10, 12, 16, 18, 24, 25, 34, 48, 99])
TEXTS = ["PT 2x4", "PT 2x6 lumbar", "3x4wks", "x12", "12 visits", "2 times a week for 4 weeks", "(8sessions)",
         "PT 2-3x/wk x 4-6 wks", "work conditioning x 10 sessions", "", "evaluate and treat"]


def _date(lo=dt.date(2008, 1, 1), hi=dt.date(2026, 11, 1)):
    return st.dates(min_value=lo, max_value=hi).map(dt.date.isoformat)


def _opt(strategy):
    return st.one_of(st.none(), strategy)


def _drop_none(d: dict) -> dict:
    return {k: v for k, v in d.items() if v is not None}


diagnosis = st.builds(lambda t, c9, c10, r: _drop_none({"text": t, "icd9": c9, "icd10": c10, "region": r}) or {"text": "pain"},
                      _opt(st.sampled_from(DX_TEXTS)), _opt(st.sampled_from(ICD9)), _opt(st.sampled_from(ICD10)),
                      _opt(st.sampled_from(REGIONS)))


@st.composite
def request(draw, rid: str):
    # physical therapy, the bulk of real requests, is drawn about half the time
    service = draw(st.sampled_from([*KNOWN_SERVICES, "hippotherapy"] + ["physical_therapy"] * 12))
    r = {"id": rid, "service": service, "body_regions": draw(st.lists(st.sampled_from(REGIONS), max_size=2, unique=True))}
    how = draw(st.sampled_from(["visits", "freq", "text", "none"]))
    if how == "visits":
        r["visits"] = draw(EDGE)
    elif how == "freq":
        r["frequency_per_week"], r["duration_weeks"] = draw(st.integers(0, 5)), draw(st.integers(0, 12))
    elif how == "text":
        r["text"] = draw(st.sampled_from(TEXTS))
    if service == "medication":
        r.update(drug=draw(st.sampled_from(["carisoprodol", "ibuprofen"])), quantity=draw(EDGE))
    if service == "office_visit":
        r.update(specialty="pain management", purpose=draw(st.sampled_from(["repeat_epidural_steroid_injection", "follow_up"])))
    if service == "injection":
        r["kind"] = draw(st.sampled_from(["epidural_steroid", "trigger_point"]))
    return r


@st.composite
def case(draw):
    history: dict = {}
    therapy = draw(st.sampled_from(["absent", "empty", "some"]))
    if therapy == "empty":
        history["therapy"] = []
    elif therapy == "some":
        history["therapy"] = [_drop_none({
            "service": draw(st.sampled_from(["physical_therapy", "chiropractic", "acupuncture", "occupational_therapy"])),
            "body_regions": draw(st.lists(st.sampled_from(REGIONS), max_size=2, unique=True)),
            "visits_completed": draw(_opt(EDGE)),
            "end_date": draw(_opt(_date())),
        }) for _ in range(draw(st.integers(1, 3)))]
    history["surgeries"] = [_drop_none({"kind": draw(st.sampled_from(SURGERY_KINDS)),
                                        "region": draw(_opt(st.sampled_from(REGIONS))), "date": draw(_opt(_date()))})
                            for _ in range(draw(st.integers(0, 2)))]
    history["injections"] = [_drop_none({"kind": "epidural_steroid", "region": draw(_opt(st.sampled_from(REGIONS))),
                                         "date": draw(_opt(_date())),
                                         "pain_relief_percent": draw(_opt(st.sampled_from([0, 30, 50, 70, 100]))),
                                         "relief_weeks": draw(_opt(st.sampled_from([0, 2, 6, 8, 52])))})
                             for _ in range(draw(st.integers(0, 1)))]
    history["documentation"] = {f: v for f in DOC_FLAGS if (v := draw(st.sampled_from([None, True, False]))) is not None}
    n = draw(st.integers(1, 2))
    return _drop_none({
        "id": "hunt", "jurisdiction": draw(st.sampled_from(["CA", "TX"])),
        "review": _drop_none({"kind": draw(st.sampled_from(["ur", "imr", "iro"])), "date": draw(_opt(_date()))}),
        "injury_date": draw(_opt(_date())),
        "diagnoses": draw(st.lists(diagnosis, max_size=3)),
        "requests": [draw(request(str(i + 1))) for i in range(n)],
        "history": history,
    })


# -- the child process -----------------------------------------------------------------------------

_CHECKER = None


def _check_in_child(text: str) -> str:
    """Runs in the worker: 'invalid' for a case the format refuses, 'ok' for a decision; raises otherwise."""
    global _CHECKER
    from ptcheck import Checker, validate_case
    if _CHECKER is None:
        _CHECKER = Checker()
    loaded = validate_case(json.loads(text))
    if not loaded.ok:
        return "invalid"
    _CHECKER.check(loaded.case)
    return "ok"


class _Child:
    def __init__(self):
        self.pool = None
        self.counts = {"ok": 0, "invalid": 0}

    def check(self, text: str) -> str:
        if self.pool is None:
            # glibc fills fresh and freed memory with a pattern: reads of uninitialised memory in the C
            # engine (the kind of bug behind the derived-fact crash) misbehave far more reliably
            os.environ.setdefault("MALLOC_PERTURB_", "165")
            self.pool = cf.ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn"))
        try:
            result = self.pool.submit(_check_in_child, text).result(timeout=120)
        except cf.process.BrokenProcessPool:
            self.pool = None
            raise AssertionError(f"the engine process died on this valid case:\n{text}") from None
        self.counts[result] += 1
        return result

    def close(self):
        if self.pool is not None:
            self.pool.shutdown()


@pytest.fixture(scope="module")
def child():
    c = _Child()
    yield c
    c.close()
    # the hunt must mostly exercise the engine, not the validator
    print("crash hunt:", c.counts)
    assert c.counts["ok"] >= c.counts["invalid"], c.counts


@settings(max_examples=EXAMPLES, deadline=None, derandomize=bool(os.environ.get("CI")),
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(case())
def test_generated_valid_cases_never_crash(child, case):
    child.check(json.dumps(case))


# Cases that crashed the engine once (each found by a user or by this hunt); each must give a decision.
REGRESSIONS = {
    "issue-12 derived-fact segfault": {
        "id": "min", "jurisdiction": "CA", "review": {"date": "2014-07-09"}, "diagnoses": [{"text": "lumbar neuritis"}],
        "requests": [{"id": "1", "text": "PT 2x4", "service": "physical_therapy"}],
        "history": {"therapy": [{"service": "physical_therapy", "visits_completed": 24}],
                    "surgeries": [{"kind": "discectomy_laminectomy", "region": "lumbar", "date": "2013-08-26"}]}},
}


@pytest.mark.parametrize("name", sorted(REGRESSIONS))
def test_regressions(child, name):
    for _ in range(20):
        assert child.check(json.dumps(REGRESSIONS[name])) == "ok"
