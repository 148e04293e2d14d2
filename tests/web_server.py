"""A real `ptcheck serve` server for tests and benchmarks: uvicorn with the options of engine/web/_server.py,
in a thread of this process, on a loopback port of its own (no fixed port, no subprocess)."""
from __future__ import annotations

import socket
import threading
import time
from contextlib import contextmanager


@contextmanager
def running_server(checker_factory=None):
    """Yield (host, port) of a server running the ptcheck app; stopped (gracefully) on exit."""
    import uvicorn

    from ptcheck import Checker, Library
    from ptcheck.web._app import create_app
    from ptcheck.web._server import uvicorn_options
    lib = Library.load()
    app = create_app(checker_factory=checker_factory or (lambda: Checker(lib)))
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    options = {k: v for k, v in uvicorn_options().items() if k != "workers"}
    server = uvicorn.Server(uvicorn.Config(app, **options, log_level="info"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the test server did not start")
        time.sleep(0.05)
    try:
        yield sock.getsockname()
    finally:
        server.should_exit = True
        thread.join(30)
        sock.close()


def post(addr, path: str, body: bytes, ctype: str = "application/yaml", timeout: float = 60) -> tuple[int, bytes]:
    """One POST on a fresh connection: (status, body)."""
    import http.client
    conn = http.client.HTTPConnection(*addr, timeout=timeout)
    try:
        conn.request("POST", path, body=body, headers={"content-type": ctype})
        r = conn.getresponse()
        return r.status, r.read()
    finally:
        conn.close()
