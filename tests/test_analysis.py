"""The analysis of rule sets on their syntax trees (engine/core/_analysis.py): figures compiled to closures
give exactly the rule language's own values, and the classes of comparisons are exact."""
import random

import pytest
from hypothesis import given, settings, strategies as st

from ptcheck import Checker
from ptcheck.core import _expr
from ptcheck.core._analysis import analyse, compile_figure, compile_value


@pytest.fixture(scope="module")
def shipped():
    checker = Checker()
    return checker, [checker.evaluator.registered(rs).compiled for rs in checker.library.rulesets]


def _figures(compiled):
    for cr in compiled.rules:
        then = cr.rule.then
        if then.limit is not None:
            yield "limit", then.limit
        for v in (then.derive or {}).values():
            yield "derive", v


values = st.one_of(st.none(), st.integers(-50, 400), st.floats(-50, 400, allow_nan=False), st.sampled_from([0, 1]))


@settings(max_examples=60, deadline=None, derandomize=True)
@given(st.data())
def test_compiled_figures_equal_the_evaluator_on_every_shipped_figure(shipped, data):
    _, compiled = shipped
    figures = [(k, f) for c in compiled for k, f in _figures(c)]
    assert len(figures) > 100
    names = sorted({n for _, f in figures if isinstance(f, str) for n in _expr.figure_names(f)})
    env = {n: data.draw(values, label=n) for n in names}
    env = {k: v for k, v in env.items() if v is not None}
    for kind, f in figures:
        if kind == "limit":
            assert compile_figure(f)(env) == _expr.evaluate(f, env), f
        else:
            assert compile_value(f)(env) == _expr.fact_value(f, env), f


def test_compiled_figures_keep_the_evaluators_edges():
    for f, env in (("a // b", {"a": 7, "b": 0}), ("a // b", {"a": 7, "b": 2}), ("-a + 3", {"a": 2}),
                   ("max(a, b) - min(a, 1)", {"a": 5, "b": 9}), ("a * b", {"a": 2**62, "b": 4}),
                   ("a - 1", {}), ("min(a, b)", {"a": 1})):
        assert compile_figure(f)(env) == _expr.evaluate(f, env), f
    assert compile_value(True)({}) == "true" and compile_value(float("inf"))({}) is None


_BY_TYPE = {"int": [0, 5, 12, 30], "num": [0.0, 2.5, 30.44], "date": [15000, 16000], "tri": ["true", "false", "unknown"],
            "str": ["lumbar", "physical_therapy"], "list": [[], ["myalgia"], ["lumbar", "knee"]]}


def test_every_comparison_of_the_shipped_rule_sets_has_a_class(shipped):
    """Each comparison's class function runs on facts of their types (absent ones included) and is a function
    of them. That facts in one class fire alike is checked against the exhaustive readings in
    tests/test_oracle.py."""
    _, compiled = shipped
    rnd = random.Random(3)
    leaves = 0
    for c in compiled:
        for leaf in analyse(c).leaves:
            leaves += 1
            for _ in range(6):
                facts = {n: rnd.choice([None, *_BY_TYPE[c.types.get(n, "int")]]) for n in leaf.names}
                facts = {k: v for k, v in facts.items() if v is not None}
                assert leaf.cls(facts) == leaf.cls(dict(facts))
    assert leaves > 200
