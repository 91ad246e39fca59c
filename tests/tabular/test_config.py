"""Preset resolution: what each preset sets, and what only applies under a time limit."""

from __future__ import annotations

import pytest

from mlpilot.errors import ConfigError
from mlpilot.tasks.tabular.config import TabularConfig, resolve_config


def resolved(*, explicit: frozenset[str] = frozenset(), **values) -> TabularConfig:
    return resolve_config(TabularConfig(target="y", **values), explicit=set(explicit))


def test_default_preset_adds_bag_sets_only_under_a_time_limit() -> None:
    assert resolved(time_limit=60).bag_sets == 5
    # without a limit, extra sets would only multiply the fit time: one set, reproducible
    assert resolved().bag_sets == 1


def test_explicit_values_win_over_the_preset() -> None:
    assert resolved(time_limit=60, bag_sets=2, explicit=frozenset({"bag_sets"})).bag_sets == 2
    assert resolved(time_limit=60, bag_sets=1, explicit=frozenset({"bag_sets"})).bag_sets == 1


@pytest.mark.parametrize("time_limit", [None, 60])
def test_best_quality_and_fast(time_limit: float | None) -> None:
    best = resolved(preset="best", time_limit=time_limit)
    assert (best.preset, best.n_folds, best.bag_sets) == ("best_quality", 8, 3)
    assert resolved(preset="fast", time_limit=time_limit).n_folds == 1


def test_unknown_preset_names_the_choices() -> None:
    with pytest.raises(ConfigError, match="medium_quality, best_quality, fast"):
        resolved(preset="turbo")
