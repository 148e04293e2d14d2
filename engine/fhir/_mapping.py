"""The one place where a ptcheck answer becomes a CRD coverage assertion and a PAS review action.

Each outcome is mapped deliberately (docs/fhir.md has the table and the reasons):

  ptcheck answer                    covered        pa-needed    doc-needed  doc-purpose info-needed  PAS
  certify                           covered        auth-needed  -           -           -            A1
  modify to N                       covered        auth-needed  -           -           -            A6 (+ addItem N)
  non_certify (medical necessity)   covered        auth-needed  clinical*   retain-doc* -            A3
  pend: documentation missing       covered        auth-needed  clinical    retain-doc  -            A4
  pend: an unknown fact flips it    conditional    auth-needed  clinical*   retain-doc* OTH          A4
  pend: no rule set in force        indeterminate  auth-needed  -           -           -            A4
  (* only where documentation the records lack would change the answer)

doc-purpose is retain-doc ("supporting evidence of the medical necessity"), not withpa: crd-ci-q4 as CRD
writes it evaluates to empty, which validators count as a failure, whenever doc-purpose is withpa and
pa-needed is not one of the values it lists (docs/fhir.md, "crd-ci-q4").

A non-certification is a finding of medical necessity under the guideline in force, never "not-covered":
physical medicine is a benefit of a workers' compensation claim, and `not-covered` ("no coverage or
possibility of coverage") would tell the ordering clinician that no documentation could change it.
pa-needed is always auth-needed: ptcheck pre-screens, it does not authorize (the utilization review
decision stays the payer's), so it never asserts `satisfied` or `no-auth`.
"""
from __future__ import annotations

from dataclasses import dataclass

from .. import Finding, ItemDecision

DECIDING = {"certify": ("certify", "limit"), "modify": ("limit",), "non_certify": ("non_certify", "limit"),
            "pend": ("pend",)}
PAS_ACTION = {"certify": "A1", "modify": "A6", "non_certify": "A3", "pend": "A4"}


@dataclass(frozen=True)
class Assertion:
    """A ptcheck item answer in CRD's terms (the parts of ext-coverage-information) and PAS's review action."""
    kind: str                        # certified | modified | not-certified | documentation | unknown | not-addressed
    covered: str
    pa_needed: str
    doc_needed: str | None
    doc_purpose: str | None
    info_needed: str | None
    reasons: tuple[str, ...]         # each a reason's text (CodeableConcept.text: satisfies crd-ci-q7)
    allowed_visits: int | None       # detail allowed-quantity
    allowed_note: str | None         # its qualification
    instructions: tuple[str, ...]    # documentation that would change the answer, or that the answer waits for
    review_action: str               # X12 306: A1 | A3 | A4 | A6


def deciding_findings(item: ItemDecision) -> list[Finding]:
    """The findings that made the item's outcome (for a modify: the limits; for a pend: the pends)."""
    effects = DECIDING[item.outcome]
    picked = [f for f in item.findings if f.effect == effects[0]]
    if not picked and len(effects) > 1:
        picked = [f for f in item.findings if f.effect in effects[1:]]
    return picked


def reason_text(f: Finding) -> str:
    return f"{f.message} ({f.rule}, {f.ruleset}@{f.version}; {f.citation})"


def _field(entry: object, name: str) -> object:
    """A would_change entry's field (a model, or its JSON form)."""
    return entry.get(name) if isinstance(entry, dict) else getattr(entry, name, None)


def _unknowns(item: ItemDecision) -> list[str]:
    """What the records leave unknown that flips a pended answer: `would_change` entries without a value."""
    return [str(_field(w, "documentation")) for w in item.would_change
            if _field(w, "value") is None and _field(w, "outcome") is None and _field(w, "documentation")]


def _changes_with_documentation(item: ItemDecision) -> list[str]:
    """Documentation flags that, were they documented, would change the answer (would_change with a value)."""
    return [str(_field(w, "documentation")) for w in item.would_change
            if _field(w, "value") is not None and _field(w, "documentation")]


def assertion(item: ItemDecision) -> Assertion:
    """The CRD coverage assertion and the PAS review action for one ptcheck item decision."""
    decisive = deciding_findings(item)
    reasons = tuple(reason_text(f) for f in decisive)
    action = PAS_ACTION[item.outcome]
    if item.outcome == "certify":
        return Assertion("certified", "covered", "auth-needed", None, None, None, reasons,
                         item.certified_visits, "the visits requested are within the guideline in force", (), action)
    if item.outcome == "modify":
        return Assertion("modified", "covered", "auth-needed", None, None, None, reasons, item.certified_visits,
                         f"of {item.requested_visits} visits requested" if item.requested_visits else None,
                         tuple(_changes_with_documentation(item)), action)
    if item.outcome == "non_certify":
        docs = tuple(_changes_with_documentation(item))
        return Assertion("not-certified", "covered", "auth-needed", "clinical" if docs else None,
                         "retain-doc" if docs else None, None, reasons, 0,
                         "not medically necessary under the guideline in force as requested (not a benefit exclusion)",
                         docs, action)
    # pend
    unknowns = _unknowns(item)
    engine_unknown = any(f.ruleset == "engine" and f.rule.endswith("unknown-flips") for f in decisive)
    not_addressed = any(f.ruleset == "engine" and f.rule.endswith(("not-addressed", "no-decision"))
                        for f in decisive)
    missing = tuple(item.missing)
    if unknowns or engine_unknown:
        return Assertion("unknown", "conditional", "auth-needed", "clinical" if missing else None,
                         "retain-doc" if missing else None, "OTH",
                         reasons + tuple(f"unknown: {u}" for u in unknowns if not any(u in r for r in reasons)),
                         None, None, missing, action)
    if not_addressed and not [f for f in decisive if f.ruleset != "engine"]:
        return Assertion("not-addressed", "indeterminate", "auth-needed", None, None, None, reasons, None, None,
                         (), action)
    if missing:
        return Assertion("documentation", "covered", "auth-needed", "clinical", "retain-doc", None,
                         reasons + tuple(f"missing: {m}" for m in missing), None, None, missing, action)
    # a pend that names no documentation and no unknown: the rules in force could not place the request
    return Assertion("not-addressed", "indeterminate", "auth-needed", None, None, None,
                     reasons or ("no rule in force reached a decision",), None, None, (), action)
