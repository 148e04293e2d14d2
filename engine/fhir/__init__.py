"""ptcheck decisions in the review systems' language: HL7 FHIR R4, Da Vinci CRD and PAS.

    from ptcheck import Checker, load_cases
    from ptcheck.fhir import crd_response, pas_claim_response

    decision = Checker().check(case)
    crd = crd_response(decision, assertion_id="...")      # CDS Hooks {cards, systemActions}
    pas = pas_claim_response(decision, assertion_id="...")  # a PAS ClaimResponse

`crd_response` gives each item as the CRD Coverage Information systemAction (ext-coverage-information added
to its ServiceRequest) and, for a modify, a Propose Alternate Request card; `pas_claim_response` gives the
ClaimResponse with reviewAction A1/A3/A4/A6 per item. `assertion` is the one mapping from a ptcheck answer to
both (docs/fhir.md has the table). Needs the `fhir` extra (fhir.resources validates every resource built;
fhirpathpy evaluates the CRD invariants in `invariant_problems`).
"""
from __future__ import annotations

from ._crd import FhirError, card_uuid, card_uuids, crd_response, fhir_id, suggestion_uuid
from ._mapping import Assertion, assertion
from ._ours import DECISION_EXTENSION
from ._pas import pas_claim_response
from ._spec import FHIR_VERSION, invariant_problems

__all__ = ["DECISION_EXTENSION", "FHIR_VERSION", "Assertion", "FhirError", "assertion", "card_uuid", "card_uuids",
           "crd_response", "fhir_id", "invariant_problems", "pas_claim_response", "suggestion_uuid"]
