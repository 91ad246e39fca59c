"""``mlpilot ui``: the guided five-step web app, served by uvicorn on this machine."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer

from mlpilot.cli.display import err_console
from mlpilot.cli.serve_cmd import _is_loopback
from mlpilot.errors import ConfigError

MiB = 2**20


def _run_uvicorn(app: Any, **kwargs: Any) -> None:
    import uvicorn

    uvicorn.run(app, **kwargs)


# Tests replace this to check the arguments without starting a server.
runner: Callable[..., None] = _run_uvicorn


def ui(
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    host: Annotated[str, typer.Option(help="Address to bind; keep 127.0.0.1 unless you trust the network.")]
    = "127.0.0.1",
    workspace: Annotated[Path, typer.Option(help="Folder that keeps projects, uploads and runs.")]
    = Path("mlpilot_workspace"),
    max_upload_mb: Annotated[float, typer.Option(help="Largest table users may upload, in MB.")] = 100.0,
) -> None:
    """Open the guided web app: problem, data, train, evaluate, deploy (no code needed)."""
    from mlpilot.ui.app import create_ui_app

    if not 1 <= port <= 65535:
        raise ConfigError(f"--port must be between 1 and 65535; got {port}.")
    if not max_upload_mb > 0:
        raise ConfigError(f"--max-upload-mb must be a positive number of MB; got {max_upload_mb}.")
    if not _is_loopback(host):
        err_console.print(f"Warning: the web app has no login; anyone who can reach {host}:{port} can use it and "
                          "read the uploaded tables.", highlight=False)
    app = create_ui_app(workspace, max_upload_bytes=int(max_upload_mb * MiB))
    shown = f"http://{host}:{port}" if ":" not in host else f"http://[{host}]:{port}"
    err_console.print(f"mlpilot web app at {shown} (workspace: {workspace.resolve()}); Ctrl-C stops it.",
                      highlight=False)
    runner(app, host=host, port=port, log_level="warning")
