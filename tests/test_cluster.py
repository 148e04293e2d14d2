"""`ptcheck audit --cluster` on dask.distributed: a LocalCluster of 2 workers gives the single-process report
byte for byte apart from provenance; the partitions cover every byte of the inputs once. CI installs the
cluster extra and runs this (CI=true: a missing dask fails instead of skipping)."""
import json
import os
import shutil

import pytest
from typer.testing import CliRunner

from ptcheck.audit._cluster import parse_cluster, partitions
from ptcheck.cli import app
from tests.conftest import ROOT
from tests.test_tally import _lines

runner = CliRunner()


def _need_dask():
    if os.environ.get("CI"):
        import distributed  # noqa: F401      # CI installs ptcheck[cluster]: never skipped there
    else:
        pytest.importorskip("distributed", reason="the cluster extra is not installed: pip install 'ptcheck[cluster]'")


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    root = tmp_path_factory.mktemp("cluster")
    (root / "a.jsonl").write_text("\n".join(_lines(300)) + "\n\n")
    (root / "b.jsonl").write_text("\n".join(_lines(60, 300)) + "\n")
    seeds = root / "seeds"
    shutil.copytree(ROOT / "cases" / "seeds", seeds)
    return root


def test_a_local_cluster_of_two_workers_gives_the_single_process_report(inputs, tmp_path):
    _need_dask()
    folder = tmp_path / "dis"
    one = runner.invoke(app, ["audit", str(inputs), "--json", "--jobs", "2", "--max-listed", "40"])
    dask = runner.invoke(app, ["audit", str(inputs), "--json", "--cluster", "local:2", "--max-listed", "40",
                               "--disagreements-dir", str(folder), "--html", str(tmp_path / "r.html")])
    assert one.exit_code == dask.exit_code == 1, dask.stderr
    doc = json.loads(dask.stdout)
    prov = doc.pop("provenance")
    assert json.dumps(doc, indent=2, ensure_ascii=False) + "\n" == one.stdout          # byte for byte
    assert prov["cluster"] == "local:2" and prov["partitions"] >= 4 and prov["disagreements_folder"] == str(folder)
    assert doc["cases"] == 365 and doc["disagreement_count"] > 100 and len(doc["disagreements"]) == 40
    # every partition wrote its own listed disagreements (each up to 40); the report listed the first 40
    parts = sorted(folder.glob("part-*.jsonl"))
    assert len(parts) >= 3            # the partitions with disagreements (the seeds have none)
    written = [json.loads(line) for p in parts for line in p.read_text().splitlines()]
    assert written[:40] == doc["disagreements"] and all(len(p.read_text().splitlines()) <= 40 for p in parts)
    html = (tmp_path / "r.html").read_text()
    assert f'href="{folder.as_uri()}"' in html


def test_partitions_cover_each_byte_once_with_their_line_numbers(tmp_path):
    f = tmp_path / "x.jsonl"
    lines = [f'{{"n": {i}}}' + " " * (i % 7) for i in range(500)]
    f.write_text("\n".join(lines) + "\n")
    y = tmp_path / "y.yaml"
    y.write_text("id: y\n")
    parts = list(partitions([f, y], 1000))
    ranges = [p for p in parts if p[0] == "jsonl-range"]
    assert len(ranges) > 5 and parts[-1] == ("files", 1, [str(y)])
    data = f.read_bytes()
    assert ranges[0][3] == 0 and ranges[-1][4] == len(data)
    for a, b in zip(ranges, ranges[1:]):
        assert a[4] == b[3]                                   # contiguous
        assert data[b[3] - 1:b[3]] == b"\n"                   # each starts at a line start
        assert b[5] == data[:b[3]].count(b"\n") + 1           # with its line number


@pytest.mark.parametrize("spec, ok", [("local:2", ("local", 2)), ("dask://10.0.0.5:8786", ("address", "tcp://10.0.0.5:8786")),
                                      ("tls://h:1", ("address", "tls://h:1")), ("local:0", None), ("local:x", None),
                                      ("h:8786", None), ("dask://", None)])
def test_cluster_addresses(spec, ok):
    from ptcheck.audit._cluster import ClusterError
    if ok:
        assert parse_cluster(spec) == ok
    else:
        with pytest.raises(ClusterError, match="--cluster"):
            parse_cluster(spec)


def test_bad_cluster_arguments_are_one_line_and_exit_2(inputs):
    r = runner.invoke(app, ["audit", str(inputs / "b.jsonl"), "--cluster", "somewhere"])
    assert r.exit_code == 2 and "write dask://HOST:PORT" in r.stderr and r.stdout == ""
    r = runner.invoke(app, ["audit", str(inputs / "b.jsonl"), "--cluster", "local:2", "--jobs", "2"])
    assert r.exit_code == 2 and "leave out --jobs" in r.stderr


SITE = """
import os
if os.environ.get("PTCHECK_TEST_DIE_ON"):          # a crash of the inference engine on one case, in a worker
    import ptcheck.core._check as _c
    _real = _c.Checker.check
    def _check(self, case, **k):
        if case.id == os.environ["PTCHECK_TEST_DIE_ON"]:
            os._exit(3)
        return _real(self, case, **k)
    _c.Checker.check = _check
"""


def test_a_case_that_kills_its_workers_is_one_error_entry(tmp_path, monkeypatch):
    """Dask runs the partition again on another worker; when it kills that one too (allowed-failures), the
    partition is re-run here case by case and the case that kills a process is an error entry."""
    _need_dask()
    import dask

    import ptcheck.core._check as check_mod
    from ptcheck.audit import audit
    from ptcheck.audit._cluster import audit_on_cluster
    path = tmp_path / "c.jsonl"
    path.write_text("\n".join(_lines(40)) + "\n")
    victim = "c0013"
    (tmp_path / "site").mkdir()
    (tmp_path / "site" / "sitecustomize.py").write_text(SITE)
    monkeypatch.setenv("PYTHONPATH", f"{tmp_path / 'site'}:{os.environ.get('PYTHONPATH', '')}")
    monkeypatch.setenv("PTCHECK_TEST_DIE_ON", victim)
    real = check_mod.Checker.check

    def check(self, case, **k):                 # the same crash in the local processes that re-run the partition
        if case.id == victim:
            os._exit(3)
        return real(self, case, **k)
    monkeypatch.setattr(check_mod.Checker, "check", check)
    with dask.config.set({"distributed.scheduler.allowed-failures": 1}):
        r = audit_on_cluster([path], "local:2", folder=tmp_path / "d", partition_bytes=4000, max_listed=None)
    crashed = [e for e in r.errors if e.kind == "engine"]
    assert [e.case for e in crashed] == [victim] and "the engine crashed (the process exited with code 3)" in \
        crashed[0].messages[0]
    assert r.cases == 40 and r.error_count == 1 + sum(1 for e in r.errors if e.kind == "invalid")
    # every other case is audited as one process audits it
    monkeypatch.undo()
    whole = audit([path], jobs=1).to_json_dict()
    got = r.to_json_dict()
    assert [d for d in got["disagreements"]] == [d for d in whole["disagreements"] if d["case"] != victim]
