"""What every served kind of run shares: health, model and metrics endpoints, the guard, error answers.

Each app (tabular ``app.py``, ``gpt_app.py``, ``mri_app.py``) adds its own routes and then calls
``finish_app``, so the token check, size limits, metrics, CORS and the ``{"errors": [...]}`` body
shape are the same whatever model is served.
"""

from __future__ import annotations

import logging
import os
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request, UploadFile
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.exceptions import HTTPException

from mlpilot._version import __version__
from mlpilot.errors import DataError, MlpilotError
from mlpilot.serve.guard import MetricsRecorder, RequestGuard, ServingMetrics, error_body
from mlpilot.serve.schema import ErrorResponse
from mlpilot.serve.settings import MiB

log = logging.getLogger("mlpilot.serve")
HEALTH, MODEL, METRICS = "/v1/health", "/v1/model", "/v1/metrics"
OPEN_PATHS = frozenset({HEALTH, "/docs", "/docs/oauth2-redirect", "/redoc", "/openapi.json"})
ERRORS = {"model": ErrorResponse}
USER_ERRORS = {401: ERRORS, 413: ERRORS, 422: ERRORS}  # every guarded POST can answer these


class RequestProblem(Exception):
    """A malformed request (not one bad row): answered with ``status`` and one message."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class Settings:
    """What ``create_app`` was given that every kind of app applies the same way."""

    run_dir: str | Path
    token: str | None
    max_request_bytes: int
    max_upload_bytes: int
    cors_origins: list[str] | None


def _auth_sentence(token: str | None) -> str:
    return "Send `Authorization: Bearer <token>` on every endpoint but `/v1/health`." if token else "No token needed."


def _add_service_routes(
    app: FastAPI, *, metrics: ServingMetrics, info: Callable[[], dict[str, Any]], model_summary: str
) -> None:
    """``/v1/health``, ``/v1/model`` (answered by ``info``) and ``/v1/metrics``."""

    @app.get(HEALTH, tags=["service"], summary="Liveness check")
    def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.get(MODEL, tags=["model"], summary=model_summary)
    def model_info() -> dict[str, Any]:
        return info()

    @app.get(METRICS, tags=["service"], summary="Prometheus metrics", response_class=Response,
             responses={200: {"content": {"text/plain": {}}}})
    def prometheus_metrics() -> Response:
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)


def new_app(
    settings: Settings, *, title: str, description: str, service: Any, model_summary: str
) -> tuple[FastAPI, ServingMetrics]:
    """An app with the service routes (``service.info`` answers ``/v1/model``) and its private metrics."""
    metrics = ServingMetrics(run=str(settings.run_dir), version=__version__)
    app = FastAPI(title=title, version=__version__, description=f"{description} {_auth_sentence(settings.token)}")
    app.state.service = service
    _add_service_routes(app, metrics=metrics, info=service.info, model_summary=model_summary)
    return app, metrics


def finish_app(
    app: FastAPI, settings: Settings, *, metrics: ServingMetrics, endpoints: frozenset[str],
    uploads: frozenset[str] = frozenset(), customise_openapi: Callable[[dict[str, Any]], None] | None = None,
) -> FastAPI:
    """Error handlers, OpenAPI document and the middleware stack (guard, CORS, metrics), in that order.

    ``endpoints`` are the app's own paths (metrics label them by name); ``uploads`` are those that
    take a file, with ``max_upload_bytes`` as their size limit instead of ``max_request_bytes``.
    """
    app.state.metrics = metrics
    _add_error_handlers(app, metrics=metrics)
    secured = bool(settings.token)
    app.openapi = lambda: _openapi(app, secured=secured, customise=customise_openapi)  # type: ignore[method-assign]
    app.add_middleware(RequestGuard, token=settings.token or None, open_paths=OPEN_PATHS,
                       limit=settings.max_request_bytes, limits=dict.fromkeys(uploads, settings.max_upload_bytes))
    if settings.cors_origins:
        # Added after the guard so it wraps it: preflight requests carry no token and must still succeed.
        app.add_middleware(CORSMiddleware, allow_origins=list(settings.cors_origins), allow_methods=["GET", "POST"],
                           allow_headers=["Authorization", "Content-Type"])
    app.add_middleware(MetricsRecorder, metrics=metrics, endpoints=frozenset({HEALTH, MODEL, METRICS}) | endpoints)
    return app


@contextmanager
def spilled_upload(upload: UploadFile, *, suffix: str) -> Iterator[Path]:
    """The upload copied to a new file with a generated name (never the client's), deleted afterwards."""
    fd, name = tempfile.mkstemp(prefix="mlpilot-upload-", suffix=suffix)
    try:
        with os.fdopen(fd, "wb") as out:
            upload.file.seek(0)
            while chunk := upload.file.read(MiB):
                out.write(chunk)
        yield Path(name)
    finally:
        os.unlink(name)


# --------------------------------------------------------------------------------------- errors
def _add_error_handlers(app: FastAPI, *, metrics: ServingMetrics) -> None:
    @app.exception_handler(RequestProblem)
    async def request_problem(_: Request, exc: RequestProblem) -> JSONResponse:
        return JSONResponse(error_body(str(exc)), status_code=exc.status)

    @app.exception_handler(MlpilotError)
    async def user_error(_: Request, exc: MlpilotError) -> JSONResponse:
        metrics.prediction_errors.inc()
        return JSONResponse(error_body(str(exc)), status_code=422 if isinstance(exc, DataError) else 400)

    @app.exception_handler(HTTPException)
    async def http_error(_: Request, exc: HTTPException) -> JSONResponse:
        return JSONResponse(error_body(str(exc.detail)), status_code=exc.status_code, headers=exc.headers)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(_: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [{"row": None, "column": ".".join(str(p) for p in e.get("loc", ())[1:]) or None,
                   "message": str(e.get("msg", "invalid request"))} for e in exc.errors()]
        return JSONResponse({"errors": errors}, status_code=422)

    @app.exception_handler(Exception)
    async def internal_error(_: Request, exc: Exception) -> JSONResponse:
        log.exception("Internal error while serving a request", exc_info=exc)
        return JSONResponse(error_body("Internal error; the server log has the details."), status_code=500)


# --------------------------------------------------------------------------------------- openapi
def _openapi(
    app: FastAPI, *, secured: bool, customise: Callable[[dict[str, Any]], None] | None
) -> dict[str, Any]:
    """FastAPI's document (built once), changed by the app's ``customise``, with the bearer scheme declared."""
    if app.openapi_schema:
        return app.openapi_schema
    doc = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
    if customise is not None:
        customise(doc)
    if secured:  # lets the "Authorize" button of /docs send the token
        doc.setdefault("components", {})["securitySchemes"] = {"bearer": {"type": "http", "scheme": "bearer"}}
        for path, methods in doc["paths"].items():
            if path not in OPEN_PATHS:
                for operation in methods.values():
                    operation["security"] = [{"bearer": []}]
    app.openapi_schema = doc
    return doc
