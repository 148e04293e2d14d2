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
import bisect
from collections.abc import Callable, Hashable, Iterator
from dataclasses import dataclass
from typing import Any

from . import _expr, _figures
from ._certain import Facts, Truth, truth_fn
from ._compile import CompiledRuleSet
from ._expr import KEYWORDS
from ._ruleset import RuleSet

ValueFn = Callable[[Any], Any]         # a side of a comparison: a function of the facts (anything with .get)

# history facts whose `== unknown` test lets a rule decide on the unknown itself (engine/core/_decide.py)
UNKNOWN_DECIDING = frozenset({"completed_visits", "total_visits", "visits_since_surgery", "postsurgical_total_visits",
                              "prior_therapy", "service_visits_per_injury"})
_ABSENT = ("absent",)
_NUMERIC = ("int", "num", "date")


@dataclass(frozen=True)
class Leaf:
    """One comparison on the item's facts, and the class function of its operands' values. `against`: where
    the comparison's truth depends only on how one fact's value compares with other values (a number: `x >=
    6`, `total_visits <= course_visits`, a derived fact's possible values), each such fact with the functions
    giving those values; when those values are fixed for an item, the fact's place among them is the
    class (engine/core/_evaluate.py turns such comparisons into one threshold list per fact)."""
    names: frozenset[str]
    cls: Callable[[Facts], Hashable]
    against: tuple[tuple[str, tuple[ValueFn, ...]], ...] = ()


@dataclass(frozen=True)
class RuleShape:
    """One rule's condition (as a function: its certain truth on the fixed facts, see _definitely), the
    leaves it holds and the facts it holds exactly."""
    truth: Truth
    leaves: frozenset[int]
    exact: frozenset[str]


@dataclass(frozen=True)
class Analysis:
    reads: frozenset[str]
    numbers: frozenset[int]
    deciding: dict[str, frozenset[str]]      # effect -> rule ids that test UNKNOWN_DECIDING facts `== unknown`
    leaves: tuple[Leaf, ...]
    exact: frozenset[str]
    exports: frozenset[str]
    rules: tuple[RuleShape, ...] = ()

    def live(self, varying: frozenset[str], values: Facts) -> tuple[frozenset[int], frozenset[str]]:
        """The leaves and exact facts of the rules that can still fire for some value of `varying`, the other
        facts being `values`: a rule with a comparison on the fixed facts that is false (by `_definitely`,
        which answers only where the compiled condition's truth is certain) is left out."""
        leaves: set[int] = set()
        exact: set[str] = set()
        for r in self.rules:
            if r.truth(values, varying) is False:
                continue
            leaves |= r.leaves
            exact |= r.exact
        return frozenset(leaves), frozenset(exact)

    def sensitive(self, varying: frozenset[str], live: tuple[frozenset[int], frozenset[str]] | None = None
                  ) -> tuple[tuple[tuple[int, Leaf], ...], tuple[str, ...]]:
        """The leaves (with their index) and exact facts that can tell apart facts differing only in
        `varying` (of the rules `live` leaves in, by default all). A signature over them names each leaf by
        its index, so that signatures over different sets of leaves never collide (engine/core/_evaluate.py)."""
        keep, exact = live if live is not None else (frozenset(range(len(self.leaves))), self.exact)
        return (tuple((k, lf) for k, lf in enumerate(self.leaves) if k in keep and lf.names & varying),
                tuple(sorted(exact & varying)))


def analyse(compiled: CompiledRuleSet) -> Analysis:
    rs = compiled.ruleset
    types = compiled.types
    derived = set(compiled.derived)
    reads: set[str] = set()
    numbers: set[int] = set()
    deciding: dict[str, set[str]] = {}
    leaves: list[Leaf] = []
    exact: set[str] = set()
    values_of = _derived_values(rs, derived)
    seen: dict[str, int] = {}                # one leaf per distinct comparison (table guards repeat them)
    shapes: list[RuleShape] = []
    for r in rs.spec.rules:
        tree = _expr.parse(r.when or "").tree
        reads |= _names(tree)
        numbers |= _numbers(tree)
        own: set[int] = set()
        own_exact: set[str] = set()
        for left, op, right in _comparisons(tree):
            names = _names(left) | _names(right)
            joined = names & derived
            if joined:                           # a joined pattern: against each value the derived fact takes
                (d,) = joined
                exprs = values_of.get(d)
                if exprs is None or not (_numeric(left, types) and _numeric(right, types)):
                    own_exact |= names - derived     # held exactly
                    continue
                inputs = set().union(*(_names(e) for e in exprs)) if exprs else set()
                against: tuple[tuple[str, tuple[ValueFn, ...]], ...] = ()
                if isinstance(left, ast.Name) and isinstance(right, ast.Name):     # fact vs d: against d's values
                    other = right.id if left.id == d else left.id
                    against = ((other, tuple(_value_fn(e) for e in exprs)),)
                own.add(_add(leaves, seen, (left, right), frozenset((names - derived) | inputs),
                             lambda: _joined_fn(left, right, d, exprs), against))
                continue
            own.add(_add(leaves, seen, (left, op, right), frozenset(names), lambda: _class_fn(left, op, right, types),
                         _against(left, op, right, types)))
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
            node = _figures.figure_tree(str(fig))
            names = _names(node)
            reads |= names
            numbers |= _numbers(node)
            if r.then.derive and not r.then.export and fig in r.then.derive.values():
                own_exact |= names - derived
        exact |= own_exact
        shapes.append(RuleShape(truth_fn(tree, {k: v for k, v in types.items() if k not in derived}),
                                frozenset(own), frozenset(own_exact)))
    reads -= derived
    return Analysis(frozenset(reads), frozenset(numbers), {k: frozenset(v) for k, v in deciding.items()},
                    tuple(leaves), frozenset(exact), frozenset(compiled.exports), tuple(shapes))


def _add(leaves: list[Leaf], seen: dict[str, int], parts: tuple[ast.expr | str, ...], names: frozenset[str],
         make: Callable[[], Callable[[Facts], Hashable]], against: tuple[tuple[str, tuple[ValueFn, ...]], ...] = ()
         ) -> int:
    key = repr([ast.dump(p) if isinstance(p, ast.AST) else p for p in parts])
    if key not in seen:
        seen[key] = len(leaves)
        leaves.append(Leaf(names, make(), against))
    return seen[key]


def _against(left: ast.expr, op: str, right: ast.expr, types: dict[str, str]) -> tuple[tuple[str, tuple[ValueFn, ...]], ...]:
    """A numeric comparison's facts whose truth is their sign against the other side (see Leaf.against)."""
    if op in ("in", "not in") or not (_numeric(left, types) and _numeric(right, types)):
        return ()
    out = []
    if isinstance(left, ast.Name):
        out.append((left.id, (_value_fn(right),)))
    if isinstance(right, ast.Name):
        out.append((right.id, (_value_fn(left),)))
    return tuple(out)


def _derived_values(rs: RuleSet, derived: set[str]) -> dict[str, list[ast.expr]]:
    """For each internal derived fact, the expressions of the values its rules derive (None where one of
    them reads another derived fact: a chain the classes do not follow)."""
    out: dict[str, list[ast.expr] | None] = {}
    for r in rs.spec.rules:
        if not r.then.derive or r.then.export:
            continue
        for name, v in r.then.derive.items():
            if out.get(name, []) is None:
                continue
            if isinstance(v, bool) or not isinstance(v, (int, float, str)):
                out[name] = None
                continue
            node: ast.expr = ast.Constant(v) if isinstance(v, (int, float)) else _figures.figure_tree(v)
            if _names(node) & derived or (isinstance(node, ast.Constant) and isinstance(node.value, str)):
                out[name] = None
                continue
            out.setdefault(name, []).append(node)     # type: ignore[union-attr]
    return {k: v for k, v in out.items() if v is not None}


def _joined_fn(left: ast.expr, right: ast.expr, d: str, exprs: list[ast.expr]) -> Callable[[Facts], Hashable]:
    """The class of a comparison with an internal derived fact `d`: its sign against every value the rules
    can derive for d (each evaluated on the facts), so that whichever value durable_rules binds, facts in
    one class compare with it alike."""
    consts = [e.value for e in exprs if isinstance(e, ast.Constant)]
    if len(consts) == len(exprs) and isinstance(left, ast.Name) and isinstance(right, ast.Name) \
            and d in (left.id, right.id):
        return _position_fn(right.id if left.id == d else left.id, sorted(set(consts)))
    lf, rf = _value_fn(left), _value_fn(right)
    values = [_value_fn(e) for e in exprs]

    def signs(v: Facts) -> Hashable:
        out: list[Hashable] = []
        for val in values:
            c = val(v)
            if c is None:
                out.append(_ABSENT)
                continue
            env = _With(v, d, c)
            a, b = lf(env), rf(env)
            out.append(_ABSENT if a is None or b is None else (a > b) - (a < b))
        return tuple(out)
    return signs


def _position_fn(name: str, points: list[Any]) -> Callable[[Facts], Hashable]:
    """A fact's place among the fixed values a derived fact can take: its sign against each of them."""
    def position(v: Facts) -> Hashable:
        x = v.get(name)
        if x is None:
            return _ABSENT
        i = bisect.bisect_left(points, x)
        return 2 * i + (i < len(points) and points[i] == x)
    return position


class _With:
    """The facts with one more name bound (a derived fact's candidate value)."""
    __slots__ = ("v", "name", "value")

    def __init__(self, v: Facts, name: str, value: Any):
        self.v, self.name, self.value = v, name, value

    def get(self, key: str, default: Any = None, /) -> Any:
        return self.value if key == self.name else self.v.get(key, default)


def _names(node: ast.AST) -> set[str]:
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name)} - KEYWORDS - {"min", "max"}


def _number(v: object) -> set[int]:
    """The flip point a number written in a rule gives: a whole number 0-999 (its whole part for a decimal)."""
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not 0 <= v < 1000:
        return set()
    return {int(v)}


def _numbers(tree: ast.AST) -> set[int]:
    negated = {id(n.operand) for n in ast.walk(tree) if isinstance(n, ast.UnaryOp) and isinstance(n.op, ast.USub)}
    return {k for n in ast.walk(tree) if isinstance(n, ast.Constant) and id(n) not in negated for k in _number(n.value)}


def _comparisons(tree: ast.AST) -> Iterator[tuple[ast.expr, str, ast.expr]]:
    """Every pairwise comparison of a condition: (left, op, right)."""
    for n in ast.walk(tree):
        if isinstance(n, ast.Compare):
            left = n.left
            for op, right in zip(n.ops, n.comparators):
                yield left, _expr.OPS[type(op)], right
                left = right


def _is_unknown(node: ast.AST) -> bool:
    return isinstance(node, ast.Name) and node.id == "unknown"


def _class_fn(left: ast.expr, op: str, right: ast.expr, types: dict[str, str]) -> Callable[[Facts], Hashable]:
    """A function of the facts whose value is the same for two sets of facts only if durable_rules gives
    the comparison the same truth on both: by sign for numbers, else by the operands' exact values."""
    if _is_unknown(right) or _is_unknown(left):
        name = (left if _is_unknown(right) else right)
        if isinstance(name, ast.Name) and types.get(name.id) != "tri":     # compiled to $ex / $nex
            n = name.id
            return lambda v: n in v
    if op not in ("in", "not in") and _numeric(left, types) and _numeric(right, types):
        lf, rf = _value_fn(left), _value_fn(right)

        def sign(v: Facts) -> Hashable:
            a, b = lf(v), rf(v)
            if a is None or b is None:
                return _ABSENT
            return int(a > b) - int(a < b)
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


def _value_fn(node: ast.expr) -> ValueFn:
    if isinstance(node, ast.Constant):
        c = node.value
        return lambda v: c
    if isinstance(node, ast.Name):
        n = node.id
        return lambda v: v.get(n)
    return _figures.closure(node)


def _frozen(x: Any) -> Hashable:
    return tuple(x) if isinstance(x, list) else x


__all__ = ["Analysis", "Leaf", "analyse", "UNKNOWN_DECIDING"]
