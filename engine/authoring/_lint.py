"""`ptcheck rules lint`: every problem in rule files as file:line:column: code message.

Codes
  R001 invalid YAML / empty file          R101 unknown or misspelt key          R102 required key missing
  R103 rule without a citation            R104 wrong type or value              R110 condition does not compile
                                                                                     (unknown fact, type mismatch)
  R002 no rule files / no diagnoses.yaml in the rules folder
  R111 figure outside the figure language (unknown fact, word arithmetic, zero divisor, non-finite number)
  R112 message template outside the template language (unbalanced braces, attributes, format specs)
  R113 derived fact: different types from different rules, or the name of a table fact
  R114 derived facts that depend on themselves (a cycle), with the rule ids
  R120 rules linked by derived facts too wide for one durable ruleset
  R115 a number durable_rules cannot read (1e20, 0.000001) or arithmetic that can pass 64 bits
  R116 `or`, `in [...]` or a chained comparison over a derived fact (durable cannot match it in a join)
  R118 durable_rules refuses or fails to run the rule set (lint registers and runs every rule set it accepts)
  R121 a rule too wide for durable_rules (too many `or` / `in [...]` alternatives or comparisons)
  R122 a rule close to that limit (warning)
  R201 overlapping effective dates      R202 duplicate rule id in a rule set
  R203 duplicate id@version, or a rule id used by two rule sets
  R301 condition can never be true        R302 same condition, contradictory effects
  R303 message names a fact the rule cannot have
  R304 a rule set uses a fact it exports itself (exports reach only later rule sets)       (warning)
  R305 one exported fact under two conflict policies (tables of different hit / by, or a table and a rule)
  R130 a table guard cannot negate a named-condition column    R131 gap: an input no row of a complete table covers
  R132 overlap: two rows of a `unique` table match one input   R133 a row that can never count under its hit policy
  R134 a table input column that is not a case fact (a table reads the item's facts, not derived ones)
  R210 extends: no such edition, or a cycle      R211 remove/change names no rule, table or row of the base
  R212 an edition that changes nothing but its version and dates (warning)
  T001 no tests file beside the rule file (warning)
"""
from __future__ import annotations

from pathlib import Path

from ..core import _expr
from ..core._compile import compile_ruleset, derived_types, exported_types
from ..core._enginecheck import engine_problems
from ..core._errors import Problem, RuleError
from ..core._facts import FACT_TYPES
from ..core._paths import rules_dir
from ..core._rules import Library, RuleSet, parse_ruleset, rule_files, template_names, tests_file
from ..core._yamlpos import mark

_DECIDING = {"certify", "limit", "non_certify", "pend"}


def lint_paths(paths: list[Path] | None = None, root: Path | None = None) -> list[Problem]:
    """Lint rule files (default: every rule file under the rules folder). Returns problems, sorted."""
    files: list[Path] = []
    targets: list[Path | None] = list(paths) if paths else [root]
    for p in targets:                          # root None: the default rules folder
        if p is None or Path(p).is_dir():
            files += rule_files(Path(p) if p else None)
        else:
            files.append(Path(p))
    problems: list[Problem] = []
    sets: list[RuleSet] = []
    if not files:
        where = root or (paths[0] if paths else None) or rules_dir()
        return [Problem(f"no rule files under {where}", file=str(where), code="R002")]
    for f in files:
        try:
            text = f.read_text(encoding="utf-8")
        except OSError as e:
            problems.append(Problem(f"cannot read: {e}", file=str(f), code="R001"))
            continue
        rs, probs = parse_ruleset(text, f)
        problems += probs
        if rs:
            sets.append(rs)
    # exports of the whole library are facts for every rule set (they come from earlier rule sets): a file
    # linted alone still sees the exports of the library it belongs to (--rules, else the default folder)
    linted = {Path(rs.path).resolve() for rs in sets}
    library_sets = []
    for f in rule_files(Path(root) if root else None) if (Path(root) if root else rules_dir()).is_dir() else []:
        if f.resolve() in linted:
            continue
        try:
            other, _ = parse_ruleset(f.read_text(encoding="utf-8"), f)
        except OSError:
            other = None
        if other:
            library_sets.append(other)
    exports = exported_types(library_sets + sets)
    for rs in sets:
        problems += lint_ruleset(rs, exports)
    problems += _overlaps(sets)
    problems += export_policies(library_sets + sets, {id(rs) for rs in sets})
    return sorted(problems, key=lambda p: (p.file or "", p.line or 0, p.column or 0, p.code))


def lint_ruleset(rs: RuleSet, exports: dict[str, str]) -> list[Problem]:
    out: list[Problem] = []
    src = str(rs.path)

    def at(i: int, *path) -> tuple[int | None, int | None]:
        return rs.at(i, *path)

    try:
        compiled = compile_ruleset(rs, exports)
        types = compiled.types
        out += compiled.warnings
        out += engine_problems(compiled)           # registered and run in durable_rules: lint guarantees the engine
    except RuleError as e:
        out += e.problems
        own, _, _ = derived_types(rs, exports)
        types = {**FACT_TYPES, **exports, **own}
    conditions: dict[str, list[tuple[int, str]]] = {}
    own_exports = {k for r in rs.spec.rules if r.then.derive and r.then.export for k in r.then.derive}
    for i, r in enumerate(rs.spec.rules):
        if r.citation is None:
            line, col = at(i)
            out.append(Problem(f"rule '{r.id}' has no citation", file=src, line=line, column=col, code="R103",
                               suggestion="add citation: {section: ..., pages: ...}"))
        if r.when is None:
            continue                                 # every rule has one once expanded (applies_when)
        try:
            parsed = _expr.parse(r.when)
        except _expr.ExprError:
            continue                                 # reported by compile (R110)
        why = _expr.impossible(parsed)
        if why:
            line, col = at(i, "when")
            out.append(Problem(f"condition can never be true: {why}", file=src, line=line, column=col, code="R301"))
        used_own = parsed.names & own_exports
        if used_own:
            line, col = at(i, "when")
            out.append(Problem(f"uses {', '.join(sorted(used_own))}, which this rule set exports: exported facts "
                               "reach only later rule sets", file=src, line=line, column=col, code="R304",
                               severity="warning", suggestion="drop 'export: true' to chain inside the rule set"))
        if r.then.kind in _DECIDING:
            conditions.setdefault(_expr.canonical(parsed), []).append((i, r.then.kind))
        available = set(types) | {"limit"} if r.then.limit is not None else set(types)
        for name in sorted(template_names(r.message) - available):
            line, col = at(i, "message")
            out.append(Problem(f"message names '{name}', a fact this rule cannot have", file=src, line=line,
                               column=col, code="R303", suggestion=_hint(name, available)))
        figs = ([r.then.limit] if r.then.limit is not None else []) + \
               [v for v in (r.then.derive or {}).values() if not isinstance(v, bool)]
        for fig in figs:
            try:
                names = _expr.figure_names(fig)
            except _expr.ExprError:
                continue                             # reported by compile (R111)
            for name in sorted(names - set(types)):
                line, col = at(i, "then")
                out.append(Problem(f"figure names unknown fact '{name}'", file=src, line=line, column=col,
                                   code="R111", suggestion=_hint(name, types)))
    for cond, rules in conditions.items():
        kinds = {k for _, k in rules}
        if len(kinds) > 1 and not kinds <= {"limit"}:
            i = rules[-1][0]
            line, col = at(i, "then")
            listed = ", ".join(f"{rs.spec.rules[j].id} ({k})" for j, k in rules)
            out.append(Problem(f"same condition, contradictory effects: {listed}", file=src, line=line,
                               column=col, code="R302"))
    if not tests_file(rs.path).exists() and rs.base is None:
        out.append(Problem(f"no tests file beside the rule file (expected {tests_file(rs.path).name})", file=src,
                           line=1, column=1, code="T001", severity="warning"))
    out += lint_tables(rs, types)
    out += lint_edition(rs)
    return out


def lint_tables(rs: RuleSet, types: dict[str, str]) -> list[Problem]:
    """Gaps of complete tables (R131), overlaps of unique tables (R132), input columns that are not case
    facts (R134), each at the table's or row's line:column."""
    from ..core._tables import analyse, row_id
    out: list[Problem] = []
    src = str(rs.path)
    index = {r.id: i for i, r in enumerate(rs.spec.rules)}
    derived = set(types) - set(FACT_TYPES)
    for t in (rs.written.tables if rs.written else []):
        found = [index.get(row_id(t, k, r)) for k, r in enumerate(t.rows)]
        rows = [i for i in found if i is not None]
        if len(rows) != len(found):
            continue                                   # the table did not expand (reported already)

        def at_row(k: int, *key):
            return rs.at(rows[k], *key)

        o = rs.origin(rows[0])
        tpath = o.path[:2] if o.path and o.path[0] == "tables" else None
        line, col = rs.at(rows[0])
        if tpath is not None and rs.node is not None:
            line, col = mark(rs.node, [*tpath, "complete"] if t.complete else tpath)
        own = {k for r in rs.spec.rules if r.then.derive and not r.then.export for k in r.then.derive}
        for name in t.input_names:
            if t.column(name) is None and (name in own or (name not in types and name not in derived)):
                out.append(Problem(f"table {t.id}: input column '{name}' is not a fact of the item"
                                   + (" (it is derived in this rule set: a table reads case facts)" if name in own else ""),
                                   file=src, line=line, column=col, code="R134",
                                   suggestion=_hint(name, FACT_TYPES)))
        if not (t.complete or t.hit == "unique"):
            continue                                   # gaps matter to complete tables, overlaps to unique ones
        gaps, overlaps, exhaustive = analyse(t)
        if t.complete:
            for g in gaps[:5]:
                out.append(Problem(f"table {t.id} (complete): no row covers {_combo(g)}", file=src, line=line,
                                   column=col, code="R131", suggestion="add a row for it, or a last row of blank cells "
                                   "under hit `first`"))
            if len(gaps) > 5:
                out.append(Problem(f"table {t.id} (complete): {len(gaps) - 5} more input combinations without a row",
                                   file=src, line=line, column=col, code="R131"))
            if not exhaustive:
                out.append(Problem(f"table {t.id}: too many input combinations to check completeness", file=src,
                                   line=line, column=col, code="R131", severity="warning"))
        if t.hit == "unique":
            for a, b, example in overlaps:
                ln, cl = at_row(b)
                out.append(Problem(f"table {t.id} (hit unique): rows {a + 1} ({row_id(t, a, t.rows[a])}) and {b + 1} "
                                   f"({row_id(t, b, t.rows[b])}) both match {_combo(example)}", file=src, line=ln,
                                   column=cl, code="R132",
                                   suggestion="make the rows exclusive, or choose hit first / collect-max / collect-min"))
    return out


def _combo(example: dict) -> str:
    return ", ".join(f"{k} = {v}" for k, v in example.items())


def lint_edition(rs: RuleSet) -> list[Problem]:
    """An edition that extends another and changes nothing but its version and dates (R212, warning)."""
    if rs.base is None:
        return []
    same_rules = [r for r in rs.spec.rules] == [r for r in rs.base.spec.rules]
    fields = ("title", "jurisdictions", "guideline", "scope")
    same_set = all(getattr(rs.spec, f) == getattr(rs.base.spec, f) for f in fields)
    if same_rules and same_set:
        line, col = mark(rs.node, ["extends"]) if rs.node is not None else (None, None)
        return [Problem(f"edition {rs.key} changes nothing of {rs.base.key} but its version and dates", file=str(rs.path),
                        line=line, column=col, code="R212", severity="warning",
                        suggestion="state what the edition adds, changes or removes, or extend the old edition's dates")]
    return []


def export_policies(sets: list[RuleSet], report: set[int] | None = None) -> list[Problem]:
    """R305: every exported fact combines across rule sets under ONE policy (engine/core/_tables.py
    export_policies): reported at each rule or row that states another (of the rule sets whose id() is in
    `report`; default all)."""
    from ..core._tables import export_policies as policies
    out: list[Problem] = []
    for name, rs, i, why in policies(sets)[1]:
        if report is not None and id(rs) not in report:
            continue
        line, col = rs.at(i, "then")
        out.append(Problem(f"'{rs.spec.rules[i].id}' exports {name} under {why}: an exported fact combines "
                           "across rule sets under one policy", file=str(rs.path), line=line, column=col,
                           code="R305", suggestion="give every table that exports it the same hit and by"))
    return out


def _overlaps(sets: list[RuleSet]) -> list[Problem]:
    out = []
    try:
        Library.check_duplicates(sets)
    except RuleError as e:
        out += e.problems
    try:
        Library.check_overlaps(sets)
    except RuleError as e:
        out += e.problems
    return out


def _hint(name: str, choices) -> str | None:
    from ..core._errors import did_you_mean
    return did_you_mean(name, choices)


def errors(problems: list[Problem]) -> list[Problem]:
    return [p for p in problems if p.severity == "error"]
