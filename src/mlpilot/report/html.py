"""The self-contained HTML report of a run: one file, inline Plotly and CSS, readable offline.

The report sits next to the run (``RUN_DIR/../<run>-report.html``), never inside it: a run's manifest
lists every file it holds, and an extra file would make the run fail verification.
"""

from __future__ import annotations

import datetime as dt
import math
import os
from pathlib import Path
from typing import Any

import jinja2

from mlpilot import api
from mlpilot._version import __version__
from mlpilot.errors import ArtifactError, ConfigError, DataError
from mlpilot.report import plotly_js
from mlpilot.report.charts import evaluation_figures
from mlpilot.report.summary import plain_summary

TOP_ROWS = 10
TOP_REASONS = 3

_ENV = jinja2.Environment(
    loader=jinja2.PackageLoader("mlpilot.report", "templates"),
    autoescape=True,  # column names and values come from users' files
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)


def write_report(run_dir: str | Path, out: str | Path | None = None, *, data: Any = None) -> Path:
    """Render the report of the run in ``run_dir`` to ``out`` (default: ``<run>-report.html`` beside the
    run); ``data``: an optional labelled table (path or DataFrame) to evaluate on as well."""
    run = Path(run_dir).resolve()
    target = Path(out) if out is not None else run.parent / f"{run.name}-report.html"
    if target.resolve().is_relative_to(run):
        raise ConfigError(
            f"'{target}' is inside the run directory, which must not change after saving (its checksums would "
            f"fail); write the report elsewhere with --out."
        )
    predictor = api.load(run)
    if not hasattr(predictor, "validation_evaluation"):
        raise ArtifactError(f"Run '{run}' is not a tabular run; reports cover tabular runs only.")
    html = render_report(predictor, data=data)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.tmp-{os.getpid()}")  # a reader never sees half a report
    tmp.write_text(html, encoding="utf-8")
    os.replace(tmp, target)
    return target


def render_report(predictor: Any, *, data: Any = None) -> str:
    """The report of ``predictor`` as one HTML string."""
    return _ENV.get_template("report.html.j2").render(**report_context(predictor, data=data),
                                                      plotly_js=plotly_js())


def report_context(predictor: Any, *, data: Any = None) -> dict[str, Any]:
    """Everything the template shows, as plain values."""
    importance = predictor.global_importance()
    sections: list[dict[str, Any]] = []
    unavailable = None
    try:
        validation = predictor.validation_evaluation()
        sections.append(_section("validation", "How well it did in validation", validation, importance))
    except ArtifactError as exc:
        validation, unavailable = None, str(exc)
    labelled = explained = None
    if data is not None:
        frame = api.read_table(data)
        labelled = predictor.evaluation_data(frame)
        sections.append(_section("labelled", "How well it does on your labelled data", labelled,
                                 None if validation else importance))
        explained = _explained_rows(predictor, frame)
    judged_by = validation or labelled
    summary = plain_summary(predictor, judged_by, importance=importance) if judged_by else []
    return {
        "header": _header(predictor),
        "summary": summary,
        "unavailable": unavailable,
        "sections": sections,
        "data_overview": _data_overview(predictor),
        "leaderboard": _leaderboard(predictor),
        "explained": explained,
        "generated": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "version": __version__,
    }


def _section(key: str, title: str, evaluation: dict[str, Any], importance: dict | None) -> dict[str, Any]:
    charts = evaluation_figures(evaluation, importance=importance)
    for chart in charts:
        chart["dom_id"] = f"chart-{key}-{chart['id']}"
    return {"key": key, "title": title, "source": evaluation["source"], "notes": evaluation.get("notes", []),
            "charts": charts}


def _header(predictor: Any) -> dict[str, Any]:
    manifest = predictor.manifest
    return {
        "target": predictor.target,
        "problem_type": predictor.problem_type,
        "metric": predictor.metric,
        "score": manifest["ensemble"]["score_val"],
        "validation": manifest["validation"],
        "created_at": manifest.get("created_at", "unknown"),
        "fit_seconds": manifest.get("fit_seconds"),
        "n_rows": predictor.data_report.n_rows,
        "run_name": predictor.path.name,
        "threshold": predictor.threshold,
        "mlpilot_version": manifest.get("mlpilot_version", "unknown"),
    }


def _data_overview(predictor: Any) -> dict[str, Any]:
    report = predictor.data_report
    columns = [
        {"name": c.name, "kind": c.kind, "missing": f"{c.missing_rate:.1%}", "n_unique": c.n_unique,
         "used": not c.dropped, "reason": c.reason}
        for c in report.columns
    ]
    balance = [{"label": k, "share": f"{v:.1%}"} for k, v in (report.class_balance or {}).items()]
    return {"n_rows": report.n_rows, "n_columns": report.n_columns, "columns": columns, "balance": balance,
            "warnings": list(report.warnings), "summary": report.summary_lines()[:2]}


def _leaderboard(predictor: Any) -> list[dict[str, str]]:
    rows = []
    for row in predictor.manifest["leaderboard"]:
        rows.append({
            "model": row["model"], "status": row["status"], "reason": row.get("reason") or "",
            "score": _number(row.get("score_val")), "fit_time": _number(row.get("fit_time_s"), "{:.1f} s"),
            "predict": _number(row.get("predict_ms_per_1k"), "{:.1f} ms"),
            "in_ensemble": bool(row.get("in_ensemble")),
        })
    return rows


def _explained_rows(predictor: Any, frame: Any) -> dict[str, Any] | None:
    """The ``TOP_ROWS`` rows most likely to be the positive class, each with its top reasons (binary)."""
    if predictor.problem_type != "binary":
        return None
    positive = predictor.classes[1]
    frame = frame.reset_index(drop=True)  # row labels = data row positions, whatever index the caller had
    proba = predictor.predict_proba(frame)[positive]
    riskiest = proba.sort_values(ascending=False, kind="stable").index[:TOP_ROWS]
    try:
        explanation = predictor.explain(frame.loc[riskiest])
    except DataError as exc:
        return {"positive": str(positive), "rows": [], "unavailable": str(exc)}
    rows = []
    for label in riskiest:
        reasons = [
            {"column": col, "value": _cell(frame.at[label, col]), "effect": f"{effect:+.2f}",
             "direction": "raises" if effect > 0 else "lowers"}
            for col, effect in explanation.top_reasons(label, k=TOP_REASONS)
        ]
        actual = frame.at[label, predictor.target] if predictor.target in frame.columns else None
        rows.append({"row": str(label + 1), "probability": f"{proba[label]:.1%}", "actual": _cell(actual),
                     "reasons": reasons})
    return {"positive": str(positive), "rows": rows, "units": explanation.units, "unavailable": None}


def _number(value: Any, fmt: str = "{:.4g}") -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    return fmt.format(value)


def _cell(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    return str(value)
