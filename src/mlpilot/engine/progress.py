"""Progress events a search emits, so the CLI, UI and logs can show the same thing."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class ProgressEvent:
    """One step of a run.

    ``kind`` is one of ``start``, ``model_start``, ``model_done``, ``model_skipped``, ``ensemble``,
    ``done``. ``best_score`` is the best validation score so far in the metric's own orientation.
    """

    kind: str
    elapsed: float
    remaining: float | None
    model: str | None = None
    score: float | None = None
    best_score: float | None = None
    message: str = ""
    n_done: int = 0
    n_total: int = 0


ProgressCallback = Callable[[ProgressEvent], None]


def no_progress(event: ProgressEvent) -> None:
    """The default callback: shows nothing."""
