"""``mlpilot serve RUN_DIR``: the REST API of a saved run, behind uvicorn.

The app is always started from its import string with ``factory=True`` (settings in environment
variables), which is what several worker processes need. This interface reads only the shared names
in ``mlpilot.serve.settings``, never the serving stack itself. The run is loaded here first, so that
a wrong folder is one clear sentence instead of a server that starts and dies.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer

from mlpilot import api
from mlpilot.cli.display import err_console
from mlpilot.errors import ConfigError
from mlpilot.serve.settings import (
    CORS_ENV,
    DEFAULT_MAX_REQUEST_BYTES,
    DEFAULT_MAX_ROWS,
    DEFAULT_MAX_UPLOAD_BYTES,
    IMPORT_STRING,
    MAX_REQUEST_ENV,
    MAX_ROWS_ENV,
    MAX_UPLOAD_ENV,
    RUN_DIR_ENV,
    THREADS_ENV,
    TOKEN_ENV,
    MiB,
)


def _run_uvicorn(**kwargs: Any) -> None:
    import uvicorn

    uvicorn.run(IMPORT_STRING, factory=True, **kwargs)


# Tests replace this to check the arguments without starting a server.
runner: Callable[..., None] = _run_uvicorn


def serve(
    run_dir: Annotated[Path, typer.Argument(
        help="A run saved by `mlpilot fit`, `mlpilot gpt train` or `mlpilot mri train`.")],
    host: Annotated[str, typer.Option(help="Address to bind; 0.0.0.0 exposes the API to the network.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    workers: Annotated[int, typer.Option(help="Worker processes (each loads the model once).")] = 1,
    token: Annotated[str | None, typer.Option(
        envvar=TOKEN_ENV, show_envvar=True,
        help="Require 'Authorization: Bearer TOKEN' (prefer the environment variable to the flag).",
    )] = None,
    max_request_mb: Annotated[float, typer.Option(
        help="Largest JSON request body, in MiB.",
    )] = DEFAULT_MAX_REQUEST_BYTES / MiB,
    max_upload_mb: Annotated[float, typer.Option(
        help="Largest file upload (/v1/predict/csv, /v1/reconstruct), in MiB.",
    )] = DEFAULT_MAX_UPLOAD_BYTES / MiB,
    max_rows: Annotated[int, typer.Option(help="Most rows in one JSON request (tabular runs).")] = DEFAULT_MAX_ROWS,
    cors_origin: Annotated[list[str] | None, typer.Option(
        help="Allow browser calls from this origin (repeatable); CORS stays off without it.",
    )] = None,
) -> None:
    """Serve a saved run as a REST API (OpenAPI docs at /docs)."""
    _check_options(port=port, workers=workers, max_request_mb=max_request_mb, max_upload_mb=max_upload_mb,
                   max_rows=max_rows, cors_origins=cors_origin or [])
    model = api.load(run_dir)  # fails here, in one sentence, if the folder is not a loadable run
    served = _served(model)
    del model  # each worker loads its own copy; do not keep a second one alive in this process
    if not token and not _is_loopback(host):
        err_console.print(f"Warning: serving on {host} without a token; anyone who can reach this port can "
                          "use the model. Set MLPILOT_TOKEN or --token.", highlight=False)
    os.environ.update(_settings_env(
        run_dir=str(Path(run_dir).resolve()), token=token, max_request_bytes=int(max_request_mb * MiB),
        max_upload_bytes=int(max_upload_mb * MiB), max_rows=max_rows, cors_origins=cors_origin or [],
        threads_per_worker=max(1, (os.cpu_count() or 1) // workers),  # the workers share the cores
    ))
    shown = f"http://{host}:{port}" if ":" not in host else f"http://[{host}]:{port}"
    err_console.print(f"Serving {served} from {run_dir} at {shown} "
                      f"(docs: {shown}/docs)", highlight=False)
    runner(host=host, port=port, workers=workers, log_level="info")


def _served(model: Any) -> str:
    """What the run does, in a few words (the endpoints depend on the run's kind)."""
    kind = model.manifest.get("kind")
    if kind == "gpt":
        return "a GPT text generator"
    if kind == "mri":
        return f"an MRI reconstructor ({model.kind})"
    return f"'{model.target}' ({model.problem_type})"


def _check_options(
    *, port: int, workers: int, max_request_mb: float, max_upload_mb: float, max_rows: int, cors_origins: list[str]
) -> None:
    if not 1 <= port <= 65535:
        raise ConfigError(f"--port must be between 1 and 65535; got {port}.")
    if workers < 1:
        raise ConfigError(f"--workers must be at least 1; got {workers}.")
    if (cpus := os.cpu_count() or 1) and workers > 4 * cpus:
        raise ConfigError(f"--workers {workers} is far more than this machine's {cpus} CPUs; use at most {4 * cpus}.")
    for name, value in (("--max-request-mb", max_request_mb), ("--max-upload-mb", max_upload_mb)):
        if not value > 0:
            raise ConfigError(f"{name} must be a positive number of MiB; got {value}.")
    if max_rows < 1:
        raise ConfigError(f"--max-rows must be at least 1; got {max_rows}.")
    for origin in cors_origins:
        if origin != "*" and not origin.startswith(("http://", "https://")):
            raise ConfigError(f"--cors-origin must look like https://example.com; got '{origin}'.")


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _settings_env(
    *, run_dir: str, token: str | None, max_request_bytes: int, max_upload_bytes: int, max_rows: int,
    cors_origins: list[str], threads_per_worker: int,
) -> dict[str, str]:
    env = {RUN_DIR_ENV: run_dir, MAX_REQUEST_ENV: str(max_request_bytes), MAX_UPLOAD_ENV: str(max_upload_bytes),
           MAX_ROWS_ENV: str(max_rows), CORS_ENV: ",".join(cors_origins), TOKEN_ENV: token or "",
           THREADS_ENV: str(threads_per_worker)}
    return env
