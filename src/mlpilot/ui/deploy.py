"""Step 5: the run as a download, batch scoring, copy-paste snippets and a REST server to start/stop.

Serving spawns ``mlpilot serve`` as a child process on a free loopback port (the same server users
start by hand), so a crash or a slow request there never touches the web app.
"""

from __future__ import annotations

import json
import math
import socket
import subprocess
import sys
import threading
import time
import urllib.request
import zipfile
from pathlib import Path
from typing import Any

from mlpilot.errors import ConfigError
from mlpilot.ui.workspace import Project

LOOPBACK = "127.0.0.1"
SERVE_START_SECONDS = 60.0


# --------------------------------------------------------------------------------------- download
def run_archive(project: Project, run_path: Path) -> Path:
    """A zip of the run folder (built once per run; runs never change after they are saved)."""
    out = project.folder / "exports" / f"{run_path.name}.zip"
    if out.is_file():
        return out
    out.parent.mkdir(exist_ok=True)
    partial = out.with_suffix(".zip.tmp")
    with zipfile.ZipFile(partial, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(run_path.rglob("*")):
            if path.is_file():
                archive.write(path, Path(run_path.name) / path.relative_to(run_path))
    partial.replace(out)
    return out


# --------------------------------------------------------------------------------------- snippets
def example_row(frame: Any, input_schema: list[dict[str, Any]]) -> dict[str, Any]:
    """The first row of the user's table, restricted to the model's inputs, as JSON values."""
    row = frame.iloc[0]
    return {c["name"]: _json_value(row[c["name"]]) if c["name"] in row.index else None for c in input_schema}


def _json_value(value: Any) -> Any:
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value if isinstance(value, (int, float, bool, str)) or value is None else str(value)


def snippets(*, url: str, row: dict[str, Any], run_path: Path, target: str) -> dict[str, str]:
    """``curl``, Python (standard library only) and in-process ``mlpilot`` calls for this model."""
    body = json.dumps({"rows": [row]}, indent=2)
    pretty_row = json.dumps(row, indent=4)
    return {
        "serve": f"mlpilot serve {run_path} --port {url.rsplit(':', 1)[-1]}",
        "curl": (f"curl -s {url}/v1/predict \\\n  -H 'Content-Type: application/json' \\\n"
                 f"  -d '{_shell_quoted(body)}'"),
        "python": (
            "import json\nimport urllib.request\n\n"
            f"row = {pretty_row}\n"
            f"request = urllib.request.Request(\n    \"{url}/v1/predict\",\n"
            "    data=json.dumps({\"rows\": [row]}).encode(),\n"
            "    headers={\"Content-Type\": \"application/json\"},\n)\n"
            "with urllib.request.urlopen(request) as response:\n"
            f"    answer = json.load(response)\nprint(answer[\"predictions\"][0])  # the predicted '{target}'\n"
        ),
        "mlpilot": (f"import mlpilot\n\nmodel = mlpilot.load(\"{run_path}\")\n"
                    "predictions = model.predict(\"new_rows.csv\")  # a CSV or Parquet file, or a DataFrame\n"),
    }


def _shell_quoted(text: str) -> str:
    """Text for inside single quotes in a POSIX shell."""
    return text.replace("'", "'\"'\"'")


# --------------------------------------------------------------------------------------- serving
class Servers:
    """``mlpilot serve`` child processes, one per project at most; all stopped when the app stops."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._procs: dict[str, tuple[subprocess.Popen, int, Path]] = {}

    def start(self, project: Project, run_path: Path) -> dict[str, Any]:
        with self._lock:
            if project.id in self._procs and self._procs[project.id][0].poll() is None:
                return self._describe(project.id)
            port = free_port()
            log = (project.folder / "serve.log").open("wb")
            command = [sys.executable, "-m", "mlpilot.cli.main", "serve", str(run_path), "--host", LOOPBACK,
                       "--port", str(port)]
            proc = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
            log.close()
            self._procs[project.id] = (proc, port, run_path)
        return self._wait_ready(project)

    def _wait_ready(self, project: Project) -> dict[str, Any]:
        deadline = time.monotonic() + SERVE_START_SECONDS
        while time.monotonic() < deadline:
            status = self.status(project)
            if status["state"] != "starting":
                return status
            time.sleep(0.25)
        return self.status(project)

    def status(self, project: Project) -> dict[str, Any]:
        with self._lock:
            return self._describe(project.id, log=project.folder / "serve.log")

    def _describe(self, project_id: str, *, log: Path | None = None) -> dict[str, Any]:
        entry = self._procs.get(project_id)
        if entry is None:
            return {"state": "stopped", "url": None}
        proc, port, run_path = entry
        url = f"http://{LOOPBACK}:{port}"
        if proc.poll() is not None:
            del self._procs[project_id]
            tail = log.read_text(errors="replace").strip().splitlines()[-1:] if log and log.is_file() else []
            return {"state": "failed", "url": None,
                    "message": f"The server stopped (exit code {proc.returncode}). {' '.join(tail)}".strip()}
        state = "running" if _healthy(url) else "starting"
        return {"state": state, "url": url, "docs": f"{url}/docs", "run": run_path.name, "pid": proc.pid}

    def stop(self, project: Project) -> dict[str, Any]:
        with self._lock:
            entry = self._procs.pop(project.id, None)
        if entry is None:
            raise ConfigError("No server is running for this project.")
        _end(entry[0])
        return {"state": "stopped", "url": None}

    def stop_all(self) -> None:
        with self._lock:
            entries, self._procs = list(self._procs.values()), {}
        for proc, _, _ in entries:
            _end(proc)


def _end(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=10)


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/v1/health", timeout=0.5) as response:
            return response.status == 200
    except OSError:
        return False


def free_port() -> int:
    """A port nothing listens on now (the OS picks it); the child binds it a moment later."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOOPBACK, 0))
        return int(sock.getsockname()[1])
