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
    "Case": "_cases", "Loaded": "_cases", "case_schema": "_cases", "load_cases": "_cases", "load_text": "_cases",
    "validate_case": "_cases",
    "Checker": "_check",
    "CaseDecision": "_decide", "Finding": "_decide", "ItemDecision": "_decide", "combine": "_decide",
    "CaseError": "_errors", "EngineError": "_errors", "Problem": "_errors", "PtcheckError": "_errors",
    "RuleError": "_errors",
    "agrees": "_explain", "to_json": "_explain",
    "Library": "_rules", "RuleSet": "_rules", "parse_ruleset": "_rules",
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
    from ._cases import Case, Loaded, case_schema, load_cases, load_text, validate_case
    from ._check import Checker
    from ._decide import CaseDecision, Finding, ItemDecision, combine
    from ._errors import CaseError, EngineError, Problem, PtcheckError, RuleError
    from ._explain import agrees, to_json
    from ._rules import Library, RuleSet, parse_ruleset
