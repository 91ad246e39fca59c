from __future__ import annotations

import numpy as np
import pandas as pd

from mlpilot.tasks.tabular.inference import prepare_training_data
from mlpilot.ui.describe import column_profiles, data_warnings


def test_many_left_out_columns_of_one_kind_share_one_warning() -> None:
    n = 2000
    rare = {f"code_{i}": np.where(np.arange(n) == i, 1, 0) for i in range(40)}  # one row each
    df = pd.DataFrame(rare | {"same_a": 7, "same_b": 7.5, "x": np.arange(n) % 13, "y": ["a", "b"] * (n // 2)})
    report = prepare_training_data(df, target="y").report.to_dict()
    warnings = data_warnings(report)
    rare_warnings = [w for w in warnings if w["title"] == "Nearly constant"]
    assert len(rare_warnings) == 1
    text = rare_warnings[0]["text"]
    assert text.startswith("40 columns, e.g. 'code_0', 'code_1', 'code_2'. 'code_0': nearly constant")
    assert rare_warnings[0]["why"].startswith("Only a handful of rows")
    # Two constant columns are few enough to name one by one.
    assert [w["column"] for w in warnings if w["title"] == "Constant"] == ["same_a", "same_b"]
    labels = {p["name"]: p["kind_label"] for p in column_profiles(df, report)}
    assert labels["code_0"] == "Nearly constant" and labels["x"] == "Number"
