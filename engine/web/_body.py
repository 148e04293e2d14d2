"""Reading a request body for `ptcheck serve` (engine/web/_app.py): under a size limit and a deadline, and
for /v1/audit, held in memory where the library's audit can read it as a file (nothing on disk).

    body = await read_body(request, limit)        # 413 (_TooLarge) past limit, 408 (_Refused) past BODY_TIMEOUT
    with body_file(body, ".jsonl") as path: ...   # a path whose bytes are the body, in an anonymous memory file
"""
from __future__ import annotations

import asyncio
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from fastapi import Request

BODY_TIMEOUT = 30.0                 # seconds to receive a whole body (a slow upload is 408, connection closed)


class _TooLarge(Exception):
    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class _Refused(Exception):
    """An answer other than 422: 408 (body too slow), 415 (content type), 503 (time budget)."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status, self.message = status, message


async def read_body(request: Request, limit: int) -> bytes:
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
    try:
        async with asyncio.timeout(BODY_TIMEOUT):
            async for chunk in request.stream():
                size += len(chunk)
                if size > limit:
                    raise _TooLarge(f"the body is over the limit of {limit} bytes")
                chunks.append(chunk)
    except TimeoutError:
        raise _Refused(408, f"the body did not arrive within {BODY_TIMEOUT:.0f} s") from None
    return b"".join(chunks)


@contextmanager
def body_file(body: bytes, suffix: str) -> Iterator[Path]:
    """A path that reads as the body, whose bytes never reach a disk: an anonymous memory file
    (memfd_create; where there is none, a temporary file unlinked as soon as it is open), reached through
    /proc/self/fd by a symlink named request<suffix> (the suffix chooses the format) in a private temporary
    folder. What a killed server leaves behind is that folder with the symlink: no case content."""
    if hasattr(os, "memfd_create"):
        fd = os.memfd_create("ptcheck-request")
    else:                                                      # pragma: no cover - Linux has memfd
        fd, name = tempfile.mkstemp(prefix="ptcheck-request-")
        os.unlink(name)
    try:
        view = memoryview(body)
        while view:
            view = view[os.write(fd, view):]
        with tempfile.TemporaryDirectory(prefix="ptcheck-web-") as tmp:
            link = Path(tmp) / f"request{suffix}"
            link.symlink_to(f"/proc/{os.getpid()}/fd/{fd}")
            yield link
    finally:
        os.close(fd)


__all__ = ["BODY_TIMEOUT", "body_file", "read_body"]
