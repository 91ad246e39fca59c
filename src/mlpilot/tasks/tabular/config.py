"""The tabular fit configuration: one typed dataclass, its checks, and the presets (plain data).

The CLI flags, REST schemas and UI forms are derived from :class:`TabularConfig`; defaults live
only here. Resolution order: explicit arguments > preset > dataclass defaults.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, fields, replace
from typing import Any

from mlpilot.engine.executor import check_cluster_address
from mlpilot.engine.metrics import get_metric
from mlpilot.errors import ConfigError
from mlpilot.tasks.tabular.models.base import PROBLEM_TYPES

# Each preset trades time for accuracy; values override TabularConfig defaults. The values under
# UNDER_TIME_LIMIT apply only when ``time_limit`` is set: they spend time a limit leaves over, and
# without a limit they would only multiply the fit time.
UNDER_TIME_LIMIT = "under_time_limit"
PRESETS: dict[str, dict[str, Any]] = {
    # k-fold bagging of the whole portfolio, ensemble of the best: the default. Under a time limit,
    # the time the portfolio leaves goes to new fold splits of the ensemble members (repeated
    # bagging), up to 5 sets: at 300 s it was better on all 7 suite tables tried (docs/benchmarks.md).
    "medium_quality": {UNDER_TIME_LIMIT: {"bag_sets": 5}},
    # more folds, and up to 3 bag sets per ensemble member while time remains: a little more
    # accurate, at several times the prediction cost.
    "best_quality": {"n_folds": 8, "bag_sets": 3},
    # a holdout split and the four cheapest strong families: results in seconds.
    "fast": {"n_folds": 1, "families": ("lightgbm", "xgboost", "linear", "extra_trees")},
}
PRESET_ALIASES = {"medium": "medium_quality", "best": "best_quality", "high_quality": "best_quality"}


@dataclass(frozen=True, kw_only=True)
class TabularConfig:
    """Everything that decides what a tabular ``fit`` does.

    ``time_limit``: seconds for the whole ``fit`` call (None = no limit: the whole portfolio runs
    and results are reproducible). ``max_models``: try at most this many candidates.
    ``n_folds``: 1 = holdout split; None = chosen from data size and budget. ``families``: only
    these model families (keys such as ``"lightgbm"``). ``n_threads``: None = all cores.
    ``bag_sets``: k-fold bag sets per ensemble member (extra sets only while the time limit leaves room;
    the default preset asks for 5 under a time limit). When ``n_folds`` is left to mlpilot, a member
    holds at most 25 fold models (5 folds x 5 sets; 8 folds, chosen from 300 s on, x 3 sets).
    ``refit_full``: refit each ensemble member once on all rows for k times faster prediction.
    ``tune``: under a time limit and k-fold validation, spend the time the portfolio leaves on an
    Optuna search of the best boosted-tree families (:mod:`mlpilot.tasks.tabular.tuning`). Off by
    default: at 60 s it won on 7 and lost on 8 of 15 tables (docs/benchmarks.md).
    ``cluster``: None = train in this process; ``"tcp://host:8786"`` = a Dask scheduler's address;
    ``"local:N"`` = a Dask cluster of N worker processes started on this machine for the run.
    """

    target: str
    time_limit: float | None = None
    metric: str | None = None
    problem_type: str | None = None
    seed: int = 0
    preset: str = "medium_quality"
    max_models: int | None = None
    n_folds: int | None = None
    families: tuple[str, ...] | None = None
    n_threads: int | None = None
    bag_sets: int = 1
    refit_full: bool = False
    tune: bool = False
    cluster: str | None = None

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["families"] = list(self.families) if self.families else None
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TabularConfig:
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in data.items() if k in known}
        if values.get("families") is not None:
            values["families"] = tuple(values["families"])
        return cls(**values)

    @property
    def threads(self) -> int:
        return self.n_threads or os.cpu_count() or 1


def resolve_config(config: TabularConfig, *, explicit: set[str]) -> TabularConfig:
    """Apply the preset to every field the caller did not set explicitly, then check the result."""
    preset_name = PRESET_ALIASES.get(config.preset, config.preset)
    if preset_name not in PRESETS:
        raise ConfigError(f"Unknown preset {config.preset!r}: choose one of {', '.join(PRESETS)}.")
    preset = dict(PRESETS[preset_name])
    if config.time_limit is not None:
        preset.update(preset.get(UNDER_TIME_LIMIT, {}))
    preset.pop(UNDER_TIME_LIMIT, None)
    overrides = {k: v for k, v in preset.items() if k not in explicit}
    resolved = replace(config, preset=preset_name, **overrides)
    check_config(resolved)
    return resolved


def check_config(config: TabularConfig) -> None:
    """Validate every field once, at ``fit`` entry, with a message that names the fix."""
    if not isinstance(config.target, str) or not config.target:
        raise ConfigError("`target` must be the name of the column to predict, e.g. target='churn'.")
    if config.time_limit is not None and not (config.time_limit > 0):
        raise ConfigError(f"`time_limit` must be a positive number of seconds, got {config.time_limit!r}.")
    if config.problem_type is not None and config.problem_type not in PROBLEM_TYPES:
        raise ConfigError(
            f"Unknown task {config.problem_type!r}: choose one of {', '.join(PROBLEM_TYPES)}."
        )
    if config.metric is not None:
        get_metric(config.metric, config.problem_type)
    if config.max_models is not None and config.max_models < 1:
        raise ConfigError(f"`max_models` must be at least 1, got {config.max_models}.")
    if config.n_folds is not None and not 1 <= config.n_folds <= 20:
        raise ConfigError(f"`n_folds` must be between 1 (holdout) and 20, got {config.n_folds}.")
    if not 1 <= config.bag_sets <= 20:
        raise ConfigError(f"`bag_sets` must be between 1 and 20, got {config.bag_sets}.")
    if config.n_threads is not None and config.n_threads < 1:
        raise ConfigError(f"`n_threads` must be at least 1, got {config.n_threads}.")
    if config.cluster is not None:
        check_cluster_address(config.cluster)
