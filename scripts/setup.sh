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
# The optional interop extras too, so that the tests run mmaction2 and DeepSpeed for real. torch is named
# again so that pip keeps the pinned build; DS_BUILD_OPS=0: DeepSpeed compiles none of its ops at install.
DS_BUILD_OPS=0 .venv/bin/python -m pip install --quiet -e ".[dev,interop,deepspeed]" "torch==2.13.0"
# decord 0.6.0 (mmaction2's video reader, unused here) ships a wheel whose metadata says cp36: pip check calls
# it "not supported on this platform" although it imports. Any other problem stops the set-up.
problems=$(.venv/bin/python -m pip check 2>&1 | grep -v -x -e "decord 0.6.0 is not supported on this platform" \
           -e "No broken requirements found." || true)
if [ -n "$problems" ]; then
  echo "$problems" >&2
  exit 1
fi
echo "skeletonllm set up in .venv (activate with: source .venv/bin/activate)"
