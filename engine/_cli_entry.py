"""The `ptcheck` command's entry point. Says so when Ctrl-C (SIGINT) or SIGTERM stops a command before it
finishes, including while it is still starting (importing its modules, loading the rule sets), where the
default would be a traceback, or an exit code and no word. `ptcheck audit` replaces these handlers with its
own while it runs (a partial report; engine/cli/_audit.py)."""
from __future__ import annotations

import signal
import sys

EXIT_SIGNAL = 128             # + the signal number: 130 for SIGINT, 143 for SIGTERM
_DEFAULTS = ((signal.SIGINT, signal.default_int_handler), (signal.SIGTERM, signal.SIG_DFL))   # Python's own


def _stopped(signum: int, frame) -> None:
    name = signal.Signals(signum).name
    try:
        sys.stderr.write(f"ptcheck: stopped by {name} before finishing (any output above is incomplete)\n")
        sys.stderr.flush()
    except (OSError, ValueError):         # stderr closed: the exit code still says it
        pass
    if signum == signal.SIGINT:
        raise KeyboardInterrupt            # what the command does on Ctrl-C (exit 130; servers shut down)
    raise SystemExit(EXIT_SIGNAL + signum)


def say_when_stopped() -> None:
    """Install the handlers, leaving a signal alone that the caller ignores (nohup, a background job) or that
    someone else already handles."""
    for s, default in _DEFAULTS:
        if signal.getsignal(s) is default:
            signal.signal(s, _stopped)


def restore_default_signals() -> None:
    """Python's own handlers again, where say_when_stopped installed ours (`ptcheck serve`: uvicorn stops on a
    signal by design)."""
    for s, default in _DEFAULTS:
        if signal.getsignal(s) is _stopped:
            signal.signal(s, default)


def main() -> None:
    say_when_stopped()
    try:
        from .cli import main as cli_main
    except KeyboardInterrupt:
        raise SystemExit(EXIT_SIGNAL + signal.SIGINT) from None
    cli_main()
