"""One exception base with structured fields: where the problem is and what to do about it."""
from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass

from ._textsafe import printable


@dataclass
class Problem:
    """One thing wrong with an input file, in a form both people and editors can use."""

    message: str
    file: str | None = None
    line: int | None = None          # 1-based
    column: int | None = None        # 1-based
    path: str | None = None          # dotted field path inside the document, e.g. requests[0].visits
    code: str = "E000"
    severity: str = "error"          # error | warning
    suggestion: str | None = None

    def location(self) -> str:
        parts = [printable(self.file) if self.file else "<input>"]     # a newline in a file name stays one line
        if self.line is not None:
            parts.append(str(self.line))
            if self.column is not None:
                parts.append(str(self.column))
        return ":".join(parts)

    def __str__(self) -> str:
        where = f" ({self.path})" if self.path else ""
        hint = f" {self.suggestion}" if self.suggestion else ""
        return f"{self.location()}: {self.code} {self.message}{where}{hint}"

    def as_dict(self) -> dict[str, str | int]:
        return {k: v for k, v in self.__dict__.items() if v is not None}


class PtcheckError(Exception):
    """Base of every error ptcheck raises on purpose. Carries one or more Problems."""

    def __init__(self, message: str, problems: list[Problem] | None = None):
        super().__init__(message)
        self.problems: list[Problem] = problems or []

    def __str__(self) -> str:
        head = super().__str__()
        if not self.problems:
            return head
        return head + "\n" + "\n".join(f"  {p}" for p in self.problems)


class CaseError(PtcheckError):
    """A case file does not follow the case format."""


class RuleError(PtcheckError):
    """A rule file does not follow the rule grammar, or cannot be compiled."""


class EngineError(PtcheckError):
    """The inference engine failed while evaluating a case (never a silent wrong answer)."""


def did_you_mean(word: str, choices: Iterable[str]) -> str | None:
    """'did you mean ...?' for a misspelt name, or None when nothing is close."""
    close = difflib.get_close_matches(word, sorted(choices), n=1, cutoff=0.6)
    return f"did you mean '{close[0]}'?" if close else None
