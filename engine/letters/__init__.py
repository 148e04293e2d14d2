"""Public API for letter import: read an IMR (California) or IRO (Texas) decision letter into a case.

    from ptcheck.letters import import_letter, render_case_yaml

    imported = import_letter(text, source="letters/imr-2015-001.txt")
    print(imported.todos)                  # what the letter does not state, by case field
    yaml_text = render_case_yaml(imported)

What `ptcheck cases import` does, as values. Thin re-exports of the private engine/letters/_letters.py, which may
change; these names do not.
"""
from __future__ import annotations

from ._letters import ImportedCase, import_letter, render_case_yaml

__all__ = ["ImportedCase", "import_letter", "render_case_yaml"]
