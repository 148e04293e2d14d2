"""The command line: JSON shape and determinism, exit codes, help for every command."""
import json
import os
import subprocess
import sys
from importlib.metadata import version

import pytest
import yaml
from typer.testing import CliRunner

from ptcheck.cli import app
from tests.conftest import ROOT, case_dict

runner = CliRunner()
SEED = str(ROOT / "cases/seeds/seed-001.yaml")


def test_check_json_shape():
    r = runner.invoke(app, ["check", SEED, "--json"])
    assert r.exit_code == 0, r.output
    d = json.loads(r.stdout)
    assert set(d) >= {"case", "engine_version", "rulesets", "items"}
    assert d["engine_version"] == version("ptcheck")       # the engine that decided, beside the rule sets
    assert set(d["rulesets"][0]) == {"id", "version", "sha256"} and len(d["rulesets"][0]["sha256"]) == 64
    it = d["items"][0]
    assert set(it) >= {"request", "outcome", "certified_visits", "review_outcome", "findings", "missing"}
    assert set(it["findings"][0]) >= {"rule", "ruleset", "version", "citation", "effect", "message"}


def test_version_is_the_package_metadata():
    r = runner.invoke(app, ["--version"])
    assert r.exit_code == 0 and r.stdout.strip() == f"ptcheck {version('ptcheck')}"


def test_check_json_is_byte_identical_across_processes():
    cmd = [sys.executable, "-m", "ptcheck.cli", "check", str(ROOT / "cases/seeds"), "--json"]
    bare = {"PATH": "", "PTCHECK_CACHE_DIR": os.environ["PTCHECK_CACHE_DIR"]}     # the test run's rules cache
    a = subprocess.run(cmd, capture_output=True, check=True, env={**bare, "PYTHONHASHSEED": "1"}).stdout
    b = subprocess.run(cmd, capture_output=True, check=True, env={**bare, "PYTHONHASHSEED": "2"}).stdout
    assert a == b and len(a.splitlines()) == 5


def test_check_text_output():
    r = runner.invoke(app, ["check", SEED])
    assert r.exit_code == 0
    assert "NON-CERTIFY" in r.stdout and "pm.over-course" in r.stdout and "98-99" in r.stdout


def test_invalid_case_exit_1_and_message_on_stderr(tmp_path):
    bad = tmp_path / "bad.yaml"
    d = case_dict()
    d["requests"][0]["vists"] = 3
    bad.write_text(yaml.safe_dump(d))
    r = runner.invoke(app, ["check", str(bad), SEED])
    assert r.exit_code == 1
    assert "unknown key 'vists'" in r.stderr and "did you mean 'visits'" in r.stderr
    assert "seed-001" in r.stdout


def test_missing_file_exit_2():
    r = runner.invoke(app, ["check", "no/such/file.yaml"])
    assert r.exit_code == 2 and "no such file" in r.stderr


def test_pin_with_bad_syntax_is_a_usage_error():
    r = runner.invoke(app, ["check", SEED, "--ruleset", "nonsense"])
    assert r.exit_code == 2


def test_pin_unknown_version_names_it():
    r = runner.invoke(app, ["check", SEED, "--ruleset", "mtus.cpmtg.physical-medicine@1999"])
    assert r.exit_code == 2 and "mtus.cpmtg.physical-medicine@1999" in r.stderr


def test_schema_case():
    r = runner.invoke(app, ["schema", "case"])
    assert r.exit_code == 0 and json.loads(r.stdout)["title"].startswith("ptcheck case")


def test_rules_list_filters():
    r = runner.invoke(app, ["rules", "list", "--json", "--jurisdiction", "TX"])
    rows = json.loads(r.stdout)
    assert rows and all("TX" in row["jurisdictions"] for row in rows)
    r = runner.invoke(app, ["rules", "list", "--json", "--as-of", "2014-07-01", "-j", "CA"])
    ids = {row["id"] for row in json.loads(r.stdout)}
    assert "mtus.cpmtg.physical-medicine" in ids


def _commands(typer_app, prefix=()):
    import typer.main
    group = typer.main.get_command(typer_app)
    out = []

    def walk(cmd, path):
        subs = getattr(cmd, "commands", None)
        if subs:
            for name, sub in subs.items():
                walk(sub, path + (name,))
        else:
            out.append(path)
    walk(group, ())
    return out


@pytest.mark.parametrize("path", _commands(app), ids=lambda p: " ".join(p))
def test_every_command_has_help(path):
    r = runner.invoke(app, [*path, "--help"])
    assert r.exit_code == 0 and len(r.stdout) > 100


def test_an_unexpected_error_is_one_line_and_exit_2(monkeypatch, capsys):
    import ptcheck.cli as cli
    def boom(*a, **k):
        raise RuntimeError("simulated")
    monkeypatch.setattr(cli, "load_cases", boom)
    monkeypatch.setattr(sys, "argv", ["ptcheck", "check", SEED])
    with pytest.raises(SystemExit) as e:
        cli.main()
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert "internal error: RuntimeError: simulated" in err and "Traceback" not in err


def test_rules_list_never_cuts_an_id_or_version_when_piped():
    """The ids and versions are what --ruleset takes: whole on a piped (132-column) table."""
    rows = json.loads(runner.invoke(app, ["rules", "list", "--json"]).stdout)
    table = runner.invoke(app, ["rules", "list"]).stdout
    assert rows and all(f" {r['id']} " in table and f" {r['version']} " in table for r in rows)
