"""A cache of loaded rule libraries, so that a command does not parse and validate every rule file again.

One entry per rules folder: the loaded rule sets (validated specs, expanded rules, origins, editions; without
their YAML node trees, which are re-read from the file when an error position is wanted) and the folder's
fallback notes. An entry is used only when its key matches, and its key is the sha256 of every rule file's
bytes (and of jurisdictions.yaml), their paths, the engine's code (every module of ptcheck.core), the engine
version and the Python and pydantic versions: an edited rule file, or an edited engine, is a miss, and the
folder is parsed again (and the entry rewritten). Only a library that loaded without problems, and passed the
library-level checks (duplicate ids, overlapping dates), is written, so a hit skips those checks too.

Where: $PTCHECK_CACHE_DIR, else $XDG_CACHE_HOME/ptcheck, else ~/.cache/ptcheck. PTCHECK_NO_CACHE=1 turns it
off. The folder is safe to delete at any time. It is used only when it belongs to the current user and no
one else can write to it (an entry is a pickle: it must come from this user's own ptcheck); each entry
carries the sha256 of its payload, so a truncated or corrupted entry is ignored, never trusted. Two
processes may write at once: each writes a temporary file and renames it into place (atomic).
"""
from __future__ import annotations

import hashlib
import io
import os
import pickle
import sys
import warnings
from pathlib import Path
from typing import Any

import yaml

MAGIC = b"ptcheck-rules-cache 1\n"
REREAD = "ptcheck:reread-node"      # stands for a YAML node tree left out of an entry (read again on demand)
# entries kept of each kind (a library per rules folder, a compiled rule set per content and types); the
# oldest are removed beyond it
MAX_ENTRIES = {"library": 64, "compiled": 512}
_FINGERPRINT: str | None = None


def cache_dir() -> Path | None:
    """The cache folder, or None when the cache is off."""
    if os.environ.get("PTCHECK_NO_CACHE", "") not in ("", "0"):
        return None
    env = os.environ.get("PTCHECK_CACHE_DIR")
    if env:
        return Path(env)
    xdg = os.environ.get("XDG_CACHE_HOME")
    if xdg and os.path.isabs(xdg):
        return Path(xdg) / "ptcheck"
    home = os.path.expanduser("~")
    return Path(home) / ".cache" / "ptcheck" if home and home != "~" else None


def _own(st: os.stat_result) -> bool:
    """Belongs to this user and is not writable by group or others."""
    getuid = getattr(os, "getuid", None)
    return (getuid is None or st.st_uid == getuid()) and not st.st_mode & 0o022


class CacheWarning(UserWarning):
    """The rules cache folder exists but is not used (see _usable_dir)."""


_WARNED: set[str] = set()


def _usable_dir(create: bool) -> Path | None:
    """The cache folder if it is safe to read pickles from; an unsafe one is ignored with one CacheWarning per
    process (a folder that cannot be made or read is ignored quietly: the cache only saves time)."""
    d = cache_dir()
    if d is None:
        return None
    try:
        if create:
            d.mkdir(mode=0o700, parents=True, exist_ok=True)
        if _own(d.stat()):
            return d
    except OSError:
        return None
    if str(d) not in _WARNED:
        _WARNED.add(str(d))
        warnings.warn(f"the rules cache folder {d} is not used: it belongs to another user or others can write to "
                      f"it (make it yours and run chmod go-w on it, or set PTCHECK_CACHE_DIR to a folder of your "
                      f"own); rule files are read without the cache", CacheWarning, stacklevel=2)
    return None


def code_fingerprint() -> str:
    """sha256 of the engine's code (every module of ptcheck.core) and of the versions a pickle depends on."""
    global _FINGERPRINT
    if _FINGERPRINT is None:
        import pydantic

        from ._version import engine_version
        h = hashlib.sha256()
        h.update(f"{sys.version}|{pydantic.VERSION}|{engine_version()}|{MAGIC!r}".encode())
        for f in sorted(Path(__file__).resolve().parent.glob("*.py")):
            h.update(f.name.encode() + b"\0" + f.read_bytes() + b"\0")
        _FINGERPRINT = h.hexdigest()
    return _FINGERPRINT


def library_key(root: Path, files: list[Path]) -> str:
    """The key of a library: the code fingerprint, the folder, and the path and sha256 of each file read."""
    h = hashlib.sha256(code_fingerprint().encode())
    h.update(str(root).encode() + b"\0")
    for f in files:
        h.update(str(f).encode() + b"\0" + hashlib.sha256(f.read_bytes()).digest())
    return h.hexdigest()


def library_entry(root: Path) -> str:
    """The entry of a rules folder (one per folder: a newer library replaces the older)."""
    return f"library-{hashlib.sha256(str(root).encode()).hexdigest()[:24]}"


def read(entry: str, key: str) -> Any | None:
    """The cached value of an entry if its key is `key`; None on a miss, or when the entry cannot be trusted
    (not ours, truncated, corrupted, from another engine)."""
    d = _usable_dir(create=False)
    if d is None:
        return None
    path = d / f"{entry}.pickle"
    try:
        with open(path, "rb") as fh:
            if not _own(os.fstat(fh.fileno())):
                return None
            blob = fh.read()
    except OSError:
        return None
    head = len(MAGIC)
    if not blob.startswith(MAGIC) or len(blob) < head + 128:
        return None
    stored_key, digest, payload = blob[head:head + 64], blob[head + 64:head + 128], blob[head + 128:]
    if stored_key != key.encode() or digest != hashlib.sha256(payload).hexdigest().encode():
        return None
    try:
        return _Unpickler(io.BytesIO(payload)).load()
    except Exception:                   # a corrupt entry whose digest matched: never trusted, re-parsed
        return None


class _Pickler(pickle.Pickler):
    """Pickles YAML node trees as REREAD (they are large, slow to restore, and needed only for positions)."""

    nodes = 0

    def persistent_id(self, obj: Any) -> Any:
        if isinstance(obj, yaml.Node):
            self.nodes += 1
            return "node"
        return None


class _Unpickler(pickle.Unpickler):
    def persistent_load(self, pid: Any) -> Any:
        if pid != "node":
            raise pickle.UnpicklingError("unknown persistent id")
        return REREAD


def write(entry: str, key: str, value: Any, nodes: int = 0) -> None:
    """Store the value of an entry under its key (atomically; failures are ignored: the cache is an optimisation).
    `nodes`: how many YAML node trees the value holds where REREAD may stand for them (their owners read
    them again); a value holding any other is not written."""
    import tempfile
    d = _usable_dir(create=True)
    if d is None:
        return
    tmp = None
    try:
        buf = io.BytesIO()
        pickler = _Pickler(buf, protocol=pickle.HIGHEST_PROTOCOL)
        pickler.dump(value)
        if pickler.nodes != nodes:
            return
        payload = buf.getvalue()
        fd, tmp = tempfile.mkstemp(dir=d, prefix=".tmp-", suffix=".pickle")
        with os.fdopen(fd, "wb") as fh:
            fh.write(MAGIC + key.encode() + hashlib.sha256(payload).hexdigest().encode() + payload)
        os.replace(tmp, d / f"{entry}.pickle")
        tmp = None
        _prune(d, entry.split("-", 1)[0])
    except Exception:
        pass
    finally:
        if tmp is not None:
            try:
                os.unlink(tmp)
            except OSError:
                pass


def _prune(d: Path, kind: str) -> None:
    """Remove the oldest entries of a kind beyond MAX_ENTRIES, and temporary files a killed writer left."""
    import time
    entries = sorted(d.glob(f"{kind}-*.pickle"), key=lambda p: p.stat().st_mtime)
    stale = [p for p in d.glob(".tmp-*.pickle") if p.stat().st_mtime < time.time() - 3600]
    for p in entries[:-MAX_ENTRIES.get(kind, 64)] + stale:
        try:
            p.unlink()
        except OSError:
            pass
