"""ptcheck: guideline-rule checking for physical therapy requests in US workers' compensation.

Public API (everything else is private and may change):

    from ptcheck import Checker, load_cases
    checker = Checker()                        # the installed rule sets (or $PTCHECK_RULES)
    for loaded in load_cases(["cases/"]):
        if loaded.ok:
            decision = checker.check(loaded.case)

The authoring, audit and letter jobs have public modules of their own (each with an exact `__all__`):
`ptcheck.authoring` (lint, run_rule_tests, diff_rule_sets), `ptcheck.audit` (audit, AuditReport) and
`ptcheck.letters` (import_letter, render_case_yaml).

The names are imported on first use (PEP 562), so that `import ptcheck.cli` and `ptcheck --help` do not
build the pydantic models or load durable_rules.
"""
from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_WHERE = {
    "Case": "core._cases", "Loaded": "core._cases", "case_schema": "core._cases", "load_cases": "core._cases", "load_text": "core._cases",
    "validate_case": "core._cases",
    "Checker": "core._check",
    "CaseDecision": "core._decide", "Finding": "core._decide", "ItemDecision": "core._decide", "combine": "core._decide",
    "CaseError": "core._errors", "EngineError": "core._errors", "Problem": "core._errors", "PtcheckError": "core._errors",
    "RuleError": "core._errors",
    "agrees": "core._render", "to_json": "core._render",
    "Library": "core._rules", "RuleSet": "core._rules", "parse_ruleset": "core._rules",
}

__all__ = sorted(_WHERE, key=str.lower)


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value                  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_WHERE))


if TYPE_CHECKING:                            # for type checkers and editors: the eager form
    from .core._cases import Case, Loaded, case_schema, load_cases, load_text, validate_case
    from .core._check import Checker
    from .core._decide import CaseDecision, Finding, ItemDecision, combine
    from .core._errors import CaseError, EngineError, Problem, PtcheckError, RuleError
    from .core._render import agrees, to_json
    from .core._rules import Library, RuleSet, parse_ruleset
