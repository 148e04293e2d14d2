"""Packaging: the wheel carries the shipped rule sets, and an installed (not editable) ptcheck checks a case
from any directory with them. Both build the checkout's wheel, as a user's `pip install <checkout>` does."""
import os
import shutil
import subprocess
import sys
import zipfile
from importlib.metadata import version
from pathlib import Path

import pytest

from tests.conftest import ROOT


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    # built from a clean copy: setuptools reuses a checkout's build/ folder, whose stale files (a package
    # since renamed) would end up in the wheel and hide what the pyproject really ships
    src = tmp_path_factory.mktemp("src") / "ptcheck"
    shutil.copytree(ROOT, src, ignore=shutil.ignore_patterns(".git", ".venv", ".ci-*", "wheels", "build", "dist", "out",
                                                             "*.egg-info", "__pycache__", ".*_cache", ".hypothesis"))
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", str(out), str(src)],
                   check=True, capture_output=True, timeout=300)
    (whl,) = out.glob("ptcheck-*.whl")
    return whl


def test_the_wheel_holds_every_rule_file(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    shipped = {"ptcheck_rules/" + p.relative_to(ROOT / "rules").as_posix()
               for p in (ROOT / "rules").rglob("*") if p.suffix in (".yaml", ".md")}
    assert len(shipped) > 60 and "ptcheck_rules/jurisdictions.yaml" in shipped
    assert shipped <= names, sorted(shipped - names)[:5]
    assert {"ptcheck/core/data/icd.txt.gz", "ptcheck/cli/__init__.py", "ptcheck/audit/templates/audit.html.j2",
            "ptcheck/web/web_static/app.js"} <= names          # the engine/ folder, imported as ptcheck
    top = {n.split("/")[0] for n in names if not n.split("/")[0].endswith(".dist-info")}
    assert top == {"ptcheck", "ptcheck_rules"}, top          # no generic top-level name (no `engine`)


def test_an_installed_ptcheck_checks_a_case_from_another_directory(wheel, tmp_path):
    venv = tmp_path / "venv"
    # Python 3.13+: durable-rules from the project's own wheel (scripts/build_durable_wheel.py; .ci/run sets
    # PTCHECK_WHEELS to the folder it built it in), as README's install section says
    wheels = os.environ.get("PTCHECK_WHEELS")
    if sys.version_info >= (3, 13) and not wheels:
        pytest.skip("Python 3.13+ installs durable-rules from the project's wheel: set PTCHECK_WHEELS to the folder "
                    "scripts/build_durable_wheel.py wrote it to")
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    subprocess.run([str(venv / "bin/pip"), "install", "--quiet", *(["--find-links", wheels] if wheels else []),
                    str(wheel)], check=True, capture_output=True, timeout=600)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("PTCHECK_RULES", "PYTHONPATH")}
    seed = str(ROOT / "cases/seeds/seed-001.yaml")

    def run(*args: str, **extra_env: str) -> subprocess.CompletedProcess:
        return subprocess.run([str(venv / "bin/ptcheck"), *args], cwd=elsewhere, env={**env, **extra_env},
                              capture_output=True, text=True, timeout=300)

    v = run("--version")
    assert v.returncode == 0 and v.stdout.strip() == f"ptcheck {version('ptcheck')}", v
    r = run("check", "--json", seed)
    assert r.returncode == 0, r.stderr
    assert '"case": "seed-001"' in r.stdout and '"engine_version"' in r.stdout
    where = subprocess.run([str(venv / "bin/python"), "-c", "from ptcheck.core._paths import rules_dir; print(rules_dir())"],
                           cwd=elsewhere, env=env, capture_output=True, text=True, check=True).stdout.strip()
    assert "site-packages" in where and where.endswith("ptcheck_rules")      # the installed copy, not the checkout
    # $PTCHECK_RULES and --rules still override: an empty folder has no rule sets
    empty = tmp_path / "no-rules"
    empty.mkdir()
    assert run("check", seed, PTCHECK_RULES=str(empty)).returncode == 2
    assert run("check", seed, "--rules", str(empty)).returncode == 2
