"""The engine's version: the installed distribution's (package metadata), recorded in every decision."""
from __future__ import annotations

from functools import lru_cache
from importlib.metadata import PackageNotFoundError, version


@lru_cache(maxsize=1)
def engine_version() -> str:
    """The version of the installed `ptcheck` distribution; "0+unknown" when run from a checkout that was
    never installed (no metadata to read)."""
    try:
        return version("ptcheck")
    except PackageNotFoundError:
        return "0+unknown"
