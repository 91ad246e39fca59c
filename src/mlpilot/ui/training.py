"""Step 3: training in a background thread, with a live status the page polls.

The status lives in memory while the job runs and is written to the project's ``training.json``
after every progress event, so a page reload reads it back and a server restart finds it (a job
that was running when the server stopped is reported as interrupted). "Stop early" sets the
event ``api.fit`` checks between candidates: the models that finished are kept and ensembled.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from dataclasses import dataclass
from typing import Any

from mlpilot import api
from mlpilot.errors import ConfigError, MlpilotError
from mlpilot.ui.workspace import Project

log = logging.getLogger("mlpilot.ui")
STATUS_FILE = "training.json"
RUNNING, STOPPING, DONE, FAILED, INTERRUPTED = "running", "stopping", "done", "failed", "interrupted"
ACTIVE = (RUNNING, STOPPING)
MIN_SECONDS, MAX_SECONDS = 5, 6 * 3600


@dataclass(frozen=True)
class TrainSettings:
    """How the web app calls ``api.fit``; ``families``/``n_folds`` None leave the choice to mlpilot."""

    families: tuple[str, ...] | None = None
    n_folds: int | None = None
    seed: int = 0


class TrainingJobs:
    """At most one running training per project; each in its own daemon thread."""

    def __init__(self, settings: TrainSettings) -> None:
        self.settings = settings
        self._lock = threading.Lock()
        self._stops: dict[str, threading.Event] = {}
        self._status: dict[str, dict[str, Any]] = {}

    def start(self, project: Project, *, time_limit: float) -> dict[str, Any]:
        if not project.target:
            raise ConfigError("Choose the column to predict (step 1) before training.")
        if not MIN_SECONDS <= time_limit <= MAX_SECONDS:
            raise ConfigError(f"The time budget must be between {MIN_SECONDS} seconds and {MAX_SECONDS // 3600} "
                              f"hours; got {time_limit:g} seconds.")
        with self._lock:
            if project.id in self._stops:
                raise ConfigError("Training is already running for this project; wait for it or stop it first.")
            stop = threading.Event()
            self._stops[project.id] = stop
            status = _new_status(time_limit, run=project.new_run_path().name)
            self._status[project.id] = status
        project.write(STATUS_FILE, status)
        project.update(step=3)
        thread = threading.Thread(target=self._run, args=(project, stop, status), daemon=True,
                                  name=f"mlpilot-train-{project.id}")
        thread.start()
        return self.status(project)

    def stop(self, project: Project) -> dict[str, Any]:
        with self._lock:
            stop, status = self._stops.get(project.id), self._status.get(project.id)
            if stop is None or status is None:
                raise ConfigError("No training is running for this project.")
            stop.set()
            status["state"] = STOPPING
            status["message"] = ("Stopping: the model being trained finishes its current step, then the best so far "
                                 "is kept.")
        return self.status(project)

    def stop_all(self) -> None:
        with self._lock:
            for stop in self._stops.values():
                stop.set()

    def status(self, project: Project) -> dict[str, Any]:
        """The live status (running) or the saved one; a saved 'running' with no thread was interrupted."""
        with self._lock:
            live = self._status.get(project.id)
            if live is not None:
                return _with_clock(dict(live, leaderboard=list(live["leaderboard"])))
        saved = project.read(STATUS_FILE)
        if saved is None:
            return {"state": "idle"}
        if saved["state"] in ACTIVE:
            saved.update(state=INTERRUPTED, message="The server stopped while training; train again to continue.")
            project.write(STATUS_FILE, saved)
        return saved

    # ------------------------------------------------------------------------------ the thread
    def _run(self, project: Project, stop: threading.Event, status: dict[str, Any]) -> None:
        def on_progress(event: api.ProgressEvent) -> None:
            with self._lock:
                _apply(status, event)
                snapshot = dict(status, leaderboard=list(status["leaderboard"]))
            project.write(STATUS_FILE, snapshot)

        try:
            model = api.fit(project.data_path, target=project.target, time_limit=status["time_limit"],
                            path=project.folder / "runs" / status["run"], seed=self.settings.seed,
                            families=self.settings.families, n_folds=self.settings.n_folds,
                            progress=on_progress, stop=stop)
            final = {"state": DONE, "score": model.manifest.get("ensemble", {}).get("score_val"),
                     "message": "Training finished." if not stop.is_set() else "Stopped early; the best models "
                     "so far were kept.", "leaderboard": _leaderboard(model)}
            project.update(run=f"runs/{status['run']}", step=max(project.state.get("step", 1), 4))
        except MlpilotError as exc:
            final = {"state": FAILED, "message": str(exc)}
        except Exception as exc:  # a bug must not leave the page polling "running" forever
            log.exception("Training failed", exc_info=exc)
            final = {"state": FAILED, "message": f"Training failed unexpectedly ({type(exc).__name__}); the "
                     "server log has the details."}
        with self._lock:
            status.update(final, finished_at=time.time(), elapsed=time.time() - status["started_at"], remaining=0)
            project.write(STATUS_FILE, dict(status))
            del self._stops[project.id], self._status[project.id]


def _new_status(time_limit: float, *, run: str) -> dict[str, Any]:
    return {"state": RUNNING, "time_limit": time_limit, "run": run, "started_at": time.time(), "elapsed": 0.0,
            "remaining": time_limit, "n_done": 0, "n_total": 0, "best_score": None, "current": None,
            "leaderboard": [], "message": "Reading the data and planning the search."}


def _apply(status: dict[str, Any], event: api.ProgressEvent) -> None:
    """Fold one progress event into the status the page shows."""
    if event.n_total:
        status["n_total"], status["n_done"] = event.n_total, event.n_done
    if event.best_score is not None and math.isfinite(event.best_score):
        status["best_score"] = event.best_score
    if event.kind == "model_start":
        status["current"] = event.model
        status["message"] = f"Training {event.model}."
    elif event.kind in ("model_done", "model_skipped"):
        status["current"] = None
        row = {"model": event.model, "score": _finite(event.score),
               "status": "ok" if event.kind == "model_done" else "skipped", "note": event.message}
        status["leaderboard"] = [r for r in status["leaderboard"] if r["model"] != event.model] + [row]
    elif event.kind == "ensemble":
        status["message"] = "Combining the best models into an ensemble and saving the run."
    elif event.kind == "start":
        status["message"] = f"Searching: {event.message}."


def _with_clock(status: dict[str, Any]) -> dict[str, Any]:
    elapsed = time.time() - status["started_at"]
    status["elapsed"] = elapsed
    status["remaining"] = max(0.0, status["time_limit"] - elapsed)
    return status


def _leaderboard(model: api.Predictor) -> list[dict[str, Any]]:
    rows = []
    for row in model.manifest["leaderboard"]:
        rows.append({"model": row["model"], "score": _finite(row.get("score_val")), "status": row.get("status", "ok"),
                     "note": row.get("reason") or "", "fit_time_s": row.get("fit_time_s")})
    return rows


def _finite(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and math.isfinite(value) else None
