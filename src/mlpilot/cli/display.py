"""What the CLI shows: a live progress view during ``fit``, and tables for reports and results."""

from __future__ import annotations

import json
import math
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pandas as pd
from rich.console import Console, Group
from rich.live import Live
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from mlpilot.api import ProgressCallback, ProgressEvent

console = Console()
err_console = Console(stderr=True)


class FitProgress:
    """A live view: current model, elapsed / remaining budget, models done, best score so far."""

    def __init__(self, *, time_limit: float | None, metric: str | None) -> None:
        self.time_limit = time_limit
        self.metric = metric or "score"
        self.bar = Progress(
            TextColumn("[bold]{task.description}"), BarColumn(), TextColumn("{task.fields[status]}"),
            TimeElapsedColumn(), console=err_console, transient=False,
        )
        total = time_limit if time_limit else 1.0
        self.task_id = self.bar.add_task("training", total=total, status="reading data")
        self.finished: list[tuple[str, str]] = []
        self.started = time.perf_counter()
        self.done = False

    def __call__(self, event: ProgressEvent) -> None:
        if event.kind in ("model_done", "model_skipped"):
            shown = f"{event.score:.4f}" if event.score is not None else f"skipped: {event.message}"
            self.finished.append((event.model or "", shown))
        status = self._status(event)
        completed = event.elapsed if self.time_limit else event.n_done / max(event.n_total, 1)
        if event.kind == "done":
            completed, self.done = self.bar.tasks[0].total, True
        self.bar.update(self.task_id, completed=completed, status=status)

    def _status(self, event: ProgressEvent) -> str:
        parts = []
        if event.kind == "model_start":
            parts.append(f"fitting {event.model}")
        elif event.kind == "ensemble":
            parts.append("ensembling")
        elif event.kind == "done":
            parts.append("saved")
        if event.n_total:
            parts.append(f"{event.n_done}/{event.n_total} models")
        if event.remaining is not None and not math.isinf(event.remaining):
            parts.append(f"{event.remaining:.0f}s left")
        if event.best_score is not None:
            parts.append(f"best {self.metric} {event.best_score:.4f}")
        return " · ".join(parts)

    def renderable(self) -> Group:
        """Called at every refresh, so a time-limited bar advances while a model is fitting."""
        if self.time_limit and not self.done:
            elapsed = min(time.perf_counter() - self.started, self.time_limit)
            self.bar.update(self.task_id, completed=elapsed)
        return Group(self.bar)


@contextmanager
def live_progress(*, time_limit: float | None, metric: str | None, enabled: bool) -> Iterator[ProgressCallback]:
    """Yield a progress callback that draws on stderr (nothing when ``enabled`` is False)."""
    if not enabled:
        yield lambda event: None
        return
    view = FitProgress(time_limit=time_limit, metric=metric)
    with Live(get_renderable=view.renderable, console=err_console, refresh_per_second=4, transient=False):
        yield view


def frame_table(frame: pd.DataFrame, *, title: str | None = None, max_rows: int = 40) -> Table:
    table = Table(title=title, show_lines=False, header_style="bold")
    for column in frame.columns:
        table.add_column(str(column), overflow="fold")
    for _, row in frame.head(max_rows).iterrows():
        table.add_row(*(_cell(v) for v in row))
    return table


def leaderboard_view(board: pd.DataFrame) -> tuple[pd.DataFrame, str]:
    """The leaderboard as a terminal table (compact columns) and the ensemble's composition line."""
    composition = str(board.iloc[0]["reason"]) if len(board) and board.iloc[0]["family"] == "ensemble" else ""
    view = board.drop(columns=[c for c in ("family", "in_ensemble") if c in board.columns]).copy()
    if composition:
        view.loc[view.index[0], "reason"] = "see below"
    return view, composition


def print_leaderboard(board: pd.DataFrame, *, title: str) -> None:
    view, composition = leaderboard_view(board)
    console.print(frame_table(view, title=title))
    if composition:
        console.print(f"Ensemble: {composition}", highlight=False)


def _cell(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def print_metrics(metrics: dict[str, float], *, as_json: bool, width: int = 20) -> None:
    """Metrics as JSON (for scripts) or as aligned ``name: value`` lines (for people)."""
    if as_json:
        console.print_json(json.dumps(metrics))
        return
    for name, value in metrics.items():
        console.print(f"{name:>{width}}: {value:.5g}")


def report_lines(lines: list[str], *, title: str) -> Group:
    return Group(Text(title, style="bold"), *(Text(f"  {line}") for line in lines))
