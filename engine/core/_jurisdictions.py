"""What a jurisdiction adds to its rule sets, and how unknown facts are presumed: the validated models of
rules/jurisdictions.yaml and rules/presumptions.yaml, loaded by the Library with every problem at
file:line:column (R4xx) and checked against the library's rule sets, facts and services (did you mean).

jurisdictions.yaml, per jurisdiction (CA, TX):
  fallback_notes    what the engine says when a `fallback` rule set (ODG) is used because no `primary` one
                    (MTUS) addresses the service, by effective dates
  search_sequence   where the primary rule sets in force are silent on visit counts (`silent`), the rule sets
                    the medical evidence search sequence goes on to (`use`), by effective dates; `unless` a
                    fact is true (e.g. inside a postsurgical period, where the MTUS does speak)
presumptions.yaml: how the engine reads a fact the records leave unknown, where the readings the records
allow would give different answers (engine/core/_decide.py uses one only when it settles the answer).
"""
from __future__ import annotations

import datetime as dt
import fnmatch
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from . import _yamlpos
from ._errors import Problem, RuleError, did_you_mean
from ._safeinput import RULE_FILE, InputError
from ._yamlpos import mark

JurisdictionId = Literal["CA", "TX"]

UNKNOWN_KINDS = ("prior_therapy", "course_visits", "course_dates", "request_range")
# the readings a presumption may take, by the unknown it settles (engine/core/_readings.py gives the values)
READINGS = {"prior_therapy": ("none", "therapy only", "given"), "course_visits": ("low", "high"),
            "course_dates": ("before", "after"), "request_range": ("low", "high")}


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _Dated(_Model):
    effective_from: dt.date
    effective_to: dt.date | None = None

    @model_validator(mode="after")
    def _in_order(self) -> "_Dated":
        if self.effective_to is not None and self.effective_to < self.effective_from:
            raise ValueError(f"effective_to {self.effective_to} is before effective_from {self.effective_from}")
        return self

    def in_force(self, on: dt.date | None) -> bool:
        return on is None or (self.effective_from <= on and (self.effective_to is None or on <= self.effective_to))


class FallbackNote(_Dated):
    citation: str
    message: str = Field(description="{service} and {guideline} are filled in")


class SequenceEntry(_Dated):
    silent: list[str] = Field(min_length=1, description="primary rule-set ids that give no number of visits")
    use: list[str] = Field(min_length=1, description="rule-set ids the search sequence goes on to")
    unless: str | None = Field(default=None, description="a fact that, when true, means the MTUS does speak")
    citation: str
    message: str = Field(description="{service} is filled in")


class Jurisdiction(_Model):
    fallback_notes: list[FallbackNote] = []
    search_sequence: list[SequenceEntry] = []

    def fallback_note(self, on: dt.date | None) -> FallbackNote | None:
        """The note in force on a date; with no date, the newest."""
        if on is None:
            return max(self.fallback_notes, key=lambda n: n.effective_from, default=None)
        return next((n for n in self.fallback_notes if n.in_force(on)), None)

    def sequence(self, on: dt.date | None, primary_ids: set[str]) -> SequenceEntry | None:
        """The search-sequence entry that applies: in force, and naming a primary rule set as silent."""
        return next((e for e in self.search_sequence if e.in_force(on) and primary_ids & set(e.silent)), None)


class Presumption(_Model):
    id: str = Field(pattern=r"^[a-z0-9][a-z0-9_.'-]*$")
    unknown: Literal["prior_therapy", "course_visits", "course_dates", "request_range"]
    reading: str
    applies_to: list[str] = Field(min_length=1, description="rule-set ids, * wildcards")
    reason: str
    citation: str
    within_months_of_surgery: float | None = Field(default=None, ge=0)

    @model_validator(mode="after")
    def _reading_of_its_unknown(self) -> "Presumption":
        if self.reading not in READINGS[self.unknown]:
            raise ValueError(f"reading '{self.reading}' is not a reading of {self.unknown} "
                             f"({', '.join(READINGS[self.unknown])})")
        return self

    def applies(self, ruleset_ids: list[str], months_since_surgery: float | None) -> bool:
        if not any(fnmatch.fnmatchcase(rid, pat) for rid in ruleset_ids for pat in self.applies_to):
            return False
        if self.within_months_of_surgery is not None:
            return months_since_surgery is not None and months_since_surgery <= self.within_months_of_surgery
        return True


class _Presumptions(_Model):
    presumptions: list[Presumption] = []


class Policy(_Model):
    """Both files, validated: what the Library holds beside its rule sets."""
    jurisdictions: dict[JurisdictionId, Jurisdiction] = {}
    presumptions: tuple[Presumption, ...] = ()

    def of(self, jurisdiction: JurisdictionId) -> Jurisdiction:
        return self.jurisdictions.get(jurisdiction, _NONE)


_NONE = Jurisdiction()


def load_policy(root: Path) -> tuple[Policy, list[Problem]]:
    """jurisdictions.yaml and presumptions.yaml of a rules folder (each optional), with their problems."""
    problems: list[Problem] = []
    jur: dict[JurisdictionId, Jurisdiction] = {}
    pres: tuple[Presumption, ...] = ()
    node, data = _read(root / "jurisdictions.yaml", problems)
    if node is not None:
        try:
            jur = _Jurisdictions.model_validate({"by": data}).by
        except ValidationError as e:
            problems += _problems(e, node, str(root / "jurisdictions.yaml"), ["by"])
    node, data = _read(root / "presumptions.yaml", problems)
    if node is not None:
        try:
            pres = tuple(_Presumptions.model_validate(data).presumptions)
        except ValidationError as e:
            problems += _problems(e, node, str(root / "presumptions.yaml"), [])
    return Policy(jurisdictions=jur, presumptions=pres), problems


class _Jurisdictions(_Model):
    by: dict[JurisdictionId, Jurisdiction]


def _read(path: Path, problems: list[Problem]) -> tuple[yaml.Node | None, Any]:
    if not path.is_file():
        return None, None
    try:
        docs = _yamlpos.load_yaml(path.read_bytes(), str(path), RULE_FILE)
    except InputError as e:
        problems += e.problems
        return None, None
    if not docs:
        return None, None
    return docs[0]


def _problems(e: ValidationError, node: yaml.Node, src: str, drop: list[str]) -> list[Problem]:
    out = []
    for err in e.errors(include_url=False):
        loc = list(err["loc"])[len(drop):]
        kind = err["type"]
        try:
            line, col = mark(node, loc, key=kind == "extra_forbidden")
        except Exception:                    # a path the node tree does not hold (a missing key): its parent
            line, col = mark(node, loc[:-1]) if loc else (1, 1)
        msg, code, hint = err["msg"], "R401", None
        if kind == "extra_forbidden":
            msg, code = f"unknown key '{loc[-1]}'", "R402"
        elif kind == "missing":
            msg, code = f"required key '{loc[-1]}' is missing", "R403"
        elif msg.startswith("Value error, "):
            msg = msg[len("Value error, "):]
        out.append(Problem(msg, file=src, line=line, column=col, path=_yamlpos.dotted(loc), code=code,
                           suggestion=hint))
    return out


def check_policy(policy: Policy, root: Path, ruleset_ids: set[str], facts: set[str]) -> list[Problem]:
    """The names the two files use, against the library: rule-set ids (R404), facts (R405), presumption
    patterns that match no rule set (R406)."""
    out: list[Problem] = []
    jpath, ppath = root / "jurisdictions.yaml", root / "presumptions.yaml"
    jnode = _read(jpath, []) [0] if jpath.is_file() else None
    for j, spec in policy.jurisdictions.items():
        for i, e in enumerate(spec.search_sequence):
            for key in ("silent", "use"):
                for k, rid in enumerate(getattr(e, key)):
                    if rid not in ruleset_ids:
                        out.append(_named(jnode, jpath, [j, "search_sequence", i, key, k],
                                          f"{key}: no rule set '{rid}' in the library", "R404",
                                          did_you_mean(rid, ruleset_ids)))
            if e.unless is not None and e.unless not in facts:
                out.append(_named(jnode, jpath, [j, "search_sequence", i, "unless"],
                                  f"unless: '{e.unless}' is not a fact", "R405", did_you_mean(e.unless, facts)))
    pnode = _read(ppath, [])[0] if ppath.is_file() else None
    for i, p in enumerate(policy.presumptions):
        for k, pat in enumerate(p.applies_to):
            if not any(fnmatch.fnmatchcase(rid, pat) for rid in ruleset_ids):
                out.append(_named(pnode, ppath, ["presumptions", i, "applies_to", k],
                                  f"applies_to: '{pat}' matches no rule set in the library", "R406",
                                  did_you_mean(pat, ruleset_ids)))
    return out


def _named(node: yaml.Node | None, path: Path, loc: Sequence[str | int], message: str, code: str, hint: str | None) -> Problem:
    line, col = mark(node, loc) if node is not None else (None, None)
    return Problem(message, file=str(path), line=line, column=col, path=_yamlpos.dotted(loc), code=code,
                   suggestion=hint)


def raise_problems(problems: list[Problem], root: Path) -> None:
    if problems:
        raise RuleError(f"{len(problems)} problem(s) in jurisdictions.yaml / presumptions.yaml under {root}",
                        problems)


__all__ = ["JurisdictionId", "FallbackNote", "SequenceEntry", "Jurisdiction", "Presumption", "Policy", "load_policy",
           "check_policy", "UNKNOWN_KINDS", "READINGS"]
