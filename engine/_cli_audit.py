"""`ptcheck audit`: check cases with real outcomes and report agreement (terminal, JSON, HTML).

engine/cli.py calls register(app). Exit codes as for every command:
  0  the audit ran (disagreements are results, not failures)
  1  the audit ran, but some inputs were invalid or failed in the engine (listed under errors)
  2  the audit could not run (bad arguments, missing paths, rule files that do not load, a worker died)
"""
from __future__ import annotations

import functools
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Optional

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from ._errors import PtcheckError

if TYPE_CHECKING:
    from ._audit import AuditReport
    from ._check import Checker

EXIT_OK, EXIT_FINDINGS, EXIT_ERROR = 0, 1, 2
SHOWN = 50                 # disagreements / errors listed in the terminal (all of them in --json/--html)
_DECISIVE = ("non_certify", "limit", "certify", "pend")
_DIMENSIONS = {"ruleset": "rule set", "review_kind": "review kind"}


def _make_checker(rules: Path | None) -> Checker:
    from ._check import Checker           # imported when used: `ptcheck --help` needs neither
    from ._rules import Library
    return Checker(Library.load(rules))


def _label(s: str | None) -> str:
    return "" if s is None else s.replace("_", " ")


def _pct(x: float | None) -> str:
    return "n/a" if x is None else f"{100 * x:.1f}%"


class _ProgressBar:
    """A rich progress bar on stderr, started on the first report (so after the worker processes fork)."""

    def __init__(self, console: Console):
        self.console = console
        self.progress = None
        self.task = None

    def __call__(self, done: int, total: int | None) -> None:
        from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn,
                                   TimeRemainingColumn)
        if self.progress is None:
            self.progress = Progress(TextColumn("auditing"), BarColumn(), MofNCompleteColumn(),
                                     TextColumn("cases"), TimeElapsedColumn(), TimeRemainingColumn(),
                                     console=self.console, transient=True)
            self.progress.start()
            self.task = self.progress.add_task("audit", total=total)
        self.progress.update(self.task, completed=done, total=max(total or 0, done))

    def stop(self) -> None:
        if self.progress is not None:
            self.progress.stop()


def render_summary(r: AuditReport, console: Console) -> None:
    from ._audit import REVIEW_LABELS, UR_LABELS
    console.print(Text.assemble(("Audit", "bold"), f"  {r.files} file(s), {r.cases} case(s) read, "
                                f"{r.cases_checked} checked, {r.items} item(s) with an actual outcome "
                                f"(of {r.items_total})"))
    s = Table(show_header=False, box=None, padding=(0, 2))
    s.add_column(style="bold")
    s.add_column(justify="right")
    s.add_row("accuracy", f"{_pct(r.accuracy)}  ({r.agree}/{r.items})")
    s.add_row("Cohen's kappa", "n/a" if r.kappa is None else f"{r.kappa:.3f}")
    s.add_row("baseline", f"{_pct(r.baseline_accuracy)}  (always {_label(r.baseline_label) or '-'})")
    s.add_row("disagreements", str(r.disagreement_count))
    s.add_row("errors", str(r.error_count))
    console.print(s)

    labels, matrix = r.confusion.labels, r.confusion.matrix
    spaces = [[lab for lab in labels if lab in UR_LABELS], [lab for lab in labels if lab in REVIEW_LABELS]]
    spaces.append([lab for lab in labels if lab not in spaces[0] + spaces[1]])
    for space in spaces:      # one table per label space (UR outcomes, review outcomes): across them it is 0
        idx = [labels.index(lab) for lab in space]
        if not idx or not any(matrix[i][j] for i in idx for j in idx):
            continue
        t = Table(title="Confusion matrix (rows: predicted, columns: actual)", title_justify="left")
        t.add_column("predicted \\ actual", style="bold", no_wrap=True)
        for j in idx:
            t.add_column(_label(labels[j]), justify="right")
        for i in idx:
            t.add_row(_label(labels[i]), *(Text(str(matrix[i][j]), style=("bold green" if i == j else "red")
                                                if matrix[i][j] else "dim") for j in idx))
        console.print(t)

    for dim, tallies in r.breakdowns.items():
        if not tallies:
            continue
        name = _DIMENSIONS.get(dim, _label(dim))
        t = Table(title=f"Agreement by {name}", title_justify="left")
        t.add_column(name)
        for c in ("items", "agree", "accuracy"):
            t.add_column(c, justify="right")
        for x in tallies:
            t.add_row(x.key, str(x.items), str(x.agree), _pct(x.accuracy))
        console.print(t)

    if r.disagreements:
        console.print(Text(f"Disagreements ({r.disagreement_count})", style="bold"))
        for d in r.disagreements[:SHOWN]:
            where = f"{d.file}:{d.line}" if d.line else d.file
            console.print(Text.assemble(
                ("  " + d.case, "bold"), f" #{d.request} ", (d.text or _label(d.service), ""),
                ("  predicted ", "dim"), (_label(d.predicted), "bold red"), ("  actual ", "dim"),
                (_label(d.actual), "bold"), (f"  ({where})", "dim")))
            for f in d.rationale:
                if f.effect in _DECISIVE:
                    console.print(Text.assemble(("      " + f.effect, "yellow"), f" {f.rule}: {f.message} ",
                                                (f"[{f.citation}]", "dim")))
        shown = min(SHOWN, len(r.disagreements))
        if r.disagreement_count > shown:
            console.print(Text(f"  ... {r.disagreement_count - shown} more: see --json or --html", style="dim"))


def _print_errors(r: AuditReport, console: Console) -> None:
    for e in r.errors[:SHOWN]:
        where = f"{e.file}:{e.line}" if e.line is not None else e.file
        who = f" (case {e.case})" if e.case else ""
        for m in e.messages:
            console.print(f"{where}{who}: {m}", highlight=False, markup=False)
    shown = min(SHOWN, len(r.errors))
    if r.error_count > shown:
        console.print(f"... {r.error_count - shown} more error(s): see --json or --html",
                      highlight=False, markup=False)
    if r.error_count:
        console.print(f"{r.error_count} case(s) not audited (see above)", highlight=False, markup=False)


def register(app: typer.Typer) -> None:
    """Add the `audit` command to a typer app."""

    @app.command("audit")
    def audit_command(
        paths: list[Path] = typer.Argument(..., help="Case files or folders (YAML, multi-document YAML, JSON, "
                                                     "JSONL) whose request items carry `actual` outcomes."),
        as_json: bool = typer.Option(False, "--json", help="Print the report as JSON on stdout."),
        html: Optional[Path] = typer.Option(None, "--html", metavar="FILE", dir_okay=False,
                                            help="Also write the report as a self-contained HTML page."),
        jobs: Optional[int] = typer.Option(None, "--jobs", "-j", min=1,
                                           help="Worker processes (default: all cores; 1 = in this process)."),
        rules: Optional[Path] = typer.Option(None, "--rules", exists=True, file_okay=False,
                                             help="Folder of rule sets (default: $PTCHECK_RULES or ./rules)."),
        max_listed: Optional[int] = typer.Option(None, "--max-listed", metavar="N", min=0,
                                                 help="List at most N disagreements and N errors (the counts "
                                                      "stay exact); for very large audits. Default: all."),
    ) -> None:
        """Audit: check cases that carry the real outcome of each item and report how often ptcheck agrees
        (accuracy, Cohen's kappa, majority baseline, confusion matrix, agreement by jurisdiction, service,
        rule set and review kind, and every disagreement with its rationale)."""
        out = Console(soft_wrap=False)
        err = Console(stderr=True, soft_wrap=True)
        bar = _ProgressBar(err) if err.is_terminal else None
        from ._audit import audit
        try:
            report = audit(paths, jobs=jobs, progress=bar, max_listed=max_listed,
                           checker_factory=functools.partial(_make_checker, rules))
        except PtcheckError as e:
            err.print(f"error: {e}", highlight=False, markup=False)
            raise typer.Exit(EXIT_ERROR)
        finally:
            if bar:
                bar.stop()
        if html is not None:
            from ._report_html import render_html
            try:
                html.write_text(render_html(report), encoding="utf-8")
            except OSError as e:
                err.print(f"error: cannot write {html}: {e}", highlight=False, markup=False)
                raise typer.Exit(EXIT_ERROR)
        if as_json:
            sys.stdout.write(report.to_json() + "\n")
        else:
            render_summary(report, out)
        _print_errors(report, err)
        if html is not None:
            err.print(f"wrote {html}", highlight=False, markup=False)
        if report.error_count:
            raise typer.Exit(EXIT_FINDINGS)


__all__ = ["register", "render_summary"]
