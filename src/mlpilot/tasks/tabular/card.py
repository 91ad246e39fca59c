"""The model card of a tabular run: what the model is for, what it learned from, how well, and its limits.

Everything comes from the run's manifest (a plain dict), so the card can be rendered for any saved
run, and the fit path can write it into a new run before the run's checksums are taken.
"""

from __future__ import annotations

from typing import Any

TOP_MODELS = 5
SMALL_DATA_ROWS = 1_000
IMBALANCE_SHARE = 0.2
HIGH_MISSING = 0.2
# Column names that often carry protected or sensitive attributes: a hint to review, not a verdict.
SENSITIVE_HINTS = ("gender", "sex", "female", "male", "race", "ethnic", "religion", "age", "senior", "disab",
                   "nationality", "marital", "pregnan")


def render_model_card(manifest: dict[str, Any]) -> str:
    """A Markdown model card for the run described by ``manifest``."""
    sections = [
        _header(manifest),
        _intended_use(manifest),
        _data(manifest),
        _performance(manifest),
        _threshold(manifest),
        _limitations(manifest),
        _warnings(manifest),
    ]
    return "\n\n".join(s for s in sections if s).rstrip() + "\n"


def _header(m: dict[str, Any]) -> str:
    rows = [
        ("Task", f"{m['problem_type']} prediction of `{m['target']}`"),
        ("Metric", f"{m['metric']} ({'higher' if m.get('metric_greater_is_better', True) else 'lower'} is better)"),
        ("Validation", str(m.get("validation", "unknown"))),
        ("Trained", f"{m.get('created_at', 'unknown')} in {_seconds(m.get('fit_seconds'))}"),
        ("mlpilot version", str(m.get("mlpilot_version", "unknown"))),
    ]
    if m.get("classes"):
        rows.insert(1, ("Classes", ", ".join(f"`{c}`" for c in m["classes"])))
    return f"# Model card: predict `{m['target']}`\n\n" + _table(["", ""], rows)


def _intended_use(m: dict[str, Any]) -> str:
    kind = {"binary": "one of two outcomes", "multiclass": "one of several classes",
            "regression": "a numeric value"}.get(m["problem_type"], "an outcome")
    inputs = len(m.get("input_schema", []))
    return (
        "## Intended use\n\n"
        f"Predicts `{m['target']}` ({kind}) for rows with the same {inputs} input columns as the training "
        "table (listed under *Data*), drawn from the same population and period. It is meant as decision "
        "support: a person should review consequential decisions, and the scores below only hold for data "
        "like the training data. It has not been checked for fairness across groups of people."
    )


def _data(m: dict[str, Any]) -> str:
    report = m.get("data_report", {})
    columns = report.get("columns", [])
    kept = [c for c in columns if not c.get("dropped")]
    lines = [f"## Data\n\n{report.get('n_rows', 0):,} training rows, {report.get('n_columns', 0)} columns."]
    if report.get("rows_dropped_missing_target"):
        lines.append(f"{report['rows_dropped_missing_target']:,} rows without a target value were left out.")
    if report.get("class_balance"):
        lines.append("Class balance: " + ", ".join(f"`{k}` {v:.1%}" for k, v in report["class_balance"].items()) + ".")
    elif report.get("target_summary", {}).get("mean") is not None:
        s = report["target_summary"]
        lines.append(f"Target from {s['min']:g} to {s['max']:g}, mean {s['mean']:g}.")
    rows = [(f"`{c['name']}`", c["kind"], f"{c.get('missing_rate', 0.0):.1%}", c.get("reason", "")) for c in kept]
    text = " ".join(lines) + "\n\n### Input columns\n\n" + _table(["Column", "Kind", "Missing", "Why"], rows)
    dropped = [c for c in columns if c.get("dropped")]
    if dropped:
        text += "\n\n### Columns not used\n\n" + "\n".join(f"- `{c['name']}`: {c.get('reason', '')}" for c in dropped)
    return text


def _performance(m: dict[str, Any]) -> str:
    ensemble = m.get("ensemble") or {}
    metric = m["metric"]
    parts = ["## Performance"]
    if ensemble.get("score_val") is not None:
        members = ", ".join(f"{mb['name']} ({mb['weight']:.2f})" for mb in ensemble.get("members", []))
        parts.append(
            f"Validation {metric}: **{ensemble['score_val']:.4f}**, measured on out-of-fold predictions "
            f"({m.get('validation', 'cross-validation')}): every training row was scored by models that did not "
            f"see it. Ensemble members (weight): {members}."
        )
    if ensemble.get("temperature") is not None:
        parts.append(
            f"The blended probabilities are temperature-scaled (T = {ensemble['temperature']:.3f}, fitted on the "
            f"out-of-fold predictions): {'sharpened' if ensemble['temperature'] < 1 else 'softened'}, because the "
            f"blend was {'less' if ensemble['temperature'] < 1 else 'more'} confident than the validation labels "
            f"bore out. Each row keeps its most likely class."
        )
    board = [r for r in m.get("leaderboard", []) if r.get("status") == "ok"][:TOP_MODELS]
    if board:
        rows = [(r["model"], _score(r.get("score_val")), _seconds(r.get("fit_time_s")),
                 f"{r.get('predict_ms_per_1k', float('nan')):.0f} ms") for r in board]
        parts.append(f"### Leaderboard (top {len(board)})\n\n"
                     + _table(["Model", f"{metric} (validation)", "Fit time", "Predict / 1k rows"], rows))
    return "\n\n".join(parts)


def _threshold(m: dict[str, Any]) -> str:
    threshold = m.get("threshold")
    if not threshold:
        if m["problem_type"] == "regression":
            return ""
        return "## Decision rule\n\nEach row gets the most probable class."
    positive = m["classes"][1] if m.get("classes") else "the positive class"
    at_half = threshold.get("score_at_0.5")
    compare = f" (it was {at_half:.4f} at the usual 0.5)" if at_half is not None else ""
    return (
        "## Decision threshold\n\n"
        f"A row is predicted `{positive}` when its probability of `{positive}` is at least "
        f"**{threshold['value']:.4f}**. The threshold was chosen on the out-of-fold predictions to maximise "
        f"{threshold.get('optimised_for', 'the label metric')}: {threshold.get('score', float('nan')):.4f}"
        f"{compare}. Use the probabilities directly when the costs of the two errors differ."
    )


def _limitations(m: dict[str, Any]) -> str:
    report = m.get("data_report", {})
    items = [
        "The validation score was also used to choose the models and the ensemble, so it is slightly "
        "optimistic; score the model on fresh labelled data (`mlpilot evaluate`) before relying on it.",
        "Values not seen in training (new categories, unparseable entries) are treated as missing, and "
        "inputs far outside the training range are extrapolated without warning.",
        "Performance degrades when the population or the meaning of the columns changes; re-train regularly.",
    ]
    if report.get("n_rows", 0) < SMALL_DATA_ROWS:
        items.append(f"Trained on only {report.get('n_rows', 0):,} rows: scores vary considerably from sample to "
                     "sample.")
    balance = report.get("class_balance") or {}
    if balance and min(balance.values()) < IMBALANCE_SHARE:
        rare = min(balance, key=balance.__getitem__)
        items.append(f"Class `{rare}` is rare ({balance[rare]:.1%} of rows): its predictions are the least reliable.")
    kept = [c for c in report.get("columns", []) if not c.get("dropped")]
    missing = [c["name"] for c in kept if c.get("missing_rate", 0) > HIGH_MISSING]
    if missing:
        items.append("Columns often missing in training: " + ", ".join(f"`{n}`" for n in missing) + ".")
    sensitive = [c["name"] for c in kept if any(h in c["name"].lower() for h in SENSITIVE_HINTS)]
    if sensitive:
        items.append("Inputs that may describe protected attributes: " + ", ".join(f"`{n}`" for n in sensitive)
                     + "; review whether using them is lawful and fair for this decision.")
    return "## Limitations\n\n" + "\n".join(f"- {i}" for i in items)


def _warnings(m: dict[str, Any]) -> str:
    items = list(m.get("data_report", {}).get("warnings", []))
    for row in m.get("leaderboard", []):
        if row.get("status") not in (None, "ok"):
            items.append(f"{row['model']} was {row['status']}" + (f": {row['reason']}" if row.get("reason") else "."))
    starved = _starved_models(m.get("leaderboard", []))
    if starved:
        items.append(starved)
    if not items:
        return "## Warnings\n\nNone raised while training."
    return "## Warnings\n\n" + "\n".join(f"- {i}" for i in items)


def _starved_models(leaderboard: list[dict[str, Any]]) -> str:
    """A warning when models ran out of time before early stopping ended them (empty when none did)."""
    fitted = [r for r in leaderboard if r.get("status") == "ok" and r.get("family") != "ensemble"]
    cut = [r["model"] for r in fitted if r.get("folds_cut_by_time")]
    if not cut:
        return ""
    return (f"{len(cut)} of {len(fitted)} models ran out of their share of the time limit before they had "
            f"finished learning ({', '.join(cut)}); a longer `time_limit` would likely give a better model.")


# --------------------------------------------------------------------------------------- helpers
def _table(header: list[str], rows: list[tuple[Any, ...]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(str(v).replace("|", "\\|") for v in row) + " |" for row in rows]
    return "\n".join(lines)


def _score(value: Any) -> str:
    return "n/a" if value is None else f"{value:.4f}"


def _seconds(value: Any) -> str:
    if value is None:
        return "unknown time"
    return f"{value:.1f} s" if value < 120 else f"{value / 60:.1f} min"
