"""The REST application for one saved run; ``create_app`` picks the app for the run's kind.

A tabular run gets health, model description, JSON and CSV prediction, metrics (this module); a
GPT run gets ``gpt_app``, an MRI run ``mri_app``. The run is loaded once when the app is created.
Every answer to a user mistake is a 4xx with a JSON body ``{"errors": [{"row", "column",
"message"}]}``; a 500 only ever says "internal error" (the traceback goes to the server log, never
to the client).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from fastapi import FastAPI, File, Request, UploadFile
from fastapi.responses import JSONResponse, StreamingResponse
from starlette.concurrency import run_in_threadpool

from mlpilot import api
from mlpilot.serve import gpt_app, mri_app
from mlpilot.serve.common import (
    USER_ERRORS,
    RequestProblem,
    Settings,
    finish_app,
    new_app,
    spilled_upload,
)
from mlpilot.serve.guard import ServingMetrics
from mlpilot.serve.schema import ServingSchema, build_schema, validate_rows
from mlpilot.serve.service import ModelService
from mlpilot.serve.settings import DEFAULT_MAX_REQUEST_BYTES, DEFAULT_MAX_ROWS, DEFAULT_MAX_UPLOAD_BYTES

__all__ = ["DEFAULT_MAX_REQUEST_BYTES", "DEFAULT_MAX_ROWS", "DEFAULT_MAX_UPLOAD_BYTES", "create_app"]
CSV_OUT_CHUNK_ROWS = 20_000
UPLOAD_SUFFIXES = (".csv", ".tsv", ".txt", ".parquet", ".pq")
PREDICT, PREDICT_CSV = "/v1/predict", "/v1/predict/csv"


def create_app(
    run_dir: str | Path,
    *,
    token: str | None = None,
    max_request_bytes: int = DEFAULT_MAX_REQUEST_BYTES,
    max_upload_bytes: int = DEFAULT_MAX_UPLOAD_BYTES,
    max_rows: int = DEFAULT_MAX_ROWS,
    cors_origins: list[str] | None = None,
    n_threads: int | None = None,
) -> FastAPI:
    """A FastAPI app serving the run in ``run_dir`` (loaded now; raises ``ArtifactError`` if it cannot be).

    The endpoints depend on the run's kind: tabular runs predict rows, GPT runs generate text, MRI
    runs reconstruct uploaded k-space. ``max_rows`` applies to tabular runs, ``max_upload_bytes``
    to file uploads (CSV for tabular runs, HDF5 for MRI runs). ``n_threads``: the most threads one
    tabular prediction uses (None = all cores; ``mlpilot serve`` gives each worker its share).
    """
    settings = Settings(run_dir=run_dir, token=token, max_request_bytes=max_request_bytes,
                        max_upload_bytes=max_upload_bytes, cors_origins=cors_origins)
    model: Any = api.load(run_dir, n_threads=n_threads)
    kind = model.manifest.get("kind")
    if kind == "gpt":
        return gpt_app.build(model, settings)
    if kind == "mri":
        return mri_app.build(model, settings)
    service = ModelService(model)
    schema = build_schema(input_schema=service.model.input_schema, examples=service.examples(),
                          classification=service.classification, max_rows=max_rows)
    app, metrics = new_app(settings, title=f"mlpilot: predict '{service.model.target}'", service=service,
                           description=_description(service, max_rows=max_rows),
                           model_summary="What this model predicts, its inputs and validation scores")
    _add_routes(app, service=service, schema=schema, metrics=metrics, max_rows=max_rows)
    return finish_app(app, settings, metrics=metrics, endpoints=frozenset({PREDICT, PREDICT_CSV}),
                      uploads=frozenset({PREDICT_CSV}), customise_openapi=lambda doc: _predict_body(doc, schema))


def _description(service: ModelService, *, max_rows: int) -> str:
    return (f"Predicts **{service.model.target}** ({service.model.problem_type}) with the mlpilot run "
            f"`{service.model.path.name}`. At most {max_rows:,} rows per JSON request.")


# --------------------------------------------------------------------------------------- routes
def _add_routes(
    app: FastAPI, *, service: ModelService, schema: ServingSchema, metrics: ServingMetrics, max_rows: int
) -> None:
    @app.post(PREDICT, tags=["predict"], summary="Predict JSON rows", response_model=None,
              responses={200: {"model": schema.response_model}, **USER_ERRORS})
    async def predict(request: Request) -> JSONResponse:
        rows, partial = _parse_request(await request.body(), max_rows=max_rows)
        # Off the event loop: validating thousands of rows would stall every other connection.
        checked = await run_in_threadpool(validate_rows, schema, rows)
        if checked.errors:
            metrics.prediction_errors.inc(len({e.row for e in checked.errors}))
        if checked.errors and not partial:
            return JSONResponse({"errors": [e.model_dump() for e in checked.errors]}, status_code=422)
        scored = await run_in_threadpool(service.score, checked.frame)
        metrics.predicted_rows.inc(len(checked.frame))
        body = scored.aligned(len(rows), classification=service.classification)
        body["errors"] = [e.model_dump() for e in checked.errors]
        return JSONResponse(body)

    @app.post(PREDICT_CSV, tags=["predict"], summary="Predict an uploaded CSV or Parquet file",
              response_class=StreamingResponse,
              responses={200: {"content": {"text/csv": {}}, "description": "prediction and proba_<label> columns, "
                               "one line per input row, in input order"}, **USER_ERRORS})
    async def predict_csv(
        file: UploadFile = File(..., description="A CSV (or Parquet) file with a header row."),  # noqa: B008
    ) -> StreamingResponse:
        table = await run_in_threadpool(_score_upload, service, file)
        metrics.predicted_rows.inc(len(table))
        name = Path(file.filename or "data").stem + "_predictions.csv"
        return StreamingResponse(_csv_chunks(table), media_type="text/csv",
                                 headers={"content-disposition": f'attachment; filename="{name}"'})


def _parse_request(raw: bytes, *, max_rows: int) -> tuple[list[Any], bool]:
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise RequestProblem(422, f"The request body is not valid JSON ({exc}); send "
                                  '{"rows": [{"column": value, ...}, ...]}.') from None
    if not isinstance(body, dict) or not isinstance(body.get("rows"), list):
        raise RequestProblem(422, 'The request body must be a JSON object with a "rows" list: '
                                  '{"rows": [{"column": value, ...}, ...]}.')
    partial = body.get("partial", False)
    if not isinstance(partial, bool):
        raise RequestProblem(422, f'"partial" must be true or false; got {partial!r}.')
    rows = body["rows"]
    if len(rows) > max_rows:
        raise RequestProblem(413, f"The request has {len(rows):,} rows; this server accepts at most {max_rows:,} "
                                  "per request. Split it, or upload a file to /v1/predict/csv.")
    return rows, partial


def _score_upload(service: ModelService, upload: UploadFile) -> Any:
    """Spill the upload to a named file so the CLI's table reader (delimiter/encoding detection) applies."""
    suffix = Path(upload.filename or "").suffix.lower()
    with spilled_upload(upload, suffix=suffix if suffix in UPLOAD_SUFFIXES else ".csv") as path:
        return service.table(str(path))


def _csv_chunks(table: Any) -> Iterator[str]:
    for start in range(0, max(len(table), 1), CSV_OUT_CHUNK_ROWS):
        yield table.iloc[start:start + CSV_OUT_CHUNK_ROWS].to_csv(index=False, header=start == 0)


# --------------------------------------------------------------------------------------- openapi
def _predict_body(doc: dict[str, Any], schema: ServingSchema) -> None:
    """The generated request model as /v1/predict's body.

    The endpoint reads its body itself (so that bad rows can be reported together or skipped), hence
    FastAPI cannot infer the body schema from a parameter.
    """
    request_schema = schema.request_model.model_json_schema(ref_template="#/components/schemas/{model}")
    components = doc.setdefault("components", {}).setdefault("schemas", {})
    components.update(request_schema.pop("$defs", {}))
    components["PredictRequest"] = request_schema
    doc["paths"][PREDICT]["post"]["requestBody"] = {
        "required": True,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/PredictRequest"}}},
    }
