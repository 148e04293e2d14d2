"""The CDS Hooks service of `ptcheck serve` (Da Vinci CRD over CDS Hooks), the decision log behind every answer,
and the reviewer's dispositions from the page.

  GET  /cds-services                     discovery: one service, `ptcheck-crd`, on order-select and order-sign
  POST /cds-services/ptcheck-crd         a hook call: draft ServiceRequests + the ptcheck case -> the CRD response
  POST /cds-services/ptcheck-crd/feedback  accepted / overridden cards -> dispositions in the decision log
  POST /v1/check?format=crd|pas          the decision of /v1/check as a CRD response or a PAS ClaimResponse
  POST /v1/dispositions                  the page's accept / override of an answer
  GET  /v1/override-reasons              the published override reasons (rules/override-reasons.yaml)

How a ptcheck case travels with a hook call (docs/cds-hooks.md): in the request's `extension` object under
"ptcheck-case" (the case as a JSON object, in the case format), or as the prefetch value "ptcheckCase", a FHIR
Binary whose contentType is application/json or application/yaml and whose data is the case. Each requested
item is paired with the draft ServiceRequest whose id (or identifier value) is the item's id; a case of one
item and a call with one ServiceRequest pair whatever their ids. The Coverage comes from prefetch "coverage"
(a Coverage, or a Bundle of them). Every decision served is logged before it is answered (assertion id = the
coverage-assertion-id); a card's uuid is logged with its item, so feedback finds the item it answers.

Errors: a body that is not JSON is a 400; a request that is JSON but wrong (no draftOrders, an invalid
ServiceRequest, an invalid case, an unknown card) a 422 naming the field path and what to send; no case
at all a 412 (CDS Hooks: the service cannot get the data it needs). Messages hold ids and paths only.
"""
from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from .. import Problem, to_json

log = logging.getLogger("ptcheck.web")
SERVICE_ID = "ptcheck-crd"
HOOKS = ("order-select", "order-sign")
CDS_MAX_BYTES = 2 * 2 ** 20
SOURCE = "<request>"


class CdsProblem(Exception):
    """A hook call ptcheck cannot answer: status (400, 412, 422) and the problems (field path, message)."""

    def __init__(self, status: int, problems: list[Problem]):
        super().__init__("bad CDS Hooks request")
        self.status, self.problems = status, problems


def _p(path: str, message: str, code: str = "F001") -> Problem:
    return Problem(message, file=SOURCE, path=path, code=code)


def discovery() -> dict:
    usage = ("Send the ptcheck case (the case format, GET /v1/schema/case) in the request's extension "
             "\"ptcheck-case\" (a JSON object) or as prefetch \"ptcheckCase\" (a FHIR Binary, application/json or "
             "application/yaml). Each requested item is paired with the draft ServiceRequest whose id is the "
             "item's id. ptcheck pre-screens against guideline rules; it does not authorize.")
    return {"services": [{"hook": hook, "id": SERVICE_ID, "title": "ptcheck coverage requirements (CRD)",
                          "description": "Guideline pre-screen of physical medicine orders in US workers' "
                                         "compensation (CA MTUS, TX ODG): Da Vinci CRD coverage information per "
                                         "ServiceRequest, and a Propose Alternate Request card where the guideline "
                                         "supports fewer visits.",
                          "prefetch": {"coverage": "Coverage?patient={{context.patientId}}&status=active"},
                          "usageRequirements": usage} for hook in HOOKS]}


# ---------------------------------------------------------------------------------------------
# reading a hook call


def parse_json(body: bytes, what: str) -> Any:
    try:
        return json.loads(body)
    except (ValueError, UnicodeDecodeError) as e:
        raise CdsProblem(400, [_p("", f"the body is not JSON ({type(e).__name__}): send the {what} as "
                                      "application/json", "F000")]) from None


def _orders(call: dict) -> dict[str, dict]:
    """The in-scope draft ServiceRequests, by id: every ServiceRequest of draftOrders (order-sign), or those
    named in selections (order-select)."""
    context = call.get("context")
    if not isinstance(context, dict):
        raise CdsProblem(422, [_p("context", "missing: the hook's context object (patientId, draftOrders, ...)")])
    bundle = context.get("draftOrders")
    if not isinstance(bundle, dict) or bundle.get("resourceType") != "Bundle":
        raise CdsProblem(422, [_p("context.draftOrders", "must be a FHIR Bundle of the draft orders")])
    selected = None
    if call.get("hook") == "order-select":
        sel = context.get("selections")
        if not isinstance(sel, list) or not all(isinstance(s, str) for s in sel):
            raise CdsProblem(422, [_p("context.selections", "order-select needs selections: a list of "
                                                            "'ResourceType/id' strings")])
        selected = set(sel)
    from ..fhir import FhirError
    from ..fhir._crd import validate_service_request
    out: dict[str, dict] = {}
    problems = []
    for i, entry in enumerate(bundle.get("entry") or []):
        res = entry.get("resource") if isinstance(entry, dict) else None
        if not isinstance(res, dict) or res.get("resourceType") != "ServiceRequest":
            continue
        if selected is not None and f"ServiceRequest/{res.get('id')}" not in selected:
            continue
        where = f"context.draftOrders.entry[{i}].resource"
        if not isinstance(res.get("id"), str):
            problems.append(_p(f"{where}.id", "a draft ServiceRequest needs an id (the systemAction updates it)"))
            continue
        try:
            validate_service_request(res, where)
        except FhirError as e:
            problems += [_p(line.split(": ", 1)[0], f"{line.split(': ', 1)[-1]} (a FHIR R4 ServiceRequest)", "F002")
                         for line in e.problems]
            continue
        out[res["id"]] = res
    if problems:
        raise CdsProblem(422, problems)
    return out


def _case_text(call: dict) -> tuple[bytes, str]:
    ext = call.get("extension")
    if isinstance(ext, dict) and "ptcheck-case" in ext:
        case = ext["ptcheck-case"]
        if not isinstance(case, dict):
            raise CdsProblem(422, [_p("extension.ptcheck-case", "must be the case as a JSON object")])
        return json.dumps(case).encode(), "json"
    pre = call.get("prefetch")
    binary = pre.get("ptcheckCase") if isinstance(pre, dict) else None
    if binary is None:
        raise CdsProblem(412, [_p("extension.ptcheck-case", "no ptcheck case: send it in the request's extension "
                                                            "ptcheck-case, or as prefetch ptcheckCase (a Binary)",
                                  "F003")])
    if not isinstance(binary, dict) or binary.get("resourceType") != "Binary" or not isinstance(binary.get("data"), str):
        raise CdsProblem(422, [_p("prefetch.ptcheckCase", "must be a FHIR Binary with the case in data (base64)")])
    ctype = str(binary.get("contentType", "")).split(";")[0].strip().lower()
    if ctype not in ("application/json", "application/yaml", "application/x-yaml", "text/yaml"):
        raise CdsProblem(422, [_p("prefetch.ptcheckCase.contentType", "application/json or application/yaml")])
    try:
        data = base64.b64decode(binary["data"], validate=True)
    except (binascii.Error, ValueError):
        raise CdsProblem(422, [_p("prefetch.ptcheckCase.data", "not base64")]) from None
    return data, "json" if ctype == "application/json" else "yaml"


def _coverage(call: dict) -> dict | None:
    pre = call.get("prefetch")
    cov = pre.get("coverage") if isinstance(pre, dict) else None
    if isinstance(cov, dict) and cov.get("resourceType") == "Bundle":
        found = [e.get("resource") for e in cov.get("entry") or [] if isinstance(e, dict)]
        cov = next((r for r in found if isinstance(r, dict) and r.get("resourceType") == "Coverage"), None)
    if isinstance(cov, dict) and cov.get("resourceType") == "Coverage" and isinstance(cov.get("id"), str):
        return {"reference": f"Coverage/{cov['id']}"}
    return None


def _pair(case, orders: dict[str, dict]) -> dict[str, dict]:
    """request id -> its ServiceRequest."""
    if len(case.requests) == 1 and len(orders) == 1:
        return {case.requests[0].id: next(iter(orders.values()))}
    by_identifier = {str(i.get("value")): sr for sr in orders.values() for i in sr.get("identifier") or []
                     if isinstance(i, dict)}
    paired, problems = {}, []
    for n, req in enumerate(case.requests):
        sr = orders.get(req.id) or by_identifier.get(req.id)
        if sr is None:
            problems.append(_p(f"requests[{n}].id", f"no draft ServiceRequest has the id (or identifier) '{req.id}' "
                                                    "of this item: give the order that id", "F004"))
        else:
            paired[req.id] = sr
    if problems:
        raise CdsProblem(422, problems)
    return paired


# ---------------------------------------------------------------------------------------------
# answering (on the engine thread)


def answer_hook(checker, store, reasons, call: dict) -> dict:
    from ..dispositions import new_assertion_id
    from ..fhir import card_uuids, crd_response
    from ._app import _Invalid, _load
    if call.get("hook") not in HOOKS:
        raise CdsProblem(422, [_p("hook", f"this service answers {' and '.join(HOOKS)}")])
    orders = _orders(call)
    text, fmt = _case_text(call)
    try:
        docs = _load(text, fmt, 1)
    except _Invalid as e:
        raise CdsProblem(422, e.problems) from None
    case = docs[0].case
    paired = _pair(case, orders)
    decision = checker.check(case)
    aid = new_assertion_id()
    response = crd_response(decision, assertion_id=aid, orders=paired, coverage=_coverage(call),
                            override_reasons=reasons.codings())
    user = (call.get("context") or {}).get("userId")
    store.log_decision(decision, case, channel="cds", assertion_id=aid,
                       requested_by=user if isinstance(user, str) else None, card_uuids=card_uuids(decision, aid))
    return response


def _when(value: Any, path: str) -> dt.datetime:
    try:
        t = dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        raise CdsProblem(422, [_p(path, "an ISO 8601 date and time in UTC, e.g. 2026-12-01T10:05:31Z")]) from None
    return t if t.tzinfo else t.replace(tzinfo=dt.timezone.utc)


def record_feedback(checker, store, reasons, body: Any) -> dict:
    from ..dispositions import Disposition
    from ..fhir import suggestion_uuid
    if not isinstance(body, dict) or not isinstance(body.get("feedback"), list):
        raise CdsProblem(422, [_p("feedback", "send {\"feedback\": [...]}, one entry per card")])
    records, problems = [], []
    for n, fb in enumerate(body["feedback"]):
        at = f"feedback[{n}]"
        if not isinstance(fb, dict):
            problems.append(_p(at, "each feedback is an object"))
            continue
        item = store.by_card(str(fb.get("card"))) if fb.get("card") else None
        if item is None:
            problems.append(_p(f"{at}.card", "no card with this uuid was issued by this service (card is the "
                                             "card.uuid of a response)", "F005"))
            continue
        outcome = fb.get("outcome")
        reason = comment = None
        if outcome == "accepted":
            wanted = suggestion_uuid(item["assertion_id"], item["request"])
            ids = [s.get("id") for s in fb.get("acceptedSuggestions") or [] if isinstance(s, dict)]
            if wanted not in ids:
                problems.append(_p(f"{at}.acceptedSuggestions", "an accepted card names the uuid of the suggestion "
                                                                "accepted (the card's one suggestion)"))
                continue
        elif outcome == "overridden":
            why = fb.get("overrideReason") or {}
            coding = why.get("reason") if isinstance(why, dict) else None
            comment = why.get("userComment") if isinstance(why, dict) else None
            if isinstance(coding, dict) and coding.get("system") == reasons.system:
                wrong = reasons.check(str(coding.get("code")))
                if wrong:
                    problems.append(_p(f"{at}.overrideReason.reason.code", wrong, "F006"))
                    continue
                reason = str(coding.get("code"))
            elif isinstance(coding, dict):          # a reason of the client's own: kept in the comment
                reason = "other"
                comment = f"client reason {coding.get('system')}#{coding.get('code')}" + (f": {comment}" if comment else "")
        else:
            problems.append(_p(f"{at}.outcome", "accepted or overridden"))
            continue
        if "outcomeTimestamp" not in fb:
            problems.append(_p(f"{at}.outcomeTimestamp", "required: when the card was acted on (UTC)"))
            continue
        when = _when(fb["outcomeTimestamp"], f"{at}.outcomeTimestamp")
        ext: dict = fb["extension"] if isinstance(fb.get("extension"), dict) else {}
        decision: dict = store.decision(item["assertion_id"]) or {}
        reviewer = str(ext.get("ptcheck-reviewer") or decision.get("requested_by") or "unknown")
        records.append(Disposition(item["assertion_id"], item["request"], str(outcome), reason,
                                   str(comment)[:4000] if comment else None, reviewer[:200], when, "cds"))
    if problems:
        raise CdsProblem(422, problems)
    for d in records:
        store.record(d)
    return {"recorded": len(records)}


def record_page_disposition(checker, store, reasons, body: Any) -> dict:
    from ..dispositions import Disposition, StoreError
    if not isinstance(body, dict):
        raise CdsProblem(422, [_p("", "send a JSON object: assertion_id, request, disposition, reason, reviewer")])
    problems = []
    for key in ("assertion_id", "request", "reviewer"):
        if not isinstance(body.get(key), str) or not body[key].strip():
            problems.append(_p(key, "required"))
    disposition = body.get("disposition")
    if disposition not in ("accepted", "overridden"):
        problems.append(_p("disposition", "accepted or overridden"))
    reason = body.get("reason") or None
    if disposition == "overridden":
        wrong = "required: choose why the suggestion is overridden" if reason is None else reasons.check(str(reason))
        if wrong:
            problems.append(_p("reason", wrong, "F006"))
    elif reason is not None:
        problems.append(_p("reason", "only an override has a reason"))
    comment = body.get("comment") or None
    if comment is not None and (not isinstance(comment, str) or len(comment) > 4000):
        problems.append(_p("comment", "text of at most 4000 characters"))
    if problems:
        raise CdsProblem(422, problems)
    try:
        n = store.record(Disposition(body["assertion_id"], body["request"], str(disposition), reason, comment,
                                     body["reviewer"].strip()[:200], source="page"))
    except StoreError:
        raise CdsProblem(422, [_p("assertion_id", "the decision log has no such decision and item (check the case "
                                                  "again, then answer)", "F005")]) from None
    return {"recorded": n}


def out_format(value: str | None) -> str | None:
    """The ?format= of /v1/check: json (the default), crd or pas; anything else is a 422."""
    if value in (None, "", "json"):
        return None
    if value not in ("crd", "pas"):
        raise CdsProblem(422, [Problem("json, crd or pas", file=SOURCE, path="format", code="Q004")])
    return value


def check_as(checker, store, reasons, body: bytes, fmt: str, out: str | None) -> tuple[str, str, dict]:
    """/v1/check with a decision log (and ?format=crd|pas): (body, media type, headers). The JSON answer is
    byte for byte `ptcheck check --json`; the assertion ids travel in the Ptcheck-Assertion-Id header."""
    from ._app import CHECK_MAX_CASES, _load
    docs = _load(body, fmt, CHECK_MAX_CASES)
    decisions = [checker.check(d.case) for d in docs]
    from ..dispositions import new_assertion_id
    aids = [new_assertion_id() for _ in decisions]
    if out in ("crd", "pas"):
        from ..fhir import card_uuids, crd_response, pas_claim_response
        codings = reasons.codings()
        docs_out = [crd_response(d, assertion_id=a, override_reasons=codings) if out == "crd"
                    else pas_claim_response(d, assertion_id=a) for d, a in zip(decisions, aids)]
        uuids = [card_uuids(d, a) if out == "crd" else {} for d, a in zip(decisions, aids)]
        text = (json.dumps(docs_out[0], indent=2, ensure_ascii=False) + "\n" if len(docs_out) == 1 else
                "".join(json.dumps(x, ensure_ascii=False) + "\n" for x in docs_out))
        media = "application/fhir+json" if out == "pas" and len(docs_out) == 1 else "application/json"
    else:
        uuids = [{} for _ in decisions]
        text = (to_json(decisions[0]) + "\n" if len(decisions) == 1 else
                "".join(to_json(d, indent=None) + "\n" for d in decisions))
        media = "application/json"
    if len(decisions) > 1:
        media = "application/jsonl"
    if store is not None:
        for d, doc, a, u in zip(decisions, docs, aids, uuids):
            store.log_decision(d, doc.case, channel="api", assertion_id=a, card_uuids=u)
    headers = {"Ptcheck-Assertion-Id": ", ".join(aids)} if store is not None else {}
    return text, media, headers


# ---------------------------------------------------------------------------------------------
# the routes


def register(app: FastAPI, engine, store, reasons) -> None:
    """Add the CDS Hooks service and the disposition endpoints to the app (engine/web/_app.py)."""
    from ._body import read_body as _read_body

    def _problems(status: int, problems: list[Problem]) -> JSONResponse:
        from ._app import _problems_json
        return JSONResponse(_problems_json(problems), status_code=status)

    @app.exception_handler(CdsProblem)
    async def _cds_problem(request: Request, exc: CdsProblem):
        return _problems(exc.status, exc.problems)

    from ..dispositions import StoreError

    @app.exception_handler(StoreError)
    async def _store_error(request: Request, exc: StoreError):
        # no decision is served unlogged: the answer is withheld (the message names the database, never a case)
        log.error("decision log error on %s %s: %s", request.method, request.url.path, exc)
        return JSONResponse({"detail": "the decision log cannot be written; no answer was served"}, status_code=503)

    def _need_store() -> None:
        if store is None:
            raise StarletteHTTPException(503, "this server keeps no decision log (start it with ptcheck serve)")

    @app.get("/cds-services", tags=["cds-hooks"])
    async def cds_discovery() -> dict:
        """CDS Hooks discovery: the ptcheck-crd service on order-select and order-sign."""
        return discovery()

    @app.post("/cds-services/{service_id}", tags=["cds-hooks"])
    async def cds_call(service_id: str, request: Request) -> Response:
        """A hook call: the Da Vinci CRD response (coverage information systemActions, Propose Alternate
        Request cards). The ptcheck case travels in extension "ptcheck-case" or prefetch "ptcheckCase"."""
        if service_id != SERVICE_ID:
            raise StarletteHTTPException(404, f"no CDS service '{service_id[:40]}': GET /cds-services lists them")
        _need_store()
        call = parse_json(await _read_body(request, CDS_MAX_BYTES), "hook request")
        if not isinstance(call, dict):
            raise CdsProblem(400, [_p("", "the hook request is a JSON object", "F000")])
        return JSONResponse(await engine.run(answer_hook, store, reasons, call))

    @app.post("/cds-services/{service_id}/feedback", tags=["cds-hooks"])
    async def cds_feedback(service_id: str, request: Request) -> dict:
        """CDS Hooks feedback: each accepted or overridden card becomes a disposition of its item."""
        if service_id != SERVICE_ID:
            raise StarletteHTTPException(404, f"no CDS service '{service_id[:40]}'")
        _need_store()
        body = parse_json(await _read_body(request, CDS_MAX_BYTES), "feedback")
        return await engine.run(record_feedback, store, reasons, body)

    @app.post("/v1/dispositions", status_code=201, tags=["dispositions"])
    async def page_disposition(request: Request) -> dict:
        """Accept or override an answer: {assertion_id, request, disposition, reason (overrides), comment,
        reviewer}. The assertion id is the Ptcheck-Assertion-Id header of the /v1/check answer."""
        _need_store()
        body = parse_json(await _read_body(request, 64 * 1024), "disposition")
        return await engine.run(record_page_disposition, store, reasons, body)

    @app.get("/v1/override-reasons", tags=["dispositions"])
    async def override_reasons() -> dict:
        """The published override reasons: {system, reasons: [{code, display}]}."""
        return {"system": reasons.system, "reasons": [{"code": c, "display": d} for c, d in reasons.reasons.items()]}
