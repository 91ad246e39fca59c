"""Charts and the plain summary: the right figures per problem type, with data and real numbers."""

import json

import numpy as np

from mlpilot.report import plotly_js
from mlpilot.report.charts import evaluation_figures
from mlpilot.report.summary import plain_summary
from mlpilot.tasks.tabular.evaluation import evaluation_data


def _trace_points(figure):
    return sum(len(trace.get("x") or trace.get("z") or []) for trace in figure["data"])


def _check(charts, ids):
    assert [c["id"] for c in charts] == ids
    for chart in charts:
        json.dumps(chart, allow_nan=False)
        assert chart["title"] and chart["caption"].endswith(".")
        assert _trace_points(chart["figure"]) > 0, chart["id"]
        assert "bdata" not in json.dumps(chart["figure"])  # plain lists, readable by any Plotly version


def test_binary_figures_with_importance_and_captions_with_numbers(churn_run):
    ev = churn_run.validation_evaluation()
    charts = evaluation_figures(ev, importance=churn_run.global_importance())
    _check(charts, ["roc", "precision_recall", "confusion", "gain", "calibration", "importance"])
    by_id = {c["id"]: c for c in charts}
    assert f"{ev['roc']['auc']:.0%} of the time" in by_id["roc"]["caption"]
    (_, _), (fn, tp) = ev["confusion"]["matrix"]
    assert f"finds {tp:,} of {tp + fn:,} 'Yes' rows" in by_id["confusion"]["caption"]
    assert by_id["gain"]["caption"] == ev["gain"]["sentence"]
    top = next(iter(churn_run.global_importance()))
    assert by_id["importance"]["caption"].startswith(f"'{top}' moves predictions the most")


def test_multiclass_and_regression_figures():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 3, 300)
    proba = rng.dirichlet(np.ones(3), 300) + np.eye(3)[y]
    proba /= proba.sum(axis=1, keepdims=True)
    ev = evaluation_data(y, proba, problem_type="multiclass", classes=["a", "b", "c"], threshold=None)
    _check(evaluation_figures(ev), ["confusion", "roc_per_class", "per_class"])
    values = rng.normal(size=400)
    ev = evaluation_data(values, values + rng.normal(0, 0.3, 400), problem_type="regression", classes=[],
                         threshold=None)
    charts = evaluation_figures(ev, importance={"x": 0.5, "z": 0.1})
    _check(charts, ["predicted_vs_actual", "residuals", "importance"])
    assert f"R² {ev['r2']:.3f}" in charts[0]["caption"] and "target's units" in charts[2]["caption"]


def test_plain_summary_says_what_how_good_and_why(churn_run):
    ev = churn_run.validation_evaluation()
    lines = plain_summary(churn_run, ev, importance=churn_run.global_importance())
    text = " ".join(lines)
    assert "whether 'churn' will be 'Yes' or 'No'" in lines[0]
    assert f"{ev['roc']['auc']:.0%} of the time" in text and ev["gain"]["sentence"] in lines
    assert "strongest drivers are" in text and next(iter(churn_run.global_importance())) in text
    assert any(line.startswith("Watch out:") for line in lines)


def test_plotly_js_is_the_offline_bundle():
    bundle = plotly_js()
    assert len(bundle) > 1_000_000 and "Plotly" in bundle[:5000]
    assert "</script" not in bundle.lower()  # safe to inline in a <script> element
