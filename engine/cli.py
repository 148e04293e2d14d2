"""ptcheck command line: each command parses arguments, calls one library function, prints the result.

Exit codes (every command):
  0  done, nothing wrong
  1  done, but problems were found (invalid cases skipped, lint errors, failing rule tests,
     coverage below the threshold)
  2  could not run (bad arguments, unreadable files, rule files that do not load, engine errors)
"""
from __future__ import annotations

import datetime as dt
import json
import sys
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console

from . import _catalog
from ._cases import case_schema, load_cases
from ._check import Checker
from ._errors import PtcheckError
from ._explain import decision_dict, render_case, to_json
from ._rules import Library

EXIT_OK, EXIT_FINDINGS, EXIT_ERROR = 0, 1, 2

app = typer.Typer(add_completion=False, no_args_is_help=True, rich_markup_mode=None,
                  help="Check physical therapy requests (US workers' compensation) against guideline rules: "
                       "CA MTUS (ODG where the MTUS is silent) and TX ODG.")
rules_app = typer.Typer(no_args_is_help=True, help="Rule sets: list, lint, test, diff, explain.")
schema_app = typer.Typer(no_args_is_help=True, help="JSON Schemas of the input formats.")
cases_app = typer.Typer(no_args_is_help=True, help="Case files: import decision letters.")
app.add_typer(rules_app, name="rules")
app.add_typer(schema_app, name="schema")
app.add_typer(cases_app, name="cases")

out = Console(soft_wrap=False)
err = Console(stderr=True)

RulesDir = typer.Option(None, "--rules", help="Folder of rule sets (default: $PTCHECK_RULES or ./rules).",
                        exists=True, file_okay=False)
Pins = typer.Option(None, "--ruleset", metavar="ID@VERSION",
                    help="Use this version of a rule set whatever the review date (repeatable).")


def _fail(e: Exception) -> None:
    err.print(f"[bold red]error:[/] {e}", highlight=False, markup=True) if not isinstance(e, PtcheckError) \
        else err.print(f"error: {e}", highlight=False, markup=False)
    raise typer.Exit(EXIT_ERROR)


def _pins(pins: list[str] | None) -> dict[str, str]:
    result = {}
    for p in pins or []:
        rid, sep, ver = p.partition("@")
        if not sep or not ver:
            raise typer.BadParameter(f"{p!r}: write ID@VERSION, e.g. mtus.cpmtg.physical-medicine@2009.1",
                                     param_hint="--ruleset")
        result[rid] = ver
    return result


def _checker(rules: Path | None, pins: list[str] | None) -> Checker:
    return Checker(Library.load(rules), _pins(pins))


@app.command()
def check(
    paths: list[Path] = typer.Argument(..., help="Case files or folders (YAML, multi-document YAML, JSON, JSONL)."),
    as_json: bool = typer.Option(False, "--json", help="One JSON object per case (JSON Lines when several)."),
    rules: Optional[Path] = RulesDir,
    pins: Optional[list[str]] = Pins,
    facts: bool = typer.Option(False, "--facts", help="Also show how facts were derived (diagnosis mapping, unknowns)."),
    brief: bool = typer.Option(False, "--brief", help="Hide derived-fact findings in the text output."),
) -> None:
    """Check cases: per requested item, the outcome, every rule that fired with its citation, and the
    documentation that would change the answer."""
    try:
        checker = _checker(rules, pins)
        decisions, bad = [], 0
        for loaded in load_cases(paths):
            if not loaded.ok:
                bad += 1
                for p in loaded.problems:
                    err.print(str(p), highlight=False, markup=False)
                continue
            decisions.append(checker.check(loaded.case))
            if as_json and len(decisions) > 1:
                pass
        if as_json:
            if len(decisions) == 1:
                sys.stdout.write(to_json(decisions[0]) + "\n")
            else:
                for d in decisions:
                    sys.stdout.write(json.dumps(decision_dict(d), ensure_ascii=False) + "\n")
        else:
            for d in decisions:
                out.print(render_case(d, show_derive=not brief, show_facts=facts))
        if bad:
            err.print(f"{bad} case(s) not checked: invalid input (see above)", highlight=False)
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
    jurisdiction: Optional[str] = typer.Option(None, "--jurisdiction", "-j", help="CA or TX."),
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
        t.add_column(c)
    for r in rows:
        t.add_row(*(str(r[c]) for c in ("id", "version", "jurisdictions", "guideline", "effective_from",
                                         "effective_to", "services", "regions", "rules")))
    out.print(t)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
