"""Parsing one rule file into a RuleSet: validated, with line and column for every problem.

A file that `extends: ID@VERSION` is merged with that edition first (engine/core/_editions.py); then its
tables and `applies_when` are expanded into the rule list the engine runs (engine/core/_tables.py).
"""
from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from . import _documentation, _editions, _safeinput, _tables
from ._errors import Problem, did_you_mean
from ._rulefiles import load_yaml
from ._rules import Citation, Column, Effect, Guideline, Rule, RuleSetSpec, Scope, Table
from ._ruleset import EditionInfo, RuleSet
from ._yamlpos import dotted, mark


def parse_ruleset(text: str, path: Path | str = "<input>", *, _seen: frozenset[str] = frozenset()) -> tuple[RuleSet | None, list[Problem]]:
    """Parse and validate one rule file. Never raises for bad content: returns its problems.

    A file that `extends: ID@VERSION` is merged with that edition (found in the same rules folder) first;
    then tables and `applies_when` are expanded into the rule list the engine runs."""
    path = Path(path)
    src = str(path)
    try:
        node, data = load_yaml(text, src)
    except _safeinput.InputError as e:
        return None, [dataclasses.replace(p, file=p.file or src) for p in e.problems] or \
            [Problem(f"invalid YAML: {e}", file=src, line=1, code="R001")]
    except yaml.YAMLError as e:
        pm = getattr(e, "problem_mark", None)
        return None, [Problem(f"invalid YAML: {getattr(e, 'problem', e)}", file=src,
                              line=pm.line + 1 if pm else None, column=pm.column + 1 if pm else None,
                              code="R001")]
    except (RecursionError, MemoryError) as e:
        return None, [Problem(f"invalid YAML: {type(e).__name__} (nested too deeply or too large)", file=src,
                              line=1, code="R001")]
    if node is None:
        return None, [Problem("empty rule file", file=src, line=1, code="R001")]
    _editions.note_header(path, text, data)
    sha = hashlib.sha256(text.encode("utf-8")).hexdigest()
    base: RuleSet | None = None
    edition: EditionInfo = {}
    where: dict[str, list[str | int] | None] | None = None
    if isinstance(data, dict) and data.get("extends") is not None:
        base, problems = _editions.resolve_base(data, path, node, _seen, parse_ruleset)
        if base is None:
            return None, problems
        data, edition, where, problems = _editions.merge(base, data, node, src)
        if problems:
            return None, problems
        sha = hashlib.sha256((text + "\n# extends " + base.sha256).encode("utf-8")).hexdigest()
    problems = []
    try:
        spec = RuleSetSpec.model_validate(data)
    except ValidationError as e:
        problems = [_problem(err, node, src) for err in e.errors(include_url=False)]
        # unknown keys alone: report them, and lint the rest as if they were not there
        if not all(err["type"] == "extra_forbidden" for err in e.errors()):
            return None, problems
        for err in e.errors():
            _drop(data, list(err["loc"]))
        try:
            spec = RuleSetSpec.model_validate(data)
        except ValidationError:
            return None, problems
    rs = RuleSet(spec, path, sha, node, written=spec, base=base, edition=edition)
    expand_problems = _tables.expand(rs, where)
    if any(p.severity == "error" for p in expand_problems):
        return None, problems + expand_problems
    return rs, problems + expand_problems


def _drop(data: dict[str, Any], loc: list[str | int]) -> None:
    cur: Any = data                 # the file's data as read: mappings and lists
    for part in loc[:-1]:
        cur = cur[part]
    cur.pop(loc[-1], None)


_MODELS: dict[str, type[BaseModel]] = {"": RuleSetSpec, "rules": Rule, "then": Effect, "citation": Citation, "guideline": Guideline,
           "scope": Scope, "tables": Table, "inputs": Column}


def _problem(err: Mapping[str, Any], node: yaml.Node, src: str) -> Problem:
    loc = list(err["loc"])
    kind = err["type"]
    line, col = mark(node, loc, key=kind == "extra_forbidden")
    msg, hint, code = err["msg"], None, "R100"
    if kind == "extra_forbidden":
        key = str(loc[-1])
        parent = next((str(p) for p in reversed(loc[:-1]) if isinstance(p, str)), "")
        model = _MODELS.get(parent, RuleSetSpec)
        msg, code = f"unknown key '{key}'", "R101"
        hint = did_you_mean(key, model.model_fields)
    elif kind == "missing":
        msg, code = f"required key '{loc[-1]}' is missing", "R102"
        if loc and loc[-1] == "citation":
            code = "R103"
    elif msg.startswith("Value error, "):
        msg = msg[len("Value error, "):]
        if msg.startswith(_documentation.UNKNOWN):
            code = "R107"
    else:
        msg, code = f"{msg} (got {err.get('input')!r})", "R104"
    return Problem(msg, file=src, line=line, column=col, path=dotted(loc), code=code, suggestion=hint)

