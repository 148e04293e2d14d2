"""ptcheck command line: each command parses arguments, calls one library function, prints the result.

Exit codes (every command):
  0  done, nothing wrong
  1  done, but problems were found (invalid cases skipped, lint errors, failing rule tests,
     coverage below the threshold)
  2  could not run (bad arguments, unreadable files, rule files that do not load, engine errors)
  130, 143  stopped by SIGINT / SIGTERM, said on stderr (engine/_cli_entry.py); `audit` writes its partial
            report, marked partial
"""
from __future__ import annotations

import datetime as dt
import gc
import importlib
import json
import sys
import warnings
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console

from .._cli_entry import restore_default_signals, say_when_stopped
from ..core._errors import PtcheckError
from ..core._textsafe import printable, redact
from ._audit import parse_pins as _pins, register as _register_audit
from ._dispositions import Db, StoreCases, register as _register_dispositions


class _Lazy:
    """ptcheck.<package>.<module>.<name>, imported when first called or looked into, so that a command imports only
    what it uses (`ptcheck --help` builds no pydantic model and loads no durable_rules)."""

    def __init__(self, module: str, name: str | None = None):
        self._module, self._name = module, name

    def _target(self):
        mod = importlib.import_module(f"ptcheck.{self._module}")
        return mod if self._name is None else getattr(mod, self._name)

    def __call__(self, *args, **kwargs):
        return self._target()(*args, **kwargs)

    def __getattr__(self, attr: str):
        return getattr(self._target(), attr)


_catalog = _Lazy("authoring._catalog")
case_schema, load_cases = _Lazy("core._cases", "case_schema"), _Lazy("core._cases", "load_cases")
Checker = _Lazy("core._check", "Checker")
decision_dict, render_case, to_json = (_Lazy("core._render", n) for n in ("decision_dict", "render_case", "to_json"))
find_rule, rule_source = _Lazy("authoring._catalog", "find_rule"), _Lazy("authoring._catalog", "rule_source")
diff_rulesets = _Lazy("authoring._diff", "diff")
lint_errors, lint_paths = _Lazy("authoring._lint", "errors"), _Lazy("authoring._lint", "lint_paths")
Library, rules_schema = _Lazy("core._rules", "Library"), _Lazy("core._rules", "rules_schema")
diff_text, run_rule_tests = _Lazy("authoring._ruletest", "diff_text"), _Lazy("authoring._ruletest", "run_all")

EXIT_OK, EXIT_FINDINGS, EXIT_ERROR = 0, 1, 2

app = typer.Typer(add_completion=False, no_args_is_help=True, rich_markup_mode=None, pretty_exceptions_enable=False,
                  help="Check physical therapy requests (US workers' compensation) against guideline rules: "
                       "CA MTUS (ODG where the MTUS is silent) and TX ODG.")
rules_app = typer.Typer(no_args_is_help=True, help="Rule sets: list, lint, test, diff, explain.")
schema_app = typer.Typer(no_args_is_help=True, help="JSON Schemas of the input formats.")
cases_app = typer.Typer(no_args_is_help=True, help="Case files: import decision letters.")
app.add_typer(rules_app, name="rules")
app.add_typer(schema_app, name="schema")
app.add_typer(cases_app, name="cases")

# piped output is not cut to 80 columns: a reviewer's rationale is read in full (a terminal keeps its width)
out = Console(soft_wrap=True, width=None if sys.stdout.isatty() else 132)
err = Console(stderr=True, soft_wrap=True)     # a problem is one line whatever the width (or no terminal)


def _show_version(value: bool) -> None:
    if value:
        from ..core._version import engine_version
        out.print(f"ptcheck {engine_version()}", highlight=False)
        raise typer.Exit(EXIT_OK)


@app.callback()
def _main(ctx: typer.Context,
          version: bool = typer.Option(False, "--version", is_eager=True, callback=_show_version,
                                       help="Show the engine version and exit.")) -> None:
    """Check physical therapy requests (US workers' compensation) against guideline rules."""
    if ctx.invoked_subcommand != "check":
        _started()


_GC_PAUSED = False


def _started() -> None:
    """The command has built what it keeps for the whole run (modules, rule library, compiled rule sets): freeze
    those objects out of later collections and turn the cyclic garbage collector back on (main() turned it off
    for the start-up, where it only walks objects that live until exit: ~60 ms of a `check`)."""
    global _GC_PAUSED
    if _GC_PAUSED:
        _GC_PAUSED = False
        gc.freeze()
        gc.enable()


RulesDir = typer.Option(None, "--rules", metavar="DIR", help="Folder of rule sets (default: $PTCHECK_RULES, else the rule sets "
                                                        "installed with ptcheck).",
                        exists=True, file_okay=False)
Pins = typer.Option(None, "--ruleset", metavar="ID@VERSION",
                    help="Use this version of a rule set whatever the review date (repeatable).")


def _ruleset_ids(lib, names: Optional[list[str]]) -> Optional[list[str]]:
    """Rule set ids from what the user typed: an id, or the path of a rule file (or of its tests file).
    A name that is neither is an error with "did you mean", never a silent run of nothing."""
    if not names:
        return names
    from ..core._errors import did_you_mean
    ids = {rs.id for rs in lib.rulesets}
    by_path = {}
    for rs in lib.rulesets:
        by_path[rs.path.resolve()] = rs.id
        by_path[rs.path.with_name(rs.path.name.replace(".yaml", ".tests.yaml")).resolve()] = rs.id
    out = []
    for name in names:
        if name in ids:
            out.append(name)
        elif Path(name).resolve() in by_path:
            out.append(by_path[Path(name).resolve()])
        else:
            hint = did_you_mean(name, ids)
            raise PtcheckError(f"no rule set '{name}' (give a rule set id or a rule file's path)"
                               + (f"; {hint}" if hint else "; `ptcheck rules list` lists the ids"))
    return out


def _fail(e: Exception) -> None:
    # rule-file errors keep their quoted text (the author needs it); case and engine errors do not
    from ..core._errors import CaseError, EngineError
    _problem(f"error: {e}", from_case=isinstance(e, (CaseError, EngineError)))
    raise typer.Exit(EXIT_ERROR)


def _problem(line: str, from_case: bool = True) -> None:
    """One problem on stderr: one line (control characters escaped, never wrapped), no case free text."""
    for part in str(line).split("\n"):       # a PtcheckError lists its problems on lines of their own
        err.print(printable(redact(part) if from_case else part), highlight=False, markup=False)


def _checker(rules: Path | None, pins: list[str] | None) -> Checker:
    return Checker(Library.load(rules), _pins(pins))


@app.command()
def check(
    paths: list[Path] = typer.Argument(..., metavar="PATH", help="Case files or folders (YAML, multi-document YAML, JSON, JSONL)."),
    as_json: bool = typer.Option(False, "--json", help="One JSON object per case (JSON Lines when several)."),
    rules: Optional[Path] = RulesDir,
    pins: Optional[list[str]] = Pins,
    facts: bool = typer.Option(False, "--facts", help="Also show how facts were derived (diagnosis mapping, unknowns)."),
    brief: bool = typer.Option(False, "--brief", help="Hide derived-fact findings in the text output."),
    fmt: Optional[str] = typer.Option(None, "--format", metavar="text|json|crd|pas", help="crd: a Da Vinci CRD CDS "
                                      "Hooks response; pas: a PAS ClaimResponse (both log the decision, see --db)."),
    db: Optional[str] = Db,
    store_cases: bool = StoreCases,
) -> None:
    """Check cases: per requested item, the outcome, every rule that fired with its citation, and the
    documentation that would change the answer."""
    if fmt not in (None, "text", "json", "crd", "pas"):
        raise typer.BadParameter(f"{fmt!r}: text, json, crd or pas", param_hint="--format")
    if fmt in ("crd", "pas"):
        from ._dispositions import check_fhir
        raise typer.Exit(check_fhir(paths, fmt, rules, _pins(pins), db, store_cases))
    as_json = as_json or fmt == "json"
    try:
        checker = _checker(rules, pins)
        _started()                                       # cases are read with the garbage collector on
        bad, failed, first, count = 0, 0, None, 0
        from ..core._errors import EngineError
        for loaded in load_cases(paths):                 # streamed: a batch is never held in memory
            if not loaded.ok:
                bad += 1
                for p in loaded.problems:
                    _problem(str(p))
                continue
            try:
                d = checker.check(loaded.case)
            except EngineError as e:                     # this case is one error; the others still answer
                failed += 1
                where = printable(f"{loaded.source}:{loaded.line}" if loaded.line else loaded.source)
                _problem(f"{where}: E001 the engine failed on this case, no answer: {' '.join(str(e).split())}")
                continue
            except PtcheckError:
                raise                                    # rule files that do not compile: the whole run (exit 2)
            except Exception as e:                       # durable_rules' own error, or a bug: its type only
                failed += 1
                where = printable(f"{loaded.source}:{loaded.line}" if loaded.line else loaded.source)
                _problem(f"{where}: E001 the engine failed on this case, no answer: {type(e).__name__} "
                         f"(case '{loaded.case.id}'; please report it)")
                continue
            count += 1
            if not as_json:
                out.print(render_case(d, show_derive=not brief, show_facts=facts))
            elif count == 1:
                first = d                                # one case: one pretty object
            else:
                if first is not None:
                    sys.stdout.write(json.dumps(decision_dict(first), ensure_ascii=False) + "\n")
                    first = None
                sys.stdout.write(json.dumps(decision_dict(d), ensure_ascii=False) + "\n")
        if first is not None:
            sys.stdout.write(to_json(first) + "\n")
        if bad:
            err.print(f"{bad} case(s) not checked: invalid input (see above)", highlight=False)
        if failed:
            err.print(f"{failed} case(s) not answered: engine error (see above)", highlight=False)
            raise typer.Exit(EXIT_ERROR)
        if bad:
            raise typer.Exit(EXIT_FINDINGS)
    except PtcheckError as e:
        _fail(e)


@schema_app.command("case")
def schema_case() -> None:
    """JSON Schema of the case format (ptcheck/case@1) as ptcheck accepts it."""
    sys.stdout.write(json.dumps(case_schema(), indent=2) + "\n")


@rules_app.command("list")
def rules_list(
    as_of: Optional[str] = typer.Option(None, "--as-of", metavar="YYYY-MM-DD", help="Only rule sets in force on this date."),
    jurisdiction: Optional[str] = typer.Option(None, "--jurisdiction", "-j", metavar="CA|TX", help="CA or TX."),
    markdown: bool = typer.Option(False, "--markdown", help="The table of rules/README.md."),
    as_json: bool = typer.Option(False, "--json", help="JSON array of rule sets."),
    rules: Optional[Path] = RulesDir,
) -> None:
    """The rule sets, with jurisdiction, guideline edition, effective dates, scope and rule count."""
    try:
        on = dt.date.fromisoformat(as_of) if as_of else None
    except ValueError:
        raise typer.BadParameter(f"{as_of!r} is not a date; write YYYY-MM-DD", param_hint="--as-of") from None
    if jurisdiction and jurisdiction.upper() not in ("CA", "TX"):
        raise typer.BadParameter("CA or TX", param_hint="--jurisdiction")
    try:
        lib = Library.load(rules)
    except PtcheckError as e:
        _fail(e)
    if markdown:
        sys.stdout.write(_catalog.markdown(lib))
        return
    rows = _catalog.rows(lib, as_of=on, jurisdiction=jurisdiction.upper() if jurisdiction else None)
    if as_json:
        sys.stdout.write(json.dumps(rows, indent=2) + "\n")
        return
    from rich.table import Table
    t = Table(title=f"Rule sets{' in force on ' + as_of if as_of else ''}", show_lines=False)
    for c in ("id", "version", "jurisdictions", "guideline", "effective_from", "effective_to", "services", "regions", "rules"):
        # ids and versions are what --ruleset takes: never cut, never wrapped (the other columns fold)
        whole = c in ("id", "version", "effective_from", "effective_to")
        t.add_column(c, no_wrap=whole, overflow="fold",
                     min_width=max((len(str(r[c])) for r in rows), default=0) if whole else None)
    for r in rows:
        t.add_row(*(str(r[c]) for c in ("id", "version", "jurisdictions", "guideline", "effective_from",
                                         "effective_to", "services", "regions", "rules")))
    out.print(t)


@schema_app.command("rules")
def schema_rules() -> None:
    """JSON Schema of rule files, for an editor's YAML language server (see docs/authoring.md)."""
    sys.stdout.write(json.dumps(rules_schema(), indent=2) + "\n")


@rules_app.command("lint")
def rules_lint(
    paths: Optional[list[Path]] = typer.Argument(None, metavar="PATH", help="Rule files or folders (default: every rule file)."),
    as_json: bool = typer.Option(False, "--json", help="A JSON array of problems (for editors)."),
    rules: Optional[Path] = RulesDir,
) -> None:
    """Check rule files: schema, unknown facts, duplicate ids, citations, overlapping dates, conditions
    that can never be true, contradictory rules, message names. Prints file:line:column: code message."""
    problems = lint_paths(paths or None, root=rules)
    if as_json:
        sys.stdout.write(json.dumps([p.as_dict() for p in problems], indent=2) + "\n")
    else:
        for p in problems:
            out.print(printable(f"{p}{' (warning)' if p.severity == 'warning' else ''}"), highlight=False, markup=False)
        n_err = len(lint_errors(problems))
        err.print(f"{n_err} error(s), {len(problems) - n_err} warning(s)", highlight=False)
    raise typer.Exit(EXIT_FINDINGS if lint_errors(problems) else EXIT_OK)


@rules_app.command("test")
def rules_test(
    only: Optional[list[str]] = typer.Argument(None, metavar="ID", help="Rule set ids to test (default: all)."),
    coverage: bool = typer.Option(False, "--coverage", help="Report, per rule, whether a test made it fire and one kept it silent."),
    min_coverage: float = typer.Option(100.0, "--min-coverage", metavar="PERCENT", help="With --coverage: exit 1 below this percentage."),
    as_json: bool = typer.Option(False, "--json", help="Results (and coverage) as JSON."),
    rules: Optional[Path] = RulesDir,
) -> None:
    """Run the tests beside every rule file (<name>.tests.yaml); failures show expected against actual findings."""
    try:
        lib = Library.load(rules)
        only = _ruleset_ids(lib, only)
        results, cov, problems = run_rule_tests(lib, only)
    except PtcheckError as e:
        _fail(e)
    failed = [r for r in results if not r.passed]
    cov = cov.only(only)                         # judge a filtered run on its own rules
    gaps = cov.missing() if coverage else []
    if as_json:
        doc = {"tests": len(results), "passed": len(results) - len(failed),
               "failures": [{"test": r.test.id, "file": str(r.test.file), "line": r.test.line,
                             "failures": r.failures, "fired": r.fired} for r in failed],
               "problems": [p.as_dict() for p in problems]}
        if coverage:
            doc["coverage"] = {"percent": round(cov.percent(), 1),
                               "rules": [{"ruleset": k[0], "rule": k[1], "fired_in": cov.fired[k],
                                          "silent_in": cov.silent[k]} for k in cov.fired],
                               "gaps": [{"ruleset": a, "rule": b, "why": c} for a, b, c in gaps]}
        sys.stdout.write(json.dumps(doc, indent=2) + "\n")
    else:
        for r in failed:
            out.print(f"FAIL {r.test.file}:{r.test.line}: {r.test.id}", style="bold red", highlight=False, markup=False)
            for f in r.failures:
                out.print(f"  {f}", highlight=False, markup=False)
            out.print(diff_text(r), highlight=False, markup=False)
        for p in problems:
            out.print(printable(p), highlight=False, markup=False)
        if coverage:
            from rich.table import Table
            t = Table(title=f"Rule coverage: {cov.percent():.1f}% (fired and silenced)")
            for c in ("rule set", "rule", "fired in", "silent in"):
                t.add_column(c)
            for k in cov.fired:
                t.add_row(k[0], k[1], str(len(cov.fired[k])) if cov.fired[k] else "[red]never[/]",
                          str(len(cov.silent[k])) if cov.silent[k] else "[red]never[/]")
            out.print(t)
        out.print(f"{len(results) - len(failed)} passed, {len(failed)} failed", highlight=False)
    bad = failed or problems or (coverage and cov.percent() < min_coverage)
    raise typer.Exit(EXIT_FINDINGS if bad else EXIT_OK)


@rules_app.command("diff")
def rules_diff(
    old: str = typer.Argument(..., metavar="OLD", help="Old version: a rule file, ID@VERSION, or REV:PATH from git."),
    new: str = typer.Argument(..., metavar="NEW", help="New version: a rule file (e.g. your working copy), ID@VERSION, or REV:PATH."),
    cases: Optional[list[Path]] = typer.Option(None, "--cases", metavar="PATH", help="Cases to measure the impact on (default: cases/)."),
    as_json: bool = typer.Option(False, "--json", help="The diff and its impact as JSON."),
    rules: Optional[Path] = RulesDir,
) -> None:
    """Rule-level changes between two versions of a rule set, and which cases change outcome, from what to what, and why."""
    try:
        lib = Library.load(rules)
        report = diff_rulesets(old, new, cases or [Path("cases")], lib)
    except PtcheckError as e:
        _fail(e)
    if as_json:
        sys.stdout.write(json.dumps(report.as_dict(), indent=2, default=str) + "\n")
        return
    out.print(f"--- {report.old}\n+++ {report.new}", highlight=False, markup=False)
    for k, (a, b) in report.ruleset_changes.items():
        out.print(f"~ rule set {k}: {a} -> {b}", highlight=False, markup=False)
    for c in report.rules:
        mark_ = {"added": "+", "removed": "-", "changed": "~"}[c.kind]
        out.print(f"{mark_} {c.kind} {c.rule}", style="bold", highlight=False, markup=False)
        for f, (a, b) in c.changes.items():
            out.print(f"    {f}: {a}  ->  {b}", highlight=False, markup=False)
    if not report.rules and not report.ruleset_changes:
        out.print("no rule changes")
    out.print(f"\nImpact on {report.cases_checked} case(s): {len(report.impact)} item(s) change outcome",
              style="bold", highlight=False)
    for i in report.impact:
        out.print(f"  {i.case} [{i.request}] ({i.source}): {i.old} -> {i.new}", highlight=False, markup=False)
        for r in i.appeared:
            out.print(f"      + {r}", highlight=False, markup=False)
        for r in i.disappeared:
            out.print(f"      - {r}", highlight=False, markup=False)
        for m in i.messages:
            out.print(f"      {m}", highlight=False, markup=False)


@rules_app.command("explain")
def rules_explain(
    rule_id: str = typer.Argument(..., metavar="RULE_ID", help="A rule id, e.g. pm.over-course."),
    cases: Optional[list[Path]] = typer.Option(None, "--cases", metavar="PATH", help="Cases to search for firings (default: cases/)."),
    rules: Optional[Path] = RulesDir,
) -> None:
    """A rule: its YAML, citation, compiled durable_rules form, and the tests and bundled cases that make it fire."""
    try:
        lib = Library.load(rules)
        hits = find_rule(lib, rule_id)
        if not hits:
            from ..core._errors import did_you_mean
            ids = {r.id for rs in lib.rulesets for r in rs.spec.rules}
            hint = did_you_mean(rule_id, ids)
            raise PtcheckError(f"no rule {rule_id!r}{'; ' + hint if hint else ''}")
        checker = Checker(lib)
        results, cov, _ = run_rule_tests(lib)
        firing_cases = []
        # the default ./cases is searched only where it exists (a rule author's checkout); elsewhere none
        for loaded in load_cases(cases or ([Path("cases")] if Path("cases").is_dir() else [])):
            if loaded.ok:
                d = checker.check(loaded.case)
                for it in d.items:
                    if any(f.rule == rule_id for f in it.findings):
                        firing_cases.append(f"{loaded.case.id} [{it.request}] ({loaded.source}): {it.outcome}")
    except PtcheckError as e:
        _fail(e)
    from ..core._compile import compile_ruleset, exported_types
    for rs, i in hits:
        r = rs.spec.rules[i]
        out.print(f"{r.id}  in {rs.key}  ({rs.path}:{rs.rule_line(i)})", style="bold", highlight=False, markup=False)
        out.print(f"  effective {rs.spec.effective_from} to {rs.spec.effective_to or 'open'}; "
                  f"{', '.join(f'{j} {a}' for j, a in rs.spec.jurisdictions.items())}", highlight=False, markup=False)
        out.print(f"  citation: {rs.citation(r).render()}", highlight=False, markup=False)
        if r.notes:
            out.print(f"  notes: {r.notes.strip()}", highlight=False, markup=False)
        out.print("  YAML:", highlight=False)
        out.print("\n".join("    " + ln for ln in rule_source(rs, i).splitlines()), highlight=False, markup=False)
        compiled = compile_ruleset(rs, exported_types(lib))
        out.print("  durable_rules form:", highlight=False)
        form = {r.id: {"all": compiled.rules[i].patterns, "pri": r.priority}}
        out.print("\n".join("    " + ln for ln in json.dumps(form, indent=2).splitlines()), highlight=False, markup=False)
        key = (rs.key, r.id)
        out.print(f"  tests that make it fire ({len(cov.fired.get(key, []))}):", highlight=False)
        for t in cov.fired.get(key, []):
            out.print(f"    {t}", highlight=False, markup=False)
        out.print(f"  tests where it stays silent: {len(cov.silent.get(key, []))}", highlight=False)
    out.print(f"bundled cases where it fires ({len(firing_cases)}):", highlight=False)
    for c in firing_cases:
        out.print(f"  {c}", highlight=False, markup=False)


@cases_app.command("import")
def cases_import(
    letters: list[Path] = typer.Argument(..., metavar="LETTER", help="IMR (MAXIMUS) or Texas IRO decision letters, as text files.", exists=True, dir_okay=False),
    out_dir: Optional[Path] = typer.Option(None, "--out", metavar="DIR", help="Write one <name>.yaml per letter here (default: print to stdout)."),
    force: bool = typer.Option(False, "--force", help="Overwrite existing files in --out."),
) -> None:
    """Draft a case from each decision letter. Facts the letter does not give are left out and listed as
    `# TODO` comments; the reviewer's conclusions are never copied into the history."""
    from ..letters._letters import import_letter, render_case_yaml
    from ._output import OutputError, regular_file_target, write_error
    if out_dir:
        try:
            out_dir.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            _problem(f"error: {write_error(out_dir, e)}", from_case=False)
            raise typer.Exit(EXIT_FINDINGS)
    for path in letters:
        try:
            text = path.read_text(encoding="utf-8", errors="replace")
        except OSError as e:
            _fail(e)
        imported = import_letter(text, source=str(path))
        rendered = render_case_yaml(imported)
        if out_dir is None:
            sys.stdout.write(rendered if len(letters) == 1 else rendered + "---\n")
        else:
            target = out_dir / f"{imported.case['id']}.yaml"
            if target.exists() and not force:
                err.print(printable(f"error: {target} exists (use --force to overwrite)"), highlight=False, markup=False)
                raise typer.Exit(EXIT_ERROR)
            try:
                try:
                    from ..audit._audit import write_atomic
                    write_atomic(regular_file_target(target), rendered)
                except OSError as e:
                    raise write_error(target, e) from None
            except OutputError as e:            # a device, FIFO or folder; no space; a read-only folder
                _problem(f"error: {e}", from_case=False)
                raise typer.Exit(EXIT_FINDINGS)
        err.print(f"{path}: {len(imported.case.get('requests', []))} item(s), {len(imported.todos)} TODO(s)"
                  + (f" -> {out_dir / (imported.case['id'] + '.yaml')}" if out_dir else ""), highlight=False, markup=False)


@app.command()
def serve(
    host: str = typer.Option("127.0.0.1", "--host", metavar="ADDRESS", help="Address to listen on (default: loopback only)."),
    port: int = typer.Option(8000, "--port", min=0, max=65535, metavar="PORT", help="TCP port."),
    rules: Optional[Path] = RulesDir,
    db: Optional[str] = Db,
    store_cases: bool = StoreCases,
) -> None:
    """Serve the JSON API (/v1/check, /v1/audit, /v1/rulesets, /v1/schema/case; its OpenAPI schema at
    /openapi.json), the CDS Hooks service (/cds-services) and the reviewer's page at / (needs the web extra:
    pip install 'ptcheck[web]'). Every decision served is logged in the decision log (--db)."""
    try:
        from ..web._app import serve as run_server
    except ImportError as e:
        err.print(f"error: ptcheck serve needs the web extra (pip install 'ptcheck[web]'): {e}",
                  highlight=False, markup=False)
        raise typer.Exit(EXIT_ERROR)
    # uvicorn shuts down gracefully on SIGINT / SIGTERM and then raises the signal again: a server stopped
    # so has finished, so the signals get Python's defaults back (no "stopped before finishing")
    restore_default_signals()
    try:
        run_server(host, port, rules, db, store_cases)
    except PtcheckError as e:
        _fail(e)


_register_audit(app)
_register_dispositions(app)


def _warning_line(message, category, filename, lineno, line=None) -> str:
    """A warning as one line of the command's own ("ptcheck: warning: ..."), not Python's file:line form."""
    return printable(f"ptcheck: warning: {message}") + "\n"


def _stdout_failed(e: OSError) -> None:
    """Standard output could not be written (ENOSPC, EIO, a closed pipe): say so once and exit 1. Later
    writes to the broken stream are sent to /dev/null so that Python's own flush at exit stays silent."""
    import errno
    import os
    try:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    except (OSError, ValueError):
        pass
    if e.errno != errno.EPIPE:       # a reader that went away (`| head`) is no error worth a line
        err.print(printable(f"error: cannot write the output: {e.strerror or type(e).__name__}"),
                  highlight=False, markup=False)
    sys.exit(EXIT_FINDINGS)


def main() -> None:
    global _GC_PAUSED
    say_when_stopped()            # (`python -m ptcheck.cli`; the `ptcheck` command did it before importing this)
    warnings.formatwarning = _warning_line
    if gc.isenabled():            # until the command has started (_started)
        gc.disable()
        _GC_PAUSED = True
    try:
        try:
            app()
        finally:
            sys.stdout.flush()    # a full disk or a closed pipe shows here, not at interpreter exit
    except OSError as e:          # writing stdout failed: one line, exit 1 (README, exit codes)
        _stdout_failed(e)
    except Exception as e:        # a bug or a broken install: one line and exit 2, never a silent answer
        err.print(printable(f"internal error: {type(e).__name__}: {redact(str(e))}"), highlight=False, markup=False)
        err.print("please report it with the command you ran", highlight=False, markup=False)
        sys.exit(EXIT_ERROR)
    finally:
        _started()


if __name__ == "__main__":
    main()
