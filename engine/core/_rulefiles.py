"""Where the rule files of a folder are, and how their YAML is read (the one place for rule-library YAML).
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from . import _safeinput, _yamlpos
from ._errors import Problem
from ._paths import rules_dir

NOT_RULE_FILES = {"diagnoses.yaml", "jurisdictions.yaml", "presumptions.yaml", "override-reasons.yaml"}


def rule_files(root: Path | None = None) -> list[Path]:
    root = root or rules_dir()
    return sorted(p for p in root.rglob("*.yaml")
                  if p.name not in NOT_RULE_FILES and not p.name.endswith(".tests.yaml"))


def tests_file(rule_file: Path) -> Path:
    return rule_file.with_name(rule_file.name[: -len(".yaml")] + ".tests.yaml")


def load_yaml(text: str, source: str = "<input>") -> tuple[yaml.Node | None, Any]:
    """The one place rule-library YAML is read: (node tree with line marks, plain data), through the
    bounded safe loader (_yamlpos: alias bombs, depth, size, duplicate keys, tags). Raises InputError."""
    docs = _yamlpos.load_yaml(text, source, _safeinput.RULE_FILE)
    if not docs:
        return None, None
    if len(docs) > 1:
        raise _safeinput.InputError(f"{source}: a rule file holds one YAML document",
                                    [Problem("a rule file holds one YAML document (remove the extra '---')",
                                             file=source, line=1, code="R001")])
    return docs[0]

