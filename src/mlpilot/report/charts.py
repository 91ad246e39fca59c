"""Plotly figures of a model's evaluation, each with one plain sentence that says what it shows.

Input is the JSON-ready dict of ``Predictor.validation_evaluation()`` / ``Predictor.evaluation_data``;
output is a list of ``{"id", "title", "caption", "figure"}`` where ``figure`` is Plotly figure JSON
(plain lists, no binary arrays), ready for ``Plotly.newPlot(div, figure.data, figure.layout)`` in a
page that loads :func:`mlpilot.report.plotly_js`.
"""

from __future__ import annotations

import itertools
import json
from typing import Any

import plotly.graph_objects as go
import plotly.io as pio

TEMPLATE = "plotly_white"
BLUE, ORANGE, GREY = "#1f77b4", "#ff7f0e", "#9a9a9a"
MAX_IMPORTANCE_BARS = 15
# ROC curves never reach the lower right corner: the legend sits there, clear of the curves and tool bar
ROC_LEGEND = {"orientation": "v", "x": 0.98, "y": 0.02, "xanchor": "right", "yanchor": "bottom",
              "bgcolor": "rgba(255,255,255,0.8)"}


def evaluation_figures(evaluation: dict[str, Any], *, importance: dict[str, float] | None = None) -> list[dict]:
    """Every chart that fits the evaluation's problem type, plus global importance when given."""
    kind = evaluation["problem_type"]
    builders = {
        "binary": (roc_chart, precision_recall_chart, confusion_chart, gain_chart, calibration_chart),
        "multiclass": (confusion_chart, multiclass_roc_chart, per_class_chart),
        "regression": (predicted_vs_actual_chart, residual_chart),
    }[kind]
    charts = [chart for build in builders if (chart := build(evaluation)) is not None]
    if importance:
        charts.append(importance_chart(importance, problem_type=kind))
    return charts


# ------------------------------------------------------------------------------ binary
def roc_chart(ev: dict[str, Any]) -> dict | None:
    roc = ev.get("roc")
    if not roc:
        return None
    positive, negative = ev["positive_class"], ev["classes"][0]
    fig = go.Figure([
        go.Scatter(x=[0, 1], y=[0, 1], mode="lines", name="random guess", line={"dash": "dash", "color": GREY}),
        go.Scatter(x=roc["fpr"], y=roc["tpr"], mode="lines", name=f"model (AUC {roc['auc']:.3f})",
                   line={"color": BLUE, "width": 3}),
    ])
    _axes(fig, x=f"share of '{negative}' rows flagged (false positive rate)",
          y=f"share of '{positive}' rows found (true positive rate)")
    fig.update_layout(legend=ROC_LEGEND)
    caption = (f"The model ranks a randomly chosen '{positive}' row above a randomly chosen '{negative}' row "
               f"{roc['auc']:.0%} of the time (ROC AUC {roc['auc']:.3f}; 0.5 is guessing, 1.0 is perfect).")
    return _chart("roc", "ROC curve", caption, fig)


def precision_recall_chart(ev: dict[str, Any]) -> dict | None:
    pr = ev.get("pr")
    if not pr:
        return None
    positive, base = ev["positive_class"], ev["base_rate"]
    fig = go.Figure([
        go.Scatter(x=[0, 1], y=[base, base], mode="lines", name=f"random guess ({base:.0%})",
                   line={"dash": "dash", "color": GREY}),
        go.Scatter(x=pr["recall"], y=pr["precision"], mode="lines", name="model", line={"color": BLUE, "width": 3}),
    ])
    _axes(fig, x=f"share of '{positive}' rows found (recall)",
          y=f"share of flagged rows truly '{positive}' (precision)")
    caption = (f"The further the curve stays up and to the right, the fewer false alarms it takes to find the "
               f"'{positive}' rows: average precision {pr['average_precision']:.2f}, against {base:.2f} for "
               f"flagging rows at random.")
    return _chart("precision_recall", "Precision–recall curve", caption, fig)


def confusion_chart(ev: dict[str, Any]) -> dict:
    conf = ev["confusion"]
    labels, matrix = conf["labels"], conf["matrix"]
    fig = go.Figure(go.Heatmap(
        z=matrix, x=[f"predicted {c}" for c in labels], y=[f"actual {c}" for c in labels],
        text=[[f"{v:,}" for v in row] for row in matrix], texttemplate="%{text}", colorscale="Blues",
        showscale=False, hovertemplate="%{y}, %{x}: %{z}<extra></extra>",
    ))
    fig.update_yaxes(autorange="reversed")
    if ev["problem_type"] == "binary":
        (_tn, fp), (fn, tp) = matrix
        positive = ev["positive_class"]
        caption = (f"At the calibrated threshold of {conf['threshold']:.2f}, the model finds {tp:,} of "
                   f"{tp + fn:,} '{positive}' rows ({_share(tp, tp + fn)}), and {tp:,} of the {tp + fp:,} rows it "
                   f"flags ({_share(tp, tp + fp)}) truly are '{positive}'.")
        title = f"Confusion matrix (threshold {conf['threshold']:.2f})"
    else:
        caption = _multiclass_confusion_caption(labels, matrix)
        title = "Confusion matrix (most probable class)"
    _axes(fig, x="what the model predicted", y="what really happened")
    return _chart("confusion", title, caption, fig)


def _multiclass_confusion_caption(labels: list[str], matrix: list[list[int]]) -> str:
    total = sum(map(sum, matrix))
    right = sum(matrix[i][i] for i in range(len(labels)))
    caption = f"The model picks the right class for {_share(right, total)} of rows ({right:,} of {total:,})"
    mixups = [(matrix[i][j], i, j) for i in range(len(labels)) for j in range(len(labels)) if i != j]
    count, i, j = max(mixups, default=(0, 0, 0))
    if count:
        return caption + f"; the most common mix-up is '{labels[i]}' predicted as '{labels[j]}' ({count:,} rows)."
    return caption + "."


def gain_chart(ev: dict[str, Any]) -> dict:
    gain, positive = ev["gain"], ev["positive_class"]
    fig = go.Figure([
        go.Scatter(x=[0, 100], y=[0, 100], mode="lines", name="random order", line={"dash": "dash", "color": GREY}),
        go.Scatter(x=[100 * v for v in gain["curve"]["fraction"]], y=[100 * v for v in gain["curve"]["gain"]],
                   mode="lines", name="riskiest first (model)", line={"color": BLUE, "width": 3}),
        go.Bar(x=[100 * v for v in gain["fraction"]], y=[100 * v for v in gain["gain"]], width=6,
               name="by decile", marker={"color": BLUE, "opacity": 0.25},
               customdata=[[round(100 * f), lift] for f, lift in zip(gain["fraction"], gain["lift"], strict=True)],
               hovertemplate="riskiest %{customdata[0]}%: %{y:.0f}% reached, %{customdata[1]:.1f}× random"
                             "<extra></extra>"),
    ])
    _axes(fig, x="share of rows contacted, riskiest first (%)", y=f"share of all '{positive}' rows reached (%)")
    return _chart("gain", "Cumulative gain", gain["sentence"], fig)


def calibration_chart(ev: dict[str, Any]) -> dict:
    cal, positive = ev["calibration"], ev["positive_class"]
    gaps = [abs(p - o) for p, o in zip(cal["mean_predicted"], cal["observed_rate"], strict=True)]
    fig = go.Figure([
        go.Scatter(x=[0, 1], y=[0, 1], mode="lines", name="perfectly calibrated", line={"dash": "dash", "color": GREY}),
        go.Scatter(x=cal["mean_predicted"], y=cal["observed_rate"], mode="lines+markers", name="model",
                   line={"color": BLUE, "width": 3}, customdata=cal["count"],
                   hovertemplate="predicted %{x:.2f}, observed %{y:.2f} (%{customdata} rows)<extra></extra>"),
    ])
    _axes(fig, x=f"predicted probability of '{positive}' (mean per bin)", y=f"observed share of '{positive}'")
    caption = (f"In {len(gaps)} groups of rows sorted by predicted probability, the predicted and observed share "
               f"of '{positive}' differ by {100 * sum(gaps) / len(gaps):.1f} percentage points on average "
               f"(at most {100 * max(gaps):.1f}); points on the diagonal mean the probabilities can be taken at "
               f"face value.")
    return _chart("calibration", "Calibration", caption, fig)


# ------------------------------------------------------------------------------ multiclass
def multiclass_roc_chart(ev: dict[str, Any]) -> dict | None:
    curves = ev.get("roc_per_class") or []
    if not curves:
        return None
    fig = go.Figure([go.Scatter(x=[0, 1], y=[0, 1], mode="lines", name="random guess",
                                line={"dash": "dash", "color": GREY})])
    for curve in curves:
        fig.add_trace(go.Scatter(x=curve["fpr"], y=curve["tpr"], mode="lines",
                                 name=f"{curve['class']} (AUC {curve['auc']:.3f})"))
    _axes(fig, x="share of other rows flagged (false positive rate)", y="share of the class found (true positive rate)")
    fig.update_layout(legend=ROC_LEGEND)
    best = max(curves, key=lambda c: c["auc"])
    worst = min(curves, key=lambda c: c["auc"])
    mean_auc = sum(c["auc"] for c in curves) / len(curves)
    caption = (f"Telling each class apart from all others, the model's average AUC is {mean_auc:.3f}; "
               f"'{best['class']}' is the easiest to recognise ({best['auc']:.3f}) and '{worst['class']}' "
               f"the hardest ({worst['auc']:.3f}).")
    return _chart("roc_per_class", "ROC curve per class (one vs rest)", caption, fig)


def per_class_chart(ev: dict[str, Any]) -> dict:
    rows = ev["per_class"]
    names = [r["class"] for r in rows]
    fig = go.Figure([
        go.Bar(x=names, y=[r["precision"] for r in rows], name="precision", marker={"color": BLUE}),
        go.Bar(x=names, y=[r["recall"] for r in rows], name="recall", marker={"color": ORANGE}),
    ])
    fig.update_layout(barmode="group")
    _axes(fig, x="class", y="share (0 to 1)")
    weakest = min(rows, key=lambda r: r["recall"])
    strongest = max(rows, key=lambda r: r["recall"])
    caption = (f"Recall is the share of each class the model finds: from {weakest['recall']:.0%} for "
               f"'{weakest['class']}' to {strongest['recall']:.0%} for '{strongest['class']}'; precision is how "
               f"many of the rows given a class truly belong to it.")
    return _chart("per_class", "Precision and recall per class", caption, fig)


# ------------------------------------------------------------------------------ regression
def predicted_vs_actual_chart(ev: dict[str, Any]) -> dict:
    scatter = ev["scatter"]
    values = scatter["actual"] + scatter["predicted"]
    low, high = min(values), max(values)
    fig = go.Figure([
        go.Scatter(x=[low, high], y=[low, high], mode="lines", name="perfect prediction",
                   line={"dash": "dash", "color": GREY}),
        go.Scatter(x=scatter["actual"], y=scatter["predicted"], mode="markers", name="rows",
                   marker={"color": BLUE, "opacity": 0.45, "size": 5}),
    ])
    _axes(fig, x="actual value", y="predicted value")
    r2 = "" if ev["r2"] is None else (
        f" and explain {max(ev['r2'], 0):.0%} of the variation in the target (R² {ev['r2']:.3f})"
    )
    caption = (f"Predictions are off by {ev['mae']:.4g} on average (mean absolute error; RMSE {ev['rmse']:.4g})"
               f"{r2}; points near the diagonal are predicted well.")
    shown = "" if scatter["n_shown"] == ev["n_rows"] else f" ({scatter['n_shown']:,} rows shown)"
    return _chart("predicted_vs_actual", "Predicted against actual" + shown, caption, fig)


def residual_chart(ev: dict[str, Any]) -> dict:
    hist = ev["residuals"]
    edges = hist["bin_edges"]
    centres = [(a + b) / 2 for a, b in itertools.pairwise(edges)]
    widths = [b - a for a, b in itertools.pairwise(edges)]
    fig = go.Figure(go.Bar(x=centres, y=hist["counts"], width=widths, marker={"color": BLUE}, name="rows"))
    _axes(fig, x="error: actual − predicted", y="number of rows")
    caption = (f"Errors centre on {hist['mean']:.3g} (0 means no systematic over- or under-prediction); bars far "
               f"from zero are rows the model misses by a lot.")
    return _chart("residuals", "Prediction errors", caption, fig)


# ------------------------------------------------------------------------------ importance
def importance_chart(importance: dict[str, float], *, problem_type: str) -> dict:
    top = sorted(importance.items(), key=lambda item: item[1], reverse=True)[:MAX_IMPORTANCE_BARS]
    units = "in the target's units" if problem_type == "regression" else "log-odds"
    fig = go.Figure(go.Bar(x=[v for _, v in top][::-1], y=[n for n, _ in top][::-1], orientation="h",
                           marker={"color": BLUE}, hovertemplate="%{y}: %{x:.3f}<extra></extra>"))
    _axes(fig, x=f"average effect on a prediction ({units.removeprefix('in ')})", y="")
    fig.update_layout(height=max(320, 26 * len(top) + 120))
    names = [f"'{n}'" for n, _ in top[:3]]
    caption = (f"{names[0]} moves predictions the most (by {top[0][1]:.3g} {units} on an average row)"
               + (f", followed by {' and '.join(names[1:])}." if len(names) > 1 else "."))
    return _chart("importance", "What drives the predictions", caption, fig)


# ------------------------------------------------------------------------------ helpers
def _chart(chart_id: str, title: str, caption: str, fig: go.Figure) -> dict:
    return {"id": chart_id, "title": title, "caption": caption, "figure": _figure_json(fig)}


def _axes(fig: go.Figure, *, x: str, y: str) -> None:
    # the legend sits above the plot, left, clear of Plotly's tool bar (top right)
    fig.update_layout(template=TEMPLATE, height=400, margin={"l": 70, "r": 20, "t": 60, "b": 60},
                      legend={"orientation": "h", "x": 0, "y": 1.02, "yanchor": "bottom"})
    fig.update_xaxes(title_text=x)
    fig.update_yaxes(title_text=y)


def _figure_json(fig: go.Figure) -> dict:
    """Plain JSON (plotly.io turns numpy arrays into base64 blocks; lists stay lists)."""
    return json.loads(pio.to_json(fig, validate=False))


def _share(part: int, whole: int) -> str:
    return f"{part / whole:.0%}" if whole else "n/a"
