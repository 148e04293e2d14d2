"""One analysis of a rule set's conditions, limits and derived values, on their syntax trees (never on text).

What the rest of the engine needs to know about a compiled rule set without running it:
  reads     the facts it reads (conditions, limits, derived values): which unknowns and flags matter
  numbers   the whole numbers it compares or computes with: where a count can flip an answer (readings)
  deciding  the rules whose condition tests a history fact `== unknown`, by effect
  leaves    every comparison on the item's facts, each with a *class* function: two sets of facts on which
            every comparison of the rule set falls in the same class get the same firings from durable_rules
            (numbers by the sign of their difference, everything else by value; an absent fact is a class of
            its own). engine/core/_evaluate.py runs one session per class and computes limits and derived
            values per reading with the rule language's own evaluator (engine/core/_expr.py).
  exact     the facts that decide a derived fact's value or are compared in a joined pattern: classes hold
            them exactly (a derived value must be the same for every reading that shares a run)
  exports   the facts it exports to the rule sets that run after it
"""
from __future__ import annotations

import ast
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Any

from . import _expr
from ._compile import CompiledRuleSet
from ._expr import KEYWORDS

# history facts whose `== unknown` test lets a rule decide on the unknown itself (engine/core/_decide.py)
UNKNOWN_DECIDING = frozenset({"completed_visits", "total_visits", "visits_since_surgery", "postsurgical_total_visits",
                              "prior_therapy", "service_visits_per_injury"})
_ABSENT = ("absent",)
_NUMERIC = ("int", "num", "date")


@dataclass(frozen=True)
class Leaf:
    """One comparison on the item's facts, and the class function of its operands' values."""
    names: frozenset[str]
    cls: Callable[[dict], Hashable]


@dataclass(frozen=True)
class Analysis:
    reads: frozenset[str]
    numbers: frozenset[int]
    deciding: dict[str, frozenset[str]]      # effect -> rule ids that test UNKNOWN_DECIDING facts `== unknown`
    leaves: tuple[Leaf, ...]
    exact: frozenset[str]
    exports: frozenset[str]

    def sensitive(self, varying: frozenset[str]) -> tuple[tuple[tuple[int, Leaf], ...], tuple[str, ...]]:
        """The leaves (with their index) and exact facts that can tell apart facts differing only in
        `varying`. A signature over them names each leaf by its index, so that signatures over different
        sets of leaves never collide (engine/core/_evaluate.py)."""
        return (tuple((k, lf) for k, lf in enumerate(self.leaves) if lf.names & varying),
                tuple(sorted(self.exact & varying)))


def analyse(compiled: CompiledRuleSet) -> Analysis:
    rs = compiled.ruleset
    types = compiled.types
    derived = set(compiled.derived)
    reads: set[str] = set()
    numbers: set[int] = set()
    deciding: dict[str, set[str]] = {}
    leaves: list[Leaf] = []
    exact: set[str] = set()
    for r in rs.spec.rules:
        tree = _expr.parse(r.when or "").tree
        reads |= _names(tree)
        numbers |= _numbers(tree)
        for left, op, right in _comparisons(tree):
            names = _names(left) | _names(right)
            if names & derived:                  # a joined pattern: its case facts are held exactly
                exact |= names - derived
                continue
            leaves.append(Leaf(frozenset(names), _class_fn(left, op, right, types)))
            if op == "==" and _is_unknown(right) and isinstance(left, ast.Name) \
                    and left.id in UNKNOWN_DECIDING:
                deciding.setdefault(r.then.kind, set()).add(r.id)
        figures: list[int | float | str | bool] = [r.then.limit] if r.then.limit is not None else []
        figures += list((r.then.derive or {}).values())
        for fig in figures:
            if isinstance(fig, bool):
                continue
            if isinstance(fig, (int, float)):
                numbers |= _number(fig)
                continue
            node = _expr.figure_tree(str(fig))
            names = _names(node)
            reads |= names
            numbers |= _numbers(node)
            if r.then.derive and not r.then.export and fig in r.then.derive.values():
                exact |= names - derived
    reads -= derived
    return Analysis(frozenset(reads), frozenset(numbers), {k: frozenset(v) for k, v in deciding.items()},
                    tuple(leaves), frozenset(exact), frozenset(compiled.exports))


def _names(node: ast.AST) -> set[str]:
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name)} - KEYWORDS - {"min", "max"}


def _number(v) -> set[int]:
    """The flip point a number written in a rule gives: a whole number 0-999 (its whole part for a decimal)."""
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not 0 <= v < 1000:
        return set()
    return {int(v)}


def _numbers(tree: ast.AST) -> set[int]:
    negated = {id(n.operand) for n in ast.walk(tree) if isinstance(n, ast.UnaryOp) and isinstance(n.op, ast.USub)}
    return {k for n in ast.walk(tree) if isinstance(n, ast.Constant) and id(n) not in negated for k in _number(n.value)}


def _comparisons(tree: ast.AST):
    """Every pairwise comparison of a condition: (left, op, right)."""
    for n in ast.walk(tree):
        if isinstance(n, ast.Compare):
            left = n.left
            for op, right in zip(n.ops, n.comparators):
                yield left, _expr.OPS[type(op)], right
                left = right


def _is_unknown(node: ast.AST) -> bool:
    return isinstance(node, ast.Name) and node.id == "unknown"


def _class_fn(left: ast.expr, op: str, right: ast.expr, types: dict[str, str]) -> Callable[[dict], Hashable]:
    """A function of the facts whose value is the same for two sets of facts only if durable_rules gives
    the comparison the same truth on both: by sign for numbers, else by the operands' exact values."""
    if _is_unknown(right) or _is_unknown(left):
        name = (left if _is_unknown(right) else right)
        if isinstance(name, ast.Name) and types.get(name.id) != "tri":     # compiled to $ex / $nex
            n = name.id
            return lambda v: n in v
    if op not in ("in", "not in") and _numeric(left, types) and _numeric(right, types):
        lf, rf = _value_fn(left), _value_fn(right)

        def sign(v: dict) -> Hashable:
            a, b = lf(v), rf(v)
            if a is None or b is None:
                return _ABSENT
            return (a > b) - (a < b)
        return sign
    names = tuple(sorted(_names(left) | _names(right)))
    if len(names) == 1:
        n0 = names[0]
        return lambda v: _frozen(v.get(n0, _ABSENT))
    return lambda v: tuple(_frozen(v.get(n, _ABSENT)) for n in names)


def _numeric(node: ast.expr, types: dict[str, str]) -> bool:
    if isinstance(node, ast.Constant):
        return isinstance(node.value, (int, float)) and not isinstance(node.value, bool)
    if isinstance(node, ast.Name):
        return types.get(node.id) in _NUMERIC
    if isinstance(node, ast.UnaryOp):
        return _numeric(node.operand, types)
    if isinstance(node, ast.BinOp):
        return _numeric(node.left, types) and _numeric(node.right, types)
    return False


def _value_fn(node: ast.expr) -> Callable[[dict], Any]:
    if isinstance(node, ast.Constant):
        c = node.value
        return lambda v: c
    if isinstance(node, ast.Name):
        n = node.id
        return lambda v: v.get(n)
    return lambda v: _expr.eval_figure(node, v)


def _frozen(x):
    return tuple(x) if isinstance(x, list) else x


__all__ = ["Analysis", "Leaf", "analyse", "UNKNOWN_DECIDING"]
