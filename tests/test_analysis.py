"""The analysis of rule sets on their syntax trees (engine/core/_analysis.py), and the figure language's one
evaluator (engine/core/_figures.py: figures compiled to closures) held to a plain tree-walking reference."""
import ast
import random

import pytest
from hypothesis import given, settings, strategies as st

from ptcheck import Checker
from ptcheck.core import _figures
from ptcheck.core._analysis import analyse
from ptcheck.core._figures import compile_figure, compile_value, is_finite, is_number

_OPS = (ast.Add, ast.Sub, ast.Mult, ast.FloorDiv)


def reference(node, env):
    """The figure language as documented, walked node by node (the engine's evaluator before it was
    compiled to closures): unknown operands, a zero divisor or a result beyond 64 bits give None."""
    if isinstance(node, ast.Constant):
        return node.value if is_finite(node.value) else None
    if isinstance(node, ast.Name):
        return env.get(node.id)
    if isinstance(node, ast.UnaryOp):
        v = reference(node.operand, env)
        return -v if is_number(v) else None
    if isinstance(node, ast.BinOp) and isinstance(node.op, _OPS):
        a, b = reference(node.left, env), reference(node.right, env)
        if not (is_number(a) and is_number(b)):
            return None
        if isinstance(node.op, ast.FloorDiv):
            if b == 0:
                return None
            r = a // b
        else:
            r = {ast.Add: a + b, ast.Sub: a - b, ast.Mult: a * b}[type(node.op)]
        return r if is_finite(r) else None
    vals = [reference(a, env) for a in node.args]
    return (min if node.func.id == "min" else max)(vals) if all(is_number(v) for v in vals) else None


def ref_value(f, env):
    if isinstance(f, bool):
        return "true" if f else "false"
    if isinstance(f, (int, float)):
        return f if is_finite(f) else None
    return reference(_figures.figure_tree(f), env)


@pytest.fixture(scope="module")
def shipped():
    checker = Checker()
    return checker, [checker.evaluator.registered(rs).compiled for rs in checker.library.rulesets]


def _shipped_figures(compiled):
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
    figures = [(k, f) for c in compiled for k, f in _shipped_figures(c)]
    assert len(figures) > 100
    names = sorted({n for _, f in figures if isinstance(f, str) for n in _figures.figure_names(f)})
    env = {n: data.draw(values, label=n) for n in names}
    env = {k: v for k, v in env.items() if v is not None}
    for kind, f in figures:
        want = ref_value(f, env) if kind != "limit" or isinstance(f, str) else f
        if kind == "limit":
            assert compile_figure(f)(env) == want == _figures.evaluate(f, env), f
        else:
            assert compile_value(f)(env) == want == _figures.fact_value(f, env), f


def test_compiled_figures_keep_the_evaluators_edges():
    for f, env, want in (("a // b", {"a": 7, "b": 0}, None), ("a // b", {"a": 7, "b": 2}, 3), ("-a + 3", {"a": 2}, 1),
                         ("max(a, b) - min(a, 1)", {"a": 5, "b": 9}, 8),
                         ("a - 1", {}, None), ("min(a, b)", {"a": 1}, None), ("a + 0.5", {"a": 1}, 1.5)):
        assert compile_figure(f)(env) == want == reference(_figures.figure_tree(f), env), f
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
