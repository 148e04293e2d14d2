"""The container image (Dockerfile): built and smoke-tested where a container engine runs (`docker info`
answers); skipped, saying so, elsewhere (this machine has the docker client but no engine)."""
import json
import shutil
import subprocess
import time
import urllib.request

import pytest

from tests.conftest import ROOT


def _engine() -> str | None:
    """Why there is no usable container engine, or None when there is one."""
    if shutil.which("docker") is None:
        return "no docker client on this machine"
    r = subprocess.run(["docker", "info"], capture_output=True, text=True, timeout=60)
    return None if r.returncode == 0 else "no container engine answers `docker info` on this machine"


def test_the_dockerfile_is_multi_stage_and_serves_by_default():
    text = (ROOT / "Dockerfile").read_text()
    stages = [ln for ln in text.splitlines() if ln.startswith("FROM ")]
    assert len(stages) == 2 and stages[0].endswith(" AS build") and "slim" in stages[1]
    assert "scripts/build_durable_wheel.py" in text and "COPY --from=build /wheels /wheels" in text
    assert text.rstrip().splitlines()[-1] == 'CMD ["ptcheck", "serve", "--host", "0.0.0.0", "--port", "8000"]'
    runtime = text[text.rindex(stages[1]):]
    assert "gcc" not in runtime and "USER ptcheck" in runtime          # no compiler, no root where it runs


def test_the_image_builds_and_answers_a_check():
    why = _engine()
    if why:
        pytest.skip(why)
    tag = "ptcheck-ci-smoke"
    subprocess.run(["docker", "build", "-q", "-t", tag, str(ROOT)], check=True, timeout=1800)
    cid = subprocess.run(["docker", "run", "-d", "--rm", "-p", "127.0.0.1::8000", tag], check=True,
                         capture_output=True, text=True).stdout.strip()
    try:
        port = subprocess.run(["docker", "port", cid, "8000"], check=True, capture_output=True,
                              text=True).stdout.split(":")[-1].strip()
        body = (ROOT / "cases/seeds/seed-001.yaml").read_bytes()
        for _ in range(60):
            try:
                req = urllib.request.Request(f"http://127.0.0.1:{port}/v1/check", data=body,
                                             headers={"content-type": "application/yaml"})
                answer = json.loads(urllib.request.urlopen(req, timeout=10).read())
                break
            except OSError:
                time.sleep(1)
        else:
            pytest.fail("the container did not answer on /v1/check within 60 s")
        assert answer["case"] == "seed-001" and answer["items"]
    finally:
        subprocess.run(["docker", "stop", cid], capture_output=True, timeout=60)
