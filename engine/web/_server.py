"""How `ptcheck serve` runs uvicorn so that slow or many clients cannot hold the server.

    serve(host, port, rules)       # one process, the limits below, uvicorn's access log off, ours on

uvicorn closes an idle keep-alive connection after `timeout_keep_alive`, answers 503 past
`limit_concurrency` connections or tasks, and refuses headers larger than `h11_max_incomplete_event_size`;
it has no timeout for a request whose headers arrive a byte at a time (200 such sockets stayed open for 45 s
and more). `HeaderTimeoutProtocol` adds it: a connection whose request line and headers have not all
arrived HEADER_TIMEOUT seconds after it opened (or after its previous answer) is closed. The body has its
own deadline in the app (BODY_TIMEOUT, 408), and every request its time budget for the engine (503).
`bench/bench_web_slow_clients.py` measures these on the running server.
"""
from __future__ import annotations

import asyncio
import logging
import os
from pathlib import Path

from uvicorn.protocols.http.h11_impl import H11Protocol

HEADER_TIMEOUT = 10.0          # seconds for the request line and headers of one request
KEEP_ALIVE = 5                 # seconds an idle keep-alive connection stays open
MAX_CONNECTIONS = 512          # concurrent connections (and requests in progress); past it, 503
MAX_HEADER_BYTES = 16 * 1024   # request line and headers of one request


class HeaderTimeoutProtocol(H11Protocol):
    """uvicorn's h11 protocol with a deadline for each request's headers (see the module doc)."""

    _header_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()

    def handle_events(self) -> None:
        before = self.cycle
        super().handle_events()
        if self.cycle is not before:           # a whole request line and headers arrived
            self._disarm()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing():    # the next request on this connection has its own deadline
            self._arm()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def _arm(self) -> None:
        self._disarm()
        self._header_timer = self.loop.call_later(HEADER_TIMEOUT, self._headers_too_slow)

    def _disarm(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _headers_too_slow(self) -> None:
        self._header_timer = None
        if (self.cycle is None or self.cycle.response_complete) and not self.transport.is_closing():
            self.transport.close()


def uvicorn_options() -> dict:
    """The uvicorn.run options of `ptcheck serve` (a test checks them)."""
    return {"workers": 1, "access_log": False, "log_config": None, "server_header": False,
            "http": HeaderTimeoutProtocol, "timeout_keep_alive": KEEP_ALIVE,
            "limit_concurrency": MAX_CONNECTIONS, "h11_max_incomplete_event_size": MAX_HEADER_BYTES}


def serve(host: str = "127.0.0.1", port: int = 8000, rules: Path | None = None, db: str | None = None,
          store_cases: bool = False) -> None:
    """Run the app on uvicorn: one process, the limits above, uvicorn's access log off, ours on; every decision
    served is logged in the decision log at `db` (default: the user's SQLite file; ptcheck.dispositions)."""
    import uvicorn

    from .. import Checker, Library
    from ..core._errors import PtcheckError
    from ..dispositions import Store, StoreError
    from ._app import create_app
    library = Library.load(rules)        # bad rule files: a PtcheckError here, before any socket is opened
    try:
        store = Store.open(db, store_cases=store_cases)
    except StoreError as e:
        raise PtcheckError(str(e)) from None
    logging.basicConfig(level=os.environ.get("PTCHECK_LOG", "INFO"), format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("ptcheck.web").info("decision log: %s%s", store.where, " (cases stored)" if store_cases else "")
    uvicorn.run(create_app(rules, checker_factory=lambda: Checker(library), store=store), host=host, port=port,
                **uvicorn_options())


__all__ = ["HEADER_TIMEOUT", "HeaderTimeoutProtocol", "KEEP_ALIVE", "MAX_CONNECTIONS", "serve", "uvicorn_options"]
