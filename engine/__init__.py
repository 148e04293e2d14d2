"""ptcheck: guideline-rule checking for physical therapy requests in US workers' compensation.

Public API (everything else is private and may change):

    from engine import Checker, load_cases
    checker = Checker()                        # rule sets from ./rules (or $PTCHECK_RULES)
    for loaded in load_cases(["cases/"]):
        if loaded.ok:
            decision = checker.check(loaded.case)
"""
from ._cases import Case, Loaded, case_schema, load_cases, load_text, validate_case
from ._check import Checker
from ._decide import CaseDecision, Finding, ItemDecision, combine
from ._errors import CaseError, EngineError, Problem, PtcheckError, RuleError
from ._explain import agrees, to_json
from ._rules import Library, RuleSet, parse_ruleset

__all__ = [
    "Case", "CaseDecision", "CaseError", "Checker", "EngineError", "Finding", "ItemDecision", "Library",
    "Loaded", "Problem", "PtcheckError", "RuleError", "RuleSet", "agrees", "case_schema", "combine",
    "load_cases", "load_text", "parse_ruleset", "to_json", "validate_case",
]
