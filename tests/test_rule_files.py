"""Rule tests beside every rule file run under pytest too; every rule fires and stays silent in a test;
every rule cites its guideline, edition, section; every rule set has a tests file."""
import pytest

from ptcheck import Library
from ptcheck.authoring._ruletest import diff_text, load_tests, run_all, run_test

LIB = Library.load()
TESTS = [t for rs in LIB.rulesets for t in load_tests(rs)[0]]
_CHECKERS: dict = {}


@pytest.mark.parametrize("t", TESTS, ids=[t.id for t in TESTS])
def test_rule_test(t):
    res = run_test(t, LIB, _CHECKERS)
    assert res.passed, "\n".join(res.failures) + "\n" + diff_text(res)


def test_every_rule_set_has_a_tests_file():
    missing = [str(rs.path) for rs in LIB.rulesets if load_tests(rs)[1]]
    assert not missing, f"rule sets without a valid tests file: {missing}"


def test_coverage_is_complete():
    _, cov, _ = run_all(LIB)
    assert not cov.missing(), "\n".join(f"{rs} {rule}: {why}" for rs, rule, why in cov.missing())


def test_every_rule_cites_guideline_edition_section():
    for rs in LIB.rulesets:
        assert rs.spec.guideline.name and rs.spec.guideline.edition, rs.path
        for r in rs.spec.rules:
            c = rs.citation(r)
            assert r.citation is not None and c.section and c.guideline and c.edition, (rs.path, r.id)
