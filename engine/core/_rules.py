"""Rule files: the YAML grammar as pydantic models (docs/authoring.md), and its JSON Schema.

A rule set is one YAML file per guideline section and edition (rules/<family>/<edition>/<section>.yaml),
with its tests beside it (<section>.tests.yaml). Reading one is engine/core/_ruleparse.py (into a RuleSet,
engine/core/_ruleset.py); every rule set of a folder is the Library (engine/core/_library.py).
"""
from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator

from . import _documentation

EFFECTS = ("certify", "limit", "non_certify", "pend", "derive", "note")


# an id of the documentation table: an unknown one is R107 at its own position, with "did you mean"
DocId = Annotated[str, AfterValidator(_documentation.check_id)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Citation(_Model):
    guideline: str | None = None     # defaults to the rule set's guideline name
    edition: str | None = None       # defaults to the rule set's guideline edition
    section: str
    pages: str | None = None

    def render(self) -> str:
        parts = [f"{self.guideline} ({self.edition})" if self.edition else str(self.guideline), self.section]
        if self.pages:
            parts.append(("pp. " if "-" in self.pages or "," in self.pages else "p. ") + self.pages)
        return ", ".join(parts)


class Effect(_Model):
    certify: Literal[True] | None = None
    non_certify: Literal[True] | None = None
    pend: Literal[True] | None = None
    note: Literal[True] | None = None
    limit: int | str | None = None                  # figure: visits that may be certified
    derive: dict[str, int | float | str | bool] | None = None
    export: bool = False                            # derived facts visible to later rule sets

    @model_validator(mode="after")
    def _one(self) -> "Effect":
        chosen = [k for k in EFFECTS if getattr(self, k) is not None]
        if len(chosen) != 1:
            raise ValueError(f"'then' needs exactly one of {', '.join(EFFECTS)} (got {', '.join(chosen) or 'none'})")
        if self.export and not self.derive:
            raise ValueError("'export' goes with 'derive'")
        return self

    @property
    def kind(self) -> str:
        return next(k for k in EFFECTS if getattr(self, k) is not None)


class Rule(_Model):
    id: str = Field(pattern=r"^[a-z0-9][a-z0-9_.-]*$")
    when: str | None = None          # may be left out only where the rule set has `applies_when`
    then: Effect
    message: str
    citation: Citation | None = None
    missing: list[DocId] = []        # documentation ids (engine/core/_documentation.py) the answer waits for
    notes: str | None = None         # confirmation status of the numbers, reviewer practice

    @field_validator("when", mode="before")
    @classmethod
    def _when_text(cls, v: Any) -> Any:
        return str(v).lower() if isinstance(v, bool) else v


    @property
    def priority(self) -> int:
        """durable_rules agenda priority: the same for every rule. Order never decides an outcome (findings
        combine by effect, tables by their hit policy), so rule files have no `priority` key."""
        return 100


class Guideline(_Model):
    name: str
    edition: str
    short: str | None = None         # e.g. "MTUS CPMTG 2009"
    source: str | None = None        # the regulation that adopts it, e.g. 8 CCR 9792.24.2


class Scope(_Model):
    services: list[str] = Field(min_length=1)
    regions: list[str] = []          # empty: every region


HIT_POLICIES = ("first", "unique", "collect-min", "collect-max")
ROW_KEYS = ("id", "label", "message", "citation", "notes", "missing")


class Column(_Model):
    """An input column over named conditions (a DMN input expression): each value is a condition, and a
    cell names values. The author states that the values exclude each other; guards never negate them."""
    name: str = Field(pattern=r"^[a-z_][a-z0-9_]*$")
    values: dict[str, str] = Field(min_length=1)


class Table(_Model):
    """A decision table: input columns (cells are tests on one fact, blank = any), output columns (derived
    facts, or `limit`), a hit policy, and rows. Each row compiles to one rule `<table id>.<row id>`."""
    id: str = Field(pattern=r"^[a-z0-9][a-z0-9_.-]*$")
    title: str | None = None
    hit: Literal["first", "unique", "collect-min", "collect-max"]
    by: list[str] = []               # collect-min / collect-max: the outputs compared, in order
    complete: bool = False           # lint: every input combination is covered by a row (R131)
    when: str | None = None          # a condition every row shares (not a column)
    inputs: list[str | Column] = Field(min_length=1)
    outputs: list[str] = Field(min_length=1)
    label: str | None = None         # the output column that carries the row label (set by a row's `label`)
    export: bool = False             # outputs are exported (reach rule sets that run later)
    message: str | None = None       # the rows' message template where a row has none (default: its label)
    citation: Citation | None = None
    notes: str | None = None
    missing: list[DocId] = []
    rows: list[dict[str, Any]] = Field(min_length=1)


    @field_validator("when", mode="before")
    @classmethod
    def _when_text(cls, v: Any) -> Any:
        return str(v).lower() if isinstance(v, bool) else v

    @model_validator(mode="after")
    def _columns(self) -> "Table":
        names = [c if isinstance(c, str) else c.name for c in self.inputs]
        if len(set(names)) != len(names):
            raise ValueError("an input column is listed twice")
        if set(names) & set(self.outputs):
            raise ValueError(f"{', '.join(sorted(set(names) & set(self.outputs)))}: a column is an input or an "
                             "output, not both")
        if "limit" in self.outputs and len(self.outputs) > 1:
            raise ValueError("a table whose output is `limit` has no other output (a row is one rule, one effect)")
        if self.label is not None and self.label not in self.outputs:
            raise ValueError(f"label: '{self.label}' is not an output column")
        if self.hit.startswith("collect-"):
            if not self.by:
                raise ValueError(f"hit {self.hit} needs `by:` (the output columns compared, in order)")
            bad = [b for b in self.by if b not in self.outputs]
            if bad:
                raise ValueError(f"by: {', '.join(bad)} is not an output column")
        elif self.by:
            raise ValueError(f"`by` goes with collect-min / collect-max, not with hit {self.hit}")
        if self.export and "limit" in self.outputs:
            raise ValueError("'export' goes with derived outputs, not with `limit`")
        return self

    @property
    def input_names(self) -> list[str]:
        return [c if isinstance(c, str) else c.name for c in self.inputs]

    def column(self, name: str) -> "Column | None":
        return next((c for c in self.inputs if isinstance(c, Column) and c.name == name), None)


class RuleSetSpec(_Model):
    id: str = Field(pattern=r"^[a-z0-9][a-z0-9_.-]*$")
    version: str
    title: str
    # where the rule set applies and with what authority: primary (the guideline the state adopts),
    # fallback (used only when no primary rule set addresses the service: ODG where the MTUS is silent),
    # supplemental (applies beside the others, e.g. a statutory visit cap)
    jurisdictions: dict[Literal["CA", "TX"], Literal["primary", "fallback", "supplemental"]] = Field(min_length=1)
    guideline: Guideline
    effective_from: dt.date
    effective_to: dt.date | None = None
    scope: Scope
    notes: str | None = None
    extends: str | None = None       # ID@VERSION this edition inherits from (see _editions)
    applies_when: str | None = None  # a condition shared by every rule and table row of the set
    tables: list[Table] = []         # decision tables; their rows come before `rules`
    rules: list[Rule] = []

    @field_validator("version", mode="before")
    @classmethod
    def _version_text(cls, v: Any) -> Any:
        return str(v) if isinstance(v, (int, float)) else v

    @field_validator("effective_to")
    @classmethod
    def _dates_in_order(cls, v: dt.date | None, info: ValidationInfo) -> dt.date | None:
        start = info.data.get("effective_from")
        if v is not None and start is not None and v < start:
            raise ValueError(f"effective_to {v} is before effective_from {start}")
        return v

    @field_validator("applies_when", mode="before")
    @classmethod
    def _applies_text(cls, v: Any) -> Any:
        return str(v).lower() if isinstance(v, bool) else v

    @model_validator(mode="after")
    def _something(self) -> "RuleSetSpec":
        if not self.rules and not self.tables:
            raise ValueError("a rule set needs at least one rule or table")
        return self


def rules_schema() -> dict[str, Any]:
    """JSON Schema of a rule file."""
    schema = RuleSetSpec.model_json_schema()
    # an edition that `extends` another states only what changes (engine/core/_editions.py)
    required = schema.pop("required", [])
    schema["properties"]["remove"] = {"type": "array", "items": {"type": "string"},
                                      "description": "extends: inherited rule, table or table-id.row-id ids to drop"}
    schema["properties"]["change"] = {"type": "object", "additionalProperties": {"type": "object"},
                                      "description": "extends: partial rules, tables or rows by id ('*': every rule and table)"}
    schema["if"] = {"required": ["extends"]}
    schema["then"] = {"required": ["version", "extends", "effective_from"]}
    schema["else"] = {"required": required, "not": {"anyOf": [{"required": ["remove"]}, {"required": ["change"]}]}}
    schema["$id"] = "https://ptcheck.invalid/schema/rules-1.json"
    schema["title"] = "ptcheck rule set"
    return schema

