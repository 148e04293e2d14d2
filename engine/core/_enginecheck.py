"""Lint guarantees the engine: a rule set that compiles is also registered and run in durable_rules.

    problems = engine_problems(compiled)      # [] when durable_rules takes the rule set and runs it

`ptcheck rules lint` calls this for every rule set it accepts, so nothing lint passes can fail at check
time with "Could not create ruleset" or another engine error. The rule set is registered in the process's
durable host under a fresh name (as the Checker does) and evaluated twice: with every fact it reads set to a
value of its type, and with no facts at all (the `unknown` paths). When durable_rules refuses it, each rule
is registered on its own to name the one at fault (R118 at its line:column); when none fails alone, the
problem is reported at the rule set's first line.

`library_problems(library)`: the same for every rule set of a library, with compile errors; `audit` runs it
before its first case (a rule file that cannot run is exit 2, "could not run", not an error per case).

Kept small and in one place: it uses only compile_ruleset's result, Registered and encode.
"""
from __future__ import annotations

import dataclasses

from ._compile import CompiledRuleSet, compile_ruleset, exported_types
from ._durable import Registered, encode
from ._errors import Problem, RuleError
from ._library import Library

_SAMPLE = {"int": 1, "num": 1.5, "date": 0, "str": "x", "tri": "unknown", "list": ["x"]}


def engine_problems(compiled: CompiledRuleSet) -> list[Problem]:
    """R118 problems for a compiled rule set that durable_rules cannot register or run; [] when it runs."""
    error = _run(compiled)
    if error is None:
        return []
    rs = compiled.ruleset
    out = []
    for i in range(len(compiled.rules)):
        alone = _run(dataclasses.replace(compiled, shards=[[i]]))
        if alone is not None:
            line, col = rs.at(i, "when")
            out.append(_problem(compiled, alone, line, col, f"rules[{i}]"))
    return out or [_problem(compiled, error, 1, 1, None)]


def library_problems(library: Library) -> list[Problem]:
    """Every problem that stops a rule set of the library from compiling or running in durable_rules (what
    `audit` checks before its first case, so that a broken rule file is exit 2, not an error per case)."""
    exports = exported_types(library)
    out: list[Problem] = []
    for rs in library.rulesets:
        try:
            compiled = compile_ruleset(rs, exports)
        except RuleError as e:
            out += e.problems
            continue
        out += engine_problems(compiled)
    return list({str(p): p for p in out}.values())          # a problem found twice is listed once


def _run(compiled: CompiledRuleSet) -> str | None:
    facts = {name: _SAMPLE.get(t, 1) for name, t in compiled.types.items() if name not in compiled.derived}
    try:
        registered = Registered(compiled, reuse=False)       # every run ends its sessions: nothing left behind
        for sample in (facts, {}):
            registered.run(sample, encode(sample))
    except Exception as e:                 # EngineError, durable's own exceptions: the message is what we report
        return " ".join(f"{type(e).__name__}: {e}".split())[:200]
    return None


def _problem(compiled: CompiledRuleSet, error: str, line: int | None, col: int | None, path: str | None) -> Problem:
    return Problem(f"durable_rules cannot run this rule (lint registers and runs every rule set it accepts): "
                   f"{error}", file=str(compiled.ruleset.path), line=line, column=col, path=path, code="R118",
                   suggestion="simplify the condition (fewer nested and/or, plain numbers)")


__all__ = ["engine_problems", "library_problems"]
