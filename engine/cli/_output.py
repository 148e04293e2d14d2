"""Where the CLI writes files (`audit --html FILE`, `cases import --out DIR`): regular files only.

    target = regular_file_target(Path("audit.html"))    # the path to write, or OutputError

A name that does not exist yet, or an existing regular file, is written (replaced atomically by the
caller: a temporary file in the same folder, then os.replace). A symlink is written through to its target
(the link stays, its target is replaced), so `--html link.html` updates the file the link points to. A
device (`/dev/full`, `/dev/null`), a FIFO, a socket or a folder is refused: replacing it would turn
`/dev/full` into a regular file, or read a pipe's writer into nothing. Errors while writing (no space left,
a read-only folder) are an OutputError with one line naming the file and the reason: exit 1.
"""
from __future__ import annotations

import os
import stat
from pathlib import Path

from ..core._errors import PtcheckError


class OutputError(PtcheckError):
    """An output file that cannot be written (not a regular file, no space left, read-only folder)."""


def regular_file_target(path: Path) -> Path:
    """The file to write for `path`: itself, or a symlink's final target; OutputError for anything that is
    not (or would not be) a regular file."""
    target = Path(os.path.realpath(path))
    try:
        st = os.stat(target)
    except FileNotFoundError:
        if not target.parent.is_dir():
            raise OutputError(f"cannot write {path}: its folder {target.parent} does not exist") from None
        return target
    except OSError as e:
        raise OutputError(f"cannot write {path}: {e.strerror or e}") from None
    if stat.S_ISDIR(st.st_mode):
        raise OutputError(f"cannot write {path}: it is a folder; give a file name")
    if not stat.S_ISREG(st.st_mode):
        kind = ("a FIFO" if stat.S_ISFIFO(st.st_mode) else "a socket" if stat.S_ISSOCK(st.st_mode)
                else "a device")
        raise OutputError(f"cannot write {path}: it is {kind}, not a regular file; give a file name "
                          "(ptcheck writes only regular files)")
    return target


def write_error(path: Path | str, e: OSError) -> OutputError:
    """The one-line error for an OSError while writing path."""
    return OutputError(f"cannot write {path}: {e.strerror or type(e).__name__}")


__all__ = ["OutputError", "regular_file_target", "write_error"]
