"""Compile a rule set into durable_rules ruleset JSON (pure data; the engine binds the actions).

Every rule becomes one durable rule:
    'all': [{'k': {'$and': [{'__kind': 'case'}, <condition on the item's facts>]}},
            {'d_<name>': {'$and': [{'__kind': 'derived'}, {'name': <name>}, <condition on its value>]}}, ...]
A `derive` rule's action asserts {'__kind': 'derived', 'name', 'value', 'by'} into the same session,
so the rules that use that name fire in the same assert (forward chaining). Rule sets are sharded at
MAX_SHARD rules, keeping rules that share derived facts in one shard (durable-rules.md §4).

The types of derived facts and the cycles among them are engine/core/_derived.py's; where in the rule
file a character of a condition is, engine/core/_exprpos.py's.
"""
from __future__ import annotations

import ast
import datetime as dt
import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol, cast

from . import _expr, _figures, _rulecache
from ._conditions import Cond, ConditionCompiler, LiteralValue, required_facts
from ._derived import cycles, derived_types
from ._errors import Problem, RuleError
from ._exprpos import expr_position
from ._facts import EPOCH, FACT_TYPES
from ._rules import Rule
from ._ruleset import RuleSet
from ._templates import parse_template

# durable-rules.md §4, trap 12: > 64 simultaneously-true sibling conditions give error 303 on assert, and
# >= 512 distinct sibling conditions an uninterruptible infinite loop. A shard is sized by its *width*: the
# alpha conditions that can be true at once (a rule counts 1 per branch of its `or`s / `in [...]` lists,
# durable fires it once per true branch), not by its rule count.
MAX_SHARD = 40          # width budget of one durable ruleset (measured safe: 0/500 failures at 40)
MAX_RULE_WIDTH = MAX_SHARD      # a single rule wider than this is refused (R121)
WARN_RULE_WIDTH = 24            # ... and warned about from here (R122)
MAX_SHARD_CONDITIONS = 256      # distinct leaf comparisons in one shard (half the 512 that loops forever)
END_RULE = "__end"      # lowest-priority rule matching the end marker (durable-rules.md §3, trap 2)


@dataclass
class CompiledRule:
    index: int
    rule: Rule
    patterns: list[Cond]
    derived_used: list[str]
    shown: tuple[str, ...]                  # facts a finding of this rule reports (message, condition, limit)
    requires: frozenset[str] = frozenset()  # case facts that must be present for the rule to fire
    requires_derived: frozenset[str] = frozenset()
    width: int = 1                          # alpha conditions that can be true at once (`or` branches)
    conditions: int = 1                     # leaf comparisons


@dataclass
class CompiledRuleSet:
    ruleset: RuleSet
    rules: list[CompiledRule]
    shards: list[list[int]]
    types: dict[str, str]
    derived: set[str]
    exports: dict[str, str] = field(default_factory=dict)   # name -> type
    warnings: list[Problem] = field(default_factory=list)   # compiles, but close to a limit (for lint)
    # the rules that derive each internal derived fact (for may_fire)
    producers: dict[str, list[CompiledRule]] = field(init=False, default_factory=dict, repr=False)
    # the facts a durable_rules session of this rule set needs: every name its conditions compare and every
    # name its internal `derive` values read (a derive action computes its value from the matched case fact).
    # Messages, limits and exported values are computed outside the session, from all of the item's facts,
    # so a session is given these names only (fewer fields, a cheaper assert)
    session_names: frozenset[str] = field(init=False, default=frozenset(), repr=False)

    def __post_init__(self) -> None:
        found: set[str] = set()
        for cr in self.rules:
            r = cr.rule
            found |= _expr.parse(r.when or "").names
            if r.then.derive and not r.then.export:
                for name, v in r.then.derive.items():
                    self.producers.setdefault(name, []).append(cr)
                    found |= _figures.figure_names(v)
        self.session_names = frozenset(found - self.derived)

    def may_fire(self, facts: Mapping[str, object]) -> bool:
        """False only when no rule can fire: each lacks a fact its condition requires (a sound skip)."""
        producers = self.producers
        for cr in self.rules:                     # the common case: a rule needing no derived fact can fire
            if not cr.requires_derived and all(f in facts for f in cr.requires):
                return True
        memo: dict[int, bool] = {}

        def can(cr: CompiledRule, depth: int = 0) -> bool:
            if cr.index in memo:
                return memo[cr.index]
            memo[cr.index] = False            # cycles cannot help
            ok = all(f in facts for f in cr.requires) and all(
                any(can(p, depth + 1) for p in producers.get(d, ())) for d in cr.requires_derived)
            memo[cr.index] = ok
            return ok
        return any(can(cr) for cr in self.rules)

    def durable_definition(self, shard: int) -> dict[str, Any]:
        """The durable ruleset JSON of one shard, without actions (for `rules explain`)."""
        out: dict[str, Any] = {}
        for i in self.shards[shard]:
            cr = self.rules[i]
            out[cr.rule.id] = {"all": cr.patterns, "pri": cr.rule.priority}
        out[END_RULE] = {"pri": 65535, "all": [{"m": {"__kind": "end"}}]}
        return out


class _RuleSets(Protocol):
    """A Library (engine/core/_library.py, which imports this module: named here by what is used of it)."""
    rulesets: list[RuleSet]


def exported_types(lib_or_sets: _RuleSets | Iterable[RuleSet]) -> dict[str, str]:
    """The types of the facts rule sets export (a Library's rule sets, or the rule sets given)."""
    sets = cast("Iterable[RuleSet]", getattr(lib_or_sets, "rulesets", lib_or_sets))  # a Library's, or those given
    out: dict[str, str] = {}
    for rs in sets:
        out.update(derived_types(rs)[1])
    return out


def to_literal(node: ast.AST, ftype: str) -> LiteralValue:
    """A literal in a condition, converted to the fact's representation; refuses a type mismatch."""
    if isinstance(node, ast.Name):
        if node.id in ("true", "false"):
            if ftype != "tri":
                raise _expr.ExprError(f"{node.id} compares only with a true/false/unknown fact", node.col_offset)
            return node.id
        raise _expr.ExprError(f"'{node.id}' is not a value here", node.col_offset)
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub) and isinstance(node.operand, ast.Constant):
        negated = to_literal(node.operand, ftype)
        if isinstance(negated, bool) or not isinstance(negated, (int, float)):
            raise _expr.ExprError(f"only a number can be negated, not {ast.unparse(node.operand)}", node.col_offset)
        return -negated
    if not isinstance(node, ast.Constant):
        raise _expr.ExprError(f"not a literal: {ast.unparse(node)}", getattr(node, "col_offset", 0))
    _expr.check_literals(node)
    v = node.value
    if isinstance(v, bool):
        raise _expr.ExprError(f"write {str(v).lower()}, not {v}", node.col_offset)
    if ftype == "date":
        try:
            return (dt.date.fromisoformat(str(v)) - EPOCH).days
        except ValueError:
            raise _expr.ExprError(f"a date is written 'YYYY-MM-DD', not {v!r}", node.col_offset) from None
    if ftype in ("int", "num"):
        if not isinstance(v, (int, float)):
            raise _expr.ExprError(f"compare a number with a number, not {v!r}", node.col_offset)
        return v
    if ftype == "tri":
        raise _expr.ExprError(f"a true/false/unknown fact compares with true, false or unknown, not {v!r}",
                              node.col_offset)
    if not isinstance(v, str):
        raise _expr.ExprError(f"compare a word with a word: write '{v!s}'", node.col_offset)
    return v


def compile_ruleset(rs: RuleSet, extra_types: dict[str, str] | None = None) -> CompiledRuleSet:
    """Compile every rule; raises RuleError with one Problem per thing that does not compile.

    Refused (each is a lint error too): a condition, figure or message outside the closed language, a type
    mismatch, a duplicate rule id, derived facts that depend on themselves, a rule too wide for durable_rules.

    A rule set that compiles is kept in the rules cache (engine/core/_rulecache.py) by its content hash (which
    covers its file's text and its base's), path, the types of the facts other rule sets export and the
    engine's code; a rule set is never changed once loaded (RuleSet.cited relies on it too)."""
    key = entry = None
    if _rulecache.cache_dir() is not None:
        h = hashlib.sha256(_rulecache.code_fingerprint().encode())
        h.update(repr((str(rs.path), rs.key, rs.sha256, sorted((extra_types or {}).items()))).encode())
        key = h.hexdigest()
        entry = f"compiled-{key[:32]}"
        hit = _rulecache.read(entry, key)
        if isinstance(hit, dict) and hit.get("key") == key:
            try:
                restored = _restore(rs, hit["compiled"])
            except (KeyError, TypeError, ValueError):    # not the shape written: never trusted, compiled again
                restored = None
            if restored is not None:
                return restored
    compiled = _compile_ruleset(rs, extra_types)
    if key is not None and entry is not None:
        _rulecache.write(entry, key, {"key": key, "compiled": _stored(compiled)})
    return compiled


def _stored(c: CompiledRuleSet) -> dict[str, Any]:
    """A compiled rule set as plain data, without its rule set (restored around the rule set it is for)."""
    return {"rules": [(cr.index, cr.rule.id, cr.patterns, cr.derived_used, cr.shown, cr.requires, cr.requires_derived,
                       cr.width, cr.conditions) for cr in c.rules],
            "shards": c.shards, "types": c.types, "derived": c.derived, "exports": c.exports, "warnings": c.warnings}


def _restore(rs: RuleSet, d: dict[str, Any]) -> CompiledRuleSet | None:
    rules = []
    for index, rid, patterns, derived_used, shown, requires, requires_derived, width, conditions in d["rules"]:
        if not 0 <= index < len(rs.spec.rules) or rs.spec.rules[index].id != rid:
            return None                                  # not this rule set's: compile it
        rules.append(CompiledRule(index, rs.spec.rules[index], patterns, derived_used, shown, requires,
                                  requires_derived, width, conditions))
    return CompiledRuleSet(rs, rules, d["shards"], d["types"], d["derived"], d["exports"], d["warnings"])


def _compile_ruleset(rs: RuleSet, extra_types: dict[str, str] | None = None) -> CompiledRuleSet:
    src = str(rs.path)
    derived, exports, problems = derived_types(rs, extra_types)
    # a rule set's own exports reach only later rule sets, so they are not facts here
    others = {k: v for k, v in (extra_types or {}).items() if k not in exports}
    types = {**FACT_TYPES, **others, **derived}
    cc = ConditionCompiler(types, set(derived), to_literal)
    compiled: list[CompiledRule] = []
    warnings: list[Problem] = []
    seen: dict[str, int] = {}
    for i, r in enumerate(rs.spec.rules):
        if r.id in seen:
            line, col = _at(rs, i, "id")
            problems.append(Problem(f"duplicate rule id '{r.id}' (first at rule {seen[r.id] + 1}); each rule of a "
                                    "rule set needs its own id", file=src, line=line, column=col,
                                    path=f"rules[{i}].id", code="R202"))
        seen.setdefault(r.id, i)
        fields, errs = parse_template(r.message)
        for e in errs:
            line, col = expr_position(rs, i, e.offset or 0, "message")
            problems.append(Problem(f"message: {e}", file=src, line=line, column=col, path=f"rules[{i}].message",
                                    code="R112"))
        for fig in _rule_figures(r):
            try:
                _figures.figure_names(fig)
                if r.then.limit is not None and _figures.figure_type(fig, types) not in _expr.NUMERIC:
                    raise _expr.ExprError("a limit is a number of visits")
            except _expr.ExprError as e:
                line, col = _at(rs, i, "then")
                problems.append(Problem(f"figure {fig!r}: {e}" if len(str(fig)) < 80 else f"figure: {e}",
                                        file=src, line=line, column=col, path=f"rules[{i}].then", code=e.code or "R111",
                                        suggestion=e.suggestion))
        try:
            p = _expr.parse(r.when or "")
            unknown = _expr.check_names(p, types)
            if unknown:
                raise unknown[0]
            patterns = cc.compile(p)
            row = rs.rows.get(r.id)
            label = {row.table.label} if row is not None and row.table.label else set()   # a row shows its label
            shown = frozenset(f.name for f in fields) | p.names | label | ({"limit"} if r.then.limit is not None else set())
            need, deps = required_facts(p, types, set(derived))
            cr = CompiledRule(i, r, patterns, sorted(p.names & set(derived)), tuple(sorted(shown)), need, deps,
                              width=_rule_width(patterns), conditions=_leaves(patterns))
        except _expr.ExprError as e:
            line, col = expr_position(rs, i, e.offset or 0)
            problems.append(Problem(str(e), file=src, line=line, column=col,
                                    path=f"rules[{i}].when", code=e.code or "R110", suggestion=e.suggestion))
            continue
        if cr.width > MAX_RULE_WIDTH or cr.conditions > MAX_SHARD_CONDITIONS:
            line, col = expr_position(rs, i, 0)
            problems.append(Problem(
                f"rule '{r.id}': its condition has {cr.width} alternatives that can be true at once and "
                f"{cr.conditions} comparisons; durable_rules takes at most {MAX_RULE_WIDTH} alternatives and "
                f"{MAX_SHARD_CONDITIONS} comparisons per rule (more fails or never returns)", file=src, line=line,
                column=col, path=f"rules[{i}].when", code="R121",
                suggestion="split the rule, or derive a fact that groups the values"))
            continue
        if cr.width > WARN_RULE_WIDTH:
            line, col = expr_position(rs, i, 0)
            warnings.append(Problem(
                f"rule '{r.id}': {cr.width} alternatives can be true at once (refused above {MAX_RULE_WIDTH})",
                file=src, line=line, column=col, path=f"rules[{i}].when", code="R122", severity="warning"))
        compiled.append(cr)
    problems += cycles(rs, set(derived))
    if problems:
        raise RuleError(f"{rs.path}: {len(problems)} problem(s); the rule set does not compile", problems)
    return CompiledRuleSet(rs, compiled, _shards(compiled, rs), types, set(derived), exports, warnings)


def _at(rs: RuleSet, index: int, *path: str | int) -> tuple[int | None, int | None]:
    return rs.at(index, *path)


def _width(cond: object) -> int:
    """Alpha conditions of a durable condition that can be true at once (each `$or` branch can)."""
    if isinstance(cond, dict):
        if "$or" in cond:
            return sum(_width(c) for c in cond["$or"])
        if "$and" in cond:
            out = 1
            for c in cond["$and"]:
                out *= _width(c)
            return out
    return 1


def _rule_width(patterns: list[Cond]) -> int:
    out = 1
    for p in patterns:
        for body in p.values():
            out *= _width(body)
    return out


def _leaves(cond: object) -> int:
    if isinstance(cond, list):
        return sum(_leaves(c) for c in cond)
    if isinstance(cond, dict):
        if "$or" in cond or "$and" in cond:
            return sum(_leaves(c) for c in (cond.get("$or") or cond.get("$and") or []))
        if len(cond) == 1 and isinstance(next(iter(cond.values())), dict) and \
                all(isinstance(k, str) and not k.startswith("$") for k in cond):
            return sum(_leaves(v) for v in cond.values())          # a pattern {'k': {...}}
        return 1
    return 1


def _rule_figures(r: Rule) -> list[int | float | str]:
    out: list[int | float | str | bool] = []
    if r.then.limit is not None:
        out.append(r.then.limit)
    if r.then.derive:
        out += list(r.then.derive.values())
    return [f for f in out if not isinstance(f, bool)]


def _shards(rules: list[CompiledRule], rs: RuleSet) -> list[list[int]]:
    """Group rules linked by derived facts (union-find), then pack groups into shards of MAX_SHARD."""
    parent = list(range(len(rules)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    by_name: dict[str, list[int]] = {}
    for cr in rules:
        names = set(cr.derived_used) | (set(cr.rule.then.derive) if cr.rule.then.derive and not cr.rule.then.export else set())
        for n in names:
            by_name.setdefault(n, []).append(cr.index)
    for idxs in by_name.values():
        for j in idxs[1:]:
            parent[find(j)] = find(idxs[0])
    groups: dict[int, list[int]] = {}
    for cr in rules:
        groups.setdefault(find(cr.index), []).append(cr.index)
    shards: list[list[int]] = []
    widths: list[int] = []
    leaves: list[int] = []
    for g in sorted(groups.values(), key=lambda g: g[0]):
        w = sum(rules[i].width for i in g)
        c = sum(rules[i].conditions for i in g)
        if w > MAX_SHARD or c > MAX_SHARD_CONDITIONS:
            ids = ", ".join(rules[i].rule.id for i in g[:6]) + (", ..." if len(g) > 6 else "")
            msg = (f"{len(g)} rules linked by derived facts ({ids}) have {w} alternatives that can be true at once "
                   f"and {c} comparisons; they must share one durable ruleset, which takes at most {MAX_SHARD} "
                   f"and {MAX_SHARD_CONDITIONS}")
            raise RuleError(f"{rs.path}: {msg}", [Problem(msg, file=str(rs.path), line=_at(rs, rules[g[0]].index)[0],
                                                          code="R120")])
        if shards and widths[-1] + w <= MAX_SHARD and leaves[-1] + c <= MAX_SHARD_CONDITIONS:
            shards[-1].extend(g)
            widths[-1] += w
            leaves[-1] += c
        else:
            shards.append(list(g))
            widths.append(w)
            leaves.append(c)
    return [sorted(s) for s in shards]
