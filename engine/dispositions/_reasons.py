"""The published list of override reasons (rules/override-reasons.yaml): what a reviewer may give as the
coded reason of an override, and the CDS Hooks Codings of a card's overrideReasons."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml

FILE = "override-reasons.yaml"


class ReasonsError(Exception):
    """rules/override-reasons.yaml is missing or malformed."""


@dataclass(frozen=True)
class OverrideReasons:
    """The coded override reasons: `system` is the Coding system, `reasons` maps each code to its display."""
    system: str
    reasons: dict[str, str]

    @classmethod
    def load(cls, rules: Path | None = None) -> "OverrideReasons":
        """From override-reasons.yaml in the rules folder (default: the rules folder ptcheck uses)."""
        from ..core._paths import rules_dir
        path = (rules or rules_dir()) / FILE
        if not path.is_file() and rules is not None:
            path = rules_dir() / FILE                   # a rules folder of one's own without the list
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
            system = str(data["system"])
            reasons = {str(r["code"]): str(r["display"]) for r in data["reasons"]}
        except (OSError, yaml.YAMLError, KeyError, TypeError) as e:
            raise ReasonsError(f"{path}: cannot read the override reasons ({type(e).__name__}): each needs a "
                               "code and a display, under `system:` and `reasons:`") from None
        return cls(system, reasons)

    def codings(self) -> list[dict]:
        """CDS Hooks card.overrideReasons: one Coding per reason, each with its display (the spec's MUST)."""
        return [{"system": self.system, "code": c, "display": d} for c, d in self.reasons.items()]

    def check(self, code: str | None) -> str | None:
        """None when `code` is a published reason (or absent), else what is wrong, with the codes to choose from."""
        if code is None or code in self.reasons:
            return None
        from ..core._errors import did_you_mean
        hint = did_you_mean(code, self.reasons)
        return (f"unknown override reason '{code}'" + (f"; {hint}" if hint else "")
                + f" (the codes: {', '.join(self.reasons)})")
