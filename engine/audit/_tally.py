"""The audit tally: every count an audit report is computed from, mergeable, and its serialised form.

    from ptcheck.audit import Tally
    whole = Tally.read("part-1.tally").merge(Tally.read("part-2.tally"))    # in input order
    report = whole.report()                     # what one audit over both inputs reports

A Tally holds the counts (cases, items, agreement), the confusion matrix over the fixed label set LABELS
(predicted x actual), one such matrix per origin group (so each group's baseline, the most frequent actual
label, survives a merge), the items decided per group, the items and agreements per breakdown key, and the
first listed disagreements and errors in input order. merge() adds the counts and concatenates the lists
(cut at `limit`): it is associative, so any split of the inputs, merged in input order, gives the tally of
the whole, and the report computed from it is the whole's.

The serialised form (`to_text()`, `write()`, `read()`, and the `tally` of a checkpoint) is compact JSON:
    {"format": "ptcheck/audit-tally@1", "labels": [...], "files": 1, "cases": ..., "confusion": [[...]],
     "groups": {"real": {"confusion": [[...]], "decided": n}, ...}, "breakdowns": {"service": {KEY: [items,
     agree]}, ...}, "disagreements": [...], "errors": [...]}
A file written by write() carries the sha256 of that text. Reading validates the schema (pydantic), every
count's range (0 to MAX_COUNT) and the counts against one another (agree = the matrix's diagonal, items =
its sum, each group's matrix adding up to the whole, ...): a damaged or edited tally is refused, never
merged into a report.
"""
from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from ..core._caseload import Loaded
from ..core._decide import REVIEW_OF, CaseDecision, ItemDecision
from ..core._errors import EngineError, Problem, PtcheckError
from ..core._render import agrees
from ..core._textsafe import redact
from ._report import (
    DIMENSIONS,
    NO_RULESET,
    REVIEW_LABELS,
    UR_LABELS,
    AuditError,
    AuditReport,
    Breakdown,
    Confusion,
    Disagreement,
    Group,
    StopPoint,
    accuracy,
    cohen_kappa,
)

GROUPS = ("real", "written", "unspecified")     # case field origin.outcome; the order of every listing
TALLY_FORMAT = "ptcheck/audit-tally@1"
MAX_COUNT = 10 ** 15       # no audit counts more (50 million cases of a few items each is ~10^8)
SPOOL_KEEP = 1000          # disagreements a spooling audit keeps in memory; the rest go to a temporary file

_COUNTS = ("files", "cases", "cases_valid", "cases_checked", "items_total", "items", "agree",
           "disagreement_count", "error_count")


class TallyError(PtcheckError):
    """A serialised tally (a tally file, a checkpoint's tally) that cannot be used: unreadable, damaged,
    edited, or not a tally. The message names the file and what is wrong."""


def origin_group(case: Any) -> str:
    """The case's origin group: `origin.outcome` when it is real or written, else unspecified. Read
    defensively: the field is optional and older case models do not have it."""
    origin = getattr(case, "origin", None)
    outcome = origin.get("outcome") if isinstance(origin, dict) else getattr(origin, "outcome", None)
    outcome = getattr(outcome, "value", outcome)
    return outcome if outcome in ("real", "written") else "unspecified"


def predicted_label(item: ItemDecision) -> str:
    """The prediction in the label space of the item's actual outcome (see engine/audit/_audit.py)."""
    if item.actual in REVIEW_LABELS:
        return item.review_outcome or REVIEW_OF[item.outcome]
    return item.outcome


class _Spool:
    """The parent's list of disagreements (compact JSON texts) in input order, for audit(spool=True): the
    first `keep` in memory, the rest appended to an unnamed temporary file (one text per line: compact
    JSON holds no raw newline), deleted when closed or at exit. Memory stays flat in the number listed."""

    def __init__(self, keep: int | None = None):
        self.head: list[str] = []
        self.keep = SPOOL_KEEP if keep is None else keep
        self._file: IO[bytes] | None = None
        self._n = 0

    def append(self, text: str) -> None:
        if len(self.head) < self.keep:
            self.head.append(text)
        else:
            if self._file is None:
                import tempfile
                import weakref
                self._file = tempfile.TemporaryFile("w+b")
                weakref.finalize(self, self._file.close)     # closed (and so deleted) with the spool
            self._file.write(text.encode("utf-8") + b"\n")
        self._n += 1

    def extend(self, texts: Iterable[str]) -> None:
        for t in texts:
            self.append(t)

    def __len__(self) -> int:
        return self._n

    def __iter__(self) -> Iterator[str]:
        yield from list(self.head)
        f = self._file
        if f is not None:
            f.flush()
            end = f.tell()
            f.seek(0)
            try:
                while f.tell() < end:
                    yield f.readline()[:-1].decode("utf-8")
            finally:
                f.seek(end)


@dataclass
class Tally:
    """Counts of an audit (of a chunk, a partition, a file or the whole input) that merge exactly.

    The lists hold the first listed disagreements (compact JSON texts of Disagreement) and errors (dicts of
    AuditError), in input order. `cap`: at most this many disagreements of this tally are listed and
    explained (max_listed); the rest are counted only. report() gives the AuditReport."""
    files: int = 0
    cases: int = 0
    cases_valid: int = 0
    cases_checked: int = 0        # valid and checked without an engine error
    items_total: int = 0
    items: int = 0                # items with an actual outcome
    agree: int = 0
    disagreement_count: int = 0
    error_count: int = 0
    confusion: Counter = field(default_factory=Counter)        # (predicted, actual) -> n
    group_confusion: Counter = field(default_factory=Counter)  # (group, predicted, actual) -> n
    group_decided: Counter = field(default_factory=Counter)    # group -> items not pended
    dim_items: Counter = field(default_factory=Counter)        # (dimension, key) -> n
    dim_agree: Counter = field(default_factory=Counter)
    disagreements: Any = field(default_factory=list)         # list[str], or a _Spool
    errors: list[dict] = field(default_factory=list)
    cap: int | None = None

    # -- merging

    def merge(self, other: "Tally", limit: int | None = None) -> "Tally":
        """Add `other` (the tally of the input right after this one's) into this tally and return it. The
        lists keep their first `limit` entries each (None: all)."""
        for name in _COUNTS:
            setattr(self, name, getattr(self, name) + getattr(other, name))
        for name in ("confusion", "group_confusion", "group_decided", "dim_items", "dim_agree"):
            getattr(self, name).update(getattr(other, name))
        for mine, theirs in ((self.disagreements, other.disagreements), (self.errors, other.errors)):
            room = len(theirs) if limit is None else max(0, min(len(theirs), limit - len(mine)))
            if room:
                mine.extend(theirs[:room] if isinstance(theirs, list) else list(theirs)[:room])
        return self

    @classmethod
    def merged(cls, tallies: Iterable["Tally"], limit: int | None = None) -> "Tally":
        """One tally of the given ones, in their order."""
        out = cls()
        for t in tallies:
            out.merge(t, limit)
        return out

    @property
    def listed(self) -> int:
        return len(self.disagreements)

    # -- counting one document

    def add(self, checker: Any, loaded: Loaded) -> None:
        self.cases += 1
        if not loaded.ok:
            self.error_count += 1
            problems = loaded.problems or []
            # the first problem's column goes with the document's position (file:line:column, as `check`
            # prints it); the others say their own position in words
            column = problems[0].column if problems and problems[0].line in (None, loaded.line) else None
            self.errors.append(dict(kind="invalid", file=loaded.source, line=loaded.line, column=column,
                                    case=loaded.raw_id, messages=[_problem_text(p, loaded.line, i == 0)
                                                                  for i, p in enumerate(problems)]))
            return
        self.cases_valid += 1
        case = loaded.case
        try:
            # one pass: messages rendered, and "what would change the answer" (deciding an item again per
            # undocumented flag) computed only for the disagreeing items, whose rationale is listed
            if not self._room():           # no disagreement of this tally can be listed any more
                decision = checker.check(case, explain=False)
            elif _single_pass(checker):
                decision = checker.check(case, would_change_for=_disagrees)
            else:              # another kind of checker (checker_factory): outcomes first, then explain
                decision = checker.check(case, explain=False)
                if any(_disagrees(item) for item in decision.items):
                    decision = checker.check(case)
        except Exception as e:         # one case's engine failure is an error entry, never a crash
            label = "engine error" if isinstance(e, EngineError) else f"engine error ({type(e).__name__})"
            self._engine_error(loaded, f"{label}: {redact(str(e))}")
            return
        self.cases_checked += 1
        self._tally(decision, loaded)

    def _room(self) -> bool:
        """Can another disagreement of this tally be listed? The report lists the first max_listed of all
        the input, so none after this tally's own first max_listed (merge keeps the lists in input order)."""
        return self.cap is None or len(self.disagreements) < self.cap

    def crashed(self, loaded: Loaded, exitcode: int | None) -> None:
        """A valid case on which a fresh worker process died: an error entry, the audit goes on."""
        self.cases += 1
        self.cases_valid += 1
        self._engine_error(loaded, f"the engine crashed ({death(exitcode)}) on this case")

    def _engine_error(self, loaded: Loaded, message: str) -> None:
        self.error_count += 1
        self.errors.append(dict(kind="engine", file=loaded.source, line=loaded.line, case=loaded.case.id,  # type: ignore[union-attr]
                                messages=[message]))

    def _tally(self, d: CaseDecision, loaded: Loaded) -> None:
        group = origin_group(loaded.case)
        for item in d.items:
            self.items_total += 1
            if item.actual is None:
                continue
            ok = agrees(item) is True
            pred = predicted_label(item)
            self.items += 1
            self.agree += ok
            self.confusion[(pred, item.actual)] += 1
            self.group_confusion[(group, pred, item.actual)] += 1
            self.group_decided[group] += item.outcome != "pend"
            keys = [("jurisdiction", d.jurisdiction), ("service", item.service), ("review_kind", d.review_kind)]
            keys += [("ruleset", rs) for rs in (item.rulesets_run or [NO_RULESET])]
            for k in keys:
                self.dim_items[k] += 1
                self.dim_agree[k] += ok
            if not ok:
                self.disagreement_count += 1
                if not self._room():
                    continue
                # kept as compact JSON text: a str is not tracked by the garbage collector and is about
                # half the size of the dicts, which matters when a long audit keeps many of them
                self.disagreements.append(json.dumps(dict(
                    case=d.case, file=loaded.source, line=loaded.line, request=item.request, text=item.text,
                    service=item.service, jurisdiction=d.jurisdiction, review_kind=d.review_kind,
                    predicted=pred, actual=item.actual, outcome=item.outcome,
                    certified_visits=item.certified_visits, missing=list(item.missing),
                    rationale=[dict(rule=f.rule, ruleset=f.ruleset, effect=f.effect, message=f.message,
                                    citation=f.citation) for f in item.findings]),
                    ensure_ascii=False, separators=(",", ":")))

    # -- the report

    def report(self, *, stopped_at: StopPoint | None = None, provenance: dict | None = None) -> AuditReport:
        """The audit report of these counts (partial when stopped_at is given)."""
        labels = _labels(self.confusion)
        matrix = [[self.confusion.get((pr, ac), 0) for ac in labels] for pr in labels]
        actual_counts: Counter = Counter()
        for (_, ac), n in self.confusion.items():
            actual_counts[ac] += n
        base_label, base_n = _majority(actual_counts, labels)
        breakdowns = {}
        for dim in DIMENSIONS:
            keys = sorted(k for d, k in self.dim_items if d == dim)
            breakdowns[dim] = [Breakdown(key=k, items=self.dim_items[(dim, k)], agree=self.dim_agree[(dim, k)],
                                         accuracy=accuracy(self.dim_agree[(dim, k)], self.dim_items[(dim, k)]))
                               for k in keys]
        spool = self.disagreements if isinstance(self.disagreements, _Spool) else None
        truncated = len(self.disagreements) < self.disagreement_count or len(self.errors) < self.error_count
        report = AuditReport(
            partial=stopped_at is not None, stopped_at=stopped_at, groups=self._groups(labels), files=self.files,
            cases=self.cases, cases_valid=self.cases_valid, cases_checked=self.cases_checked,
            items_total=self.items_total, items=self.items, agree=self.agree,
            accuracy=accuracy(self.agree, self.items), kappa=cohen_kappa(matrix),
            baseline_accuracy=accuracy(base_n, self.items), baseline_label=base_label,
            confusion=Confusion(labels=labels, matrix=matrix), breakdowns=breakdowns,
            disagreement_count=self.disagreement_count, error_count=self.error_count, truncated=truncated,
            disagreements=_models(list(spool.head) if spool is not None else list(self.disagreements)),
            errors=[AuditError(**e) for e in self.errors], provenance=provenance)
        if spool is not None:
            report._spool = spool
        return report

    def _groups(self, labels: list[str]) -> list[Group]:
        out = []
        for g in GROUPS:
            actual_counts: Counter = Counter()
            agree = 0
            for (grp, pr, ac), n in self.group_confusion.items():
                if grp == g:
                    actual_counts[ac] += n
                    agree += n if pr == ac else 0
            items = sum(actual_counts.values())
            if not items:
                continue
            decided = self.group_decided[g]
            base_label, base_n = _majority(actual_counts, labels)
            out.append(Group(origin=g, items=items, agree=agree, accuracy=accuracy(agree, items), decided=decided,
                             decided_share=accuracy(decided, items), baseline_accuracy=accuracy(base_n, items),
                             baseline_label=base_label, no_better_than_baseline=agree <= base_n))
        return out

    # -- the serialised form (engine/audit/_tallyfile.py)

    def to_text(self) -> str:
        """The tally as compact JSON (the module docstring's form), every listed disagreement included."""
        from ._tallyfile import to_text
        return to_text(self)

    @classmethod
    def from_text(cls, text: str | bytes, source: str = "<tally>") -> "Tally":
        """A tally from to_text()'s form, validated (TallyError naming `source` and what is wrong)."""
        from ._tallyfile import from_text
        return from_text(cls, text, source)

    @classmethod
    def from_state(cls, doc: Any, source: str = "<tally>", prefix: str = "") -> "Tally":
        """A tally from to_text()'s form parsed as JSON, validated; errors name `source` and the field (its path
        after `prefix`: a checkpoint's tally is "tally.")."""
        from ._tallyfile import from_state
        return from_state(cls, doc, source, prefix)

    def write(self, path: str | Path) -> None:
        """Write the tally to `path` atomically (readable by its owner only), with the sha256 of its text."""
        from ._tallyfile import write
        write(self, path)

    @classmethod
    def read(cls, path: str | Path) -> "Tally":
        """A tally written by write(): its checksum, schema and counts verified (TallyError otherwise)."""
        from ._tallyfile import read
        return read(cls, path)


# ---------------------------------------------------------------------------------------------
# helpers of add() and report()


def _disagrees(item: ItemDecision) -> bool:
    return item.actual is not None and agrees(item) is not True


_SINGLE_PASS: dict[type, bool] = {}


def _single_pass(checker: Any) -> bool:
    """Does this checker's check() take would_change_for= (a Checker does; a checker_factory may give
    another kind)."""
    t = type(checker)
    ok = _SINGLE_PASS.get(t)
    if ok is None:
        import inspect
        try:
            ok = "would_change_for" in inspect.signature(checker.check).parameters
        except (TypeError, ValueError):
            ok = False
        _SINGLE_PASS[t] = ok
    return ok


def death(exitcode: int | None) -> str:
    if exitcode is not None and exitcode < 0:
        return f"signal {-exitcode}"
    return f"the process exited with code {exitcode}"


def _problem_text(p: Problem, doc_line: int | None, first: bool = False) -> str:
    """One problem of an invalid document, without free text from the case (see _textsafe.redact). Its
    position in words where it is not the document's own (the first problem's column is AuditError.column)."""
    col = f"column {p.column}" if p.column is not None else ""
    if p.line is not None and p.line != doc_line:
        where = f"line {p.line}{', ' + col if col else ''}: "
    else:
        where = f"{col}: " if col and not first else ""
    path = f" ({p.path})" if p.path else ""
    hint = f" {p.suggestion}" if p.suggestion else ""
    return redact(f"{where}{p.code} {p.message}{path}{hint}")


def _labels(confusion: Counter) -> list[str]:
    """Every label of each label space the actual outcomes use (so empty rows show), then any other."""
    present = {lab for pair in confusion for lab in pair}
    actual = {a for _, a in confusion}
    out: list[str] = []
    if actual & set(UR_LABELS):
        out += UR_LABELS
    if actual & set(REVIEW_LABELS):
        out += REVIEW_LABELS
    return out + sorted(present - set(out))


def _majority(actual_counts: Counter, labels: list[str]) -> tuple[str | None, int]:
    """The most frequent actual label and its count (ties broken by label order)."""
    if not actual_counts:
        return None, 0
    return min(actual_counts.items(), key=lambda kv: (-kv[1], labels.index(kv[0]) if kv[0] in labels else 99))


def _models(texts: list[str]) -> list[Disagreement]:
    """Disagreement models from their JSON text, releasing the text as it goes (peak: not both lists)."""
    out = []
    texts.reverse()
    while texts:
        out.append(Disagreement.model_validate_json(texts.pop()))
    return out


__all__ = ["GROUPS", "MAX_COUNT", "TALLY_FORMAT", "Tally", "TallyError", "death", "origin_group", "predicted_label"]
