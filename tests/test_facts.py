"""Fact derivation: visits (unknown is not zero), dates, regions, surgery, diagnoses."""
import datetime as dt

import pytest
from hypothesis import given, strategies as st

from ptcheck import validate_case
from ptcheck.core._facts import EPOCH, derive, regions_overlap
from tests.conftest import case_dict


def facts(**over):
    loaded = validate_case(case_dict(**over))
    assert loaded.ok, loaded.problems
    return derive(loaded.case, loaded.case.requests[0]).values


PT = "physical_therapy"


@pytest.mark.parametrize("therapy,completed,total,prior", [
    (None, None, None, "unknown"),                                                   # history silent
    ([], 0, 6, "false"),                                                              # documented none
    ([{"service": PT, "body_regions": ["lumbar"], "visits_completed": 11}], 11, 17, "true"),
    ([{"service": PT, "body_regions": ["lumbar"]}], None, None, "true"),              # count not given
    ([{"service": PT, "body_regions": ["knee"], "visits_completed": 9}], 0, 6, "false"),   # other region
    ([{"service": "occupational_therapy", "visits_completed": 4},                       # same family, no region
      {"service": PT, "body_regions": ["lumbar"], "visits_completed": 3}], 7, 13, "true"),
    ([{"service": "chiropractic", "body_regions": ["lumbar"], "visits_completed": 12}], 0, 6, "false"),
])
def test_completed_and_total_visits(therapy, completed, total, prior):
    history = {} if therapy is None else {"therapy": therapy}
    f = facts(history=history)
    assert f.get("completed_visits") == completed
    assert f.get("total_visits") == total
    assert f["prior_therapy"] == prior


def test_service_visits_per_injury_counts_every_region_of_the_same_service():
    f = facts(history={"therapy": [{"service": PT, "body_regions": ["knee"], "visits_completed": 9},
                                   {"service": PT, "body_regions": ["lumbar"], "visits_completed": 5},
                                   {"service": "occupational_therapy", "visits_completed": 7}]})
    assert f["service_visits_per_injury"] == 14


def test_surgery_dates_and_visits_since_surgery():
    f = facts(review={"date": "2014-07-09"}, history={
        "therapy": [{"service": PT, "body_regions": ["lumbar"], "visits_completed": 8, "end_date": "2013-06-01"},
                    {"service": PT, "body_regions": ["lumbar"], "visits_completed": 5, "end_date": "2014-01-10"}],
        "surgeries": [{"kind": "discectomy_laminectomy", "region": "lumbar", "date": "2013-08-26"},
                      {"kind": "meniscectomy", "region": "knee", "date": "2014-05-01"}]})
    assert f["surgery_kind"] == "discectomy_laminectomy"          # the knee surgery is another region
    assert f["days_since_surgery"] == (dt.date(2014, 7, 9) - dt.date(2013, 8, 26)).days
    assert f["weeks_since_surgery"] == f["days_since_surgery"] // 7
    assert f["months_since_surgery"] == pytest.approx(10.4, abs=0.05)
    assert f["visits_since_surgery"] == 5 and f["postsurgical_total_visits"] == 11
    assert EPOCH + dt.timedelta(days=f["surgery_date"]) == dt.date(2013, 8, 26)


def test_a_surgery_after_the_review_date_is_ignored():
    f = facts(review={"date": "2014-01-01"}, history={"therapy": [], "surgeries": [
        {"kind": "fusion", "region": "lumbar", "date": "2014-03-01"}]})
    assert f["surgery"] == "false"


def test_documentation_is_three_valued():
    f = facts(history={"therapy": [], "documentation": {"functional_improvement": True, "exceptional_factors": False}})
    assert (f["functional_improvement"], f["exceptional_factors"], f["home_exercise_program"]) == ("true", "false", "unknown")


def test_diagnoses_of_other_regions_do_not_apply():
    f = facts(diagnoses=[{"icd10": "S83.241A"}, {"icd9": "847.2"}])      # knee meniscus, lumbar sprain
    assert f["dx_categories"] == ["lumbar_sprain"] and f["dx_count"] == 1


def test_unmapped_diagnosis_is_counted():
    f = facts(diagnoses=[{"icd10": "Z00.00", "region": "lumbar"}])
    assert f["dx_unmapped_count"] == 1 and f["dx_categories"] == []


def test_drug_brand_to_generic_and_use():
    f = facts(requests=[{"id": "1", "service": "medication", "drug": "Soma", "quantity": 60}],
              history={"medications": [{"name": "carisoprodol"}]})
    assert (f["drug"], f["drug_in_use"], f["drug_quantity"]) == ("carisoprodol", "true", 60)


REG = st.sampled_from(["cervical", "thoracic", "lumbar", "shoulder", "elbow", "wrist", "hand", "upper_extremity",
                       "hip", "knee", "ankle", "foot", "lower_extremity"])


@given(st.lists(REG, min_size=1, max_size=3), st.lists(REG, min_size=1, max_size=3))
def test_region_overlap_is_symmetric(a, b):
    assert regions_overlap(a, b) == regions_overlap(b, a)


@given(st.lists(REG, min_size=1, max_size=3))
def test_region_overlaps_itself(a):
    assert regions_overlap(a, a)


@given(done=st.integers(0, 60), req=st.integers(0, 40))
def test_total_is_completed_plus_requested(done, req):
    d = case_dict(history={"therapy": [{"service": PT, "visits_completed": done}]})
    d["requests"][0]["visits"] = req
    loaded = validate_case(d)
    f = derive(loaded.case, loaded.case.requests[0]).values
    assert f["total_visits"] == done + req


@pytest.mark.parametrize("a, b, overlap", [
    (["shoulder"], ["wrist"], False),                 # two joints of one extremity are not the same region
    (["knee"], ["ankle"], False),
    (["shoulder"], ["upper_extremity"], True),        # an extremity contains its joints
    (["lower_extremity"], ["knee", "hip"], True),
    (["wrist"], ["hand"], True),                      # neighbours the guidelines treat together
    (["upper_extremity"], ["lower_extremity"], False),
])
def test_region_overlap_table(a, b, overlap):
    assert regions_overlap(a, b) is overlap


def test_the_documentation_table_drives_the_case_model_and_the_facts():
    """One table (engine/core/_documentation.py): every flag is a field of the case model's documentation,
    a yes/no/unknown fact the rules read, and nothing else is; a rule's `missing:` names its ids."""
    from ptcheck.core._cases import Documentation
    from ptcheck.core._documentation import FLAGS, TABLE
    from ptcheck.core._facts import FACT_TYPES
    assert list(Documentation.model_fields) == list(FLAGS) and len(FLAGS) >= 9
    assert all(FACT_TYPES[f] == "tri" for f in FLAGS)
    described = Documentation.model_json_schema()["properties"]
    assert all(d.fact in described[d.id]["description"] for d in TABLE if d.flag)
