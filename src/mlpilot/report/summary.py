"""A few sentences a non-expert can read: what the model predicts, how good it is, what drives it,
and what to watch out for."""

from __future__ import annotations

from typing import Any

# ROC AUC bands in words (the usual reading in credit scoring and medicine).
_AUC_WORDS = ((0.9, "excellent"), (0.8, "good"), (0.7, "fair"), (0.6, "weak"), (0.0, "poor"))
MAX_CAVEATS = 4


def plain_summary(predictor: Any, evaluation: dict[str, Any], *, importance: dict[str, float] | None) -> list[str]:
    """Short plain-language sentences about ``predictor`` judged by ``evaluation`` (see
    ``Predictor.validation_evaluation``); ``importance`` adds the strongest drivers."""
    lines = [_what_it_predicts(predictor, evaluation), *_quality(evaluation)]
    if importance:
        top = [f"'{name}'" for name, _ in sorted(importance.items(), key=lambda i: i[1], reverse=True)[:3]]
        lines.append(f"Its strongest drivers are {_join(top)}.")
    lines.extend(_caveats(predictor, evaluation))
    return lines


def _what_it_predicts(predictor: Any, ev: dict[str, Any]) -> str:
    n_inputs = len(predictor.input_schema)
    target = predictor.target
    if ev["problem_type"] == "binary":
        negative, positive = ev["classes"]
        return (f"The model predicts, for each row, whether '{target}' will be '{positive}' or '{negative}', "
                f"from {n_inputs} input columns.")
    if ev["problem_type"] == "multiclass":
        shown = _join([f"'{c}'" for c in ev["classes"][:5]]) + (" ..." if len(ev["classes"]) > 5 else "")
        return (f"The model predicts which of {len(ev['classes'])} classes ({shown}) '{target}' takes, "
                f"from {n_inputs} input columns.")
    return f"The model predicts the value of '{target}' from {n_inputs} input columns."


def _quality(ev: dict[str, Any]) -> list[str]:
    lines = []
    if ev["problem_type"] == "binary" and ev.get("roc"):
        auc = ev["roc"]["auc"]
        word = next(w for bound, w in _AUC_WORDS if auc >= bound)
        negative, positive = ev["classes"]
        lines.append(f"Its ranking is {word}: it places a random '{positive}' row above a random '{negative}' row "
                     f"{auc:.0%} of the time (ROC AUC {auc:.3f}).")
        lines.append(ev["gain"]["sentence"])
    elif ev["problem_type"] == "multiclass":
        majority = max(sum(row) for row in ev["confusion"]["matrix"]) / max(ev["n_rows"], 1)
        lines.append(f"It picks the right class for {ev['accuracy']:.0%} of rows; always guessing the most "
                     f"common class would get {majority:.0%}.")
    elif ev["problem_type"] == "regression":
        fit = "" if ev["r2"] is None else f" and explains {max(ev['r2'], 0):.0%} of the variation (R² {ev['r2']:.3f})"
        lines.append(f"Its predictions are off by {ev['mae']:.4g} on average (RMSE {ev['rmse']:.4g}){fit}.")
    if ev.get("score") is not None:
        lines.append(f"Measured by {ev['metric']}: {ev['score']:.4g}, on {ev['source']}.")
    return lines


def _caveats(predictor: Any, ev: dict[str, Any]) -> list[str]:
    report = predictor.data_report
    found = list(report.warnings)
    dropped = [c.name for c in report.columns if c.dropped]
    if dropped:
        found.append(f"{len(dropped)} column(s) were not used ({_join([repr(d) for d in dropped[:4]])}); the data "
                     f"overview says why.")
    if ev["source"].startswith("out-of-fold"):
        found.append("These figures come from validation: every row was scored by models that never saw it, but "
                     "new data that differs from the training table may score worse.")
    return [f"Watch out: {c}" for c in found[:MAX_CAVEATS]]


def _join(items: list[str]) -> str:
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]
