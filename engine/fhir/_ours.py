"""ptcheck's own FHIR extension: what CRD and PAS have no element for (docs/fhir.md, "The ptcheck extension").

    {"url": "urn:ptcheck:fhir:decision", "extension": [
        {"url": "outcome", "valueCode": "modify"},            certify | modify | non_certify | pend
        {"url": "requested-visits", "valueInteger": 12},      when the request gives a count
        {"url": "certified-visits", "valueInteger": 6},       certify and modify
        {"url": "predicted-review", "valueCode": "upheld"},   IMR/IRO reviews: upheld | overturned | partially_overturned
        {"url": "engine-version", "valueString": "0.1.0"},
        {"url": "ruleset", "extension": [id, version, sha256]},           each rule set in force (repeats)
        {"url": "rule", "extension": [id, ruleset, version, effect]},     each finding that decided (repeats)
        {"url": "coverage-assertion-id", "valueString": "..."}]}          the decision log record

It rides inside ext-coverage-information (an extension on the extension, which CRD's open slicing allows:
a Coverage Information update may change nothing on the order but its coverage-information extensions) and
on each PAS ClaimResponse.item. A URN, not a URL: ptcheck publishes no FHIR server to resolve it.
"""
from __future__ import annotations

from .. import CaseDecision, ItemDecision
from ._mapping import deciding_findings

DECISION_EXTENSION = "urn:ptcheck:fhir:decision"


def decision_extension(decision: CaseDecision, item: ItemDecision, assertion_id: str) -> dict:
    parts: list[dict] = [{"url": "outcome", "valueCode": item.outcome}]
    if item.requested_visits is not None:
        parts.append({"url": "requested-visits", "valueInteger": item.requested_visits})
    if item.certified_visits is not None:
        parts.append({"url": "certified-visits", "valueInteger": item.certified_visits})
    if item.review_outcome:
        parts.append({"url": "predicted-review", "valueCode": item.review_outcome})
    parts.append({"url": "engine-version", "valueString": decision.engine_version})
    run = set(item.rulesets_run)
    for rs in decision.rulesets:
        if not run or f"{rs.id}@{rs.version}" in run:
            parts.append({"url": "ruleset", "extension": [
                {"url": "id", "valueString": rs.id}, {"url": "version", "valueString": rs.version},
                {"url": "sha256", "valueString": rs.sha256}]})
    for f in deciding_findings(item):
        parts.append({"url": "rule", "extension": [
            {"url": "id", "valueString": f.rule}, {"url": "ruleset", "valueString": f.ruleset},
            {"url": "version", "valueString": f.version}, {"url": "effect", "valueCode": f.effect}]})
    parts.append({"url": "coverage-assertion-id", "valueString": assertion_id})
    return {"url": DECISION_EXTENSION, "extension": parts}
