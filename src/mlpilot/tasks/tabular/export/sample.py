"""Rows to check an export on: the user's own data, or synthetic rows drawn from the run's schema.

A run keeps no training rows, so without ``--data`` the check draws raw values from what the data
report recorded (number ranges, category lists, example dates and texts), mixes in missing and unseen
values, and sends them through the run's own feature pipeline: every branch the models can take on
real data (including the missing-value ones) gets exercised.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from mlpilot.tasks.tabular.features import OTHER, FeaturePipeline
from mlpilot.tasks.tabular.inference import BOOLEAN, CATEGORICAL, DATETIME, NUMERIC, TEXT, ColumnInfo
from mlpilot.tasks.tabular.io import parse_datetimes, read_table

SYNTHETIC_ROWS = 2000
MAX_DATA_ROWS = 5000
MISSING_SHARE = 0.05


def check_rows(pipeline: FeaturePipeline, *, target: str, data: str | Path | None, seed: int = 0
               ) -> tuple[pd.DataFrame, str]:
    """The native frame to compare predictions on, and a few words on where its rows came from."""
    if data is not None:
        frame = read_table(data).drop(columns=[target], errors="ignore").head(MAX_DATA_ROWS)
        aligned, _ = pipeline.check_input(frame)
        return pipeline.transform(aligned), f"{len(frame)} rows of {data}"
    raw = synthetic_raw_rows(pipeline, n_rows=SYNTHETIC_ROWS, seed=seed)
    return pipeline.transform(raw), f"{SYNTHETIC_ROWS} synthetic rows drawn from the run's data report"


def synthetic_raw_rows(pipeline: FeaturePipeline, *, n_rows: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    columns = {}
    for info in pipeline.columns_:
        values = pd.Series(_draw(info, pipeline.specs_[info.name], rng, n_rows), dtype=object)
        values[rng.random(n_rows) < MISSING_SHARE] = None
        columns[info.name] = values
    return pd.DataFrame(columns)


def _draw(info: ColumnInfo, spec: dict[str, Any], rng: np.random.Generator, n: int) -> list[Any]:
    if info.kind == NUMERIC:
        low = info.min if info.min is not None else 0.0
        high = info.max if info.max is not None else 1.0
        return list(rng.uniform(low, high, n))
    if info.kind == BOOLEAN:
        return list(rng.choice(info.categories or ["False", "True"], n))
    if info.kind == CATEGORICAL:
        levels = [c for c in spec["categories"] if c != OTHER] + spec["rare"] + ["an unseen level"]
        return list(rng.choice(levels, n))
    if info.kind == DATETIME:
        return _dates(info, rng, n)
    if info.kind == TEXT:
        words = " ".join(info.examples).split() or ["text"]
        return [" ".join(rng.choice(words, rng.integers(1, 12))) for _ in range(n)]
    raise ValueError(f"column kind {info.kind!r} is not a model input")


def _dates(info: ColumnInfo, rng: np.random.Generator, n: int) -> list[Any]:
    stamps = parse_datetimes(pd.Series(info.examples, dtype=object)).dropna()
    first = stamps.min() if len(stamps) else pd.Timestamp("2000-01-01")
    last = stamps.max() if len(stamps) else pd.Timestamp("2030-01-01")
    start, span = first - pd.Timedelta(days=365), (last - first) + pd.Timedelta(days=730)
    offsets = rng.uniform(0, span.total_seconds(), n)
    return [(start + pd.Timedelta(seconds=float(s))).isoformat() for s in offsets]
