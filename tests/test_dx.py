"""Diagnosis coding: codes and text to guideline categories; ICD-9 and ICD-10 forms agree."""
import pytest
from hypothesis import given, settings, strategies as st

from ptcheck.core import _dx

TABLE = [
    ({"icd9": "729.1"}, "myalgia"),
    ({"icd9": "7291"}, "myalgia"),
    ({"icd10": "M79.18"}, "myalgia"),           # newer than the GEMs: reached through its parent M79.1
    ({"icd10": "M54.16"}, "lumbar_radiculitis"),
    ({"icd10": "S33.5XXA"}, "lumbar_sprain"),
    ({"icd10": "S13.4XXA"}, "neck_sprain"),
    ({"icd10": "M54.50"}, "low_back_pain"),
    ({"icd10": "G56.01"}, "carpal_tunnel"),
    ({"icd10": "M75.41"}, "rotator_cuff_impingement"),
    ({"icd9": "722.10"}, "lumbar_disc"),
    ({"icd9": "840.7"}, "slap_lesion"),          # the longer prefix wins over 840
    ({"icd9": "337.21"}, "crps"),
    ({"text": "sprain/strain of the cervical spine"}, "neck_sprain"),
    ({"text": "lumbar neuritis"}, "lumbar_radiculitis"),
    ({"text": "lumbar disc herniations without myelopathy"}, "lumbar_disc"),
    ({"text": "right knee medial meniscus tear"}, "meniscus_tear"),
    ({"icd10": "Z00.00"}, None),
    ({"text": "anxiety"}, None),
    # words that name no body part are read with the diagnosis's region field
    ({"text": "sprain", "region": "lumbar"}, "lumbar_sprain"),
    ({"text": "strain", "region": "cervical"}, "neck_sprain"),
    ({"text": "sprain"}, None),
    ({"text": "sprain of the shoulder", "region": "lumbar"}, None),   # text and region disagree: not guessed
]


@pytest.mark.parametrize("kw,category", TABLE, ids=[str(k) for k, _ in TABLE])
def test_table(kw, category):
    assert _dx.classify(**kw).category == category


def test_code_wins_over_text():
    assert _dx.classify(icd9="729.1", text="lumbar sprain").category == "myalgia"


def test_unmapped_code_is_reported_with_its_code():
    r = _dx.classify(icd10="Z00.00")
    assert r.via == "unmapped" and r.code == "Z00.00"


@pytest.mark.parametrize("code,ok", [("729.1", True), ("999.99", False), ("abc", False)])
def test_icd9_validity(code, ok):
    assert _dx.icd9_valid(code) is ok


@pytest.mark.parametrize("code,ok", [("S13.4XXA", True), ("S13.4XXZ", False), ("M54.99", False), ("M5416", True)])
def test_icd10_validity(code, ok):
    assert _dx.icd10_valid(code) is ok


def _gem_pairs():
    """(icd9, icd10) pairs of the CMS GEMs whose ICD-9 code falls in a guideline category."""
    _, _, mapper = _dx._packages()
    pairs = []
    for cat in _dx.categories():
        for prefix in cat.icd9:
            code = prefix.replace(".", "")
            for c9 in [code] + [code + str(d) for d in range(10)]:
                c10 = mapper.map(c9, source="icd9", target="icd10")
                if c10 and c10 != "NoDx" and _dx.icd9_valid(c9) and _dx.icd10_valid(c10):
                    pairs.append((c9, c10))
    return pairs


PAIRS = _gem_pairs()


def test_there_are_many_mapped_pairs():
    assert len(PAIRS) > 60


@settings(max_examples=150, deadline=None)
@given(st.sampled_from(PAIRS))
def test_icd9_and_icd10_forms_give_the_same_category(pair):
    c9, c10 = pair
    a, b = _dx.classify(icd9=c9), _dx.classify(icd10=c10)
    # a GEM target can be coarser than the ICD-9 code; then it must map back into the same category
    back = _dx.icd10_to_icd9(c10)
    if back and _dx.default_table().by_icd9(back[0]) is _dx.default_table().by_icd9(_dx.normalize_icd9(c9)):
        assert a.category == b.category, (c9, c10, a, b)


@settings(max_examples=60, deadline=None)
@given(st.sampled_from(PAIRS))
def test_icd9_and_icd10_forms_give_the_same_decision(pair):
    from ptcheck import validate_case
    c9, c10 = pair
    back = _dx.icd10_to_icd9(c10)
    if not back or _dx.default_table().by_icd9(back[0]) is not _dx.default_table().by_icd9(_dx.normalize_icd9(c9)):
        return
    outcomes = []
    for jur in ("CA", "TX"):
        for code in ({"icd9": c9}, {"icd10": c10}):
            case = {"id": "p", "jurisdiction": jur, "review": {"date": "2014-07-01"}, "diagnoses": [code],
                    "requests": [{"id": "1", "service": "physical_therapy", "visits": 8}],
                    "history": {"therapy": [{"service": "physical_therapy", "visits_completed": 4}],
                                "documentation": {"functional_improvement": True}}}
            loaded = validate_case(case)
            assert loaded.ok, loaded.problems
            d = _checker().check(loaded.case)
            outcomes.append((jur, d.items[0].outcome, d.items[0].certified_visits))
    assert outcomes[0] == outcomes[1] and outcomes[2] == outcomes[3], (c9, c10, outcomes)


_CHECKER = []


def _checker():
    from ptcheck import Checker
    if not _CHECKER:
        _CHECKER.append(Checker())
    return _CHECKER[0]
