"""Run directories: written atomically, verified before anything is loaded.

Layout::

    RUN_DIR/
      manifest.json      mlpilot version, format version, task, config, leaderboard, data report,
                         and the SHA-256 of every other file in the run
      models/<name>/     each model in its library's own safe format
      ...                task-specific files (feature pipeline, log)

The run is built in a hidden sibling folder and renamed into place, so a crash never leaves a
half-written run that loads. Loading checks the format version and every file's checksum first:
a tampered or truncated run is refused before any file is parsed.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from mlpilot._version import RUN_FORMAT_VERSION, __version__
from mlpilot.errors import ArtifactError

MANIFEST = "manifest.json"


class RunWriter:
    """Builds a run in a hidden sibling folder of ``path``; :meth:`commit` moves it into place.

    Parts can be written and checksummed while the search runs (:meth:`record`), so the cost of
    saving large models is paid inside the time budget rather than after it; parts that end up
    unused are dropped with :meth:`discard`. Used as a context manager, an exception removes the
    unfinished folder.
    """

    def __init__(self, path: str | Path) -> None:
        self.target = Path(path).resolve()
        self.target.parent.mkdir(parents=True, exist_ok=True)
        self.root = Path(tempfile.mkdtemp(prefix=f".{self.target.name}.tmp-", dir=self.target.parent))
        self._files: dict[str, str] = {}
        self._done = False

    def record(self, part: str | Path) -> None:
        """Checksum every file under ``root/part`` now (it must not change afterwards)."""
        base = self.root / part
        for file in sorted(p for p in base.rglob("*") if p.is_file()):
            self._files[file.relative_to(self.root).as_posix()] = _sha256(file)

    def discard(self, part: str | Path) -> None:
        """Remove ``root/part`` and forget its checksums."""
        prefix = Path(part).as_posix().rstrip("/") + "/"
        self._files = {k: v for k, v in self._files.items() if not k.startswith(prefix)}
        shutil.rmtree(self.root / part, ignore_errors=True)

    def commit(self, manifest: dict[str, Any]) -> tuple[Path, dict[str, Any]]:
        """Add versions and checksums to ``manifest``, write it, and move the run into place."""
        files = dict(self._files)
        for rel in _relative_files(self.root):
            if rel != MANIFEST and rel not in files:
                files[rel] = _sha256(self.root / rel)
        manifest = {**manifest, "mlpilot_version": __version__, "format_version": RUN_FORMAT_VERSION,
                    "files": dict(sorted(files.items()))}
        (self.root / MANIFEST).write_text(json.dumps(manifest, indent=2, default=_json_default))
        _replace(self.root, self.target)
        self._done = True
        return self.target, manifest

    def abort(self) -> None:
        if not self._done:
            shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> RunWriter:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.abort()


def write_run(path: str | Path, build: Callable[[Path], dict[str, Any]]) -> Path:
    """Build a run with ``build(tmp_dir) -> manifest`` and move it to ``path`` atomically.

    ``build`` writes its files into ``tmp_dir`` and returns the manifest's content; the checksums
    and versions are added here. An existing run at ``path`` is replaced only once the new one is
    complete.
    """
    with RunWriter(path) as writer:
        target, _ = writer.commit(build(writer.root))
    return target


def read_manifest(path: str | Path, *, kind: str | None = None) -> dict[str, Any]:
    """Read and verify a run's manifest; raise :class:`ArtifactError` on any problem."""
    run = Path(path)
    manifest_path = run / MANIFEST
    if not manifest_path.is_file():
        raise ArtifactError(
            f"No mlpilot run at '{run}': {MANIFEST} is missing. Pass the folder that `fit` saved."
        )
    try:
        manifest = json.loads(manifest_path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ArtifactError(f"The manifest of run '{run}' is unreadable ({exc}); re-run `fit`.") from exc
    if not isinstance(manifest, dict):
        raise ArtifactError(f"The manifest of run '{run}' is not a JSON object; re-run `fit`.")
    _check_version(manifest, run)
    if kind is not None and manifest.get("kind") != kind:
        raise ArtifactError(
            f"Run '{run}' holds a {manifest.get('kind')!r} model, not a {kind!r} one; "
            f"load it with the matching command."
        )
    _verify_files(manifest.get("files"), run)
    return manifest


def _check_version(manifest: dict[str, Any], run: Path) -> None:
    found = manifest.get("format_version")
    if found != RUN_FORMAT_VERSION:
        raise ArtifactError(
            f"Run '{run}' was saved by mlpilot {manifest.get('mlpilot_version', 'unknown')} in run format "
            f"{found}, but this mlpilot ({__version__}) reads format {RUN_FORMAT_VERSION}: "
            f"re-train it with this version or install the version that saved it."
        )


def _verify_files(files: Any, run: Path) -> None:
    if not isinstance(files, dict):
        raise ArtifactError(f"Run '{run}' lists no files in its manifest; it is incomplete or was edited.")
    on_disk = {p for p in _relative_files(run) if p != MANIFEST}
    extra = on_disk - set(files)
    if extra:
        raise ArtifactError(
            f"Run '{run}' contains files its manifest does not list ({', '.join(sorted(extra)[:3])}); "
            f"it was modified after saving. Re-run `fit` or restore the original folder."
        )
    for rel, expected in files.items():
        file = (run / rel).resolve()
        if run.resolve() not in file.parents or not file.is_file():
            raise ArtifactError(f"Run '{run}' is missing '{rel}'; the run is incomplete. Re-run `fit`.")
        if _sha256(file) != expected:
            raise ArtifactError(
                f"File '{rel}' of run '{run}' does not match its checksum: it was modified after saving. "
                f"Nothing was loaded; re-run `fit` or restore the original file."
            )


def _relative_files(root: Path) -> list[str]:
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())


def _sha256(file: Path) -> str:
    digest = hashlib.sha256()
    with file.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _replace(new: Path, target: Path) -> None:
    """Swap ``new`` into ``target``; the old run is removed only after the swap."""
    if not target.exists():
        new.rename(target)
        return
    if not (target / MANIFEST).is_file() and any(target.iterdir()):
        raise ArtifactError(
            f"'{target}' exists and is not an mlpilot run; choose another output folder or empty it."
        )
    old = Path(tempfile.mkdtemp(prefix=f".{target.name}.old-", dir=target.parent))
    old.rmdir()
    target.rename(old)
    new.rename(target)
    shutil.rmtree(old, ignore_errors=True)


def _json_default(value: Any) -> Any:
    item = getattr(value, "item", None)  # numpy scalars
    if callable(item):
        return item()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")
