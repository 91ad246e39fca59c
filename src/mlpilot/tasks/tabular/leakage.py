"""The single-column leakage check: which columns alone predict the target almost perfectly.

Each column is scored by out-of-fold predictions made from it alone: a per-category lookup for
category codes, a small decision tree for numbers (depth 6: a step function of up to 64 steps).
A tree costs about 5 ms a column, which on a table of 1,500 descriptor columns is seconds of the
user's time limit, so the numeric columns are first screened all at once with numpy: each is cut
into equal-count bins, and only a column whose out-of-fold bin lookup already scores well goes on to
the tree. The bars sit far below what a leak reaches: on the cases in the tests (heavy-tailed
targets, a class living in a narrow interval, a rare class) a column the tree scores at 0.99 or more
screens at R² ≥ 0.95 or one-vs-rest AUC ≥ 0.99, while noise columns screen near R² 0 and AUC 0.5.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
from scipy.stats import rankdata

from mlpilot.tasks.tabular.models.base import BINARY, MULTICLASS

LEAK_THRESHOLD = 0.99
SCREEN_BINS = 64
SCREEN_R2 = 0.5  # regression: a column screening below this R² goes no further
SCREEN_AUC = 0.8  # classification: ... below this one-vs-rest AUC for some class
SCREEN_MAX_CLASSES = 10  # a leak must predict every class, so screening on some of them is enough
_SCREEN_CHUNK = 256  # columns screened at a time (keeps the temporary arrays to a few MB)


def oof_lookup(codes: np.ndarray, y: np.ndarray, folds: list, n_classes: int) -> np.ndarray:
    """Out-of-fold per-category class shares (or means): a perfect lookup means a leak."""
    targets = [y.astype(np.float64)] if not n_classes else [(y == k).astype(np.float64) for k in range(n_classes)]
    n_codes = int(codes.max()) + 1
    return np.column_stack([_oof_bin_means(codes[:, None], t, folds, n_codes)[:, 0] for t in targets])


def oof_tree(x: np.ndarray, y: np.ndarray, folds: list, n_classes: int) -> np.ndarray:
    from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor

    out = np.zeros((len(y), max(n_classes, 1)))
    for train, test in folds:
        if n_classes:
            tree = DecisionTreeClassifier(max_depth=6, min_samples_leaf=3, random_state=0)
            tree.fit(x[train, None], y[train])
            out[np.ix_(test, tree.classes_.astype(np.int64))] = tree.predict_proba(x[test, None])
        else:
            tree = DecisionTreeRegressor(max_depth=6, min_samples_leaf=3, random_state=0)
            out[test, 0] = tree.fit(x[train, None], y[train]).predict(x[test, None])
    return out


def leak_score(pred: np.ndarray, y: np.ndarray, problem_type: str) -> tuple[float, str]:
    from sklearn.metrics import balanced_accuracy_score, r2_score, roc_auc_score

    if problem_type == BINARY:
        return float(roc_auc_score(y, pred[:, 1])), "AUC"
    if problem_type == MULTICLASS:
        return float(balanced_accuracy_score(y, pred.argmax(axis=1))), "balanced accuracy"
    return float(r2_score(y, pred[:, 0])), "R²"


def quantile_codes(X: np.ndarray, bins: int = SCREEN_BINS) -> np.ndarray:
    """Per column of ``X`` (rows × columns), codes of ``bins`` equal-count bins; ties share a bin, NaN
    gets bin ``bins``."""
    missing = np.isnan(X)
    ranks = rankdata(np.where(missing, np.inf, X), method="min", axis=0) - 1
    codes = (ranks * bins // len(X)).astype(np.int64)
    codes[missing] = bins
    return codes


def _oof_bin_means(codes: np.ndarray, target: np.ndarray, folds: list, n_bins: int) -> np.ndarray:
    """For every row and column, the out-of-fold mean of ``target`` over the rows in its bin."""
    n_rows, n_columns = codes.shape
    flat = codes + (np.arange(n_columns) * n_bins)[None, :]  # one bincount serves every column
    out = np.empty((n_rows, n_columns))
    for train, test in folds:
        cells = flat[train].ravel()
        sums = np.bincount(cells, weights=np.repeat(target[train], n_columns), minlength=n_columns * n_bins)
        counts = np.bincount(cells, minlength=n_columns * n_bins)
        means = np.where(counts > 0, sums / np.maximum(counts, 1), target[train].mean())
        out[test] = means[flat[test]]
    return out


def _column_auc(pred: np.ndarray, positive: np.ndarray) -> np.ndarray:
    """ROC AUC of every column of ``pred`` for the boolean labels ``positive`` (ties count half)."""
    n_pos = int(positive.sum())
    n_neg = len(positive) - n_pos
    ranks = rankdata(pred, method="average", axis=0)
    return (ranks[positive].sum(axis=0) - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg)


def screen(X: np.ndarray, y: np.ndarray, folds: list, n_classes: int) -> np.ndarray:
    """Which columns of ``X`` could be leaks (True: give them the full check)."""
    codes = quantile_codes(X)
    if not n_classes:
        means = _oof_bin_means(codes, y, folds, SCREEN_BINS + 1)
        total = float(((y - y.mean()) ** 2).sum())
        r2 = 1.0 - ((y[:, None] - means) ** 2).sum(axis=0) / total if total > 0 else np.ones(X.shape[1])
        return r2 >= SCREEN_R2
    passed = np.ones(X.shape[1], dtype=bool)
    classes = [1] if n_classes == 2 else range(min(n_classes, SCREEN_MAX_CLASSES))
    for label in classes:
        positive = y == label
        if 0 < positive.sum() < len(y):  # a class absent from the rows says nothing
            shares = _oof_bin_means(codes, positive.astype(np.float64), folds, SCREEN_BINS + 1)
            passed &= _column_auc(shares, positive) >= SCREEN_AUC
    return passed


def _screened(features: dict[str, tuple[np.ndarray, bool]], y: np.ndarray, folds: list,
              n_classes: int) -> set[str]:
    """Names of the numeric features that pass the screen (category codes skip it: their lookup is cheap)."""
    numeric = [name for name, (_, is_codes) in features.items() if not is_codes]
    passed: set[str] = set()
    for start in range(0, len(numeric), _SCREEN_CHUNK):
        names = numeric[start:start + _SCREEN_CHUNK]
        block = np.column_stack([features[name][0] for name in names])
        passed.update(n for n, ok in zip(names, screen(block, y, folds, n_classes), strict=True) if ok)
    return passed


def leaking_columns(features: dict[str, tuple[np.ndarray, bool]], y: np.ndarray, *, folds: list,
                    n_classes: int, problem_type: str) -> Iterator[tuple[str, float, str]]:
    """(name, score, metric name) of each feature that alone predicts ``y`` almost perfectly, in order.

    ``features`` maps a column name to one value per row and whether those values are category codes.
    """
    screened = _screened(features, y, folds, n_classes)
    for name, (x, is_codes) in features.items():
        if not is_codes and (name not in screened or np.isnan(x).all()):  # an empty column predicts nothing
            continue
        pred = (oof_lookup if is_codes else oof_tree)(x, y, folds, n_classes)
        try:
            score, metric = leak_score(pred, y, problem_type)
        except ValueError:
            continue
        if score >= LEAK_THRESHOLD:
            yield name, score, metric
