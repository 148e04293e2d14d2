"""A loaded rule file (RuleSet): its spec as run, where each rule was written, and positions in its file.
"""
from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypedDict

import yaml

from . import _rulecache
from ._rulefiles import load_yaml
from ._rules import Citation, Rule, RuleSetSpec, Table
from ._yamlpos import has, mark


@dataclass
class Origin:
    """Where a rule of the expanded rule set was written: its node path in this file (None when it is
    inherited unchanged), the length of the `applies_when` prefix of its condition, and its provenance."""
    kind: str                        # rule | row
    path: list[str | int] | None     # node path in this file's YAML, e.g. ["rules", 3] or ["tables", 0, "rows", 2]
    prefix: int = 0                  # characters of "(applies_when) and (" before the written condition
    source: str = "defined here"     # or "inherited from ID@VERSION (file)", "changed here from ID@VERSION (file)"
    file: str | None = None          # the file that wrote it (the base file for inherited rules)
    line: int | None = None          # its line in that file


@dataclass
class RowInfo:
    """A table row as compiled: which table, which row, its label and the hit policy that governs it."""
    table: Table
    index: int                       # 0-based position in the table
    row: dict[str, Any]
    label: str | None
    guarded_by: list[str] = field(default_factory=list)     # rule ids of the rows that take precedence


class EditionInfo(TypedDict, total=False):
    """What an edition that `extends` another changed (engine/core/_editions.py); empty for any other."""
    base: str                        # the base's id@version
    inherited_from: str              # "id@version (file)"
    added: list[str]                 # rule, table and row ids
    changed: list[str]
    removed: list[str]


@dataclass(eq=False)
class RuleSet:
    """A loaded rule file: its spec, where it came from, and its content hash (hashed by identity).

    `spec.rules` is the expanded rule list the engine runs: every table row as a rule (tables first, in
    order), then the rules, each condition prefixed by the set's `applies_when`, after the edition this
    file `extends` has been merged in. `written` is the spec as merged, before expansion."""
    spec: RuleSetSpec
    path: Path
    sha256: str
    # the YAML node tree (for error positions); after the rules cache, REREAD until first asked for (`node`)
    stored_node: yaml.Node | str | None = field(default=None, repr=False)
    written: RuleSetSpec | None = field(default=None, repr=False)
    origins: list[Origin] = field(default_factory=list, repr=False)
    rows: dict[str, RowInfo] = field(default_factory=dict, repr=False)
    base: "RuleSet | None" = field(default=None, repr=False)
    edition: EditionInfo = field(default_factory=EditionInfo, repr=False)
    key: str = field(init=False, repr=False)                   # id@version
    cited_by_rule: dict[str, str] = field(init=False, default_factory=dict, repr=False)   # rendered citations

    def __post_init__(self) -> None:
        self.key = f"{self.spec.id}@{self.spec.version}"

    @property
    def node(self) -> yaml.Node | None:
        """The YAML node tree of the file; a rule set restored from the rules cache reads its file again the
        first time (only if it is still the text it was parsed from: else None, no positions, never wrong
        ones)."""
        if self.stored_node is _rulecache.REREAD:
            self.stored_node = _reread_node(self)
        return self.stored_node        # type: ignore[return-value]  # not REREAD: it was replaced just above

    @node.setter
    def node(self, node: yaml.Node | None) -> None:
        self.stored_node = node

    @property
    def id(self) -> str:
        return self.spec.id

    @property
    def version(self) -> str:
        return self.spec.version

    def in_force(self, on: dt.date) -> bool:
        s = self.spec
        return s.effective_from <= on and (s.effective_to is None or on <= s.effective_to)

    def citation(self, rule: Rule) -> Citation:
        c = rule.citation or Citation(section=self.spec.title)
        return c.model_copy(update={"guideline": c.guideline or self.spec.guideline.name,
                                    "edition": c.edition or self.spec.guideline.edition})

    def cited(self, rule: Rule) -> str:
        """The rendered citation of a rule (cached: rule sets do not change once loaded)."""
        hit = self.cited_by_rule.get(rule.id)
        if hit is None:
            hit = self.cited_by_rule[rule.id] = self.citation(rule).render()
        return hit

    def origin(self, index: int) -> Origin:
        if index < len(self.origins):
            return self.origins[index]
        return Origin("rule", ["rules", index])

    def at(self, index: int, *keys: str | int) -> tuple[int | None, int | None]:
        """(line, column) in this file of a rule (or one of its keys). A table row's `when`/`then` is its
        row (or the cell / output key when it has one); an inherited rule points at `extends:`."""
        if self.node is None:
            return None, None
        o = self.origin(index)
        if o.path is None:
            return mark(self.node, ["extends"]) if has(self.node, ["extends"]) else (1, 1)
        for k in (keys, keys[:1], ()):
            if has(self.node, [*o.path, *k]):
                return mark(self.node, [*o.path, *k])
        return mark(self.node, o.path) if has(self.node, o.path) else (1, 1)

    def rule_line(self, index: int) -> int | None:
        return self.at(index)[0]


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
