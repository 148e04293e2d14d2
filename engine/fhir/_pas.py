"""A ptcheck decision as a Da Vinci PAS ClaimResponse (profile-claimresponse): per item an adjudication
with the reviewAction extension (A1 certified, A3 not certified, A4 pended, A6 modified), a modify's
authorized version as an addItem linked by itemSequence with its quantity, the rationale and citations as
processNotes, and claimResponseReviewer.wasHumanReviewedFlag = false (no person reviewed this answer).

Item sequences are the items' positions in the case (1, 2, ...): PAS echoes the Claim's item.sequence, and
a ptcheck case is that request. The response is validated with the fhir.resources R4B ClaimResponse model.
"""
from __future__ import annotations

import datetime as dt

from .. import CaseDecision, ItemDecision
from . import _spec
from ._crd import FhirError, absent, fhir_id
from ._mapping import assertion
from ._ours import decision_extension

SERVICE_TYPE = {                     # X12 1365 service type codes (PAS X12278RequestedServiceType)
    "physical_therapy": ("PT", "Physical Therapy"), "aquatic_therapy": ("PT", "Physical Therapy"),
    "occupational_therapy": ("AD", "Occupational Therapy"), "chiropractic": ("33", "Chiropractic"),
}
PHYSICAL_MEDICINE = ("AE", "Physical Medicine")      # acupuncture, massage, work conditioning / hardening, kits
MEDICAL_CARE = ("1", "Medical Care")                 # medications, office visits, injections
_MEDICAL = {"medication", "office_visit", "injection"}


def service_type(service: str) -> dict:
    code, display = SERVICE_TYPE.get(service) or (MEDICAL_CARE if service in _MEDICAL else PHYSICAL_MEDICINE)
    return {"coding": [{"system": _spec.X12_1365, "code": code, "display": display}],
            "text": service.replace("_", " ")}


def pas_quantity(n: int) -> dict:
    """PASQuantity: value, with the X12 HSD01 qualifier VS (visits)."""
    return {"value": n, "unit": "visits", "system": _spec.X12_673, "code": "VS"}


def _adjudication(action: str) -> list[dict]:
    return [{"category": {"coding": [{"system": _spec.ADJUDICATION, "code": "submitted"}]},
             "extension": [{"url": _spec.REVIEW_ACTION, "extension": [
                 {"url": "code", "valueCodeableConcept": {"coding": [
                     {"system": _spec.X12_306, "code": action, "display": _spec.REVIEW_ACTIONS[action]}]}}]}]}]


def _provider() -> dict:
    """itemAuthorizedProvider (1..* on every item): the type only, X12 98 SJ (service provider); a ptcheck case
    does not name the provider."""
    return {"url": _spec.ITEM_AUTHORIZED_PROVIDER, "extension": [
        {"url": "providerType", "valueCodeableConcept": {"coding": [
            {"system": _spec.X12_98, "code": "SJ", "display": "Service Provider"}]}}]}


def _notes(item: ItemDecision, first: int) -> list[dict]:
    a = assertion(item)
    texts = [f"Item {item.request}: {item.outcome.replace('_', '-')}"
             + (f" {item.certified_visits} of {item.requested_visits} visits" if item.outcome == "modify" else "")
             + (f"; predicted {item.review_outcome.replace('_', ' ')} at review" if item.review_outcome else "")]
    texts += [f"Item {item.request}: {r}" for r in a.reasons]
    if a.instructions:
        texts.append(f"Item {item.request}: " + ("documentation the answer waits for: " if item.outcome == "pend"
                                                 else "documentation that would change the answer: ")
                     + "; ".join(a.instructions))
    return [{"number": first + i, "type": "display", "text": t} for i, t in enumerate(texts)]


def pas_claim_response(decision: CaseDecision, *, assertion_id: str, created: dt.datetime | None = None,
                       patient: dict | None = None) -> dict:
    """The PAS ClaimResponse (as a JSON-ready dict) for a decision; `patient` is a Reference when known."""
    created = created or dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
    items: list[dict] = []
    added: list[dict] = []
    notes: list[dict] = []
    for seq, item in enumerate(decision.items, start=1):
        a = assertion(item)
        mine = _notes(item, len(notes) + 1)
        notes += mine
        ext = [_provider()]
        if item.outcome == "certify" and item.certified_visits is not None:
            ext.append({"url": _spec.ITEM_AUTHORIZED_DETAIL, "extension": [
                {"url": "productOrServiceCode", "valueCodeableConcept": service_type(item.service)},
                {"url": "quantity", "valueQuantity": pas_quantity(item.certified_visits)}]})
        ext.append(decision_extension(decision, item, assertion_id))
        items.append({"extension": ext, "itemSequence": seq, "noteNumber": [n["number"] for n in mine],
                      "adjudication": _adjudication(a.review_action)})
        if item.outcome == "modify" and item.certified_visits:
            added.append({"itemSequence": [seq], "productOrService": service_type(item.service),
                          "quantity": pas_quantity(item.certified_visits),
                          "noteNumber": [n["number"] for n in mine],
                          "adjudication": _adjudication("A1")})
    response: dict = {
        "resourceType": "ClaimResponse", "id": fhir_id(f"{decision.case}-{assertion_id[:8]}"),
        "meta": {"profile": [_spec.PAS_CLAIM_RESPONSE]},
        "extension": [{"url": _spec.CLAIM_RESPONSE_REVIEWER, "extension": [
            {"url": "wasHumanReviewedFlag", "valueBoolean": False}]}],
        "identifier": [{"system": "urn:ptcheck:coverage-assertion-id", "value": assertion_id}],
        "status": "active",
        "type": {"coding": [{"system": _spec.CLAIM_TYPE, "code": "professional"}]},
        "use": "preauthorization",
        "patient": patient or absent(),
        "created": created.isoformat(),
        "insurer": absent(),
        "request": {"type": "Claim", "identifier": {"system": "urn:ptcheck:case", "value": decision.case}},
        "outcome": "complete",
        "disposition": _disposition(decision),
        "item": items,
    }
    if added:
        response["addItem"] = added
    if notes:
        response["processNote"] = notes
    validate_claim_response(response)
    return response


def _disposition(decision: CaseDecision) -> str:
    words = {"certify": "certified", "modify": "modified", "non_certify": "not certified", "pend": "pended"}
    return "ptcheck pre-screen, not reviewed by a person: " + "; ".join(
        f"item {i.request} {words[i.outcome]}" for i in decision.items)


def validate_claim_response(resource: dict) -> None:
    from fhir.resources.R4B.claimresponse import ClaimResponse
    from pydantic import ValidationError
    try:
        ClaimResponse.model_validate(resource)
    except ValidationError as e:
        raise FhirError("the ClaimResponse ptcheck built is not valid FHIR",
                        [f"ClaimResponse.{'.'.join(str(x) for x in err['loc'])}: {err['msg']}" for err in e.errors()]) from None

