"""The public API of the authoring, audit and letter jobs: ptcheck.authoring, ptcheck.audit, ptcheck.letters.

Each module's __all__ is exactly the list below (a name added or dropped is an API change: change it here on
purpose), every name is importable and documented by a docstring of its own, and the decision core never
imports these modules (import-linter contract in pyproject.toml, run by .ci/run)."""
import importlib
import tomllib

import pytest
import yaml

from tests.conftest import ROOT

PUBLIC = {
    "ptcheck.authoring": ["Coverage", "DiffReport", "Impact", "RuleChange", "RuleTestResult", "diff_rule_sets",
                          "lint", "run_rule_tests"],
    "ptcheck.audit": ["AuditAborted", "AuditError", "AuditReport", "CheckpointError", "Confusion", "Group",
                      "StopPoint", "Tally", "TallyError", "audit", "estimate_cases"],
    "ptcheck.letters": ["ImportedCase", "import_letter", "render_case_yaml"],
    "ptcheck.fhir": ["DECISION_EXTENSION", "FHIR_VERSION", "Assertion", "FhirError", "assertion", "card_uuid",
                     "card_uuids", "crd_response", "fhir_id", "invariant_problems", "pas_claim_response",
                     "suggestion_uuid"],
    "ptcheck.dispositions": ["Disposition", "DispositionAudit", "ImportResult", "OverrideReasons", "ReasonsError",
                             "RecordProblem", "ReviewOutcome", "Store", "StoreError", "audit_dispositions",
                             "case_sha256", "import_file", "new_assertion_id", "render_html"],
}


def _own_doc(obj) -> str:
    """The object's own docstring: not one inherited from a base class, nor the signature dataclasses write."""
    doc = obj.__dict__.get("__doc__") if isinstance(obj, type) else obj.__doc__
    doc = (doc or "").strip()
    name = getattr(obj, "__name__", "")
    return "" if doc.startswith(f"{name}(") else doc


@pytest.mark.parametrize("module", sorted(PUBLIC))
def test_all_is_exact_and_every_name_is_importable_and_documented(module):
    mod = importlib.import_module(module)
    assert mod.__all__ == PUBLIC[module]                    # exact, and in this order
    assert len(_own_doc(mod)) > 80, f"{module} needs a module docstring"
    for name in mod.__all__:
        obj = getattr(mod, name)
        assert len(_own_doc(obj)) > 20, f"{module}.{name} has no docstring of its own"
    exec(f"from {module} import *", ns := {})               # noqa: S102 - star import gives exactly __all__
    assert sorted(k for k in ns if not k.startswith("__")) == sorted(PUBLIC[module])


def test_public_functions_do_what_the_cli_does(tmp_path):
    from ptcheck import Library
    from ptcheck.authoring import diff_rule_sets, lint, run_rule_tests
    from ptcheck.letters import import_letter, render_case_yaml

    assert [p for p in lint() if p.severity == "error"] == []
    bad = tmp_path / "bad.yaml"
    bad.write_text("id: x\n")
    assert any(p.severity == "error" and p.file == str(bad) for p in lint([bad]))
    lib = Library.load()
    results, coverage, problems = run_rule_tests(lib, only=["mtus.cpmtg.massage"])
    assert results and all(r.passed for r in results) and not problems
    assert coverage.only(["mtus.cpmtg.massage"]).percent() == 100.0
    report = diff_rule_sets("mtus.cpmtg.massage@2009.1", "mtus.cpmtg.massage@2016.1", [ROOT / "cases"], library=lib)
    assert report.rules and all(set(c.changes) <= {"citation"} for c in report.rules)
    letter = ROOT / "tests/data/letters/ca_02_knee_meniscectomy.txt"
    imported = import_letter(letter.read_text(encoding="utf-8"), source=letter.name, case_id="letter-1")
    expected = yaml.safe_load(letter.with_suffix(".expected.yaml").read_text(encoding="utf-8"))["case"]
    assert imported.case["id"] == "letter-1"
    assert imported.case["jurisdiction"] == expected["jurisdiction"] == "CA"
    assert "letter-1" in render_case_yaml(imported)


def test_the_core_never_imports_the_public_job_modules():
    contracts = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]["contracts"]
    core = next(c for c in contracts if c["name"].startswith("The decision core never imports"))
    assert set(PUBLIC) <= set(core["forbidden_modules"])
    assert core["source_modules"] == ["ptcheck.core"]          # the whole subpackage
