"""``mlpilot report``: a run's self-contained HTML report (charts, summary, data, leaderboard).

The file is written next to the run, never inside it: a saved run is checksummed and must stay exactly
as ``fit`` wrote it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from mlpilot.cli.display import err_console


def report(
    run_dir: Annotated[Path, typer.Argument(help="A run directory saved by `mlpilot fit`.")],
    out: Annotated[Path | None, typer.Option(help="HTML file to write (default: <run>-report.html beside the run).")]
    = None,
    data: Annotated[str | None, typer.Option(help="Labelled table (CSV/Parquet) to evaluate on as well.")] = None,
) -> None:
    """Write an HTML report of a run that opens offline: charts, plain summary, data overview, leaderboard."""
    from mlpilot.report.html import write_report  # plotly and jinja2 load only for this command

    path = write_report(run_dir, out, data=data)
    err_console.print(f"Wrote the report to {path}", highlight=False)
