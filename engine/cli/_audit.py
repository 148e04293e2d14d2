"""`ptcheck audit`: check cases with real outcomes and report agreement (terminal, JSON, HTML).

engine/cli/__init__.py calls register(app). Exit codes as for every command:
  0  the audit ran (disagreements are results, not failures)
  1  the audit ran, but some inputs were invalid or failed in the engine (listed under errors; a case
     that crashes the engine is one of them)
  2  the audit could not run (bad arguments, missing paths, rule files that do not load, a checkpoint
     for other inputs, workers that cannot start)
  130 / 143  interrupted by SIGINT (Ctrl-C) / SIGTERM: the partial report is written, marked partial
"""
from __future__ import annotations

import functools
import os
import signal
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Optional

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text
from typer.core import TyperGroup

from ..core._errors import PtcheckError
from ..core._textsafe import printable

if TYPE_CHECKING:
    from ..audit._audit import AuditReport
    from ..core._check import Checker

EXIT_OK, EXIT_FINDINGS, EXIT_ERROR = 0, 1, 2
EXIT_SIGNAL = 128          # + the signal number: 130 for SIGINT, 143 for SIGTERM
SHOWN = 50                 # disagreements / errors listed in the terminal (all of them in --json/--html)
_DECISIVE = ("non_certify", "limit", "certify", "pend")
_DIMENSIONS = {"ruleset": "rule set", "review_kind": "review kind"}


_BUILT: dict = {}      # rules option -> (process id, the Checker that process built for it)


def parse_pins(pins: list[str] | None) -> dict[str, str]:
    """--ruleset ID@VERSION values (repeatable) as {id: version}."""
    result: dict[str, str] = {}
    for p in pins or []:
        rid, sep, ver = p.partition("@")
        if not sep or not ver or not rid:
            raise typer.BadParameter(f"{p!r}: write ID@VERSION, e.g. mtus.cpmtg.physical-medicine@2009.1",
                                     param_hint="--ruleset")
        if result.get(rid, ver) != ver:
            raise typer.BadParameter(f"{rid} pinned twice ({rid}@{result[rid]} and {p}): pin one version",
                                     param_hint="--ruleset")
        result[rid] = ver
    return result


def _rules_run_or_fail(rules: Path | None) -> None:
    """Every rule set compiles and runs in durable_rules (engine/core/_enginecheck.py), else a RuleError
    listing the problems: a rule file that cannot run is exit 2 before the first case, not an engine error
    on every case (exit 1)."""
    from ..core._enginecheck import library_problems
    from ..core._errors import RuleError
    from ..core._library import Library
    problems = library_problems(Library.load(rules))
    if problems:
        raise RuleError(f"{len(problems)} problem(s) in the rule files; `ptcheck rules lint` lists them", problems)


def _make_checker(rules: Path | None, pins: tuple[tuple[str, str], ...] = ()) -> Checker:
    """The audit's checker_factory. The parent builds a Checker (loading and compiling the rule sets)
    before it forks its workers; a worker forked from it gets that Checker back instead of loading every
    rule file again (a Checker keeps nothing between cases, and after the fork each process has its own
    copy). In the process that built it, every call builds a new one (the rule files may have changed)."""
    built = _BUILT.get((rules, pins))
    if built is not None and built[0] != os.getpid():
        return built[1]
    from ..core._check import Checker  # imported when used: `ptcheck --help` needs neither
    from ..core._library import Library
    checker = Checker(Library.load(rules), dict(pins))
    _BUILT[(rules, pins)] = (os.getpid(), checker)
    return checker


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
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )
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


class _ProgressLines:
    """--progress when stderr is not a terminal: one plain line at most every few seconds (counts only,
    never case content)."""

    EVERY = 2.0

    def __init__(self):
        self.last, self.done = None, -1

    def __call__(self, done: int, total: int | None) -> None:
        now = time.monotonic()
        if self.last is not None and (now - self.last < self.EVERY and done != total or done == self.done):
            return
        self.last, self.done = now, done
        share = f" ({100 * done / total:.0f}%)" if total else ""
        sys.stderr.write(f"audit: {done}/{total if total is not None else '?'} cases{share}\n")
        sys.stderr.flush()

    def stop(self) -> None:
        pass


class _Interrupt:
    """SIGINT and SIGTERM ask the audit to stop at the next chunk; a second one ends the process."""

    def __init__(self):
        self.signum: int | None = None
        self.saved: dict = {}

    def __enter__(self) -> "_Interrupt":
        for s in (signal.SIGINT, signal.SIGTERM):
            self.saved[s] = signal.signal(s, self._handle)
        return self

    def _handle(self, signum, frame) -> None:
        if self.signum is not None:            # asked twice: stop now, without the partial report
            os._exit(EXIT_SIGNAL + signum)
        self.signum = signum

    def __call__(self) -> bool:
        return self.signum is not None

    def __exit__(self, *exc) -> None:
        for s, h in self.saved.items():
            signal.signal(s, h)


_ORIGIN = {"real": "real decisions", "written": "written to the guideline", "unspecified": "origin unspecified"}


def stop_text(r: AuditReport) -> str:
    """Where an interrupted audit stopped, in words (file names escaped; no case content)."""
    at = r.stopped_at
    if at is None:
        return ""
    if at.file is None:
        return f"stopped after {at.cases_done} case(s); every file had been read"
    if at.line:
        return f"stopped after {at.cases_done} case(s), at {printable(at.file)} after line {at.line}"
    return f"stopped after {at.cases_done} case(s), before {printable(at.file)}"


def render_groups(r: AuditReport, console: Console) -> None:
    """Agreement per origin group (real first): never pooled into one another's figure."""
    if not r.groups:
        return
    t = Table(title="Agreement by origin of the actual outcome (real: published decisions; written: "
                    "written to the guideline)", title_justify="left")
    for c in ("origin", "items", "agree", "accuracy", "decided", "baseline"):
        t.add_column(c, justify="left" if c == "origin" else "right")
    for g in r.groups:
        t.add_row(g.origin, str(g.items), str(g.agree), _pct(g.accuracy), _pct(g.decided_share),
                  f"{_pct(g.baseline_accuracy)} {_label(g.baseline_label)}",
                  style="red" if g.no_better_than_baseline else None)
    console.print(t)
    for g in r.groups:
        if g.no_better_than_baseline:
            console.print(Text(f"  {g.origin}: accuracy {_pct(g.accuracy)} is no better than always answering "
                               f"{_label(g.baseline_label)} ({_pct(g.baseline_accuracy)})", style="bold red"),
                          soft_wrap=True)
    console.print(Text("  decided: share of items certified, modified or non-certified (not pended)", style="dim"),
                  soft_wrap=True)


def render_summary(r: AuditReport, console: Console) -> None:
    from ..audit._audit import REVIEW_LABELS, UR_LABELS
    if r.partial:
        console.print(Text(f"PARTIAL REPORT: the audit was interrupted; {stop_text(r)}", style="bold red"),
                      soft_wrap=True)
    console.print(Text.assemble(("Audit", "bold"), f"  {r.files} file(s), {r.cases} case(s) read, "
                                f"{r.cases_checked} checked, {r.items} item(s) with an actual outcome "
                                f"(of {r.items_total})"), soft_wrap=True)
    real = [g for g in r.groups if g.origin != "unspecified"]
    s = Table(show_header=False, box=None, padding=(0, 2))
    s.add_column(style="bold")
    s.add_column(justify="right")
    for g in real:                       # the headline: real decisions first, each group on its own
        s.add_row(f"accuracy, {_ORIGIN[g.origin]}", f"{_pct(g.accuracy)}  ({g.agree}/{g.items})"
                  + ("  NO BETTER THAN BASELINE" if g.no_better_than_baseline else ""))
    s.add_row("accuracy, all items pooled" if real else "accuracy", f"{_pct(r.accuracy)}  ({r.agree}/{r.items})")
    s.add_row("Cohen's kappa, pooled" if real else "Cohen's kappa", "n/a" if r.kappa is None else f"{r.kappa:.3f}")
    s.add_row("baseline, pooled" if real else "baseline",
              f"{_pct(r.baseline_accuracy)}  (always {_label(r.baseline_label) or '-'})")
    s.add_row("disagreements", str(r.disagreement_count))
    s.add_row("errors", str(r.error_count))
    console.print(s)
    render_groups(r, console)

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
            t.add_row(printable(x.key), str(x.items), str(x.agree), _pct(x.accuracy))
        console.print(t)

    if r.disagreement_count:
        console.print(Text(f"Disagreements ({r.disagreement_count})", style="bold"))
        for d in r.disagreements[:SHOWN]:       # one line each, whatever the width (soft_wrap)
            where = printable(f"{d.file}:{d.line}" if d.line else d.file)
            console.print(Text.assemble(
                ("  " + printable(d.case), "bold"), f" #{printable(d.request)} ",
                (printable(d.text) or _label(printable(d.service)), ""),
                ("  predicted ", "dim"), (_label(d.predicted), "bold red"), ("  actual ", "dim"),
                (_label(d.actual), "bold"), (f"  ({where})", "dim")), soft_wrap=True)
            for f in d.rationale:
                if f.effect in _DECISIVE:
                    console.print(Text.assemble(("      " + f.effect, "yellow"), f" {f.rule}: {printable(f.message)} ",
                                                (f"[{f.citation}]", "dim")), soft_wrap=True)
        shown = min(SHOWN, len(r.disagreements))
        if r.disagreement_count > shown:
            console.print(Text(f"  ... {r.disagreement_count - shown} more: {_more(r.disagreement_count, r.listed, shown)}", style="dim"))


def _more(total: int, listed: int, shown: int) -> str:
    """Where the rest of a list is: in --json / --html (the report lists more than the terminal shows), and
    nowhere for what --max-listed left out of the report (counted, not listed)."""
    parts = []
    if listed > shown:
        parts.append(f"{listed - shown} in --json or --html")
    if total > listed:
        parts.append(f"{total - listed} not listed (--max-listed), counted")
    return "; ".join(parts)


def _print_errors(r: AuditReport, console: Console) -> None:
    for e in r.errors[:SHOWN]:     # file:line:column (case ID): code message, as `check` prints; one line each
        who = f" (case {e.case})" if e.case else ""
        where = f"{e.file}:{e.line}" if e.line is not None else e.file
        for i, m in enumerate(e.messages):
            at = f"{where}:{e.column}" if i == 0 and e.line is not None and e.column is not None else where
            console.print(printable(f"{at}{who}: {m}"), highlight=False, markup=False, soft_wrap=True)
    shown = min(SHOWN, len(r.errors))
    if r.error_count > shown:
        console.print(f"... {r.error_count - shown} more error(s): {_more(r.error_count, len(r.errors), shown)}",
                      highlight=False, markup=False)
    if r.error_count:
        console.print(f"{r.error_count} case(s) not audited" + (" (see above)" if r.errors else " (none listed: "
                      "--max-listed)"), highlight=False, markup=False)


def parse_max_listed(value: str | None) -> int | None:
    """--max-listed N (a whole number, 0 or more) or `all` (no cap)."""
    if value is None or value.strip().lower() == "all":
        return None
    try:
        n = int(value)
    except ValueError:
        n = -1
    if n < 0:
        raise typer.BadParameter(f"{value!r}: give a whole number (0 or more) or 'all'", param_hint="--max-listed")
    return n


MAX_LISTED_DEFAULT = "1000"
_MAX_LISTED_HELP = ("List at most N disagreements and N errors, the first in input order (counts and tallies "
                    "stay exact; only the listed disagreements are explained). Default 1000; 'all' lists every "
                    "one (beyond the first 1,000 they wait in a temporary file, so memory stays flat).")


class _AuditGroup(TyperGroup):
    """`ptcheck audit PATH...` is `ptcheck audit run PATH...`; `ptcheck audit merge TALLY...` merges tallies."""

    def parse_args(self, ctx, args):
        if not args or args[0] not in self.commands:
            args = ["run", *args]
        return super().parse_args(ctx, args)


def _write_report(report: AuditReport, as_json: bool, html: Path | None, out: Console, err: Console) -> None:
    """The report on stdout (terminal or --json) and in --html FILE; then the errors on stderr."""
    if html is not None:
        from ..audit._checkpoint import write_atomic
        from ..audit._report_html import html_chunks
        from ._output import OutputError, regular_file_target, write_error
        try:
            try:
                write_atomic(regular_file_target(html), html_chunks(report))
            except OSError as e:
                raise write_error(html, e) from None
        except OutputError as e:            # a device, FIFO or folder; no space; a read-only folder
            err.print(printable(f"error: {e}"), highlight=False, markup=False)
            raise typer.Exit(EXIT_FINDINGS)
    if as_json:
        report.write_json(sys.stdout)           # the disagreements streamed from the spool
        sys.stdout.write("\n")
    else:
        render_summary(report, out)
        for line in provenance_lines(report):
            out.print(Text(line, style="dim"), soft_wrap=True)
    sys.stdout.flush()
    _print_errors(report, err)
    if html is not None:
        err.print(printable(f"wrote {html}"), highlight=False, markup=False)


def _on_cluster(paths, cluster, folder, rules, pins, max_listed, bar, stop, err: Console, tally_out) -> AuditReport:
    from ..audit._cluster import audit_on_cluster
    if folder is None:
        folder = Path(time.strftime("audit-disagreements-%Y%m%d-%H%M%S"))
    return audit_on_cluster(paths, cluster, folder=folder, rules=rules, pins=pins, max_listed=max_listed,
                            progress=bar, stop=stop, tally_out=tally_out,
                            warn=lambda s: err.print(printable(f"warning: {s}"), highlight=False, markup=False))


def provenance_lines(r: AuditReport) -> list[str]:
    """Where a report comes from when it is not one run over its inputs (the terminal's last lines)."""
    p = r.provenance or {}
    lines = []
    if p.get("merged_from"):
        lines.append(printable(f"merged from {len(p['merged_from'])} tally file(s): {', '.join(p['merged_from'])}"))
    if p.get("cluster"):
        lines.append(printable(f"run on {p['cluster']} in {p['partitions']} partition(s); every partition's listed "
                               f"disagreements: {p['disagreements_folder']}"))
    return lines


def register(app: typer.Typer) -> None:
    """Add the `audit` command (`audit run`, the default, and `audit merge`) to a typer app."""
    audit_app = typer.Typer(cls=_AuditGroup, add_completion=False, help=(
        "Audit cases that carry real outcomes: `ptcheck audit PATH...` (short for `ptcheck audit run PATH...`); "
        "`ptcheck audit merge TALLY...` merges the tallies of parts of an audit into the whole's report."))

    @audit_app.command("run")
    def audit_command(
        paths: list[Path] = typer.Argument(..., metavar="PATH", help="Case files or folders (YAML, multi-document YAML, JSON, "
                                                     "JSONL) whose request items carry `actual` outcomes."),
        as_json: bool = typer.Option(False, "--json", help="Print the report as JSON on stdout."),
        html: Optional[Path] = typer.Option(None, "--html", metavar="FILE", dir_okay=False,
                                            help="Also write the report as a self-contained HTML page."),
        jobs: Optional[int] = typer.Option(None, "--jobs", "-j", min=1, metavar="N",
                                           help="Worker processes (default and maximum: the number of CPUs). Cases always "
                                                "run in worker processes: a case that crashes the engine "
                                                "becomes that case's error entry."),
        rules: Optional[Path] = typer.Option(None, "--rules", exists=True, file_okay=False, metavar="DIR",
                                             help="Folder of rule sets (default: $PTCHECK_RULES, else "
                                                  "the rule sets installed with ptcheck)."),
        pins: Optional[list[str]] = typer.Option(None, "--ruleset", metavar="ID@VERSION",
                                                 help="Use this version of a rule set whatever each case's review "
                                                      "date (repeatable): how would it have decided these cases? "
                                                      "Part of a checkpoint: --resume needs the same."),
        max_listed_opt: str = typer.Option(MAX_LISTED_DEFAULT, "--max-listed", metavar="N|all", help=_MAX_LISTED_HELP),
        tally_out: Optional[Path] = typer.Option(
            None, "--tally-out", metavar="FILE", dir_okay=False,
            help="Also write the audit's tally to FILE (JSON with its sha256): `ptcheck audit merge` of the tallies "
                 "of consecutive parts of the input prints this same report for the whole. It holds the listed "
                 "disagreements: keep it where the cases are kept."),
        checkpoint: Optional[Path] = typer.Option(
            None, "--checkpoint", metavar="FILE", dir_okay=False,
            help="Save progress to FILE (JSON: the tallies so far and the position in the inputs; rewritten "
                 "atomically every few seconds and when interrupted; removed when the audit finishes). It "
                 "holds case ids and disagreement details: keep it where the cases are kept."),
        resume: bool = typer.Option(False, "--resume",
                                    help="Continue from --checkpoint FILE after an interruption: the same paths "
                                         "and rules, no case audited twice or skipped. Refused if an input "
                                         "file or a rule set changed since."),
        show_progress: bool = typer.Option(False, "--progress",
                                           help="Progress on stderr even when it is not a terminal (counts "
                                                "only). A terminal always gets a progress bar."),
        cluster: Optional[str] = typer.Option(
            None, "--cluster", metavar="dask://HOST:PORT|local:N",
            help="Run on a Dask cluster (pip install 'ptcheck[cluster]'): a running scheduler, or N local worker "
                 "processes. The inputs are split by file and byte range; the report is the one-machine report. "
                 "Not with --jobs or --checkpoint."),
        disagreements_dir: Optional[Path] = typer.Option(
            None, "--disagreements-dir", metavar="DIR", file_okay=False,
            help="With --cluster: the folder where each partition writes its listed disagreements (every worker "
                 "and this machine must reach it; default: a new audit-disagreements-DATE-TIME folder here). "
                 "The report links it."),
    ) -> None:
        """Audit: check cases that carry the real outcome of each item and report how often ptcheck agrees
        (accuracy, Cohen's kappa, majority baseline, confusion matrix, agreement by origin (real decisions /
        written to the guideline / unspecified), jurisdiction, service, rule set and review kind, and every
        disagreement with its rationale).

        Ctrl-C (SIGINT) or SIGTERM stops it: the report of the cases finished so far is written, marked
        partial, stderr says where it stopped, and the exit code is 130 (143 for SIGTERM); with
        --checkpoint FILE, rerun the same command with --resume to finish it.

        `ptcheck audit merge TALLY...` merges the --tally-out files of parts of the input."""
        max_listed = parse_max_listed(max_listed_opt)
        out = Console(soft_wrap=False)
        err = Console(stderr=True, soft_wrap=True)
        from ..audit._audit import audit
        cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
        if jobs is not None and jobs > cpus:
            err.print(f"--jobs {jobs} capped at {cpus} (the number of CPUs)", highlight=False, markup=False)
            jobs = cpus
        bar = _ProgressBar(err) if err.is_terminal else _ProgressLines() if show_progress else None
        if cluster is not None and (jobs is not None or checkpoint is not None or resume):
            bar = None
            raise typer.BadParameter("--cluster runs on the cluster's workers: leave out --jobs, --checkpoint and "
                                     "--resume", param_hint="--cluster")
        try:
            _rules_run_or_fail(rules)
        except PtcheckError as e:
            for part in f"error: {e}".split("\n"):
                err.print(printable(part), highlight=False, markup=False)
            raise typer.Exit(EXIT_ERROR)
        try:
            with _Interrupt() as interrupt:
                if cluster is not None:
                    report = _on_cluster(paths, cluster, disagreements_dir, rules, parse_pins(pins), max_listed, bar,
                                         interrupt, err, tally_out)
                else:
                        report = audit(paths, jobs=jobs or cpus, progress=bar, max_listed=max_listed, in_process=False,
                                   spool=True, checker_factory=functools.partial(_make_checker, rules,
                                                                                 tuple(sorted(parse_pins(pins).items()))),
                                   stop=interrupt, checkpoint=checkpoint, resume=resume, tally_out=tally_out)
        except PtcheckError as e:
            for part in f"error: {e}".split("\n"):      # an error lists its problems on lines of their own
                err.print(printable(part), highlight=False, markup=False)
            raise typer.Exit(EXIT_ERROR)
        except OSError as e:
            what = f"the checkpoint {checkpoint}" if checkpoint is not None else f"the tally {tally_out}"
            err.print(printable(f"error: cannot write {what}: {e.strerror or e}"), highlight=False, markup=False)
            raise typer.Exit(EXIT_ERROR)
        finally:
            if bar:
                bar.stop()
        _write_report(report, as_json, html, out, err)
        if report.partial:
            name = signal.Signals(interrupt.signum).name if interrupt.signum else "a stop request"
            tail = (f"; progress saved to {checkpoint}: rerun with --checkpoint {checkpoint} --resume to finish"
                    if checkpoint else "; run with --checkpoint FILE to be able to resume")
            err.print(printable(f"interrupted by {name}: partial report, {stop_text(report)}{tail}"),
                      highlight=False, markup=False)
            raise typer.Exit(EXIT_SIGNAL + (interrupt.signum or signal.SIGINT))
        if checkpoint is not None:
            try:
                checkpoint.unlink()                # finished and written: nothing to resume
            except OSError:
                pass
        if tally_out is not None:
            err.print(printable(f"wrote {tally_out}"), highlight=False, markup=False)
        if report.error_count:
            raise typer.Exit(EXIT_FINDINGS)

    @audit_app.command("merge")
    def merge_command(
        tallies: list[Path] = typer.Argument(..., metavar="TALLY", help="Tally files written by `ptcheck audit "
                                             "--tally-out`, in the order of the inputs they audited."),
        as_json: bool = typer.Option(False, "--json", help="Print the report as JSON on stdout."),
        html: Optional[Path] = typer.Option(None, "--html", metavar="FILE", dir_okay=False,
                                            help="Also write the report as a self-contained HTML page."),
        max_listed_opt: str = typer.Option(MAX_LISTED_DEFAULT, "--max-listed", metavar="N|all", help=_MAX_LISTED_HELP),
        tally_out: Optional[Path] = typer.Option(None, "--tally-out", metavar="FILE", dir_okay=False,
                                                 help="Also write the merged tally to FILE."),
    ) -> None:
        """Merge the tallies of consecutive parts of an audit (each written by `ptcheck audit PART --tally-out
        FILE`, given here in input order) and print the report of the whole: the same as one `ptcheck audit`
        over all the parts, byte for byte, apart from the lines saying where it comes from (the JSON's
        `provenance`, the terminal's last line, a line of the HTML page). A tally that is damaged, edited or
        not a tally is refused (exit 2), never merged."""
        max_listed = parse_max_listed(max_listed_opt)
        out = Console(soft_wrap=False)
        err = Console(stderr=True, soft_wrap=True)
        from ..audit._tally import Tally
        try:
            whole = Tally.merged((Tally.read(t) for t in tallies), max_listed)
            if tally_out is not None:
                whole.write(tally_out)
        except PtcheckError as e:
            err.print(printable(f"error: {e}"), highlight=False, markup=False)
            raise typer.Exit(EXIT_ERROR)
        except OSError as e:
            err.print(printable(f"error: cannot write the tally {tally_out}: {e.strerror or e}"), highlight=False,
                      markup=False)
            raise typer.Exit(EXIT_ERROR)
        report = whole.report(provenance={"merged_from": [str(t) for t in tallies]})
        _write_report(report, as_json, html, out, err)
        if report.error_count:
            raise typer.Exit(EXIT_FINDINGS)

    app.add_typer(audit_app, name="audit")


__all__ = ["parse_max_listed", "provenance_lines", "register", "render_groups", "render_summary", "stop_text"]
