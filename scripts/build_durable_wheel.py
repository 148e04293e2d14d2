"""Build durable-rules 2.0.28's wheel for this Python from the PyPI sdist, with the project's patch for 3.13+.

    python3.13 scripts/build_durable_wheel.py --out wheels/     # wheels/durable_rules-2.0.28-cp313-...whl
    python3.13 -m pip install --find-links wheels/ ptcheck      # pip takes the wheel over the sdist
    python scripts/build_durable_wheel.py --check               # the patch applies to the sdist (exit 0/1)

Why: durable-rules 2.0.28 (the last release) ships only as source, and on CPython 3.13 its extension builds
but fails to import (`undefined symbol: PyEval_CallObject`: the call was removed from the C API in 3.13). The
fix is upstream (jruizgit/rules PR #403) but never released. scripts/durable-rules-2.0.28-py313.patch makes
that change, the 5 calls in src/rulespy/rules.c become PyObject_CallObject (the same call, in the API of
every Python 3). The sdist is fetched with pip (`pip download --no-binary :all:`), checked against its
sha256, patched, and built with `pip wheel`; a C compiler is needed here (once), not where the wheel is
installed. Building on 3.11 or 3.12 applies the same patch (the call exists there too).
"""
from __future__ import annotations

import argparse
import hashlib
import re
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PATCH = ROOT / "scripts" / "durable-rules-2.0.28-py313.patch"
VERSION = "2.0.28"
SDIST_SHA256 = "053b26f5e48d312d4fa27995243f954671be6eece477f150c059c364eb4d7d61"
_HUNK = re.compile(r"^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@")


class PatchError(Exception):
    pass


def apply_patch(patch_text: str, root: Path) -> list[str]:
    """Apply a unified diff (as `patch -p1`) to the files under root; every hunk must match exactly where
    it says (no fuzz). Returns the files changed. PatchError when a hunk does not apply."""
    changed = []
    lines = patch_text.splitlines(keepends=True)
    i = 0
    while i < len(lines):
        if not lines[i].startswith("--- "):
            i += 1
            continue
        target = lines[i + 1][4:].strip().split("\t")[0]
        rel = target.split("/", 1)[1] if "/" in target else target
        path = root / rel
        text = path.read_text(encoding="utf-8").splitlines(keepends=True)
        i += 2
        out, cursor = [], 0
        while i < len(lines) and lines[i].startswith("@@"):
            m = _HUNK.match(lines[i])
            if not m:
                raise PatchError(f"{PATCH.name}: a bad hunk header: {lines[i].strip()}")
            start = int(m.group(1)) - 1
            i += 1
            old, new = [], []
            while i < len(lines) and lines[i][:1] in (" ", "-", "+", "\\"):
                tag, body = lines[i][:1], lines[i][1:]
                if tag in (" ", "-"):
                    old.append(body)
                if tag in (" ", "+"):
                    new.append(body)
                i += 1
            if text[start:start + len(old)] != old:
                raise PatchError(f"{rel}: the hunk at line {start + 1} does not match the source")
            out += text[cursor:start] + new
            cursor = start + len(old)
        out += text[cursor:]
        path.write_text("".join(out), encoding="utf-8")
        changed.append(rel)
    return changed


def fetch_sdist(dest: Path) -> Path:
    """durable-rules' sdist from the package index (pip, as configured here), its sha256 checked."""
    subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--no-binary", ":all:",
                    f"durable-rules=={VERSION}", "-d", str(dest)], check=True)
    (sdist,) = dest.glob(f"durable_rules-{VERSION}.tar.gz")
    digest = hashlib.sha256(sdist.read_bytes()).hexdigest()
    if digest != SDIST_SHA256:
        raise PatchError(f"{sdist.name}: sha256 {digest}, expected {SDIST_SHA256}")
    return sdist


def patched_source(work: Path, sdist: Path | None = None) -> Path:
    sdist = sdist or fetch_sdist(work)
    with tarfile.open(sdist) as tar:
        tar.extractall(work, filter="data")
    src = work / f"durable_rules-{VERSION}"
    apply_patch(PATCH.read_text(encoding="utf-8"), src)
    if "PyEval_CallObject" in (src / "src/rulespy/rules.c").read_text(encoding="utf-8"):
        raise PatchError("rules.c still calls PyEval_CallObject after the patch")
    return src


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, default=ROOT / "wheels", help="folder for the wheel (default: wheels/)")
    ap.add_argument("--check", action="store_true", help="only check that the patch applies to the sdist")
    ap.add_argument("--sdist", type=Path, help="use this sdist instead of downloading it (its sha256 is checked)")
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="durable-wheel-") as tmp:
        work = Path(tmp)
        try:
            if args.sdist and hashlib.sha256(args.sdist.read_bytes()).hexdigest() != SDIST_SHA256:
                raise PatchError(f"{args.sdist}: not durable-rules {VERSION}'s sdist (sha256 differs)")
            src = patched_source(work, args.sdist)
        except (PatchError, subprocess.CalledProcessError, OSError, ValueError) as e:
            print(f"build_durable_wheel: {e}", file=sys.stderr)
            return 1
        if args.check:
            print(f"the patch applies to durable-rules {VERSION}")
            return 0
        args.out.mkdir(parents=True, exist_ok=True)
        subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps",
                        "-w", str(args.out), str(src)], check=True)
    built = sorted(args.out.glob(f"durable_rules-{VERSION}-*.whl"))
    print("\n".join(str(w) for w in built))
    return 0


if __name__ == "__main__":
    sys.exit(main())
