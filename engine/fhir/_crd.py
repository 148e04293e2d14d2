"""A ptcheck decision as a Da Vinci CRD CDS Hooks response: one Coverage Information systemAction per item
(an `update` of its ServiceRequest adding ext-coverage-information), and for a modify a Propose Alternate
Request card whose one suggestion updates the order to the certified quantity, with override reasons.

Every ServiceRequest is validated with the fhir.resources R4B model before it is returned (FhirError if not).
"""
from __future__ import annotations

import datetime as dt
import hashlib
import re
import uuid

from .. import CaseDecision, ItemDecision
from . import _spec
from ._mapping import Assertion, assertion
from ._ours import DECISION_EXTENSION, decision_extension

_ID_OK = re.compile(r"[A-Za-z0-9\-.]{1,64}")
_NS = uuid.UUID("5e0f5d8e-3a47-4f5b-9a54-0c1f3d2b7a10")       # ptcheck's namespace for card and suggestion uuids
SOURCE_LABEL = "ptcheck guideline pre-screen (not the payer's decision)"


class FhirError(Exception):
    """A FHIR resource ptcheck received or built is invalid: `problems` are 'path: message' lines."""

    def __init__(self, message: str, problems: list[str] | None = None):
        super().__init__(message)
        self.message = message
        self.problems = problems or []


def fhir_id(text: str) -> str:
    """A FHIR id ([A-Za-z0-9-.]{1,64}) for a ptcheck id: kept as is when it is one, else its safe characters
    and a short hash (two different ids never share one)."""
    if _ID_OK.fullmatch(text):
        return text
    safe = re.sub(r"[^A-Za-z0-9\-.]+", "-", text).strip("-")[:50] or "id"
    return f"{safe}-{hashlib.sha256(text.encode()).hexdigest()[:12]}"


def card_uuid(assertion_id: str, request: str) -> str:
    """The uuid of an item's Propose Alternate Request card: derived from the assertion id and the request id
    (uuid5), so the same decision always names its card the same way."""
    return str(uuid.uuid5(_NS, f"{assertion_id}/{request}/card"))


def has_card(item: ItemDecision) -> bool:
    """A Propose Alternate Request card goes with a modify (a quantity to propose); every other answer is the
    Coverage Information systemAction alone (CRD: that response type SHALL NOT use a card)."""
    return item.outcome == "modify" and bool(item.certified_visits)


def card_uuids(decision: CaseDecision, assertion_id: str) -> dict[str, str]:
    """The uuid of each item's card, by request id, for the items that get one."""
    return {i.request: card_uuid(assertion_id, i.request) for i in decision.items if has_card(i)}


def suggestion_uuid(assertion_id: str, request: str) -> str:
    """The uuid of the card's one suggestion (CDS Hooks feedback names it when the card is accepted)."""
    return str(uuid.uuid5(_NS, f"{assertion_id}/{request}/suggestion"))


def absent(code: str = "unknown") -> dict:
    """A Reference ptcheck cannot fill (no patient, coverage or requester in a ptcheck case)."""
    return {"extension": [{"url": _spec.DATA_ABSENT_REASON, "valueCode": code}]}


def visits(n: int) -> dict:
    return {"value": n, "unit": "visits"}


def coverage_information(decision: CaseDecision, item: ItemDecision, a: Assertion, *, assertion_id: str,
                         date: dt.date, coverage: dict | None = None) -> dict:
    """The ext-coverage-information extension for one item (parts in the extension's own order)."""
    parts: list[dict] = [{"url": "coverage", "valueReference": coverage or absent()},
                         {"url": "covered", "valueCode": a.covered},
                         {"url": "pa-needed", "valueCode": a.pa_needed}]
    if a.doc_needed:
        parts.append({"url": "doc-needed", "valueCode": a.doc_needed})
    if a.doc_purpose:
        parts.append({"url": "doc-purpose", "valueCode": a.doc_purpose})
    if a.info_needed:
        parts.append({"url": "info-needed", "valueCode": a.info_needed})
    parts += [{"url": "reason", "valueCodeableConcept": {"text": r}} for r in a.reasons]
    if a.allowed_visits is not None:
        detail = [{"url": "category", "valueCode": "cat-limitation"},
                  {"url": "code", "valueCodeableConcept": {"coding": [
                      {"system": _spec.COVERAGE_DETAIL, "code": "allowed-quantity", "display": "Maximum quantity"}]}},
                  {"url": "value", "valueQuantity": visits(a.allowed_visits)}]
        if a.allowed_note:
            detail.append({"url": "qualification", "valueString": a.allowed_note})
        parts.append({"url": "detail", "extension": detail})
    if a.instructions:
        words = ("Documentation that would change the answer: " if item.outcome != "pend"
                 else "Documentation the answer waits for: ") + "; ".join(a.instructions)
        parts.append({"url": "detail", "extension": [
            {"url": "category", "valueCode": "cat-decisional"},
            {"url": "code", "valueCodeableConcept": {"coding": [
                {"system": _spec.COVERAGE_DETAIL, "code": "instructions", "display": "Instructions"}]}},
            {"url": "value", "valueString": words}]})
    parts += [{"url": "date", "valueDate": date.isoformat()},
              {"url": "coverage-assertion-id", "valueString": assertion_id},
              decision_extension(decision, item, assertion_id)]
    return {"url": _spec.COVERAGE_INFORMATION, "extension": parts}


def service_request(decision: CaseDecision, item: ItemDecision) -> dict:
    """The order of one item, for a decision that did not arrive as a FHIR order (`ptcheck check --format crd`):
    the request line as the code's text, the visits requested as the quantity; patient, requester and
    coverage are not in a ptcheck case, so they are data-absent."""
    sr: dict = {"resourceType": "ServiceRequest", "id": fhir_id(f"{decision.case}-{item.request}"),
                "identifier": [{"system": "urn:ptcheck:request", "value": f"{decision.case}#{item.request}"}],
                "status": "draft", "intent": "original-order",
                "code": {"text": item.text or item.service.replace("_", " ")}}
    if item.requested_visits is not None:
        sr["quantityQuantity"] = visits(item.requested_visits)
    sr["subject"] = absent()
    if decision.review_date:
        sr["authoredOn"] = decision.review_date
    sr["requester"] = absent()
    return sr


def _with_extension(order: dict, ext: dict) -> dict:
    """The order with this coverage-information extension added; nothing else changes (CRD resp-37). A
    coverage-information extension ptcheck added before (same ptcheck extension inside) is replaced."""
    out = dict(order)
    kept = [e for e in order.get("extension", []) if not _ours(e)]
    out["extension"] = kept + [ext]
    return out


def _ours(ext: dict) -> bool:
    return ext.get("url") == _spec.COVERAGE_INFORMATION and any(
        p.get("url") == DECISION_EXTENSION for p in ext.get("extension", []))


def validate_service_request(resource: dict, where: str) -> None:
    from fhir.resources.R4B.servicerequest import ServiceRequest
    from pydantic import ValidationError
    try:
        ServiceRequest.model_validate(resource)
    except ValidationError as e:
        raise FhirError(f"{where} is not a valid FHIR R4 ServiceRequest",
                        [f"{where}.{'.'.join(str(x) for x in err['loc'])}: {err['msg']}" for err in e.errors()]) from None


def crd_response(decision: CaseDecision, *, assertion_id: str, date: dt.date | None = None,
                 orders: dict[str, dict] | None = None, coverage: dict | None = None,
                 override_reasons: list[dict] | None = None) -> dict:
    """The CDS Hooks response (cards, systemActions) for a decision. `orders` maps a request id to the client's
    ServiceRequest (from context.draftOrders); without it each item's order is built from the decision.
    `override_reasons` are CDS Hooks Codings (system, code, display) for the Propose Alternate Request cards."""
    date = date or dt.datetime.now(dt.timezone.utc).date()
    cards, actions = [], []
    for item in decision.items:
        a = assertion(item)
        ext = coverage_information(decision, item, a, assertion_id=assertion_id, date=date, coverage=coverage)
        base = (orders or {}).get(item.request) or service_request(decision, item)
        updated = _with_extension(base, ext)
        validate_service_request(updated, f"ServiceRequest/{updated.get('id')}")
        actions.append({"type": "update", "description": f"Add coverage information (ptcheck: {item.outcome.replace('_', '-')})",
                        "resource": updated})
        if has_card(item):
            cards.append(_alternate_request_card(item, a, updated, assertion_id, override_reasons or []))
    return {"cards": cards, "systemActions": actions}


def _alternate_request_card(item: ItemDecision, a: Assertion, order: dict, assertion_id: str,
                            override_reasons: list[dict]) -> dict:
    n, asked = item.certified_visits or 0, item.requested_visits
    proposed = dict(order)
    proposed["quantityQuantity"] = visits(n)
    validate_service_request(proposed, f"ServiceRequest/{order.get('id')} (proposed)")
    service = item.service.replace("_", " ")
    summary = f"The guideline in force supports {n} of the {asked} {service} visits requested"[:140]
    detail = "\n".join(f"- {r}" for r in a.reasons)
    if a.instructions:
        detail += "\n\nDocumentation that would change the answer:\n" + "\n".join(f"- {m}" for m in a.instructions)
    return {
        "uuid": card_uuid(assertion_id, item.request),
        "summary": summary,
        "indicator": "info",
        "detail": detail,
        "source": {"label": SOURCE_LABEL, "topic": {"system": _spec.CARD_TYPE, "code": "off-guideline",
                                                    "display": "Off Guideline"}},
        "suggestions": [{"label": f"Change the order to {n} visits", "uuid": suggestion_uuid(assertion_id, item.request),
                         "actions": [{"type": "update", "description": f"Set the quantity to {n} visits",
                                      "resource": proposed}]}],
        "selectionBehavior": "at-most-one",
        "overrideReasons": override_reasons,
        "extension": {"davinci-crd.associated-resource": [{"reference": f"ServiceRequest/{order.get('id')}"}]},
    }
