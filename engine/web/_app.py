"""`ptcheck serve`: a JSON API and a reviewer's page over the public engine API (FastAPI on uvicorn).

    from ptcheck.web._app import create_app
    app = create_app()                 # one Checker per app, built at startup on the engine thread

Endpoints (OpenAPI at /openapi.json; no /docs page, which would load Swagger UI from a CDN):
  POST /v1/check       one case (or a few) in the case format, JSON or YAML body -> exactly the decision
                       JSON of `ptcheck check --json` (one case: the pretty object; several: JSON Lines)
  POST /v1/validate    the same input, validated only -> {"ok": true} or 422 (the page checks as you type)
  POST /v1/audit       a small batch with `actual` outcomes -> the audit JSON of `ptcheck audit --json`
  GET  /v1/rulesets    ?as_of=YYYY-MM-DD&jurisdiction=CA|TX -> the rows of `ptcheck rules list --json`
  GET  /v1/schema/case the case JSON Schema (`ptcheck schema case`)
  GET  /               the reviewer's page (engine/web/web_static: plain HTML, CSS and one JS file)

Invalid input is a 422 whose `problems` are the engine's Problem objects (field path, line, column, code,
message, suggestion) and whose `text` lines are what the CLI prints for them; nothing in an error answer
comes from a traceback. Bodies over the limit are refused with 413 while they are read (Content-Length
first, then the bytes actually received), before any parsing.

Threads. The engine is not thread-safe as a whole: durable_rules' C code is serialised by one process-wide
lock in engine/core/_durable.py, but a check also touches lazily filled tables (ICD-10-CM hierarchy, the GEMs
crosswalk, compiled rule sets) and pydantic models that were never audited for concurrent use. Plain `def`
endpoints would run in the framework's pool of ~40 threads and rely on that lock alone, which covers the
durable sessions only. So the endpoints are `async def` (they read the body under the size limit without
blocking the event loop) and hand every engine call to ONE dedicated thread (`_Engine`): the Checker is
built there at startup and only that thread ever touches it. Requests queue for it; the event loop stays
free to accept connections, read bodies and refuse oversized ones meanwhile.

Access log: uvicorn's own access log is off (it would log query strings); `_access_log` logs method,
path, status and duration only, never a body or a query string.
"""
from __future__ import annotations

import asyncio
import concurrent.futures
import datetime as dt
import json
import logging
import time
from contextlib import asynccontextmanager
from importlib import resources
from pathlib import Path
from typing import Any, Callable

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect

from .. import Checker, Library, Problem, PtcheckError, case_schema, load_text, to_json
from ..core._render import decision_dict
from ..core._textsafe import redact
from ._body import _Refused, _TooLarge, body_file, read_body

CHECK_MAX_BYTES = 1 * 2 ** 20       # one case is a few KiB; the seeds are < 2 KiB
CHECK_MAX_CASES = 20
AUDIT_MAX_BYTES = 4 * 2 ** 20
AUDIT_MAX_CASES = 500
CHECK_BUDGET = 20.0                 # seconds of engine time for one /v1/check (between cases; 503 past it)
AUDIT_BUDGET = 120.0                # seconds of engine time for one /v1/audit (a partial audit is 503)
SOURCE = "<request>"                # the file name in problems (the CLI prints the path of the file)
CLOSE = {"Connection": "close"}     # after a 413 or 408 the rest of the body is not read

log = logging.getLogger("ptcheck.web")
access_log = logging.getLogger("ptcheck.web.access")

_YAML_TYPES = ("application/yaml", "application/x-yaml", "text/yaml", "text/x-yaml", "text/plain")
_JSONL_TYPES = ("application/jsonl", "application/x-ndjson", "application/x-jsonlines", "application/jsonlines")


class _Invalid(Exception):
    def __init__(self, problems: list[Problem]):
        super().__init__("invalid input")
        self.problems = problems


class _Engine:
    """One thread that owns the Checker: every engine call runs on it, one at a time."""

    def __init__(self, factory: Callable[[], Checker]):
        self._pool = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="ptcheck-engine")
        self._factory = factory
        self.checker: Checker | None = None

    def start(self) -> None:
        self.checker = self._pool.submit(self._build).result()

    def _build(self) -> Checker:
        checker = self._factory()
        _warm(checker)
        return checker

    async def run(self, fn: Callable, *args) -> Any:
        return await asyncio.wrap_future(self._pool.submit(fn, self.checker, *args))

    def stop(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)


_WARM = ('{"id": "warm", "jurisdiction": "CA", "review": {"kind": "imr", "date": "2014-07-24"}, '
         '"diagnoses": [{"icd9": "847.2"}, {"icd10": "S13.4XXA"}, {"text": "low back pain"}], '
         '"requests": [{"id": "1", "service": "physical_therapy", "body_regions": ["lumbar"], "visits": 6}], '
         '"history": {"therapy": [{"service": "physical_therapy", "visits_completed": 6}]}}')


def _warm(checker: Checker) -> None:
    """Load the diagnosis tables and compile the common rule sets at startup, not on the first request."""
    for loaded in load_text(_WARM, "<warm-up>", fmt="json"):
        if loaded.ok:
            checker.check(loaded.case)


# ---------------------------------------------------------------------------------------------
# input


def _format(request: Request, jsonl_ok: bool = False) -> str:
    """json, jsonl or yaml from the Content-Type (none: YAML, the default, which also reads JSON); any other
    type is 415 (an HTML page or an image is not read as YAML)."""
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if ctype == "application/json" or ctype.endswith("+json"):
        return "json"
    if jsonl_ok and ctype in _JSONL_TYPES:
        return "jsonl"
    if ctype == "" or ctype in _YAML_TYPES:
        return "yaml"
    allowed = ", ".join(("application/yaml", "application/json") + (("application/jsonl",) if jsonl_ok else ()))
    raise _Refused(415, f"unsupported content type; send {allowed}")


def _problems_json(problems: list[Problem]) -> dict:
    """The problems of a case, as the CLI prints them: quoted case values hidden (docs/security.md)."""
    shown = [{**p.as_dict(), "message": redact(p.message)} for p in problems]
    return {"detail": "invalid input", "problems": shown, "text": [redact(str(p)) for p in problems]}


def _load(body: bytes, fmt: str, max_cases: int) -> list:
    """The body's documents as Loaded objects; _Invalid with every problem when any document is invalid."""
    if not body.strip():
        raise _Invalid([Problem("the body is empty: send one case in the case format (YAML or JSON)",
                                file=SOURCE, code="C001")])
    docs = []
    for loaded in load_text(body, SOURCE, fmt=fmt):
        docs.append(loaded)
        if len(docs) > max_cases:
            raise _TooLarge(f"more than {max_cases} cases in one request; send a batch to /v1/audit")
    problems = [p for d in docs if not d.ok for p in d.problems or []]
    if problems:
        raise _Invalid(problems)
    if not docs:
        raise _Invalid([Problem("no case in the body", file=SOURCE, code="C001")])
    return docs


def _check(checker: Checker, body: bytes, fmt: str) -> str:
    """What `ptcheck check --json` prints for these cases: one case, to_json + newline; several, JSON Lines.
    Past CHECK_BUDGET seconds of engine time (checked between cases) the request is 503."""
    docs = _load(body, fmt, CHECK_MAX_CASES)
    deadline = time.monotonic() + CHECK_BUDGET
    decisions = []
    for d in docs:
        if time.monotonic() > deadline:
            raise _Refused(503, f"the request needed more than {CHECK_BUDGET:.0f} s; send fewer cases")
        decisions.append(checker.check(d.case))
    if len(decisions) == 1:
        return to_json(decisions[0]) + "\n"
    return "".join(json.dumps(decision_dict(d), ensure_ascii=False) + "\n" for d in decisions)


def _validate(checker: Checker, body: bytes, fmt: str) -> dict:
    docs = _load(body, fmt, CHECK_MAX_CASES)
    return {"ok": True, "cases": [d.case.id for d in docs]}


def _audit(checker: Checker, body: bytes, fmt: str) -> str:
    """The audit JSON of `ptcheck audit --json` for the batch: the library's audit() (jobs=1, in this thread,
    with its Checker) over the body held in memory (an anonymous memory file, `_body_file`); file names in
    the report are the label `<request>`. Past AUDIT_BUDGET seconds the audit stops and the request is 503."""
    from ..audit._audit import audit, estimate_cases
    if not body.strip():
        raise _Invalid([Problem("the body is empty: send cases in the case format (YAML, JSON or JSONL)",
                                file=SOURCE, code="C001")])
    suffix = {"json": ".json", "jsonl": ".jsonl"}.get(fmt, ".yaml")
    with body_file(body, suffix) as path:
        n = estimate_cases([path])
        if fmt == "json":
            try:
                data = json.loads(body)
                n = len(data) if isinstance(data, list) else 1
            except ValueError:
                n = 1                  # the audit lists the syntax error
        if n > AUDIT_MAX_CASES:
            raise _TooLarge(f"{n} cases in one request; the limit is {AUDIT_MAX_CASES}")
        deadline = time.monotonic() + AUDIT_BUDGET
        report = audit([path], jobs=1, checker_factory=lambda: checker, stop=lambda: time.monotonic() > deadline)
    if report.partial:
        raise _Refused(503, f"the audit needed more than {AUDIT_BUDGET:.0f} s; send fewer cases")
    for entry in list(report.disagreements) + list(report.errors):
        entry.file = SOURCE
    return report.to_json() + "\n"


# ---------------------------------------------------------------------------------------------
# the app


def create_app(rules: Path | None = None, *, checker_factory: Callable[[], Checker] | None = None,
               store: Any = None) -> FastAPI:
    """The ASGI app. The Checker is built once, at startup, on the engine thread. With a decision log (`store`,
    a ptcheck.dispositions.Store) every decision served is logged (engine/web/_cds.py)."""
    from ..dispositions import OverrideReasons
    from . import _cds
    reasons = OverrideReasons.load(rules)
    factory = checker_factory or (lambda: Checker(Library.load(rules)))
    engine = _Engine(factory)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        await asyncio.get_running_loop().run_in_executor(None, engine.start)
        try:
            yield
        finally:
            engine.stop()

    # no /docs or /redoc: FastAPI's pages load Swagger UI / ReDoc from a CDN, and ptcheck works offline
    app = FastAPI(title="ptcheck", version=_version(), lifespan=lifespan, docs_url=None, redoc_url=None,
                  description="Guideline-rule checking for physical therapy requests in US workers' "
                              "compensation. The case format: ptcheck/case@1 (GET /v1/schema/case).")
    app.state.engine = engine
    static = resources.files("ptcheck.web") / "web_static"

    @app.middleware("http")
    async def _access(request: Request, call_next):
        """The access log line, and the last guard: an exception that reached here is a 500 answered here
        (logged by its type only, never its message or a traceback, which could quote the case), and a
        client that went away is logged as 499, not as a 500 (starlette would re-raise both to uvicorn,
        which logs the traceback)."""
        start = time.perf_counter()
        status = 500
        try:
            response = await call_next(request)
            status = response.status_code
            return response
        except ClientDisconnect:
            status = 499
            return Response(status_code=499)
        except Exception as exc:     # noqa: BLE001 - the type is logged, never the message
            log.error("unexpected error on %s %s: %s", request.method, request.url.path, type(exc).__name__)
            return JSONResponse({"detail": "internal error"}, status_code=500)
        finally:   # method, path, status, duration: never the body or the query string
            access_log.info("%s %s %d %.1fms", request.method, request.url.path, status,
                            1000 * (time.perf_counter() - start))

    @app.exception_handler(_TooLarge)
    async def _too_large(request: Request, exc: _TooLarge):
        return JSONResponse({"detail": exc.message}, status_code=413, headers=CLOSE)

    @app.exception_handler(_Refused)
    async def _refused(request: Request, exc: _Refused):
        return JSONResponse({"detail": exc.message}, status_code=exc.status,
                            headers=CLOSE if exc.status == 408 else None)

    @app.exception_handler(ClientDisconnect)
    async def _gone(request: Request, exc: ClientDisconnect):
        return Response(status_code=499)

    @app.exception_handler(_Invalid)
    async def _invalid(request: Request, exc: _Invalid):
        return JSONResponse(_problems_json(exc.problems), status_code=422)

    @app.exception_handler(RequestValidationError)
    async def _bad_params(request: Request, exc: RequestValidationError):
        problems = [Problem(str(e.get("msg", "invalid")), path=".".join(str(x) for x in e.get("loc", ())),
                            code="Q001") for e in exc.errors()]
        return JSONResponse(_problems_json(problems), status_code=422)

    @app.exception_handler(PtcheckError)
    async def _engine_error(request: Request, exc: PtcheckError):
        log.error("engine error on %s %s: %s", request.method, request.url.path, type(exc).__name__)
        return JSONResponse({"detail": "the engine failed on this case; no answer was produced "
                                       "(run `ptcheck check` on it to see the error)"}, status_code=500)


    case_body = {"requestBody": {"required": True, "content": {
        "application/yaml": {"schema": {"type": "string"}},
        "application/json": {"schema": {"$ref": "#/components/schemas/Case"}}}}}

    @app.post("/v1/check", openapi_extra=case_body, tags=["cases"],
              responses={200: {"description": "the decision JSON of `ptcheck check --json`",
                               "content": {"application/json": {}}},
                         413: {"description": "body or batch over the limit"},
                         422: {"description": "invalid case: the problems with paths and lines"}})
    async def check(request: Request, format: str | None = None) -> Response:
        """Check one case (YAML or JSON body): per item the outcome, certified visits, predicted IMR/IRO
        result, findings with citations, missing documentation and what would change the answer. The
        body of the answer is byte for byte what `ptcheck check CASE --json` prints; `?format=crd` gives the
        Da Vinci CRD response, `?format=pas` the PAS ClaimResponse (docs/fhir.md). A server with a decision
        log (`ptcheck serve`) logs each decision and names it in the Ptcheck-Assertion-Id header."""
        fmt = _format(request)
        body = await read_body(request, CHECK_MAX_BYTES)
        if format is not None or store is not None:
            out = _cds.out_format(format)
            text, media, headers = await engine.run(_cds.check_as, store, reasons, body, fmt, out)
            return Response(text, media_type=media, headers=headers)
        text = await engine.run(_check, body, fmt)
        media = "application/json" if text.startswith("{\n") else "application/jsonl"   # several: JSON Lines
        return Response(text, media_type=media)

    @app.post("/v1/validate", openapi_extra=case_body, tags=["cases"])
    async def validate(request: Request) -> dict:
        """Validate a case without checking it: {"ok": true} or 422 with the problems (the page's checks as
        you type use this, so they follow exactly the API's rules)."""
        fmt = _format(request)
        body = await read_body(request, CHECK_MAX_BYTES)
        return await engine.run(_validate, body, fmt)

    @app.post("/v1/audit", tags=["cases"], openapi_extra={"requestBody": {"required": True, "content": {
        "application/yaml": {"schema": {"type": "string"}}, "application/jsonl": {"schema": {"type": "string"}},
        "application/json": {"schema": {"type": "array", "items": {"$ref": "#/components/schemas/Case"}}}}}})
    async def audit(request: Request) -> Response:
        """Audit a batch (at most 500 cases, 4 MiB) whose items carry `actual` outcomes: the JSON of `ptcheck audit --json`. Invalid cases are listed under `errors`."""
        fmt = _format(request, jsonl_ok=True)
        body = await read_body(request, AUDIT_MAX_BYTES)
        text = await engine.run(_audit, body, fmt)
        return Response(text, media_type="application/json")

    @app.get("/v1/rulesets", tags=["rules"])
    async def rulesets(as_of: str | None = None, jurisdiction: str | None = None) -> list[dict]:
        """The rule sets (in force on `as_of`, for `jurisdiction`) with versions and sha256 hashes: the
        rows of `ptcheck rules list --json`."""
        from ..authoring import _catalog
        problems = []
        on = None
        if as_of:
            try:
                on = dt.date.fromisoformat(as_of)
            except ValueError:
                problems.append(Problem("not a date; write YYYY-MM-DD", path="as_of", code="Q002"))
        j = jurisdiction.upper() if jurisdiction else None
        if j and j not in ("CA", "TX"):
            problems.append(Problem("CA or TX", path="jurisdiction", code="Q003"))
        if problems:
            raise _Invalid(problems)
        return await engine.run(lambda checker: _catalog.rows(checker.library, as_of=on, jurisdiction=j))

    @app.get("/v1/schema/case", tags=["schema"])
    async def schema_case() -> dict:
        """The JSON Schema of the case format (ptcheck/case@1) as ptcheck accepts it."""
        return case_schema()

    index = (static / "index.html").read_text(encoding="utf-8").replace(
        "<!-- vocabulary:", f'<script type="application/json" id="vocabulary">{_vocabulary()}</script>\n<!-- vocabulary:', 1)

    @app.get("/", include_in_schema=False)
    async def page() -> Response:
        return Response(index, media_type="text/html; charset=utf-8")

    @app.get("/static/{name}", include_in_schema=False)
    async def static_file(name: str) -> Response:
        types = {"app.js": "text/javascript; charset=utf-8", "app.css": "text/css; charset=utf-8"}
        if name not in types:
            raise StarletteHTTPException(404)
        return FileResponse(str(static / name), media_type=types[name])

    # the schema of a JSON case body, for the OpenAPI document
    def openapi() -> dict:
        if app.openapi_schema is None:
            from fastapi.openapi.utils import get_openapi
            doc = get_openapi(title=app.title, version=app.version, description=app.description,
                              routes=app.routes)
            schema = case_schema()
            defs = schema.pop("$defs", {})
            comps = doc.setdefault("components", {}).setdefault("schemas", {})
            comps.update(defs)
            comps["Case"] = json.loads(json.dumps(schema).replace("#/$defs/", "#/components/schemas/"))
            for d in defs:
                comps[d] = json.loads(json.dumps(comps[d]).replace("#/$defs/", "#/components/schemas/"))
            app.openapi_schema = doc
        return app.openapi_schema

    app.openapi = openapi
    _cds.register(app, engine, store, reasons)
    return app


def _version() -> str:
    try:
        from importlib.metadata import version
        return version("ptcheck")
    except Exception:
        return "0"


def vocabulary() -> dict:
    """The case format's choices as the page's form offers them: every known service and body region, and
    each documentation flag of the documentation table with the words of its fact."""
    from ..core._cases import KNOWN_SERVICES, Region
    from ..core._documentation import TABLE
    return {"services": list(KNOWN_SERVICES), "regions": [r.value for r in Region],
            "flags": [[d.id, d.fact[:1].upper() + d.fact[1:]] for d in TABLE if d.flag]}


def _vocabulary() -> str:
    # JSON inside <script>: "</" cannot end the element early
    return json.dumps(vocabulary(), ensure_ascii=True).replace("</", "<\\/")


def serve(host: str = "127.0.0.1", port: int = 8000, rules: Path | None = None, db: str | None = None,
          store_cases: bool = False) -> None:
    """Run the app on uvicorn with the limits of engine/web/_server.py; every decision served is logged in the
    decision log at `db` (default: the user's SQLite file)."""
    from ._server import serve as run
    run(host, port, rules, db, store_cases)


__all__ = ["AUDIT_BUDGET", "AUDIT_MAX_BYTES", "AUDIT_MAX_CASES", "CHECK_BUDGET", "CHECK_MAX_BYTES",
           "CHECK_MAX_CASES", "create_app", "serve"]
