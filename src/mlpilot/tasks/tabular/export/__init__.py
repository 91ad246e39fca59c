"""Exporting a saved tabular run: to ONNX (the ensemble as one graph) or to a standalone Python script.

``export_run`` is what the facade calls. Exports are written *outside* the run directory: a saved run
is checksummed and must stay exactly as ``fit`` wrote it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from mlpilot.errors import ConfigError
from mlpilot.tasks.tabular.run_dir import load_run

FORMATS = ("onnx", "python")


@dataclass
class ExportResult:
    path: Path  # the .onnx file, or the folder holding the script
    files: list[Path]
    notes: list[str] = field(default_factory=list)  # what a user should know (check result, chosen model)


def export_run(run_dir: str | Path, *, format: str, out: str | Path | None = None,
               data: str | Path | None = None, model: str | None = None) -> ExportResult:
    """Export the run at ``run_dir``; ``data`` (optional) is a table to check the ONNX export on,
    ``model`` (python format) the ensemble member to write out instead of the best one."""
    if format not in FORMATS:
        raise ConfigError(f"Unknown export format {format!r}; use one of: {', '.join(FORMATS)}.")
    run = Path(run_dir)
    manifest, pipeline, members, _ = load_run(run)
    default = Path.cwd() / (f"{run.resolve().name}.onnx" if format == "onnx" else f"{run.resolve().name}-python")
    target = Path(out) if out is not None else default
    if target.resolve().is_relative_to(run.resolve()):
        raise ConfigError(f"'{target}' is inside the run directory, which must not change after saving; "
                          "choose another --out.")
    if format == "onnx":
        if model is not None:
            raise ConfigError("--model applies to --format python; the ONNX export holds the whole ensemble.")
        from mlpilot.tasks.tabular.export.onnx_run import export_onnx

        return export_onnx(manifest, pipeline, members, out=target, data=data)
    if data is not None:
        raise ConfigError("--data applies to --format onnx (the rows to check it on); the Python script takes "
                          "its training and scoring files on its own command line.")
    from mlpilot.tasks.tabular.export.python_export import export_python

    return export_python(run, manifest, pipeline, members, out=target, model=model)


__all__ = ["FORMATS", "ExportResult", "export_run"]
