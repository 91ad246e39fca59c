"""Steps 1 and 2 in plain words: what kind of problem this is, and what is in each column.

The data report itself comes from ``api.inspect`` (the same one ``fit`` builds); this module only
turns it into sentences and small pictures: a distribution sparkline per column (an inline SVG
drawn from a histogram computed here, so the page needs no chart library for it).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

SPARK_WIDTH, SPARK_HEIGHT, SPARK_BINS, SPARK_TOP = 120, 28, 16, 8
YES_WORDS = frozenset({"yes", "y", "true", "1", "churn", "churned", "positive", "pos"})

METRICS = {
    "roc_auc": ("ROC AUC", "how well the model ranks the rows that are {positive} above the others (0.5 is "
                "guessing, 1.0 is perfect). It needs no cut-off and stays fair when one outcome is rare."),
    "log_loss": ("log loss", "how much probability the model gives to the right class (lower is better, 0 is "
                 "certain and right). It rewards honest probabilities over lucky guesses."),
    "rmse": ("RMSE (root mean squared error)", "the typical size of a prediction's error, in the units of "
             "'{target}' (lower is better). Big misses count extra."),
}
KINDS = {
    "numeric": "Number", "boolean": "Yes / no", "categorical": "Category", "datetime": "Date",
    "text": "Free text", "id": "Identifier", "constant": "Constant", "nearly_constant": "Nearly constant",
    "duplicate": "Duplicate",
}
DROPPED_WHY = {
    "id": ("Looks like an ID", "A value that is different on every row carries no pattern to learn, so mlpilot "
           "leaves this column out."),
    "constant": ("Constant", "A column with the same value on every row cannot tell rows apart, so it is left out."),
    "nearly_constant": ("Nearly constant", "Only a handful of rows hold any other value: too few to learn a "
                        "pattern a model could trust, so the column is left out."),
    "duplicate": ("Duplicate", "This column repeats another one exactly, so only the first copy is used."),
}
# More left-out columns of one kind than this share one warning, which names the first few.
MAX_DROPPED_WARNINGS = 5
REPORT_WHY = (
    ("alone predicts", "Possible leakage", "A column that gives the answer away is often only known after the "
     "outcome; a model leaning on it looks great here and fails in real use."),
    ("of the rows", "Class imbalance", "When one outcome is rare, a model can look accurate by ignoring it; "
     "mlpilot's metric and threshold account for this, but expect weaker predictions for the rare class."),
    ("missing", "Many missing values", "Mostly empty columns carry little information; mlpilot still uses them, "
     "and the fact that a value is missing can itself be a signal."),
    ("no value in target", "Rows without an answer", "Rows whose target is empty cannot teach the model; they "
     "are left out of training."),
)


# --------------------------------------------------------------------------------------- step 1
def describe_problem(report: dict[str, Any]) -> dict[str, str]:
    """A headline ("Predict yes/no: ..."), one sentence of detail, and the metric with why it was chosen."""
    target, kind = report["target"], report["problem_type"]
    classes = list((report.get("class_balance") or {}).keys())
    if kind == "binary":
        positive = _positive(classes)
        negative = next(c for c in classes if c != positive)
        if positive.lower() in YES_WORDS:
            headline = f"Predict yes/no: will '{target}' be '{positive}'?"
        else:
            headline = f"Predict one of two outcomes: is '{target}' '{positive}' or '{negative}'?"
        detail = (f"A yes/no (binary classification) problem: for each row the model gives the probability of "
                  f"'{positive}', and a cut-off tuned on your data turns it into an answer.")
    elif kind == "multiclass":
        shown = ", ".join(f"'{c}'" for c in classes[:5]) + (" ..." if len(classes) > 5 else "")
        headline = f"Predict which of {len(classes)} categories '{target}' falls in ({shown})."
        detail = "A multiclass classification problem: for each row the model gives a probability for every category."
    else:
        headline = f"Predict a number: the value of '{target}'."
        summary = report.get("target_summary") or {}
        span = f" (here from {summary['min']:g} to {summary['max']:g})" if "min" in summary else ""
        detail = f"A regression problem: the model estimates '{target}'{span} for each row."
    metric = report.get("default_metric", "")
    name, why = METRICS.get(metric, (metric, "the standard measure for this kind of problem."))
    positive = f"'{_positive(classes)}'" if kind == "binary" else "the class"
    return {"kind": kind, "headline": headline, "detail": detail, "metric": metric, "metric_name": name,
            "metric_why": f"mlpilot will optimise {name}: {why.format(positive=positive, target=target)}"}


def _positive(classes: list[str]) -> str:
    """The class the model's probability is about: the second in sorted order, as ``fit`` uses it."""
    return classes[1] if len(classes) > 1 else (classes[0] if classes else "")


# --------------------------------------------------------------------------------------- step 2
def column_profiles(frame: pd.DataFrame, report: dict[str, Any]) -> list[dict[str, Any]]:
    """One card per input column: kind in plain words, missing share, a sparkline and a short summary."""
    profiles = []
    for column in report["columns"]:
        values = frame[column["name"]] if column["name"] in frame.columns else pd.Series(dtype=object)
        sparkline, summary = _picture(values, column["kind"], n_unique=column["n_unique"])
        profiles.append({
            "name": column["name"], "kind": column["kind"], "kind_label": KINDS.get(column["kind"], column["kind"]),
            "reason": column["reason"], "missing_pct": round(100 * column["missing_rate"], 1),
            "dropped": column["dropped"], "n_unique": column["n_unique"], "sparkline": sparkline, "summary": summary,
        })
    return profiles


def target_profile(frame: pd.DataFrame, report: dict[str, Any]) -> dict[str, Any]:
    kind = "numeric" if report["problem_type"] == "regression" else "categorical"
    sparkline, summary = _picture(frame[report["target"]], kind, n_unique=SPARK_TOP + 1)
    return {"name": report["target"], "sparkline": sparkline, "summary": summary}


def data_warnings(report: dict[str, Any]) -> list[dict[str, str]]:
    """Every warning with a short title and one line on why it matters."""
    found = []
    for kind, (title, why) in DROPPED_WHY.items():
        columns = [c for c in report["columns"] if c["dropped"] and c["kind"] == kind]
        if len(columns) > MAX_DROPPED_WARNINGS:
            named = ", ".join(f"'{c['name']}'" for c in columns[:3])
            first = columns[0]
            found.append({"title": title, "column": first["name"], "why": why,
                          "text": f"{len(columns):,} columns, e.g. {named}. '{first['name']}': {first['reason']}."})
            continue
        found.extend({"title": title, "column": c["name"], "text": f"'{c['name']}': {c['reason']}.", "why": why}
                     for c in columns)
    for text in report["warnings"]:
        title, why = next(((t, w) for key, t, w in REPORT_WHY if key in text), ("Note", ""))
        found.append({"title": title, "column": _quoted(text), "text": text, "why": why})
    return found


def _quoted(text: str) -> str:
    parts = text.split("'")
    return parts[1] if len(parts) > 2 else ""


def _picture(values: pd.Series, kind: str, *, n_unique: int) -> tuple[str, str]:
    """A sparkline and a one-line summary: a histogram for numbers and dates with many values, else the
    most common values (a 0/1 column reads better as two bars than as a histogram's two far ends)."""
    present = values.dropna()
    if present.empty:
        return _bars_svg([], label="no values"), "no values"
    if kind in ("id", "text"):
        lengths = present.astype(str).str.len()
        counts, _ = np.histogram(lengths, bins=min(SPARK_BINS, max(int(lengths.nunique()), 1)))
        return _bars_svg(counts.tolist(), label="lengths of the values"), f"{n_unique:,} distinct values"
    if kind == "numeric" and n_unique > SPARK_TOP:
        numbers = pd.to_numeric(present, errors="coerce").dropna().to_numpy(dtype=np.float64)
        numbers = numbers[np.isfinite(numbers)]
        if len(numbers):
            counts, _ = np.histogram(numbers, bins=SPARK_BINS)
            summary = f"{_num(numbers.min())} to {_num(numbers.max())}, median {_num(float(np.median(numbers)))}"
            return _bars_svg(counts.tolist(), label=f"histogram of {len(numbers):,} values"), summary
    if kind == "datetime":
        dates = pd.to_datetime(present.astype(str), errors="coerce", format="mixed").dropna()
        if len(dates):
            counts, _ = np.histogram(dates.astype("int64").to_numpy(), bins=SPARK_BINS)
            span = f"{dates.min():%Y-%m-%d} to {dates.max():%Y-%m-%d}"
            return _bars_svg(counts.tolist(), label="dates over time"), span
    counts = present.astype(str).value_counts()
    top = counts.head(SPARK_TOP)
    shares = ", ".join(f"{k} {v / len(present):.0%}" for k, v in top.head(3).items())
    more = f" (+{len(counts) - 3} more)" if len(counts) > 3 else ""
    return _bars_svg(top.tolist(), label=f"the {len(top)} most common values"), f"{shares}{more}"


def _num(value: float) -> str:
    return f"{value:,.0f}" if abs(value) >= 1000 or float(value).is_integer() else f"{value:.3g}"


def _bars_svg(counts: list[int], *, label: str) -> str:
    """A bar sparkline as inline SVG; it holds numbers only, never text from the user's data."""
    peak = max(counts, default=0) or 1
    width = SPARK_WIDTH / max(len(counts), 1)
    bars = "".join(
        f'<rect x="{i * width + 0.5:.1f}" y="{SPARK_HEIGHT - h:.1f}" width="{max(width - 1, 1):.1f}" height="{h:.1f}"/>'
        for i, n in enumerate(counts)
        if (h := max(1.0, SPARK_HEIGHT * n / peak) if n else 0.0) > 0
    )
    safe_label = label.replace("<", "").replace("&", "and").replace('"', "")
    return (f'<svg class="spark" viewBox="0 0 {SPARK_WIDTH} {SPARK_HEIGHT}" width="{SPARK_WIDTH}" '
            f'height="{SPARK_HEIGHT}" role="img" aria-label="{safe_label}">{bars}</svg>')
