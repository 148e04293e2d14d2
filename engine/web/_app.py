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
import os
import tempfile
import time
from contextlib import asynccontextmanager
from importlib import resources
from pathlib import Path
from typing import Any, Callable

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from .. import Checker, Library, Problem, PtcheckError, case_schema, load_text, to_json
from ..core._render import decision_dict
from ..core._textsafe import redact

CHECK_MAX_BYTES = 1 * 2 ** 20       # one case is a few KiB; the seeds are < 2 KiB
CHECK_MAX_CASES = 20
AUDIT_MAX_BYTES = 4 * 2 ** 20
AUDIT_MAX_CASES = 500
SOURCE = "<request>"                # the file name in problems (the CLI prints the path of the file)

log = logging.getLogger("ptcheck.web")
access_log = logging.getLogger("ptcheck.web.access")

_YAML_TYPES = ("application/yaml", "application/x-yaml", "text/yaml", "text/x-yaml", "text/plain")
_JSONL_TYPES = ("application/jsonl", "application/x-ndjson", "application/x-jsonlines", "application/jsonlines")


class _TooLarge(Exception):
    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


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
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if ctype == "application/json" or ctype.endswith("+json"):
        return "json"
    if jsonl_ok and ctype in _JSONL_TYPES:
        return "jsonl"
    return "yaml"                   # YAML (the default) also reads JSON


async def _read_body(request: Request, limit: int) -> bytes:
    """The body, refused with 413 as soon as it is known to be over `limit` bytes: by its Content-Length
    before reading, else while the chunks arrive (a chunked upload is never held beyond limit + 1 chunk)."""
    declared = request.headers.get("content-length")
    if declared is not None:
        try:
            if int(declared) > limit:
                raise _TooLarge(f"the body is {int(declared)} bytes; the limit is {limit} bytes")
        except ValueError:
            pass                    # the server refuses a malformed Content-Length itself
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise _TooLarge(f"the body is over the limit of {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


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
    """What `ptcheck check --json` prints for these cases: one case, to_json + newline; several, JSON Lines."""
    docs = _load(body, fmt, CHECK_MAX_CASES)
    decisions = [checker.check(d.case) for d in docs]
    if len(decisions) == 1:
        return to_json(decisions[0]) + "\n"
    return "".join(json.dumps(decision_dict(d), ensure_ascii=False) + "\n" for d in decisions)


def _validate(checker: Checker, body: bytes, fmt: str) -> dict:
    docs = _load(body, fmt, CHECK_MAX_CASES)
    return {"ok": True, "cases": [d.case.id for d in docs]}


def _audit(checker: Checker, body: bytes, fmt: str) -> str:
    """The audit JSON of `ptcheck audit --json` for the batch: the library's audit() over the body written
    to a private temporary file (jobs=1, this thread's Checker); file names in the report are the label
    `<request>` instead of the temporary path."""
    from ..audit._audit import audit, estimate_cases
    if not body.strip():
        raise _Invalid([Problem("the body is empty: send cases in the case format (YAML, JSON or JSONL)",
                                file=SOURCE, code="C001")])
    suffix = {"json": ".json", "jsonl": ".jsonl"}.get(fmt, ".yaml")
    with tempfile.TemporaryDirectory(prefix="ptcheck-web-") as tmp:
        path = Path(tmp) / f"request{suffix}"
        path.write_bytes(body)
        n = estimate_cases([path])
        if fmt == "json":
            try:
                data = json.loads(body)
                n = len(data) if isinstance(data, list) else 1
            except ValueError:
                n = 1                  # the audit lists the syntax error
        if n > AUDIT_MAX_CASES:
            raise _TooLarge(f"{n} cases in one request; the limit is {AUDIT_MAX_CASES}")
        report = audit([path], jobs=1, checker_factory=lambda: checker)
    for entry in list(report.disagreements) + list(report.errors):
        entry.file = SOURCE
    return report.to_json() + "\n"


# ---------------------------------------------------------------------------------------------
# the app


def create_app(rules: Path | None = None, *, checker_factory: Callable[[], Checker] | None = None) -> FastAPI:
    """The ASGI app. The Checker is built once, at startup, on the engine thread."""
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
        start = time.perf_counter()
        status = 500
        try:
            response = await call_next(request)
            status = response.status_code
            return response
        finally:   # method, path, status, duration: never the body or the query string
            access_log.info("%s %s %d %.1fms", request.method, request.url.path, status,
                            1000 * (time.perf_counter() - start))

    @app.exception_handler(_TooLarge)
    async def _too_large(request: Request, exc: _TooLarge):
        return JSONResponse({"detail": exc.message}, status_code=413)

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

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception):
        log.error("unexpected error on %s %s: %s", request.method, request.url.path, type(exc).__name__)
        return JSONResponse({"detail": "internal error"}, status_code=500)

    case_body = {"requestBody": {"required": True, "content": {
        "application/yaml": {"schema": {"type": "string"}},
        "application/json": {"schema": {"$ref": "#/components/schemas/Case"}}}}}

    @app.post("/v1/check", openapi_extra=case_body, tags=["cases"],
              responses={200: {"description": "the decision JSON of `ptcheck check --json`",
                               "content": {"application/json": {}}},
                         413: {"description": "body or batch over the limit"},
                         422: {"description": "invalid case: the problems with paths and lines"}})
    async def check(request: Request) -> Response:
        """Check one case (YAML or JSON body): per item the outcome, certified visits, predicted IMR/IRO
        result, findings with citations, missing documentation and what would change the answer. The
        body of the answer is byte for byte what `ptcheck check CASE --json` prints."""
        body = await _read_body(request, CHECK_MAX_BYTES)
        text = await engine.run(_check, body, _format(request))
        media = "application/json" if text.startswith("{\n") else "application/jsonl"   # several: JSON Lines
        return Response(text, media_type=media)

    @app.post("/v1/validate", openapi_extra=case_body, tags=["cases"])
    async def validate(request: Request) -> dict:
        """Validate a case without checking it: {"ok": true} or 422 with the problems (the page's checks as
        you type use this, so they follow exactly the API's rules)."""
        body = await _read_body(request, CHECK_MAX_BYTES)
        return await engine.run(_validate, body, _format(request))

    @app.post("/v1/audit", tags=["cases"], openapi_extra={"requestBody": {"required": True, "content": {
        "application/yaml": {"schema": {"type": "string"}}, "application/jsonl": {"schema": {"type": "string"}},
        "application/json": {"schema": {"type": "array", "items": {"$ref": "#/components/schemas/Case"}}}}}})
    async def audit(request: Request) -> Response:
        """Audit a batch (at most 500 cases, 4 MiB) whose items carry `actual` outcomes: the JSON of `ptcheck audit --json`. Invalid cases are listed under `errors`."""
        body = await _read_body(request, AUDIT_MAX_BYTES)
        text = await engine.run(_audit, body, _format(request, jsonl_ok=True))
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

    @app.get("/", include_in_schema=False)
    async def page() -> Response:
        return FileResponse(str(static / "index.html"), media_type="text/html; charset=utf-8")

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
    return app


def _version() -> str:
    try:
        from importlib.metadata import version
        return version("ptcheck")
    except Exception:
        return "0"


def serve(host: str = "127.0.0.1", port: int = 8000, rules: Path | None = None) -> None:
    """Run the app on uvicorn: one process, uvicorn's access log off, ours on (no case content)."""
    import uvicorn
    library = Library.load(rules)        # bad rule files: a PtcheckError here, before any socket is opened
    logging.basicConfig(level=os.environ.get("PTCHECK_LOG", "INFO"), format="%(levelname)s %(name)s: %(message)s")
    uvicorn.run(create_app(checker_factory=lambda: Checker(library)), host=host, port=port, workers=1, access_log=False, log_config=None,
                server_header=False)


__all__ = ["AUDIT_MAX_BYTES", "AUDIT_MAX_CASES", "CHECK_MAX_BYTES", "CHECK_MAX_CASES", "create_app", "serve"]
