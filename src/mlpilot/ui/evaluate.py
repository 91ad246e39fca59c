"""Step 4: how good the model is (charts and a plain summary from ``mlpilot.report``) and why it
predicted what it did for any row (``Predictor.explain``).

The evaluation uses the run's stored out-of-fold predictions, so every chart judges the model on
rows it did not train on. It is computed once per run and kept in the project folder.
"""

from __future__ import annotations

import math
from functools import cache
from typing import TYPE_CHECKING, Any

from fastapi import FastAPI
from fastapi.responses import FileResponse

from mlpilot import api
from mlpilot.errors import DataError

if TYPE_CHECKING:
    from mlpilot.ui.app import UIContext

N_REASONS = 5
N_SUGGESTED = 5


@cache
def plotly_bundle() -> str:
    """Plotly's JavaScript from the installed ``plotly`` package (never a CDN), read once."""
    from mlpilot.report import plotly_js

    return plotly_js()


def evaluation_page(model: api.Predictor) -> dict[str, Any]:
    """Charts (Plotly figure JSON), the plain-language summary, and the headline numbers."""
    from mlpilot.report.charts import evaluation_figures
    from mlpilot.report.summary import plain_summary

    evaluation = model.validation_evaluation()
    importance = model.global_importance()
    return {"figures": evaluation_figures(evaluation, importance=importance),
            "summary": plain_summary(model, evaluation, importance=importance),
            "metric": model.metric, "score": (model.manifest.get("ensemble") or {}).get("score_val"),
            "validation": model.manifest.get("validation"), "problem_type": model.problem_type}


def suggested_rows(model: api.Predictor, frame: Any) -> list[dict[str, Any]]:
    """Rows worth explaining first (numbered from 1): the most likely positives (binary), else the first rows."""
    if model.problem_type == "binary":
        positive = model.classes[1]
        proba = model.predict_proba(frame)[positive]
        top = proba.sort_values(ascending=False).head(N_SUGGESTED)
        rows = [int(frame.index.get_loc(i)) + 1 for i in top.index]
        return [{"row": r, "label": f"row {r}: {float(p):.0%} chance of '{positive}'"}
                for r, p in zip(rows, top, strict=True)]
    return [{"row": r, "label": f"row {r}"} for r in range(1, min(N_SUGGESTED, len(frame)) + 1)]


def explain_row(model: api.Predictor, frame: Any, row: int) -> dict[str, Any]:
    """The prediction for row number ``row`` of the user's table (the first data row is 1, as in the
    HTML report and a spreadsheet's view of the data) and its top reasons."""
    if not 1 <= row <= len(frame):
        raise DataError(f"Row {row} is not in the table; choose a row number from 1 to {len(frame)}.")
    one = frame.iloc[[row - 1]]
    labels, proba = model.predict_with_proba(one)
    explanation = model.explain(one)
    reasons = []
    for column, contribution in explanation.top_reasons(one.index[0], k=N_REASONS):
        value = _shown(one.iloc[0][column])
        reasons.append({"column": column, "value": value, "contribution": contribution,
                        "sentence": _reason_sentence(model, column, value, contribution)})
    answer: dict[str, Any] = {"row": row, "prediction": _shown(labels.iloc[0]), "units": explanation.units,
                              "reasons": reasons, "values": {c: _shown(v) for c, v in one.iloc[0].items()}}
    if model.target in one.columns:  # the table the model learned from: show what really happened
        answer["actual"] = _shown(one.iloc[0][model.target])
    if proba is not None:
        answer["probabilities"] = {str(c): float(p) for c, p in proba.iloc[0].items()}
    return answer


def _reason_sentence(model: api.Predictor, column: str, value: str, contribution: float) -> str:
    if model.problem_type == "regression":
        direction = "raises" if contribution > 0 else "lowers"
        return f"{column} = {value} {direction} the predicted {model.target} by about {abs(contribution):.3g}."
    if model.problem_type == "binary":
        more = "more" if contribution > 0 else "less"
        return f"{column} = {value} makes '{model.classes[1]}' {more} likely."
    more = "for" if contribution > 0 else "against"
    return f"{column} = {value} speaks {more} the predicted class."


def _shown(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "(missing)"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value.item() if hasattr(value, "item") else value)


def add_routes(app: FastAPI, ctx: UIContext) -> None:
    @app.get("/api/projects/{project_id}/evaluate")
    def evaluate(project_id: str) -> dict[str, Any]:
        project = ctx.project(project_id)
        model = ctx.model(project).model
        name = f"evaluation-{project.run_path.name}.json"
        page = project.read(name)
        if page is None:
            page = evaluation_page(model)
            page["suggested_rows"] = suggested_rows(model, ctx.frame(project))
            project.write(name, page)
        return page

    @app.get("/api/projects/{project_id}/explain")
    def explain(project_id: str, row: int) -> dict[str, Any]:
        project = ctx.project(project_id)
        return explain_row(ctx.model(project).model, ctx.frame(project), row)

    @app.get("/api/projects/{project_id}/report.html")
    def report(project_id: str) -> FileResponse:
        from mlpilot.report.html import write_report

        project = ctx.project(project_id)
        ctx.model(project)
        out = project.folder / "exports" / f"report-{project.run_path.name}.html"
        if not out.is_file():
            out.parent.mkdir(exist_ok=True)
            write_report(project.run_path, out)
        return FileResponse(out, media_type="text/html", filename=f"mlpilot-report-{project.run_path.name}.html")
