"""Editions that inherit: a rule file that `extends: ID@VERSION` states only what its edition changes.

    id: mtus.cpmtg.physical-medicine        # optional: the base's id
    version: "2016.1"                       # required: never inherited
    extends: mtus.cpmtg.physical-medicine@2009.1
    effective_from: 2016-07-29              # required; effective_to is never inherited (absent: open)
    guideline: {edition: "2016"}            # merged key by key into the base's
    remove: [pm.frequency-over-3, lb.row.curvature]        # rule ids, table ids, or table-id.row-id
    change:                                 # partial rules / tables / rows, merged key by key
      "*": {citation: {pages: null}}        # every inherited rule (null removes a key)
      pm.over-course: {missing: [...]}
      lb.row.radiculitis: {course_visits: 14}              # a table row: its cells and outputs
    rules: [...]                            # new rules (appended), or whole replacements (same id)
    tables: [...]                           # new tables, or whole replacements

Every other key replaces the base's (title, notes, scope, jurisdictions, applies_when). The base is found
in the same rules folder (the nearest folder above the file holding diagnoses.yaml, else the default).
Tests are inherited too (engine/authoring/_ruletest.py).
"""
from __future__ import annotations

import contextvars
import copy
import hashlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

import yaml

from ._errors import Problem, did_you_mean
from ._rulefiles import load_yaml, rule_files
from ._ruleset import EditionInfo, RuleSet
from ._yamlpos import mark

_NOT_INHERITED = ("version", "effective_from", "effective_to", "extends")
_EDITION_KEYS = ("extends", "remove", "change", "rules", "tables")
Parsed = tuple[RuleSet | None, list[Problem]]      # what parse_ruleset returns
_PARSED: dict[tuple[str, str], Parsed] = {}
# (file, sha256 of its text) -> (id, version) of a rule file, or None when it is not a readable mapping: the
# search for a base reads each file's header once per process, not once per edition that extends
_HEADERS: dict[tuple[str, bytes], tuple[object, object] | None] = {}
_NO_ID = object()                   # an edition without `id`: known by the id its `extends` names
# set by Library.load (engine/core/_library.py) for the duration of one load: (file, text) -> parse_ruleset
# result, so that a base parsed for an edition is the library's own rule set (each file parsed once per load)
LOADING: contextvars.ContextVar[dict[tuple[str, str], Parsed] | None] = contextvars.ContextVar("ptcheck_loading",
                                                                                           default=None)


class Parse(Protocol):
    """engine/core/_ruleparse.py's parse_ruleset, as resolve_base calls it."""
    def __call__(self, text: str, path: Path | str = ..., *, _seen: frozenset[str] = ...) -> Parsed: ...


def _header_key(f: Path | str, text: str) -> tuple[str, bytes]:
    return str(f), hashlib.sha256(text.encode("utf-8", "surrogatepass")).digest()    # not the text: kept small


def _header(f: Path, text: str) -> tuple[object, object] | None:
    """(id, version) of a rule file (id _NO_ID: none given, it extends), or None."""
    key = _header_key(f, text)
    if key in _HEADERS:
        return _HEADERS[key]
    try:
        _, other = load_yaml(text, str(f))
    except Exception:           # a broken file is reported when it is linted itself
        other = None
    return note_header(f, text, other)


def note_header(f: Path | str, text: str, other: Any) -> tuple[object, object] | None:
    """Remember the header of a file read elsewhere (parse_ruleset) from its data as loaded."""
    key = _header_key(f, text)
    head = None
    if isinstance(other, dict):      # the id an edition's base is known by: its own, else (extends) the one sought
        head = (other["id"] if "id" in other else _NO_ID if other.get("extends") else None, other.get("version"))
    if len(_HEADERS) > 4096:
        _HEADERS.clear()
    _HEADERS[key] = head
    return head


def library_root(path: Path) -> Path:
    from ._paths import rules_dir
    for parent in Path(path).resolve().parents:
        if (parent / "diagnoses.yaml").is_file():
            return parent
    return rules_dir()


def _where(node: yaml.Node | None, loc: Sequence[str | int]) -> tuple[int | None, int | None]:
    return mark(node, loc) if node is not None else (None, None)


def resolve_base(data: dict[str, Any], path: Path, node: yaml.Node, seen: frozenset[str], parse: Parse) -> Parsed:
    """The RuleSet this file extends (parsed by `parse`, engine/core/_ruleparse.py's parse_ruleset, itself
    resolved), or (None, problems)."""
    src = str(path)
    ref = str(data.get("extends"))
    line, col = _where(node, ["extends"])
    rid, _, ver = ref.partition("@")
    if not ver:
        return None, [Problem(f"extends: write ID@VERSION, not {ref!r}", file=src, line=line, column=col,
                              code="R210")]
    if src in seen:
        return None, [Problem(f"extends: {ref} leads back to this file (editions extend each other in a cycle)",
                              file=src, line=line, column=col, code="R210")]
    root = library_root(path)
    known = []
    for f in rule_files(root) if root.is_dir() else []:
        if f.resolve() == Path(path).resolve():
            continue
        try:
            text = f.read_text(encoding="utf-8")
        except Exception:           # a broken file is reported when it is linted itself
            continue
        head = _header(f, text)
        if head is None:
            continue
        oid, oversion = head
        okey = f"{rid if oid is _NO_ID else oid}@{oversion}"
        known.append(okey)
        if okey != ref and not ((oid is None or oid is _NO_ID) and str(oversion) == ver):
            continue
        cache_key = (str(f), text)
        loading = LOADING.get()
        hit = loading.get(cache_key) if loading is not None else None
        if hit is not None and hit[0] is not None:
            base, problems = hit          # parsed in this load and loaded: the same with any `seen`
        else:
            if cache_key not in _PARSED:
                if len(_PARSED) > 512:
                    _PARSED.clear()
                _PARSED[cache_key] = parse(text, f, _seen=seen | {src})
            base, problems = _PARSED[cache_key]
            if loading is not None and base is not None:
                loading[cache_key] = (base, problems)
        if base is None and okey == ref:         # the edition is there but has errors (reported with its file)
            return None, [Problem(f"extends: {ref} ({f}) does not load", file=src, line=line, column=col,
                                  code="R210", suggestion=f"fix {f.name} first (ptcheck rules lint {f})")]
        if base is None or base.key != ref:
            continue
        if any(p.severity == "error" for p in problems):
            return None, [Problem(f"extends: {ref} ({f}) does not load", file=src, line=line, column=col,
                                  code="R210")] + problems
        return base, []
    return None, [Problem(f"extends: no rule set {ref} under {root}", file=src, line=line, column=col,
                          code="R210", suggestion=did_you_mean(ref, known))]


def written_data(rs: RuleSet) -> dict[str, Any]:
    """A loaded rule set's merged spec as plain data (what an edition extending it starts from)."""
    assert rs.written is not None                   # parse_ruleset sets it on every rule set it returns
    data = rs.written.model_dump(mode="python", exclude_none=True, exclude_defaults=False)
    for r in data.get("rules", []):
        if not r.get("then", {}).get("export"):
            r.get("then", {}).pop("export", None)
    return data


def _merge_partial(old: dict[str, Any], partial: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(old)
    for k, v in partial.items():
        if v is None:
            out.pop(k, None)
        elif k in ("citation", "guideline") and isinstance(v, dict) and isinstance(out.get(k), dict):
            merged = {**out[k], **v}
            out[k] = {a: b for a, b in merged.items() if b is not None}
        else:
            out[k] = copy.deepcopy(v)
    return out


def merge(base: RuleSet, child: dict[str, Any], node: yaml.Node, src: str
          ) -> tuple[dict[str, Any], EditionInfo, dict[str, list[str | int] | None], list[Problem]]:
    """(merged data, edition info, where, problems): the base's data with this file's changes applied.
    `where` maps rule / table / row ids to their node path in this file (None: inherited unchanged)."""
    problems: list[Problem] = []
    out = written_data(base)
    for k in _NOT_INHERITED:
        out.pop(k, None)
    for k, v in child.items():
        if k in _EDITION_KEYS:
            continue
        if k == "guideline" and isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = {a: b for a, b in {**out[k], **v}.items() if b is not None}
        else:
            out[k] = copy.deepcopy(v)
    out["extends"] = child["extends"]
    if "id" not in child:
        out["id"] = base.id
    rules: list[dict[str, Any]] = out.get("rules", [])
    tables: list[dict[str, Any]] = out.get("tables", [])
    where: dict[str, list[str | int] | None] = {}
    changed: list[str] = []
    removed: list[str] = []
    added: list[str] = []

    def row_of(full: str) -> tuple[dict[str, Any], int] | tuple[None, None]:
        for t in tables:
            if full.startswith(t["id"] + "."):
                rest = full[len(t["id"]) + 1:]
                for i, r in enumerate(t["rows"]):
                    if str(r.get("id", f"row{i + 1}")) == rest or (r.get("id") is None and rest == f"row{i + 1}"):
                        return t, i
        return None, None

    ids = [r["id"] for r in rules] + [t["id"] for t in tables] + \
          [f"{t['id']}.{r.get('id', f'row{i + 1}')}" for t in tables for i, r in enumerate(t["rows"])]
    for n, rid in enumerate(child.get("remove") or []):
        rid = str(rid)
        loc: list[str | int] = ["remove", n]
        if any(r["id"] == rid for r in rules):
            rules = [r for r in rules if r["id"] != rid]
        elif any(t["id"] == rid for t in tables):
            tables = [t for t in tables if t["id"] != rid]
        else:
            t, i = row_of(rid)
            if t is None:
                line, col = _where(node, loc)
                problems.append(Problem(f"remove: {base.key} has no rule, table or row '{rid}'", file=src, line=line,
                                        column=col, code="R211", suggestion=did_you_mean(rid, ids)))
                continue
            t["rows"] = [r for j, r in enumerate(t["rows"]) if j != i]
        removed.append(rid)
    change = child.get("change") or {}
    if not isinstance(change, dict):
        line, col = _where(node, ["change"])
        problems.append(Problem("change: a mapping of ids to what changes", file=src, line=line, column=col,
                                code="R104"))
        change = {}
    for rid, partial in change.items():
        rid = str(rid)
        loc = ["change", rid]
        if not isinstance(partial, dict):
            line, col = _where(node, loc)
            problems.append(Problem(f"change: {rid}: a mapping of what changes", file=src, line=line, column=col,
                                    code="R104"))
            continue
        if rid == "*":                       # every inherited rule and table, and what rows state themselves
            rules = [_merge_partial(r, partial) for r in rules]
            tables = [_merge_partial(t, partial) for t in tables]
            for t in tables:
                t["rows"] = [_merge_partial(r, {k: v for k, v in partial.items() if k in r}) for r in t["rows"]]
            continue
        hit = False
        for i, r in enumerate(rules):
            if r["id"] == rid:
                rules[i] = _merge_partial(r, partial)
                hit = True
        for i, t in enumerate(tables):
            if t["id"] == rid:
                tables[i] = _merge_partial(t, partial)
                hit = True
        if not hit:
            t, i = row_of(rid)
            if t is not None:
                t["rows"][i] = _merge_partial(t["rows"][i], partial)
                hit = True
        if not hit:
            line, col = _where(node, loc)
            problems.append(Problem(f"change: {base.key} has no rule, table or row '{rid}'", file=src, line=line,
                                    column=col, code="R211", suggestion=did_you_mean(rid, ids)))
            continue
        where[rid] = loc
        changed.append(rid)
    if "*" in change:
        for r in rules:
            where.setdefault(r["id"], ["change", "*"])
        for t in tables:
            where.setdefault(t["id"], ["change", "*"])
    for section, current in (("rules", rules), ("tables", tables)):
        for n, r in enumerate(child.get(section) or []):
            if not isinstance(r, dict) or "id" not in r:
                current.append(r)                # validation reports it
                continue
            pos = next((i for i, o in enumerate(current) if o["id"] == r["id"]), None)
            if pos is None:
                current.append(r)
                added.append(r["id"])
            else:
                current[pos] = r
                changed.append(r["id"])
            where[r["id"]] = [section, n]
    out["rules"] = rules
    out["tables"] = tables
    edition: EditionInfo = {"base": base.key, "inherited_from": f"{base.key} ({base.path})", "added": added,
               "changed": changed, "removed": removed}
    return out, edition, where, problems
