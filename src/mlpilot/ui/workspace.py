"""The web app's state on disk: one folder per project, so a reload or a server restart resumes.

Layout: ``<workspace>/projects/<id>/`` holds ``project.json`` (what the user chose and where they
are), the stored table (``data.csv`` or ``data.parquet``: a generated name, never the client's),
``report.json`` (the data report for the chosen target), ``training.json`` (the last training's
live status) and ``runs/run-<n>/`` (saved runs). Project ids are generated here and checked
against a strict pattern before any path is built from them.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import secrets
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO

from mlpilot import api
from mlpilot.errors import ConfigError, DataError

PROJECT_ID = re.compile(r"^[0-9a-f]{12}$")
TABLE_SUFFIXES = {".csv": ".csv", ".tsv": ".csv", ".txt": ".csv", ".parquet": ".parquet", ".pq": ".parquet"}
CHUNK = 2**20
PARQUET_MAGIC = b"PAR1"


class UploadTooLarge(DataError):
    """The uploaded file passed the workspace's size limit (answered with HTTP 413)."""


class Project:
    """One uploaded table and everything done with it; ``state`` is ``project.json``."""

    def __init__(self, folder: Path, state: dict[str, Any]) -> None:
        self.folder = folder
        self.state = state

    @property
    def id(self) -> str:
        return self.state["id"]

    @property
    def data_path(self) -> Path:
        return self.folder / self.state["data_file"]

    @property
    def target(self) -> str | None:
        return self.state.get("target")

    @property
    def run_path(self) -> Path | None:
        run = self.state.get("run")
        return self.folder / run if run else None

    def new_run_path(self) -> Path:
        runs = self.folder / "runs"
        runs.mkdir(exist_ok=True)
        n = 1 + max((int(p.name.split("-")[1]) for p in runs.glob("run-*") if p.name.split("-")[1].isdigit()),
                    default=0)
        return runs / f"run-{n}"

    def update(self, **changes: Any) -> None:
        """Apply ``changes`` to the latest saved state (another request may have saved since this was read)."""
        saved = self.folder / "project.json"
        if saved.is_file():
            self.state = json.loads(saved.read_text())
        self.state.update(changes)
        write_json(self.folder / "project.json", self.state)

    def read(self, name: str) -> dict[str, Any] | None:
        path = self.folder / name
        return json.loads(path.read_text()) if path.is_file() else None

    def write(self, name: str, data: dict[str, Any]) -> None:
        write_json(self.folder / name, data)


class Workspace:
    """The folder that holds every project of this web app."""

    def __init__(self, root: str | Path, *, max_upload_bytes: int) -> None:
        self.root = Path(root)
        self.projects = self.root / "projects"
        self.projects.mkdir(parents=True, exist_ok=True)
        self.max_upload_bytes = max_upload_bytes

    def get(self, project_id: str) -> Project:
        if not PROJECT_ID.match(project_id) or not (self.projects / project_id / "project.json").is_file():
            raise ConfigError(f"There is no project '{project_id[:40]}' in this workspace; start a new one.")
        folder = self.projects / project_id
        return Project(folder, json.loads((folder / "project.json").read_text()))

    def list(self) -> Iterator[Project]:
        for folder in sorted(self.projects.iterdir(), reverse=True):
            if PROJECT_ID.match(folder.name) and (folder / "project.json").is_file():
                yield self.get(folder.name)

    def create_from_upload(self, stream: BinaryIO, *, filename: str) -> Project:
        """Store the upload under a generated name, check it reads as a table, and start a project."""
        suffix = TABLE_SUFFIXES.get(Path(filename).suffix.lower(), ".csv")
        with self._new_folder() as folder:
            data = folder / f"data{suffix}"
            _copy_limited(stream, data, limit=self.max_upload_bytes)
            if data.stat().st_size == 0:
                raise DataError(f"The file '{_shown(filename)}' is empty; choose a CSV or Parquet file with a "
                                "header row and data rows.")
            if suffix == ".csv" and _starts_with(data, PARQUET_MAGIC):  # a Parquet file under another name
                data = data.rename(folder / "data.parquet")
            frame = _read_user_table(data, filename=filename)
            return self._start(folder, data=data, name=_shown(filename), n_rows=len(frame),
                               columns=[str(c) for c in frame.columns])

    def create_from_frame(self, frame: Any, *, name: str) -> Project:
        """A project from a table already in memory (the bundled churn table), stored as Parquet."""
        with self._new_folder() as folder:
            data = folder / "data.parquet"
            frame.to_parquet(data, index=False)
            return self._start(folder, data=data, name=name, n_rows=len(frame), columns=[str(c) for c in frame.columns])

    def _start(self, folder: Path, *, data: Path, name: str, n_rows: int, columns: list[str]) -> Project:
        state = {"id": folder.name, "name": name, "data_file": data.name, "n_rows": n_rows, "columns": columns,
                 "created_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"), "target": None,
                 "run": None, "step": 1}
        project = Project(folder, state)
        project.update()
        return project

    def _new_folder(self) -> _NewFolder:
        return _NewFolder(self.projects / secrets.token_hex(6))


class _NewFolder:
    """A project folder that is removed again if creating the project fails."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def __enter__(self) -> Path:
        self.folder.mkdir(parents=True)
        return self.folder

    def __exit__(self, exc_type: object, *_: object) -> None:
        if exc_type is not None:
            shutil.rmtree(self.folder, ignore_errors=True)


def _copy_limited(stream: BinaryIO, path: Path, *, limit: int) -> None:
    written = 0
    with path.open("wb") as out:
        while chunk := stream.read(CHUNK):
            written += len(chunk)
            if written > limit:
                raise UploadTooLarge(too_large_message(limit))
            out.write(chunk)


def _starts_with(path: Path, magic: bytes) -> bool:
    with path.open("rb") as stream:
        return stream.read(len(magic)) == magic


def too_large_message(limit: int) -> str:
    return (f"The file is larger than this app's upload limit of {limit / 2**20:,.0f} MB; upload a smaller "
            "sample of the table, or restart `mlpilot ui` with a larger --max-upload-mb.")


def _read_user_table(path: Path, *, filename: str) -> Any:
    """The stored table, or one plain sentence saying why it cannot be read as a table."""
    try:
        frame = api.read_table(path)
    except DataError as exc:
        message = str(exc).replace(f"'{path}'", f"'{_shown(filename)}'").replace(str(path), _shown(filename))
        raise DataError(f"{message} mlpilot reads CSV files (with a header row) and Parquet files.") from None
    except (ValueError, UnicodeDecodeError, OSError) as exc:  # a reader library's own complaint
        raise DataError(f"Could not read '{_shown(filename)}' as a table ({type(exc).__name__}); upload a CSV "
                        "file with a header row, or a Parquet file.") from None
    if frame.shape[1] < 2:
        raise DataError(f"'{_shown(filename)}' has {frame.shape[1]} column; a table to learn from needs at least "
                        "two (the column to predict and one or more to predict it from). If this is a CSV "
                        "file, check that its values are separated by commas, semicolons or tabs.")
    return frame


def _shown(filename: str) -> str:
    """The client's file name for display only (never for a path): base name, printable, short."""
    base = re.split(r"[\\/]", filename or "data")[-1]
    cleaned = "".join(ch for ch in base if ch.isprintable()).strip() or "data"
    return cleaned[:80]


def write_json(path: Path, data: dict[str, Any]) -> None:
    """Write atomically (a temporary file renamed into place): a reader never sees half a file."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    with os.fdopen(fd, "w") as out:
        json.dump(data, out, default=str)
    os.replace(tmp, path)
