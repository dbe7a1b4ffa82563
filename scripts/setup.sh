#!/usr/bin/env bash
# One-command set-up for a fresh CPU machine: creates .venv and installs skeletonllm with
# everything its tests need. The CPU build of torch is pinned first so that no later package
# pulls a multi-GB CUDA build. GPU users: see README ("Installing on a GPU machine").
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet "torch==2.13.0"
.venv/bin/python -m pip install --quiet -e ".[dev]"
.venv/bin/python -m pip check
echo "skeletonllm set up in .venv (activate with: source .venv/bin/activate)"
