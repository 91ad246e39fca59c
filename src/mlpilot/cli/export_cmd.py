"""``mlpilot export``: a saved run as one ONNX graph, or as a standalone Python script to learn from."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from mlpilot import api
from mlpilot.cli.display import err_console


def export(
    run_dir: Annotated[Path, typer.Argument(help="A tabular run directory saved by `mlpilot fit`.")],
    format: Annotated[str, typer.Option("--format", "-f", help="onnx (the ensemble as one graph) or python "
                                                                 "(a script that retrains the best model).")],
    out: Annotated[Path | None, typer.Option(help="ONNX: the .onnx file; python: the folder to write "
                                                  "(default: named after the run, in the current folder).")] = None,
    data: Annotated[Path | None, typer.Option(help="ONNX: a table to check the export on (default: "
                                                   "synthetic rows from the run's schema).")] = None,
    model: Annotated[str | None, typer.Option(help="python: the ensemble member to write out "
                                                   "(default: the best-scoring one).")] = None,
) -> None:
    """Export a saved run to ONNX or to a standalone Python script (never inside the run folder)."""
    result = api.export(run_dir, format=format, out=out, data=data, model=model)
    for note in result.notes:
        err_console.print(note, highlight=False)
    err_console.print("Wrote " + ", ".join(str(f) for f in result.files), highlight=False)
