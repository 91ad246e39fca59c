"""The leakage screen must pass on every column the full check would flag, and stop noise."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.model_selection import KFold

from mlpilot.tasks.tabular.leakage import (
    LEAK_THRESHOLD,
    leak_score,
    leaking_columns,
    oof_tree,
    quantile_codes,
    screen,
)

N = 3000
FOLDS = list(KFold(3, shuffle=True, random_state=0).split(np.arange(N)))
RNG = np.random.default_rng(0)
Z = RNG.normal(size=N)
U = RNG.random(N)
# (x, y, n_classes, problem type): leaks a depth-6 tree scores at the threshold or above.
LEAKS = {
    "lognormal target, the column is the target": (np.exp(Z), np.exp(Z), 0, "regression"),
    "lognormal target, the column is its log": (Z, np.exp(Z), 0, "regression"),
    "non-monotone": (Z, np.sin(3 * Z), 0, "regression"),
    "target plus noise": (Z + 0.05 * RNG.normal(size=N), Z, 0, "regression"),
    "class in a narrow interval": (U, ((U > 0.5) & (U < 0.51)).astype(np.int64), 2, "binary"),
    "class in two intervals": (U, (((U > 0.2) & (U < 0.25)) | (U > 0.9)).astype(np.int64), 2, "binary"),
    "five bands": (U, np.minimum((U * 5).astype(np.int64), 4), 5, "multiclass"),
    "a rare class at the top": (U, np.where(U > 0.995, 2, np.where(U > 0.5, 1, 0)), 3, "multiclass"),
}


@pytest.mark.parametrize("case", list(LEAKS))
def test_every_leak_the_tree_flags_passes_the_screen(case: str) -> None:
    x, y, n_classes, problem_type = LEAKS[case]
    assert leak_score(oof_tree(x, y, FOLDS, n_classes), y, problem_type)[0] >= LEAK_THRESHOLD  # a real leak
    assert screen(x[:, None], y, FOLDS, n_classes).all()


@pytest.mark.parametrize(("n_classes", "problem_type"), [(0, "regression"), (2, "binary"), (4, "multiclass")])
def test_noise_and_weak_signal_stop_at_the_screen(n_classes: int, problem_type: str) -> None:
    rng = np.random.default_rng(1)
    signal = rng.normal(size=N)
    y = signal + 2 * rng.normal(size=N) if not n_classes else np.digitize(signal + 2 * rng.normal(size=N),
                                                                       np.linspace(-1, 1, n_classes - 1))
    columns = np.column_stack([rng.normal(size=(N, 40)), signal])  # the last column is weakly informative
    assert not screen(columns, y, FOLDS, n_classes).any()


def test_leaks_are_found_among_many_columns_in_order() -> None:
    rng = np.random.default_rng(2)
    y = rng.normal(size=N)
    features = {"early_leak": (-2 * y, False)}
    features.update({f"noise{i}": (rng.normal(size=N), False) for i in range(300)})
    features["mostly_missing"] = (np.where(rng.random(N) < 0.9, np.nan, y), False)
    features["codes"] = (rng.integers(0, 5, N), True)
    features["late_leak"] = (np.exp(y), False)
    found = leaking_columns(features, y, folds=FOLDS, n_classes=0, problem_type="regression")
    assert [name for name, _, _ in found] == ["early_leak", "late_leak"]


def test_quantile_codes_keep_ties_together_and_missing_apart() -> None:
    x = np.array([[0.0], [0.0], [0.0], [1.0], [np.nan], [2.0]])
    codes = quantile_codes(x, bins=3)[:, 0]
    assert codes[0] == codes[1] == codes[2]
    assert codes[4] == 3 and len({codes[3], codes[5], codes[0]}) == 3
