"""The order and time shares of the candidates still to run, adjusted by what the table has shown so far.

The portfolio's order and the budget's default share suit a table where models finish in their share.
On a table where they do not (many rows, a slow-learning target), the time limit ends every fold model
before early stopping would, and fitting more such candidates buys little. What a candidate that ran out
of time says about its family decides what happens to the family's later candidates:

- **The best so far**: the model leads and is still learning. A family that can resume training
  (the boosted trees) goes on training this model's fold models next, for twice the time they have
  used (never more than half of what is left): the doubling that finds an unknown cost in a few steps,
  with none of the time already spent thrown away. Another family's next candidate gets at least
  twice the time this one used.
- **Clearly behind the best so far**: another candidate of the family would starve the same way, so the
  family's later candidates go to the end of the queue; they still run if time is left.
- **In between**: nothing changes. Breadth pays on such tables: models cut short still add to the
  ensemble, and a family given more time takes it from the ones after it.

"Clearly behind" is measured from the constant predictor's score to the best one, so one rule serves
every metric and target scale.
"""

from __future__ import annotations

import logging
import math
from collections import deque
from dataclasses import dataclass, field

import numpy as np

from mlpilot.engine.budget import Budget
from mlpilot.engine.metrics import Metric
from mlpilot.tasks.tabular.models.base import constant_prediction
from mlpilot.tasks.tabular.models.portfolio import Candidate

log = logging.getLogger("mlpilot")

# A starved candidate more than this fraction of the constant-to-best range behind the best is "clearly behind".
BEHIND_GAP = 0.05
# A family's next candidate gets this many times the time its starved candidate used...
GROWTH = 2.0
# ... but never more than this fraction of the time left.
MAX_FRACTION = 0.5


def constant_score(y: np.ndarray, metric: Metric, *, problem_type: str, n_classes: int) -> float:
    """The score of predicting the mean (regression) or the class frequencies for every row."""
    return metric(y, constant_prediction(y, len(y), problem_type=problem_type, n_classes=n_classes))


@dataclass
class Schedule:
    """The candidates still to run, in the order they will run, and the least time each family gets."""

    queue: deque[Candidate]
    metric: Metric
    constant: float  # the constant predictor's score on this table
    min_seconds: dict[str, float] = field(default_factory=dict)  # family → least share for its next one
    deferred: set[str] = field(default_factory=set)
    to_resume: tuple[str, float] | None = None  # (candidate, seconds): the starved leader to train on next

    def __len__(self) -> int:
        return len(self.queue)

    def __bool__(self) -> bool:
        return bool(self.queue) or self.to_resume is not None

    def take(self, n: int) -> list[Candidate]:
        """The next ``n`` candidates (fewer when fewer are left), removed from the queue."""
        return [self.queue.popleft() for _ in range(min(n, len(self.queue)))]

    def share(self, candidate: Candidate, default: float, budget: Budget) -> float:
        """The candidate's time share: the budget's ``default``, raised for a promising, starving family."""
        least = self.min_seconds.get(candidate.family, 0.0)
        if not least or math.isinf(default):
            return default
        return max(default, min(least, MAX_FRACTION * budget.remaining()))

    def take_resume(self, budget: Budget) -> tuple[str, float] | None:
        """The starved leader to train on before the next candidate, with its time share (None: none)."""
        if self.to_resume is None:
            return None
        (name, seconds), self.to_resume = self.to_resume, None
        if budget.spent():  # a resume that cannot train would be recorded, and offered, again and again
            return None
        return name, min(seconds, MAX_FRACTION * budget.remaining())

    def record(self, *, name: str, family: str, score: float | None, fit_seconds: float, starved: bool,
               best: float, resumable: bool = False) -> None:
        """Learn from a finished (or resumed) candidate: ``starved`` when the time limit ended most of its
        fold models; ``resumable`` when its fold models can train on from where they stopped."""
        if score is None or not starved:
            return
        gap = self.gap(score, best)
        if gap == 0.0 and resumable:
            self.to_resume = (name, GROWTH * fit_seconds)
        elif gap == 0.0:
            self.min_seconds[family] = max(self.min_seconds.get(family, 0.0), GROWTH * fit_seconds)
        elif gap > BEHIND_GAP and family not in self.deferred:
            log.info("%s ran out of time %.0f%% behind the best model: its family's other candidates run last",
                     family, 100 * gap)
            self.deferred.add(family)
            later = [c for c in self.queue if c.family == family]
            self.queue = deque([c for c in self.queue if c.family != family] + later)

    def gap(self, score: float, best: float) -> float:
        """How far ``score`` is behind ``best``, as a fraction of the way from the constant predictor."""
        span = self.metric.oriented(best) - self.metric.oriented(self.constant)
        behind = self.metric.oriented(best) - self.metric.oriented(score)
        if span <= 0:
            return 0.0
        return max(behind, 0.0) / span
