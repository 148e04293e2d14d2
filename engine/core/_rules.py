"""Rule files: the YAML grammar as pydantic models, loading with line marks, and the library of rule sets.

A rule set is one YAML file per guideline section and edition (rules/<family>/<edition>/<section>.yaml),
with its tests beside it (<section>.tests.yaml). See docs/authoring.md for the grammar.
"""
from __future__ import annotations

import bisect
import dataclasses
import datetime as dt
import functools
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from . import _documentation, _expr, _rulecache, _yamlpos
from ._errors import Problem, RuleError, did_you_mean
from ._paths import rules_dir
from ._yamlpos import dotted, mark

NOT_RULE_FILES = {"diagnoses.yaml", "jurisdictions.yaml", "presumptions.yaml", "override-reasons.yaml"}
EFFECTS = ("certify", "limit", "non_certify", "pend", "derive", "note")


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
    missing: list[str] = []          # documentation ids (engine/core/_documentation.py) the answer waits for
    notes: str | None = None         # confirmation status of the numbers, reviewer practice

    @field_validator("when", mode="before")
    @classmethod
    def _when_text(cls, v: Any) -> Any:
        return str(v).lower() if isinstance(v, bool) else v

    @field_validator("missing")
    @classmethod
    def _documentation_ids(cls, v: list[str]) -> list[str]:
        return [_documentation.check_id(d) for d in v]

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
    missing: list[str] = []
    rows: list[dict[str, Any]] = Field(min_length=1)

    @field_validator("missing")
    @classmethod
    def _documentation_ids(cls, v: list[str]) -> list[str]:
        return [_documentation.check_id(d) for d in v]

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
    def _dates_in_order(cls, v: dt.date | None, info) -> dt.date | None:
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


@dataclass
class Origin:
    """Where a rule of the expanded rule set was written: its node path in this file (None when it is
    inherited unchanged), the length of the `applies_when` prefix of its condition, and its provenance."""
    kind: str                        # rule | row
    path: list | None                # node path in this file's YAML, e.g. ["rules", 3] or ["tables", 0, "rows", 2]
    prefix: int = 0                  # characters of "(applies_when) and (" before the written condition
    source: str = "defined here"     # or "inherited from ID@VERSION (file)", "changed here from ID@VERSION (file)"
    file: str | None = None          # the file that wrote it (the base file for inherited rules)
    line: int | None = None          # its line in that file


@dataclass
class RowInfo:
    """A table row as compiled: which table, which row, its label and the hit policy that governs it."""
    table: Table
    index: int                       # 0-based position in the table
    row: dict
    label: str | None
    guarded_by: list[str] = field(default_factory=list)     # rule ids of the rows that take precedence


@dataclass(eq=False)
class RuleSet:
    """A loaded rule file: its spec, where it came from, and its content hash (hashed by identity).

    `spec.rules` is the expanded rule list the engine runs: every table row as a rule (tables first, in
    order), then the rules, each condition prefixed by the set's `applies_when`, after the edition this
    file `extends` has been merged in. `written` is the spec as merged, before expansion."""
    spec: RuleSetSpec
    path: Path
    sha256: str
    node: yaml.Node | None = field(default=None, repr=False)
    written: RuleSetSpec | None = field(default=None, repr=False)
    origins: list[Origin] = field(default_factory=list, repr=False)
    rows: dict[str, RowInfo] = field(default_factory=dict, repr=False)
    base: "RuleSet | None" = field(default=None, repr=False)
    edition: dict = field(default_factory=dict, repr=False)    # added / changed / removed ids, inherited ids

    @property
    def id(self) -> str:
        return self.spec.id

    @property
    def version(self) -> str:
        return self.spec.version

    @property
    def key(self) -> str:
        k = self.__dict__.get("_key")
        if k is None:
            k = self.__dict__["_key"] = f"{self.spec.id}@{self.spec.version}"
        return k

    def in_force(self, on: dt.date) -> bool:
        s = self.spec
        return s.effective_from <= on and (s.effective_to is None or on <= s.effective_to)

    def citation(self, rule: Rule) -> Citation:
        c = rule.citation or Citation(section=self.spec.title)
        return c.model_copy(update={"guideline": c.guideline or self.spec.guideline.name,
                                    "edition": c.edition or self.spec.guideline.edition})

    def cited(self, rule: Rule) -> str:
        """The rendered citation of a rule (cached: rule sets do not change once loaded)."""
        cache = self.__dict__.setdefault("_cited", {})
        if rule.id not in cache:
            cache[rule.id] = self.citation(rule).render()
        return cache[rule.id]

    def origin(self, index: int) -> Origin:
        if index < len(self.origins):
            return self.origins[index]
        return Origin("rule", ["rules", index])

    def at(self, index: int, *keys) -> tuple[int | None, int | None]:
        """(line, column) in this file of a rule (or one of its keys). A table row's `when`/`then` is its
        row (or the cell / output key when it has one); an inherited rule points at `extends:`."""
        if self.node is None:
            return None, None
        o = self.origin(index)
        if o.path is None:
            return mark(self.node, ["extends"]) if _has(self.node, ["extends"]) else (1, 1)
        for k in (keys, keys[:1], ()):
            if _has(self.node, [*o.path, *k]):
                return mark(self.node, [*o.path, *k])
        return mark(self.node, o.path) if _has(self.node, o.path) else (1, 1)

    def rule_line(self, index: int) -> int | None:
        return self.at(index)[0]


def _node_get(self: RuleSet) -> yaml.Node | None:
    node = self.__dict__.get("_node")
    if node is _rulecache.REREAD:
        node = self.__dict__["_node"] = _reread_node(self)
    return node


def _node_set(self: RuleSet, node: yaml.Node | None) -> None:
    self.__dict__["_node"] = node


def _reread_node(self: RuleSet) -> yaml.Node | None:
    """The node tree of a rule set restored from the cache: its file read again, only if it is still the text
    the rule set was parsed from (same sha256); else None (no positions, never wrong ones)."""
    try:
        text = self.path.read_text(encoding="utf-8")
        sha_text = text if self.base is None else text + "\n# extends " + self.base.sha256
        if hashlib.sha256(sha_text.encode("utf-8")).hexdigest() != self.sha256:
            return None
        node, _ = load_yaml(text, str(self.path))
        return node
    except Exception:
        return None


# `node` is a property over `_node`, so that a rule set from the cache reads its YAML node tree (needed only for
# error positions) when first asked for it
RuleSet.node = property(_node_get, _node_set)       # type: ignore[assignment,method-assign]


def _has(node, loc: list) -> bool:
    """Does the node tree hold exactly this path?"""
    cur = node
    for part in loc:
        if isinstance(cur, yaml.MappingNode):
            cur = next((v for k, v in cur.value if k.value == str(part)), None)
        elif isinstance(cur, yaml.SequenceNode) and isinstance(part, int) and part < len(cur.value):
            cur = cur.value[part]
        else:
            return False
        if cur is None:
            return False
    return True


def parse_ruleset(text: str, path: Path | str = "<input>", *, _seen: frozenset = frozenset()) -> tuple[RuleSet | None, list[Problem]]:
    """Parse and validate one rule file. Never raises for bad content: returns its problems.

    A file that `extends: ID@VERSION` is merged with that edition (found in the same rules folder) first;
    then tables and `applies_when` are expanded into the rule list the engine runs."""
    path = Path(path)
    src = str(path)
    try:
        node, data = load_yaml(text, src)
    except _yamlpos.InputError as e:
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
    base, edition, where = None, {}, None
    if isinstance(data, dict) and data.get("extends") is not None:
        base, problems = _editions.resolve_base(data, path, node, _seen)
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


def load_yaml(text: str, source: str = "<input>") -> tuple[yaml.Node | None, Any]:
    """The one place rule-library YAML is read: (node tree with line marks, plain data), through the
    bounded safe loader (_yamlpos: alias bombs, depth, size, duplicate keys, tags). Raises InputError."""
    docs = _yamlpos.load_yaml(text, source, _yamlpos.RULE_FILE)
    if not docs:
        return None, None
    if len(docs) > 1:
        raise _yamlpos.InputError(f"{source}: a rule file holds one YAML document",
                                  [Problem("a rule file holds one YAML document (remove the extra '---')",
                                           file=source, line=1, code="R001")])
    return docs[0]


def _drop(data, loc: list) -> None:
    cur = data
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


@functools.lru_cache(maxsize=4096)
def template_names(template: str) -> frozenset[str]:
    """The fact names a message template renders: '{total_visits} of {course_visits}' -> both."""
    return frozenset(f.name for f in _expr.parse_template(template)[0])


def rules_schema() -> dict:
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


def rule_files(root: Path | None = None) -> list[Path]:
    root = root or rules_dir()
    return sorted(p for p in root.rglob("*.yaml")
                  if p.name not in NOT_RULE_FILES and not p.name.endswith(".tests.yaml"))


def tests_file(rule_file: Path) -> Path:
    return rule_file.with_name(rule_file.name[: -len(".yaml")] + ".tests.yaml")


class Library:
    """Every rule set under a folder, and the choice of those in force for a case."""

    def __init__(self, rulesets: list[RuleSet], root: Path | None = None, *, diagnoses: "_dx.DxTable | None" = None,
                 policy: "_jurisdictions.Policy | None" = None):
        """rulesets: the library's rule sets; diagnoses: its diagnosis category table (default: the
        diagnoses.yaml of `root`, else of the default rules folder); policy: its jurisdictions.yaml and
        presumptions.yaml (default: those of `root`, else none). Raises RuleError on duplicate ids,
        overlapping versions, or a policy naming rule sets or facts the library does not have."""
        self.rulesets = rulesets
        self.root = root
        if diagnoses is None:
            dx = root / "diagnoses.yaml" if root is not None else None
            diagnoses = _dx.DxTable.load(dx) if dx is not None and dx.is_file() else _dx.default_table()
        self.diagnoses = diagnoses
        check_policy = policy is None and root is not None
        if policy is None:
            policy, problems = _jurisdictions.load_policy(root) if root is not None else (_jurisdictions.Policy(), [])
            _jurisdictions.raise_problems(problems, root or Path("."))
        self.policy = policy
        self.check_duplicates(rulesets)
        self.check_overlaps(rulesets)
        if check_policy and root is not None:
            from ._compile import exported_types
            from ._facts import FACT_TYPES
            names = set(FACT_TYPES) | set(exported_types(rulesets))
            _jurisdictions.raise_problems(
                _jurisdictions.check_policy(policy, root, {rs.id for rs in rulesets}, names), root)
        self._in_force: dict[tuple, list[RuleSet]] = {}
        self._bound_dates: list[dt.date] | None = None

    @classmethod
    def load(cls, root: Path | str | None = None, extra: list[Path] | None = None) -> "Library":
        root = Path(root) if root else rules_dir()
        yamls = _yaml_files(root) if root.is_dir() else []
        files = [p for p in yamls if p.name not in NOT_RULE_FILES]           # rule_files(root)
        if not files:
            raise RuleError(f"no rule files under {root}", [Problem(
                f"no rule files under {root}: a library needs at least one rule set", file=str(root),
                code="R002", suggestion="point --rules (or $PTCHECK_RULES) at a folder of rule sets")])
        dx = root / "diagnoses.yaml"
        if not dx.is_file():
            raise RuleError(f"no diagnoses.yaml in {root}", [Problem(
                f"no diagnoses.yaml in {root}: the diagnosis categories are read from the chosen rules folder",
                file=str(root), code="R002")])
        all_files = files + list(extra or [])
        key = key_files = None
        if not extra and _rulecache.cache_dir() is not None:
            key_files = _key_files(root, yamls)
            key = _library_key(root, key_files)
        if key is not None:
            cached = _rulecache.read(_rulecache.library_entry(root), key)
            if isinstance(cached, dict) and cached.get("key") == key and isinstance(cached.get("library"), cls):
                return cached["library"]      # as built (and checked: duplicates, overlaps) when it was written
        lib = cls._parse(root, all_files)
        if key is not None and key_files is not None and key == _library_key(root, key_files):   # not edited meanwhile
            value = {"key": key, "library": lib}
            _rulecache.write(_rulecache.library_entry(root), key, value,
                             nodes=sum(rs.__dict__.get("_node") is not None for rs in lib.rulesets))
        return lib

    @classmethod
    def _parse(cls, root: Path, all_files: list[Path]) -> "Library":
        sets: list[RuleSet] = []
        problems: list[Problem] = []
        loading: dict = {}                  # each file parsed once, also where an edition needs it as its base
        token = _editions.LOADING.set(loading)
        try:
            for f in all_files:
                text = f.read_text(encoding="utf-8")
                hit = loading.get((str(f), text))
                rs, probs = hit if hit is not None else parse_ruleset(text, f)
                loading[(str(f), text)] = (rs, probs)
                problems += probs
                if rs:
                    sets.append(rs)
        finally:
            _editions.LOADING.reset(token)
        if problems:
            raise RuleError(f"{len(problems)} problem(s) in the rule files under {root} "
                            "(run 'ptcheck rules lint' for all checks)", problems)
        return cls(sets, root)

    @staticmethod
    def check_duplicates(rulesets: list[RuleSet]) -> None:
        """Each id@version once; a rule id belongs to one rule set (its versions may reuse it). Raises
        RuleError (R203) with every problem."""
        problems: list[Problem] = []
        keys: dict[str, Path] = {}
        owner: dict[str, RuleSet] = {}
        for rs in rulesets:
            if rs.key in keys:
                problems.append(Problem(f"rule set {rs.key} is defined twice (also in {keys[rs.key]})",
                                        file=str(rs.path), line=mark(rs.node, ["version"])[0] if rs.node else None,
                                        code="R203", suggestion="give the new edition a new version"))
            keys.setdefault(rs.key, rs.path)
            for i, r in enumerate(rs.spec.rules):
                first = owner.setdefault(r.id, rs)
                if first.id != rs.id:
                    problems.append(Problem(
                        f"rule id '{r.id}' is also used by rule set {first.id} ({first.path}): rule ids are unique "
                        "across the library", file=str(rs.path),
                        line=mark(rs.node, ["rules", i, "id"])[0] if rs.node else None, code="R203"))
        if problems:
            raise RuleError("duplicate ids in the rule library", problems)

    @staticmethod
    def check_overlaps(rulesets: list[RuleSet]) -> None:
        """Versions of one rule set do not overlap in their effective dates. Raises RuleError (R201)."""
        by_id: dict[str, list[RuleSet]] = {}
        for rs in rulesets:
            by_id.setdefault(rs.id, []).append(rs)
        problems = []
        for rid, sets in by_id.items():
            sets.sort(key=lambda r: r.spec.effective_from)
            for a, b in zip(sets, sets[1:]):
                if a.spec.effective_to is None or a.spec.effective_to >= b.spec.effective_from:
                    problems.append(Problem(
                        f"rule set {rid}: version {a.version} ({a.spec.effective_from} to "
                        f"{a.spec.effective_to or 'open'}) overlaps version {b.version} (from {b.spec.effective_from})",
                        file=str(b.path), line=mark(b.node, ["effective_from"])[0] if b.node else None,
                        code="R201", suggestion="set effective_to of the older version to the day before"))
        if problems:
            raise RuleError("overlapping effective dates", problems)

    def get(self, ref: str) -> RuleSet:
        """'id@version' or 'id' (newest)."""
        rid, _, ver = ref.partition("@")
        cands = [r for r in self.rulesets if r.id == rid and (not ver or r.version == ver)]
        if not cands:
            versions = sorted(r.version for r in self.rulesets if r.id == rid)
            hint: str | None
            if versions:          # the id exists: name its versions
                hint = "(its versions: " + ", ".join(versions) + ")"
            else:
                hint = did_you_mean(ref, sorted({r.key for r in self.rulesets}))
            raise RuleError(f"no rule set {ref!r}", [Problem(f"no rule set {ref!r}", code="R300", suggestion=hint)])
        return max(cands, key=lambda r: r.spec.effective_from)

    def in_force(self, jurisdiction: str, on: dt.date | None, pins: dict[str, str] | None = None) -> list[RuleSet]:
        """Rule sets of a jurisdiction in force on a date (newest of each id when no date), pins applied."""
        # every date between two consecutive effective_from / day-after-effective_to dates of the library
        # has the same rule sets in force: the cache is keyed by that span, not by the day
        key = (jurisdiction, self.span(on), tuple(sorted(pins.items())) if pins else ())
        hit = self._in_force.get(key)
        if hit is None:
            hit = self._in_force[key] = self._select(jurisdiction, on, pins or {})
        return hit

    def span(self, on: dt.date | None) -> int | None:
        """Which span of the library's effective dates a day falls in: every day of one span has the same
        rule sets in force (and the same fallback notes and search-sequence entries)."""
        if self._bound_dates is None:
            days = set()
            for rs in self.rulesets:
                days.add(rs.spec.effective_from)
                if rs.spec.effective_to is not None and rs.spec.effective_to < dt.date.max:   # 9999-12-31: open
                    days.add(rs.spec.effective_to + dt.timedelta(days=1))
            for j in self.policy.jurisdictions.values():
                for d in [*j.fallback_notes, *j.search_sequence]:
                    days.add(d.effective_from)
                    if d.effective_to is not None:
                        days.add(d.effective_to + dt.timedelta(days=1))
            self._bound_dates = sorted(days)
        return None if on is None else bisect.bisect_right(self._bound_dates, on)

    def version_in_force(self, rid: str, on: dt.date | None, pins: dict[str, str] | None = None) -> RuleSet | None:
        """The version of one rule set in force on a date (the newest with no date), or the pinned one."""
        cands = [rs for rs in self.rulesets if rs.id == rid]
        if pins and rid in pins:
            return next((rs for rs in cands if rs.version == pins[rid]), None)
        if on is not None:
            cands = [rs for rs in cands if rs.in_force(on)]
        return max(cands, key=lambda r: r.spec.effective_from, default=None)

    def _select(self, jurisdiction: str, on: dt.date | None, pins: dict[str, str]) -> list[RuleSet]:
        chosen: dict[str, RuleSet] = {}
        for rs in self.rulesets:
            if jurisdiction not in rs.spec.jurisdictions:
                continue
            if rs.id in pins:
                if rs.version == pins[rs.id]:
                    chosen[rs.id] = rs
                continue
            if on is None:
                if rs.id not in chosen or rs.spec.effective_from > chosen[rs.id].spec.effective_from:
                    chosen[rs.id] = rs
            elif rs.in_force(on):
                chosen[rs.id] = rs
        order = ("supplemental", "primary", "fallback")
        roles = {k: {str(j): str(v) for j, v in r.spec.jurisdictions.items()} for k, r in chosen.items()}
        return sorted(chosen.values(), key=lambda r: (order.index(roles[r.id][jurisdiction]), r.id))


def _yaml_files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*.yaml") if not p.name.endswith(".tests.yaml"))


def _key_files(root: Path, found: list[Path]) -> list[Path] | None:
    """The files a library's cache key hashes: every YAML file under the folder but the tests (rule files,
    jurisdictions.yaml, and each diagnoses.yaml, which decides where an edition's base is looked for); None
    (no caching) when one of them is a link (it may lie elsewhere, where its base would be looked for;
    rglob does not enter linked folders)."""
    try:
        return None if any(p.is_symlink() for p in found) else found
    except OSError:
        return None


def _library_key(root: Path, files: list[Path] | None) -> str | None:
    if files is None:
        return None
    try:
        return _rulecache.library_key(root, files)
    except OSError:                     # a file that cannot be read: the parse reports it
        return None


from . import _dx, _editions, _jurisdictions, _tables  # noqa: E402  (they use the models above)
