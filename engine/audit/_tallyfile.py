"""The serialised form of a Tally (see engine/audit/_tally.py's docstring): writing it, and reading it back only
when it can be trusted: its checksum, its schema (pydantic, strict: every count a whole number from 0 to
MAX_COUNT, the fixed labels and groups) and its counts against one another (inconsistency()). A checkpoint's
tally is this same form (engine/audit/_checkpoint.py).
"""
from __future__ import annotations

import hashlib
import json
from collections import Counter
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ..core._textsafe import redact
from ._report import DIMENSIONS, LABELS, Disagreement
from ._tally import _COUNTS, GROUPS, MAX_COUNT, TALLY_FORMAT, Tally, TallyError


def to_text(self: Tally) -> str:
    """The tally as compact JSON (the module docstring's form), every listed disagreement included."""
    head: dict[str, Any] = {"format": TALLY_FORMAT, "labels": list(LABELS)}
    head.update((name, getattr(self, name)) for name in _COUNTS)
    head["confusion"] = [[self.confusion.get((p, a), 0) for a in LABELS] for p in LABELS]
    head["groups"] = {g: {"confusion": [[self.group_confusion.get((g, p, a), 0) for a in LABELS] for p in LABELS],
                          "decided": self.group_decided.get(g, 0)} for g in GROUPS}
    head["breakdowns"] = {dim: {k: [n, self.dim_agree.get((d, k), 0)]
                                for (d, k), n in sorted(self.dim_items.items()) if d == dim}
                          for dim in DIMENSIONS}
    text = _dump(head)
    # the listed disagreements are compact JSON texts already: spliced in, never parsed again
    return (text[:-1] + ',"disagreements":[' + ",".join(self.disagreements) + '],"errors":'
            + _dump(self.errors) + "}")

def from_text(cls: type[Tally], text: str | bytes, source: str = "<tally>") -> Tally:
    """A tally from to_text()'s form, validated (TallyError naming `source` and what is wrong)."""
    try:
        doc = json.loads(text)
    except (ValueError, UnicodeDecodeError) as e:
        raise TallyError(f"{source}: not a tally: the JSON cannot be read ({_json_words(e)})") from None
    return from_state(cls, doc, source)

def from_state(cls: type[Tally], doc: Any, source: str = "<tally>", prefix: str = "") -> Tally:
    """A tally from to_text()'s form parsed as JSON, validated. Errors name `source` and the field, its
    path after `prefix` (a checkpoint's tally: "tally.")."""
    if not isinstance(doc, dict) or doc.get("format") != TALLY_FORMAT:
        raise TallyError(f"{source}: {prefix.rstrip('.') or 'the file'} is not a ptcheck audit tally (wrong or missing "
                         f"format; expected {TALLY_FORMAT})")
    try:
        state = _State.model_validate(doc)
    except ValidationError as e:
        err = e.errors(include_url=False)[0]
        where = prefix + ".".join(str(p) for p in err["loc"]) if err["loc"] else prefix.rstrip(".") or "the tally"
        raise TallyError(f"{source}: {where}: {_schema_words(err)}") from None
    t = cls(**{name: getattr(state, name) for name in _COUNTS})
    for i, p in enumerate(LABELS):
        for j, a in enumerate(LABELS):
            if state.confusion[i][j]:
                t.confusion[(p, a)] = state.confusion[i][j]
            for g in GROUPS:
                if state.groups[g].confusion[i][j]:
                    t.group_confusion[(g, p, a)] = state.groups[g].confusion[i][j]
    for g in GROUPS:
        if state.groups[g].decided:
            t.group_decided[g] = state.groups[g].decided
    for dim, keys in state.breakdowns.items():
        for k, (n, agree) in keys.items():
            t.dim_items[(dim, k)] = n
            t.dim_agree[(dim, k)] = agree
    # validated above; kept as written, so that to_text() of a tally read back is the text it was read from
    t.disagreements = [_dump(d) for d in doc["disagreements"]]
    t.errors = list(doc["errors"])
    problem = inconsistency(t)
    if problem:
        raise TallyError(f"{source}: {prefix.rstrip('.') or 'the tally'} does not add up ({problem}): "
                         "it is damaged or was edited")
    return t

def inconsistency(self: Tally) -> str | None:
    """What does not add up in these counts, or None."""
    trace = sum(n for (p, a), n in self.confusion.items() if p == a)
    checks = [
        (self.cases_checked <= self.cases_valid <= self.cases, "cases_checked <= cases_valid <= cases"),
        (self.error_count == self.cases - self.cases_checked, "error_count = cases - cases_checked"),
        (self.items <= self.items_total, "items <= items_total"),
        (sum(self.confusion.values()) == self.items, "the confusion matrix adds up to items"),
        (trace == self.agree, "agree is the confusion matrix's diagonal"),
        (self.disagreement_count == self.items - self.agree, "disagreement_count = items - agree"),
        (len(self.disagreements) <= self.disagreement_count, "no more disagreements listed than counted"),
        (len(self.errors) <= self.error_count, "no more errors listed than counted"),
    ]
    group_sum: Counter = Counter()
    for (_, p, a), n in self.group_confusion.items():
        group_sum[(p, a)] += n
    checks.append((group_sum == +self.confusion, "the groups' confusion matrices add up to the whole"))
    for g in GROUPS:
        g_items = sum(n for (grp, _, _), n in self.group_confusion.items() if grp == g)
        checks.append((self.group_decided[g] <= g_items, f"groups.{g}.decided <= its items"))
    for dim in DIMENSIONS:
        total = sum(n for (d, _), n in self.dim_items.items() if d == dim)
        ok = total >= self.items if dim == "ruleset" else total == self.items
        checks.append((ok, f"breakdowns.{dim} adds up to items"))
    checks.append((all(self.dim_agree[k] <= n for k, n in self.dim_items.items()),
                   "each breakdown's agree <= its items"))
    return next((words for ok, words in checks if not ok), None)

def write(self: Tally, path: str | Path) -> None:
    """Write the tally to `path` atomically (readable by its owner only), with the sha256 of its text."""
    from ._checkpoint import write_atomic
    body = to_text(self)
    write_atomic(Path(path), ['{"sha256":"', _sha(body), '","tally":', body, "}\n"])

def read(cls: type[Tally], path: str | Path) -> Tally:
    """A tally written by write(): its checksum, schema and counts verified (TallyError otherwise)."""
    source = str(path)
    try:
        raw = Path(path).read_bytes()
    except OSError as e:
        raise TallyError(f"{source}: cannot read the tally: {e.strerror or e}") from None
    try:
        doc = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as e:
        raise TallyError(f"{source}: not a tally: the JSON cannot be read ({_json_words(e)})") from None
    if not isinstance(doc, dict) or set(doc) != {"sha256", "tally"}:
        raise TallyError(f"{source}: not a ptcheck audit tally file (write one with ptcheck audit --tally-out)")
    if not isinstance(doc["tally"], dict) or doc["sha256"] != _sha(_dump(doc["tally"])):
        raise TallyError(f"{source}: the checksum does not match the content: the tally is damaged or was "
                         "edited; write it again with ptcheck audit --tally-out")
    return from_state(cls, doc["tally"], source)



# ---------------------------------------------------------------------------------------------
# the schema of the serialised form

Count = Annotated[int, Field(strict=True, ge=0, le=MAX_COUNT)]
Matrix = Annotated[list[Annotated[list[Count], Field(min_length=len(LABELS), max_length=len(LABELS))]],
                   Field(min_length=len(LABELS), max_length=len(LABELS))]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class _GroupState(_Strict):
    confusion: Matrix
    decided: Count


class _ErrorState(_Strict):
    kind: Literal["invalid", "engine"]
    file: str
    line: Count | None
    case: str | None
    messages: list[str]
    column: Count | None = None


class _State(_Strict):
    format: Literal["ptcheck/audit-tally@1"]
    labels: list[Literal[LABELS]]  # type: ignore[valid-type]
    files: Count
    cases: Count
    cases_valid: Count
    cases_checked: Count
    items_total: Count
    items: Count
    agree: Count
    disagreement_count: Count
    error_count: Count
    confusion: Matrix
    groups: dict[Literal[GROUPS], _GroupState]  # type: ignore[valid-type]
    breakdowns: dict[Literal[DIMENSIONS], dict[str, Annotated[list[Count], Field(min_length=2, max_length=2)]]]  # type: ignore[valid-type]
    disagreements: list[Disagreement]
    errors: list[_ErrorState]

    def model_post_init(self, __context: Any) -> None:
        if self.labels != list(LABELS):
            raise ValueError(f"labels must be {list(LABELS)}")
        if set(self.groups) != set(GROUPS):
            raise ValueError(f"groups must be {list(GROUPS)}")


def _schema_words(err: Any) -> str:
    t = err["type"]
    if t == "missing":
        return "missing"
    if t in ("less_than_equal", "too_long") and "le" in (err.get("ctx") or {}):
        return f"{err['input']!r} is more than any audit counts (at most {MAX_COUNT})"
    if t.endswith("_type") or t.endswith("_parsing"):
        return f"wrong type ({err['msg'].lower()})"
    return redact(err["msg"])


def _json_words(e: Exception) -> str:
    if isinstance(e, json.JSONDecodeError):
        return f"{e.msg} at line {e.lineno}, column {e.colno}"
    return type(e).__name__


def _dump(x: Any) -> str:
    return json.dumps(x, ensure_ascii=False, separators=(",", ":"))


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()



__all__ = ["from_state", "from_text", "inconsistency", "read", "to_text", "write"]
