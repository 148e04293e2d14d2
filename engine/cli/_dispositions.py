"""`ptcheck dispositions import|export|audit|reasons` and `ptcheck check --format crd|pas`.

engine/cli/__init__.py calls register(app) and hands `check --format crd|pas` to check_fhir. Exit codes as for
every command: 0 done; 1 done with problems (invalid cases skipped, disposition lines refused); 2 could not
run (no such file, a database that cannot be opened, rule files that do not load).
"""
from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Optional

import typer
from rich.console import Console
from rich.table import Table

from ..core._errors import PtcheckError
from ..core._textsafe import printable, redact

if TYPE_CHECKING:
    from ..dispositions import Store

EXIT_OK, EXIT_FINDINGS, EXIT_ERROR = 0, 1, 2

Db = typer.Option(None, "--db", metavar="URL",
                  help="The decision log's database: a SQLite or PostgreSQL URL, or a file name (default: $PTCHECK_DB, "
                       "else decisions.sqlite3 in the user's data folder; README, 'Decision log').")
StoreCases = typer.Option(False, "--store-cases", help="Also store each case (its id and content) in the decision "
                                                        "log; by default only the case's sha256 is stored.")

out = Console(soft_wrap=True, width=None if sys.stdout.isatty() else 132)
err = Console(stderr=True, soft_wrap=True)
app = typer.Typer(no_args_is_help=True, help="Reviewer dispositions: import, export and audit them (the decision log).")


def _say(line: str, from_case: bool = False) -> None:
    err.print(printable(redact(line) if from_case else line), highlight=False, markup=False)


def _missing_extra(e: ImportError, extra: str) -> None:
    _say(f"error: this needs the {extra} extra (pip install 'ptcheck[{extra}]'): {e}")
    raise typer.Exit(EXIT_ERROR)


def _store(db: str | None, store_cases: bool = False) -> "Store":
    try:
        from ..dispositions import Store, StoreError
    except ImportError as e:
        _missing_extra(e, "db")
    try:
        return Store.open(db, store_cases=store_cases)
    except StoreError as e:
        _say(f"error: {e}")
        raise typer.Exit(EXIT_ERROR) from None


def check_fhir(paths: list[Path], fmt: str, rules: Path | None, pins: dict[str, str], db: str | None,
               store_cases: bool) -> int:
    """`ptcheck check --format crd|pas`: each decision logged, then printed as a CDS Hooks response (crd) or a
    PAS ClaimResponse (pas); one case pretty-printed, several as JSON Lines."""
    try:
        from ..dispositions import OverrideReasons, ReasonsError, StoreError, new_assertion_id
        from ..fhir import FhirError, card_uuids, crd_response, pas_claim_response
    except ImportError as e:
        _missing_extra(e, "fhir,db")
    from ..core._cases import load_cases
    from ..core._check import Checker
    from ..core._rules import Library
    store = _store(db, store_cases)
    try:
        checker = Checker(Library.load(rules), pins)
        codings = OverrideReasons.load(rules).codings()
        bad, shown = 0, []
        for loaded in load_cases(paths):
            if loaded.case is None:
                bad += 1
                for p in loaded.problems or []:
                    _say(str(p), from_case=True)
                continue
            decision = checker.check(loaded.case)
            aid = new_assertion_id()
            if fmt == "crd":
                doc = crd_response(decision, assertion_id=aid, override_reasons=codings)
                uuids = card_uuids(decision, aid)
            else:
                doc, uuids = pas_claim_response(decision, assertion_id=aid), {}
            store.log_decision(decision, loaded.case, channel="cli", assertion_id=aid, card_uuids=uuids)
            shown.append(doc)
            if len(shown) == 2:
                sys.stdout.write(json.dumps(shown[0], ensure_ascii=False) + "\n")
            if len(shown) >= 2:
                sys.stdout.write(json.dumps(doc, ensure_ascii=False) + "\n")
        if len(shown) == 1:
            sys.stdout.write(json.dumps(shown[0], indent=2, ensure_ascii=False) + "\n")
        _say(f"{len(shown)} decision(s) logged in {store.where}")
        if bad:
            _say(f"{bad} case(s) not checked: invalid input (see above)")
            return EXIT_FINDINGS
        return EXIT_OK
    except (StoreError, ReasonsError) as e:
        _say(f"error: {e}")
        return EXIT_ERROR
    except FhirError as e:
        _say(f"error: {e.message}: " + "; ".join(e.problems[:5]), from_case=True)
        return EXIT_ERROR
    except PtcheckError as e:
        _say(f"error: {e}", from_case=True)
        return EXIT_ERROR
    finally:
        store.close()


@app.command("import")
def import_(
    file: Path = typer.Argument(..., metavar="FILE", help="JSON Lines: dispositions, review outcomes (and decisions, "
                                                           "as `dispositions export` writes them)."),
    db: Optional[str] = Db,
    rules: Optional[Path] = typer.Option(None, "--rules", metavar="DIR", help="Folder of rule sets whose "
                                         "override-reasons.yaml lists the reasons (default: the installed one)."),
) -> None:
    """Record reviewers' dispositions (accepted / overridden with a coded reason) and actual IMR/IRO results
    against decisions in the log. Bad lines are listed (file:line:column) and skipped; the rest is imported."""
    from ..dispositions import OverrideReasons, ReasonsError, import_file
    if not file.is_file():
        _say(f"error: {file}: no such file")
        raise typer.Exit(EXIT_ERROR)
    store = _store(db)
    try:
        result = import_file(store, file, OverrideReasons.load(rules))
    except (OSError, UnicodeDecodeError) as e:
        _say(f"error: {file}: cannot read it ({type(e).__name__})")
        raise typer.Exit(EXIT_ERROR) from None
    except ReasonsError as e:
        _say(f"error: {e}")
        raise typer.Exit(EXIT_ERROR) from None
    finally:
        store.close()
    for p in result.problems or []:
        _say(str(p), from_case=True)
    _say(f"imported {result.dispositions} disposition(s), {result.outcomes} review outcome(s), "
         f"{result.decisions} decision(s) into {store.where}"
         + (f"; {len(result.problems or [])} line(s) refused (see above)" if result.problems else ""))
    raise typer.Exit(EXIT_FINDINGS if result.problems else EXIT_OK)


@app.command("export")
def export(db: Optional[str] = Db) -> None:
    """Every logged decision, disposition and review outcome as JSON Lines (what `import` and `audit FILE` read)."""
    store = _store(db)
    try:
        for record in store.export():
            sys.stdout.write(json.dumps(record, ensure_ascii=False) + "\n")
    finally:
        store.close()


@app.command("audit")
def audit(
    file: Optional[Path] = typer.Argument(None, metavar="FILE", help="An export (JSON Lines) to audit instead of "
                                                                      "the database."),
    db: Optional[str] = Db,
    as_json: bool = typer.Option(False, "--json", help="The audit as JSON."),
    html: Optional[Path] = typer.Option(None, "--html", metavar="FILE", help="Also write a self-contained HTML report."),
    rules: Optional[Path] = typer.Option(None, "--rules", metavar="DIR", help="Folder whose override-reasons.yaml "
                                         "names the reasons."),
) -> None:
    """Override rates by rule, rule set and version, reviewer and answer; the spread of override reasons; and,
    where actual IMR/IRO results are known, how often the accepted suggestion or the override held."""
    from ..dispositions import OverrideReasons, ReasonsError, audit_dispositions, import_file, render_html
    try:
        reasons = OverrideReasons.load(rules)
    except ReasonsError as e:
        _say(f"error: {e}")
        raise typer.Exit(EXIT_ERROR) from None
    if file is not None:
        if not file.is_file():
            _say(f"error: {file}: no such file")
            raise typer.Exit(EXIT_ERROR)
        store = _store("sqlite://")                   # the export, read into a private in-memory database
        result = import_file(store, file, reasons)
        for p in result.problems or []:
            _say(str(p), from_case=True)
    else:
        store = _store(db)
        result = None
    try:
        report = audit_dispositions(store, reasons)
    finally:
        store.close()
    if html is not None:
        html.write_text(render_html(report), encoding="utf-8")
        _say(f"wrote {html}")
    if as_json:
        sys.stdout.write(report.to_json() + "\n")
    else:
        _print(report.as_dict())
    raise typer.Exit(EXIT_FINDINGS if result is not None and result.problems else EXIT_OK)


@app.command("reasons")
def reasons_(rules: Optional[Path] = typer.Option(None, "--rules", metavar="DIR", help="Folder of rule sets.")) -> None:
    """The published override reasons (rules/override-reasons.yaml): code and meaning."""
    from ..dispositions import OverrideReasons
    r = OverrideReasons.load(rules)
    for code, display in r.reasons.items():
        out.print(f"{code:28} {display}", highlight=False, markup=False)


def _pct(x: float | None) -> str:
    return "n/a" if x is None else f"{100 * x:.1f}%"


def _print(r: dict) -> None:
    o = r["overall"]
    out.print(f"{r['decisions']} decision(s) logged, {o['items']} item(s); {o['dispositions']} with a disposition: "
              f"{o['accepted']} accepted, {o['overridden']} overridden (override rate {_pct(o['override_rate'])})",
              highlight=False, markup=False)
    for title, rows, keys in (("By rule", r["by_rule"], ("ruleset", "version", "rule")),
                              ("By rule set and version", r["by_ruleset"], ("ruleset", "version")),
                              ("By reviewer", r["by_reviewer"], ("reviewer",)),
                              ("By ptcheck's answer", r["by_outcome"], ("outcome",))):
        t = Table(title=title, title_justify="left")
        for k in keys + ("items", "dispositions", "accepted", "overridden", "override rate"):
            t.add_column(k, overflow="fold")
        for row in rows:
            t.add_row(*(printable(str(row[k])) for k in keys),
                      *(str(row[k]) for k in ("items", "dispositions", "accepted", "overridden")),
                      _pct(row["override_rate"]))
        out.print(t)
    t = Table(title="Override reasons", title_justify="left")
    for k in ("reason", "meaning", "overrides", "share"):
        t.add_column(k, overflow="fold")
    for row in r["override_reasons"]:
        t.add_row(row["reason"], row["display"], str(row["count"]), _pct(row["share"]))
    out.print(t)
    t = Table(title="Held at IMR/IRO (upheld)", title_justify="left")
    for k in ("decision that went out", "with a known result", "upheld", "overturned", "partially overturned", "held"):
        t.add_column(k)
    for who, label in (("accepted", "the suggestion (accepted)"), ("overridden", "the reviewer's (overridden)"),
                       ("no_disposition", "no disposition")):
        row = r["review_outcomes"][who]
        t.add_row(label, str(row["with_outcome"]), str(row["upheld"]), str(row["overturned"]),
                  str(row["partially_overturned"]), _pct(row["held_rate"]))
    out.print(t)


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="dispositions")
