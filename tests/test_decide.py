"""How findings combine: one table, every row a rule of _decide.combine."""
import pytest

from ptcheck import Finding, combine
from ptcheck.core._decide import review_outcome


def f(effect, limit=None):
    return Finding(rule="r", ruleset="s", version="1", citation="c", effect=effect, message="m", limit=limit)


@pytest.mark.parametrize("effects,requested,expected", [
    ([], 8, ("pend", None)),                                          # nothing decides: never a silent certify
    ([f("derive"), f("note")], 8, ("pend", None)),                   # explanations never decide
    ([f("pend")], 8, ("pend", None)),
    ([f("certify")], 8, ("certify", 8)),
    ([f("certify"), f("pend")], 8, ("certify", 8)),                  # a pend only where nothing decides
    ([f("certify"), f("limit", 6)], 8, ("modify", 6)),               # a limit over certify
    ([f("limit", 6), f("limit", 4)], 8, ("modify", 4)),              # the smallest limit
    ([f("limit", 10)], 8, ("certify", 8)),                           # a limit above the request does not bind
    ([f("limit", 0)], 8, ("non_certify", None)),
    ([f("limit", 6), f("non_certify")], 8, ("non_certify", None)),   # non-certify over a limit
    ([f("limit", 6)], None, ("modify", 6)),                          # unknown request size
])
def test_combine(effects, requested, expected):
    assert combine(effects, requested) == expected


@pytest.mark.parametrize("kind,outcome,expected", [
    ("imr", "non_certify", "upheld"), ("iro", "pend", "upheld"), ("imr", "certify", "overturned"),
    ("iro", "modify", "partially_overturned"), ("ur", "certify", None),
])
def test_review_outcome(kind, outcome, expected):
    assert review_outcome(kind, outcome) == expected


def test_exports_keep_the_largest_row_and_its_label():
    from ptcheck.core._tables import merge_exports
    types = {"course_visits": "int", "course_row": "str", "flag": "tri"}
    policy = {k: ("collect-max", ("course_visits",)) for k in ("course_visits", "course_row")}
    values = {}
    values.update(merge_exports(values, {"course_visits": 9, "course_row": "lumbago 9/8"}, types, policy))
    values.update(merge_exports(values, {"course_visits": 12, "course_row": "radiculitis 12/8"}, types, policy))
    values.update(merge_exports(values, {"course_visits": 10, "course_row": "sprain 10/8"}, types, policy))
    assert values == {"course_visits": 12, "course_row": "radiculitis 12/8"}
    values["flag"] = "unknown"
    values.update(merge_exports(values, {"flag": True}, types, policy))
    assert values["flag"] == "true"


def test_the_checker_merges_exports_under_the_policy_the_rule_files_state():
    from ptcheck import Checker
    policies = Checker().evaluator.policies
    assert policies["course_visits"][0] == policies["course_row"][0] == "collect-max"
    assert policies["in_postsurgical_period"][0] == "first"
