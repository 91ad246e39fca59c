#!/usr/bin/env bash
# Set up .venv with mlpilot and its test tools. torch is installed first at 2.13.0 (the CPU wheel):
# any newer torch, asked for by a loose range, pulls a multi-GB CUDA build.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m venv .venv
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet "torch==2.13.0"
.venv/bin/python -m pip install --quiet -e ".[all,dev]"
