#!/usr/bin/env bash
# A longer crash hunt than CI's: N generated valid cases (default 20000), each checked in a child process.
# Usage: bench/crash_hunt.sh [N]    (from the checkout, with the venv's python first on PATH)
set -euo pipefail
cd "$(dirname "$0")/.."
PTCHECK_CRASH_HUNT=${1:-20000} python -m pytest tests/test_crash_hunt.py -s -p no:cacheprovider
