"""Compile a rule set into durable_rules ruleset JSON (pure data; the engine binds the actions).

Every rule becomes one durable rule:
    'all': [{'k': {'$and': [{'__kind': 'case'}, <condition on the item's facts>]}},
            {'d_<name>': {'$and': [{'__kind': 'derived'}, {'name': <name>}, <condition on its value>]}}, ...]
A `derive` rule's action asserts {'__kind': 'derived', 'name', 'value', 'by'} into the same session,
so the rules that use that name fire in the same assert (forward chaining). Rule sets are sharded at
MAX_SHARD rules, keeping rules that share derived facts in one shard (durable-rules.md §4).
"""
from __future__ import annotations

import ast
import datetime as dt
from dataclasses import dataclass, field

from . import _expr
from ._errors import Problem, RuleError
from ._facts import EPOCH, FACT_TYPES
from ._rules import Library, Rule, RuleSet, template_names

MAX_SHARD = 40          # durable-rules.md §4: 64 simultaneously-true siblings / 511 distinct break it
END_RULE = "__end"      # lowest-priority rule matching the end marker (durable-rules.md §3, trap 2)


@dataclass
class CompiledRule:
    index: int
    rule: Rule
    patterns: list[dict]
    derived_used: list[str]
    shown: tuple[str, ...]                  # facts a finding of this rule reports (message, condition, limit)
    requires: frozenset = frozenset()       # case facts that must be present for the rule to fire
    requires_derived: frozenset = frozenset()


@dataclass
class CompiledRuleSet:
    ruleset: RuleSet
    rules: list[CompiledRule]
    shards: list[list[int]]
    types: dict[str, str]
    derived: set[str]
    exports: dict[str, str] = field(default_factory=dict)   # name -> type

    def may_fire(self, facts: dict) -> bool:
        """False only when no rule can fire: each lacks a fact its condition requires (a sound skip)."""
        producers = self.__dict__.get("_producers")
        if producers is None:
            producers = {}
            for cr in self.rules:
                for name in (cr.rule.then.derive or {}) if not cr.rule.then.export else ():
                    producers.setdefault(name, []).append(cr)
            self.__dict__["_producers"] = producers
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

    def durable_definition(self, shard: int) -> dict:
        """The durable ruleset JSON of one shard, without actions (for `rules explain`)."""
        out = {}
        for i in self.shards[shard]:
            cr = self.rules[i]
            out[cr.rule.id] = {"all": cr.patterns, "pri": cr.rule.priority}
        out[END_RULE] = {"pri": 65535, "all": [{"m": {"__kind": "end"}}]}
        return out


def derive_type(value) -> str:
    if isinstance(value, bool):
        return "tri"
    if isinstance(value, float):
        return "num"
    if isinstance(value, int):
        return "int"
    try:
        node = ast.parse(str(value).strip(), mode="eval").body
    except SyntaxError:
        return "str"
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return "str"
    return "num" if "/" in str(value) and "//" not in str(value) else "int"


def exported_types(lib_or_sets) -> dict[str, str]:
    sets = lib_or_sets.rulesets if isinstance(lib_or_sets, Library) else lib_or_sets
    out = {}
    for rs in sets:
        for r in rs.spec.rules:
            if r.then.derive and r.then.export:
                for k, v in r.then.derive.items():
                    out[k] = derive_type(v)
    return out


def to_literal(node: ast.AST, ftype: str):
    """A literal in a condition, converted to the fact's representation; refuses a type mismatch."""
    if isinstance(node, ast.Name):
        if node.id in ("true", "false"):
            if ftype != "tri":
                raise _expr.ExprError(f"{node.id} compares only with a true/false/unknown fact", node.col_offset)
            return node.id
        raise _expr.ExprError(f"'{node.id}' is not a value here", node.col_offset)
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub) and isinstance(node.operand, ast.Constant):
        return -to_literal(node.operand, ftype)
    if not isinstance(node, ast.Constant):
        raise _expr.ExprError(f"not a literal: {ast.unparse(node)}", getattr(node, "col_offset", 0))
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
        raise _expr.ExprError(f"compare a word with a word: write '{v}'", node.col_offset)
    return v


def compile_ruleset(rs: RuleSet, extra_types: dict[str, str] | None = None) -> CompiledRuleSet:
    """Compile every rule; raises RuleError with one Problem per rule that does not compile."""
    derived: dict[str, str] = {}
    for r in rs.spec.rules:
        if r.then.derive and not r.then.export:
            for k, v in r.then.derive.items():
                derived[k] = derive_type(v)
    exports = {k: derive_type(v) for r in rs.spec.rules if r.then.derive and r.then.export
               for k, v in r.then.derive.items()}
    # a rule set's own exports reach only later rule sets, so they are not facts here
    others = {k: v for k, v in (extra_types or {}).items() if k not in exports}
    types = {**FACT_TYPES, **others, **derived}
    cc = _expr.ConditionCompiler(types, set(derived), to_literal)
    compiled, problems = [], []
    for i, r in enumerate(rs.spec.rules):
        try:
            p = _expr.parse(r.when)
            unknown = _expr.check_names(p, types)
            if unknown:
                raise unknown[0]
            patterns = cc.compile(p)
            for fig in _figures(r):
                _expr.figure_names(fig)                       # refuses what a figure may not contain
            shown = template_names(r.message) | p.names | ({"limit"} if r.then.limit is not None else set())
            need, deps = _expr.required_facts(p, types, set(derived))
            compiled.append(CompiledRule(i, r, patterns, sorted(p.names & set(derived)), tuple(sorted(shown)),
                                         need, deps))
        except _expr.ExprError as e:
            line, col = expr_position(rs, i, e.offset or 0)
            problems.append(Problem(str(e), file=str(rs.path), line=line, column=col,
                                    path=f"rules[{i}].when", code="R110", suggestion=e.suggestion))
    if problems:
        raise RuleError(f"{rs.path}: {len(problems)} rule(s) do not compile", problems)
    return CompiledRuleSet(rs, compiled, _shards(compiled, rs), types, set(derived), exports)


def expr_position(rs: RuleSet, index: int, offset: int) -> tuple[int | None, int | None]:
    """Line and column of a character of a rule's condition: exact for plain and quoted scalars."""
    if rs.node is None:
        return None, None
    from ._yamlpos import node_at
    n = node_at(rs.node, ["rules", index, "when"])
    line, col = n.start_mark.line + 1, n.start_mark.column + 1
    style = getattr(n, "style", None)
    if style in ('"', "'"):
        return line, col + 1 + offset
    if style in ("|", ">"):
        return line + 1, None
    return line, col + offset


def _figures(r: Rule) -> list:
    out = []
    if r.then.limit is not None:
        out.append(r.then.limit)
    if r.then.derive:
        out += list(r.then.derive.values())
    return [f for f in out if not isinstance(f, bool)]


def _shards(rules: list[CompiledRule], rs: RuleSet) -> list[list[int]]:
    """Group rules linked by derived facts (union-find), then pack groups into shards of MAX_SHARD."""
    parent = list(range(len(rules)))

    def find(i):
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
    for g in sorted(groups.values(), key=lambda g: g[0]):
        if len(g) > MAX_SHARD:
            raise RuleError(f"{rs.path}: {len(g)} rules are linked by derived facts; at most {MAX_SHARD} "
                            "can share one durable ruleset", [Problem("too many linked rules", file=str(rs.path), code="R120")])
        if shards and len(shards[-1]) + len(g) <= MAX_SHARD:
            shards[-1].extend(g)
        else:
            shards.append(list(g))
    return [sorted(s) for s in shards]
