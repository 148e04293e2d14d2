"""The public API stays exactly what __init__ exports; the library never imports the CLI."""
import ast

import ptcheck
from tests.conftest import ROOT

EXPECTED = {
    "Case", "CaseDecision", "CaseError", "Checker", "EngineError", "Finding", "ItemDecision", "Library",
    "Loaded", "Problem", "PtcheckError", "RuleError", "RuleSet", "agrees", "case_schema", "combine",
    "load_cases", "load_text", "parse_ruleset", "to_json", "validate_case",
}


def test_exported_members():
    assert set(ptcheck.__all__) == EXPECTED
    assert all(hasattr(ptcheck, n) for n in ptcheck.__all__)


def test_library_never_imports_the_cli():
    for f in (ROOT / "engine").glob("_*.py"):
        if f.name.startswith("_cli"):
            continue
        tree = ast.parse(f.read_text())
        mods = [n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)]
        assert not [m for m in mods if m and ("cli" in m.split(".") or m.startswith("typer"))], f.name


def test_library_never_prints():
    for f in (ROOT / "engine").glob("_*.py"):
        if f.name.startswith("_cli"):
            continue
        tree = ast.parse(f.read_text())
        calls = [n for n in ast.walk(tree) if isinstance(n, ast.Call) and isinstance(n.func, ast.Name) and n.func.id == "print"]
        assert not calls, f.name
