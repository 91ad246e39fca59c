"""Column type inference, target validation, problem-type inference, leakage check and data report.

Everything a user could get wrong about their table is caught here, before any model is trained, so
that a bad value or a wrong target surfaces as one plain :class:`DataError` instead of a library
traceback halfway through a search. The report also records *why* each column got its kind, so the
CLI can show users what the system decided on their behalf.
"""

from __future__ import annotations

import contextlib
import difflib
import re
from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from mlpilot.errors import ConfigError, DataError
from mlpilot.tasks.tabular.io import (
    clean_strings,
    epoch_days,
    integer_valued,
    is_string_like,
    parse_datetimes,
    to_float,
)
from mlpilot.tasks.tabular.leakage import leaking_columns
from mlpilot.tasks.tabular.models.base import BINARY, MULTICLASS, PROBLEM_TYPES, REGRESSION

NUMERIC = "numeric"
BOOLEAN = "boolean"
CATEGORICAL = "categorical"
DATETIME = "datetime"
TEXT = "text"
ID = "id"
CONSTANT = "constant"
DUPLICATE = "duplicate"
NEARLY_CONSTANT = "nearly_constant"
KINDS = (NUMERIC, BOOLEAN, CATEGORICAL, DATETIME, TEXT, ID, CONSTANT, NEARLY_CONSTANT, DUPLICATE)
DROPPED_KINDS = (ID, CONSTANT, NEARLY_CONSTANT, DUPLICATE)

TRUE_TOKENS = frozenset({"yes", "y", "true", "t", "1", "1.0"})
FALSE_TOKENS = frozenset({"no", "n", "false", "f", "0", "0.0"})

MIN_ROWS = 10
ID_MIN_ROWS = 50
MAX_REPORT_CATEGORIES = 200
MAX_DROPPED_LINES = 10  # a terminal summary names this many dropped columns, then counts the rest
DATE_SAMPLE = 500
LEAK_MAX_ROWS = 5000
# A numeric or true/false column where fewer than this many rows, and under this fraction of them, differ
# from its most common value is left out as nearly constant (caret's "near-zero variance"): a handful of
# rows cannot teach a model anything it can trust, no tree with leaves of tens of rows can split on it
# (LightGBM already skips such features), and on wide tables of rare indicators (grant codes, product
# flags) they are most of the columns, each one slowing XGBoost, CatBoost and the networks down.
NEAR_CONSTANT_ROWS = 10
NEAR_CONSTANT_FRACTION = 0.01
_ID_NAME = re.compile(r"(^|[_\s.-])(id|ids|key|uuid|guid|code|index|idx|no|num|number)$|^rownames?$", re.I)
_INT_TEXT = re.compile(r"^[+-]?\d+$")
_LEADING_ZERO = re.compile(r"^0\d")


@dataclass
class ColumnInfo:
    """What one input column is, and why: shown to users and used to build the feature pipeline."""

    name: str
    kind: str
    reason: str
    dtype: str
    missing_rate: float
    n_unique: int
    dropped: bool = False
    categories: list[str] | None = None
    true_value: str | None = None  # boolean columns: the raw value read as 1
    min: float | None = None
    max: float | None = None
    examples: list[str] = field(default_factory=list)


@dataclass
class DataReport:
    """Everything learned about the training table; ``n_rows`` counts the rows kept for training."""

    n_rows: int
    n_columns: int
    target: str
    problem_type: str
    columns: list[ColumnInfo]
    class_balance: dict[str, float] | None
    target_summary: dict[str, Any]
    rows_dropped_missing_target: int
    warnings: list[str]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DataReport:
        columns = [ColumnInfo(**c) for c in data["columns"]]
        return cls(**{**data, "columns": columns})

    def kept_columns(self) -> list[ColumnInfo]:
        return [c for c in self.columns if not c.dropped]

    def summary_lines(self) -> list[str]:
        """Short lines for a terminal: what was found, what was dropped and what to look at."""
        lines = [
            f"{self.n_rows:,} rows, {self.n_columns} columns; target '{self.target}' ({self.problem_type})"
        ]
        if self.rows_dropped_missing_target:
            lines.append(f"{self.rows_dropped_missing_target:,} rows without a target value were left out")
        lines.append(f"Columns: {_kind_counts(self.columns)}")
        dropped = [c for c in self.columns if c.dropped]
        lines.extend(f"Dropped '{c.name}': {c.reason}" for c in dropped[:MAX_DROPPED_LINES])
        if len(dropped) > MAX_DROPPED_LINES:
            lines.append(f"Dropped {len(dropped) - MAX_DROPPED_LINES:,} more columns "
                         f"({_kind_counts(dropped[MAX_DROPPED_LINES:])}); the data report lists each with its reason")
        if self.class_balance:
            shares = ", ".join(f"{k} {v:.1%}" for k, v in list(self.class_balance.items())[:10])
            more = len(self.class_balance) - 10
            lines.append(f"Class balance: {shares}" + (f" (+{more} more)" if more > 0 else ""))
        elif self.target_summary:
            s = self.target_summary
            lines.append(f"Target range {s['min']:g} to {s['max']:g}, mean {s['mean']:g}")
        lines.extend(f"Warning: {w}" for w in self.warnings)
        return lines


def _kind_counts(columns: list[ColumnInfo]) -> str:
    """'660 numeric, 834 nearly constant': how many ``columns`` of each kind, in order of appearance."""
    return ", ".join(f"{n:,} {kind.replace('_', ' ')}" for kind, n in Counter(c.kind for c in columns).items())


@dataclass
class TrainingData:
    """Validated training rows: ``X`` is raw (the feature pipeline converts it), ``y`` is clean."""

    X: pd.DataFrame
    y: pd.Series
    problem_type: str
    report: DataReport
    classes: list[Any] | None = None  # sorted original class labels; None for regression


# --------------------------------------------------------------------------------------- helpers
def _fmt(value: Any) -> str:
    text = str(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _examples(values: pd.Series) -> list[str]:
    return [_fmt(v) for v in values.drop_duplicates().head(3)]


def _first_bad(mask: pd.Series | np.ndarray, s: pd.Series) -> tuple[Any, Any]:
    pos = int(np.flatnonzero(np.asarray(mask))[0])
    return s.index[pos], s.iloc[pos]


# --------------------------------------------------------------------------------------- problem type
def infer_problem_type(y: pd.Series) -> str:
    """Regression for many numeric values or true fractions; binary for two values; else multiclass."""
    y = clean_strings(y) if is_string_like(y) else y
    y = y.dropna()
    if not pd.api.types.is_bool_dtype(y):
        values = to_float(y)
        if not np.isnan(values).any():
            n_unique = len(np.unique(values))
            if n_unique > 20 or (n_unique > 2 and not integer_valued(values)):
                return REGRESSION
    return BINARY if y.nunique() <= 2 else MULTICLASS


def _resolve_problem_type(y: pd.Series, problem_type: str | None, target: str) -> str:
    if problem_type is None:
        return infer_problem_type(y)
    if problem_type not in PROBLEM_TYPES:
        raise ConfigError(
            f"Problem type '{problem_type}' is not known; use one of {', '.join(PROBLEM_TYPES)}."
        )
    n_unique = y.nunique()
    if problem_type == BINARY and n_unique > 2:
        raise DataError(
            f"Target '{target}' has {n_unique} classes, so it cannot be binary; "
            "use problem type multiclass or leave it out to infer it."
        )
    return problem_type


def _finalize_target(y: pd.Series, problem_type: str, target: str) -> tuple[pd.Series, list[Any] | None]:
    """Regression targets become float64; class labels keep their values (1.0 becomes 1)."""
    if problem_type == REGRESSION:
        values = to_float(y)
        bad = np.isnan(values)
        if bad.any():
            row, value = _first_bad(bad, y)
            raise DataError(
                f"Target '{target}' is not numeric (value '{_fmt(value)}' at row {row}), so it cannot be "
                "used for regression; choose a classification problem type or clean the target."
            )
        if np.isinf(values).any():
            row, _ = _first_bad(np.isinf(values), y)
            raise DataError(f"Target '{target}' is infinite at row {row}; replace it with a finite value.")
        if len(np.unique(values)) < 2:
            raise DataError(f"Target '{target}' has a single value, so there is nothing to predict.")
        return pd.Series(values, index=y.index, name=y.name), None
    if pd.api.types.is_float_dtype(y) and integer_valued(y.to_numpy(dtype="float64")):
        y = y.astype("int64")
    _check_classes(y, target)
    uniques = list(pd.unique(y))
    try:
        classes = sorted(uniques)
    except TypeError:
        classes = sorted(uniques, key=str)
    return y, [c.item() if isinstance(c, np.generic) else c for c in classes]


def _check_classes(y: pd.Series, target: str) -> None:
    counts = y.value_counts()
    if len(counts) < 2:
        raise DataError(
            f"Target '{target}' has a single class ('{_fmt(counts.index[0])}'), so there is nothing to "
            "predict; choose another target or add rows of the other classes."
        )
    tiny = [str(c) for c, n in counts.items() if n < 2]
    if tiny:
        names = ", ".join(f"'{_fmt(c)}'" for c in tiny[:5]) + (" ..." if len(tiny) > 5 else "")
        raise DataError(
            f"Target '{target}' class {names} has fewer than 2 rows, too few to learn and validate; "
            "drop those rows or merge them into another class."
        )


def _target_summary(y: pd.Series, problem_type: str) -> tuple[dict[str, Any], dict[str, float] | None]:
    if problem_type == REGRESSION:
        v = y.to_numpy(dtype="float64")
        summary = {"min": float(v.min()), "max": float(v.max()), "mean": float(v.mean()),
                   "std": float(v.std()), "median": float(np.median(v))}
        return summary, None
    counts = y.value_counts()
    with contextlib.suppress(TypeError):
        counts = counts.sort_index()
    balance = {str(k): float(n / len(y)) for k, n in counts.items()}
    return {"classes": list(balance), "counts": {str(k): int(n) for k, n in counts.items()}}, balance


# --------------------------------------------------------------------------------------- column kinds
def _info(name: str, s: pd.Series, kind: str, reason: str, *, n_unique: int, n_missing: int) -> ColumnInfo:
    n = max(len(s), 1)
    return ColumnInfo(
        name=name, kind=kind, reason=reason, dtype=str(s.dtype), missing_rate=float(n_missing / n),
        n_unique=int(n_unique), dropped=kind in DROPPED_KINDS,
    )


def _constant(name: str, s: pd.Series, nn: pd.Series, n_missing: int) -> ColumnInfo:
    reason = "all values are missing" if nn.empty else f"the only value is '{_fmt(nn.iloc[0])}'"
    info = _info(name, s, CONSTANT, reason + ": carries no information", n_unique=nn.nunique(),
                 n_missing=n_missing)
    info.examples = _examples(nn)
    return info


def _looks_like_sequence(values: np.ndarray, name: str) -> bool:
    """Unique integers are an identifier only if dense like 1..n, fixed-width codes or named like one."""
    if _ID_NAME.search(name):
        return True
    lo, hi = values.min(), values.max()
    if hi - lo + 1 <= 2 * len(values):
        return True
    digits = np.floor(np.log10(np.maximum(values, 1)))
    return bool(lo >= 10_000 and np.all(digits == digits[0]))


def _numeric(name: str, s: pd.Series, values: np.ndarray, *, integer: bool) -> ColumnInfo:
    finite_or_nan = ~np.isinf(values)
    if not finite_or_nan.all():
        row, _ = _first_bad(~finite_or_nan, s)
        raise DataError(
            f"Column '{name}' has an infinite value at row {row}; replace it with a finite value or "
            "leave it empty."
        )
    present = values[~np.isnan(values)]
    n_missing = len(values) - len(present)
    uniques = np.unique(present)
    if len(uniques) <= 1:
        return _constant(name, s, pd.Series([f"{v:g}" for v in uniques], dtype=object), n_missing)
    if integer and n_missing == 0 and len(uniques) == len(values) > ID_MIN_ROWS and _looks_like_sequence(
        present, name
    ):
        reason = (
            f"{len(uniques):,} distinct whole numbers in {len(values):,} rows, all unique: "
            "looks like an identifier"
        )
        info = _info(name, s, ID, reason, n_unique=len(uniques), n_missing=n_missing)
    else:
        reason = f"numbers from {present.min():g} to {present.max():g}"
        info = _info(name, s, NUMERIC, reason, n_unique=len(uniques), n_missing=n_missing)
    info.min, info.max = float(present.min()), float(present.max())
    info.examples = [f"{v:g}" for v in present[:3]]
    return info


def _boolean(name: str, s: pd.Series, nn: pd.Series, n_missing: int) -> ColumnInfo | None:
    values = sorted(str(v) for v in nn.unique())
    lowered = {v.lower() for v in values}
    if len(values) != 2 or not (lowered & TRUE_TOKENS and lowered & FALSE_TOKENS):
        return None
    true_value = next(v for v in values if v.lower() in TRUE_TOKENS)
    info = _info(name, s, BOOLEAN, f"two values, {values[0]!r} and {values[1]!r}", n_unique=2,
                 n_missing=n_missing)
    info.categories, info.true_value = values, true_value
    return info


def _looks_like_datetime(nn: pd.Series) -> bool:
    if len(nn) > DATE_SAMPLE:
        nn = nn.iloc[np.linspace(0, len(nn) - 1, DATE_SAMPLE).astype(int)]
    plausible = nn.str.contains(r"\d", regex=True) & (nn.str.len() >= 6)
    if plausible.mean() < 0.95:
        return False
    return bool(parse_datetimes(nn).notna().mean() >= 0.95)


def _string_column(name: str, s: pd.Series) -> ColumnInfo:
    strs = clean_strings(s)
    nn = strs.dropna()
    n_missing = len(strs) - len(nn)
    n_unique = nn.nunique()
    if n_unique <= 1:
        return _constant(name, s, nn, n_missing)
    boolean = _boolean(name, s, nn, n_missing) if n_unique == 2 else None
    if boolean is not None:
        return boolean
    numeric = _numeric_strings(name, s, strs, nn)
    if numeric is not None:
        return numeric
    if _looks_like_datetime(nn):
        parsed = parse_datetimes(nn)
        info = _info(name, s, DATETIME, f"dates from {parsed.min():%Y-%m-%d} to {parsed.max():%Y-%m-%d}",
                     n_unique=n_unique, n_missing=n_missing)
    else:
        info = _text_id_or_categorical(name, s, nn, n_unique, n_missing)
    info.examples = _examples(nn)
    return info


def _numeric_strings(name: str, s: pd.Series, strs: pd.Series, nn: pd.Series) -> ColumnInfo | None:
    """Numbers stored as text are numeric; a few stray words among many numbers are an error."""
    nums = pd.to_numeric(nn, errors="coerce")
    ok = nums.notna()
    if ok.all() and not nn.str.contains(_LEADING_ZERO, regex=True).any():
        integer = bool(nn.str.fullmatch(_INT_TEXT).all())
        info = _numeric(name, s, to_float(strs), integer=integer)
        info.reason += " (stored as text)" if info.kind == NUMERIC else ""
        return info
    if ok.mean() >= 0.9 and nums[ok].nunique() > 20:
        row, value = _first_bad(~ok, nn)
        raise DataError(
            f"Column '{name}' holds numbers but also '{_fmt(value)}' at row {row}; correct that value "
            "or leave it empty so it is read as missing."
        )
    return None


def _text_id_or_categorical(
    name: str, s: pd.Series, nn: pd.Series, n_unique: int, n_missing: int
) -> ColumnInfo:
    sample = nn if len(nn) <= 5000 else nn.sample(5000, random_state=0)
    mean_words = float(sample.str.count(r"\S+").mean())
    distinct = n_unique / len(nn)
    if mean_words >= 3 and distinct >= 0.5:
        reason = f"free text: {mean_words:.1f} words on average, {distinct:.0%} distinct"
        return _info(name, s, TEXT, reason, n_unique=n_unique, n_missing=n_missing)
    if n_unique == len(nn) and len(s) > ID_MIN_ROWS:
        reason = f"{n_unique:,} distinct values in {len(s):,} rows, all unique: looks like an identifier"
        return _info(name, s, ID, reason, n_unique=n_unique, n_missing=n_missing)
    counts = nn.value_counts()
    reason = f"{n_unique:,} distinct labels"
    info = _info(name, s, CATEGORICAL, reason, n_unique=n_unique, n_missing=n_missing)
    info.categories = [str(c) for c in counts.index[:MAX_REPORT_CATEGORIES]]
    return info


def infer_column(name: str, s: pd.Series) -> ColumnInfo:
    """Kind of one column with a plain-English reason; raises on mixed types and infinities."""
    if pd.api.types.is_bool_dtype(s):
        nn = s.dropna()
        if nn.nunique() <= 1:
            return _constant(name, s, nn, len(s) - len(nn))
        info = _info(name, s, BOOLEAN, "true/false values", n_unique=2, n_missing=len(s) - len(nn))
        info.categories, info.true_value = ["False", "True"], "True"
        return info
    if pd.api.types.is_datetime64_any_dtype(s):
        parsed = parse_datetimes(s)
        nn = parsed.dropna()
        if nn.nunique() <= 1:
            return _constant(name, s, nn, len(s) - len(nn))
        reason = f"dates from {nn.min():%Y-%m-%d} to {nn.max():%Y-%m-%d}"
        info = _info(name, s, DATETIME, reason, n_unique=nn.nunique(), n_missing=len(s) - len(nn))
        info.examples = _examples(nn.astype(str))
        return info
    if pd.api.types.is_numeric_dtype(s) or pd.api.types.is_timedelta64_dtype(s):
        return _numeric(name, s, to_float(s), integer=pd.api.types.is_integer_dtype(s))
    return _string_column(name, s)


def _column_hash(s: pd.Series) -> np.ndarray | None:
    try:
        return pd.util.hash_pandas_object(s, index=False).to_numpy()
    except TypeError:
        return None


def _mark_nearly_constant(info: ColumnInfo, s: pd.Series) -> None:
    """Drop ``info``'s numeric or true/false column when too few rows differ from its most common value
    (missing counts as a value)."""
    limit = min(NEAR_CONSTANT_ROWS, NEAR_CONSTANT_FRACTION * len(s))
    if info.kind not in (NUMERIC, BOOLEAN) or info.n_unique - 1 >= limit:  # each other value takes a row
        return
    counts = s.value_counts(dropna=False)
    n_other = len(s) - int(counts.iloc[0])
    if n_other >= limit:
        return
    value = counts.index[0]
    shown = f"{value:g}" if isinstance(value, float | np.floating | np.integer) else _fmt(value)
    common = "missing" if pd.isna(value) else f"'{shown}'"
    info.kind, info.dropped = NEARLY_CONSTANT, True
    differ = "row differs" if n_other == 1 else "rows differ"
    info.reason = f"nearly constant: only {n_other} of {len(s):,} {differ} from {common}, too few to learn from"


def infer_columns(X: pd.DataFrame, *, from_sample: bool = False) -> list[ColumnInfo]:
    """Kinds of all columns; a column equal to an earlier kept one is marked duplicate and dropped.

    ``from_sample``: ``X`` is a sample of a larger table, where a value rare in the sample may be common
    enough to learn from, so nearly constant columns are kept.
    """
    infos = [infer_column(str(name), X[name]) for name in X.columns]
    if not from_sample:
        for info in infos:
            _mark_nearly_constant(info, X[info.name])
    seen: dict[bytes, str] = {}  # row hashes -> the first kept column with them (one lookup per column)
    for info in infos:
        if info.dropped:
            continue
        digest = _column_hash(X[info.name])
        if digest is None:
            continue
        twin = seen.setdefault(digest.tobytes(), info.name)
        if twin == info.name:
            continue
        info.kind, info.dropped = DUPLICATE, True
        info.reason = f"same values as column '{twin}'"
    return infos


# --------------------------------------------------------------------------------------- leakage
def _leak_feature(s: pd.Series, info: ColumnInfo) -> tuple[np.ndarray, bool]:
    """One number per row (or category codes) for the single-column leakage check."""
    if info.kind == CATEGORICAL:
        codes, _ = pd.factorize(clean_strings(s), use_na_sentinel=False)
        return codes.astype(np.int64), True
    if info.kind == BOOLEAN:
        lowered = clean_strings(s).str.lower()
        values = lowered.map(lambda v: 1.0 if v in TRUE_TOKENS else 0.0 if v in FALSE_TOKENS else np.nan)
        return values.to_numpy(dtype="float64", na_value=np.nan), False
    if info.kind == DATETIME:
        return epoch_days(parse_datetimes(s)), False
    return to_float(s), False


def leakage_warnings(
    X: pd.DataFrame, y: pd.Series, columns: list[ColumnInfo], problem_type: str, *, seed: int = 0
) -> list[str]:
    """Warn (never drop) when one column alone predicts the target: usually a leak users must judge."""
    from sklearn.model_selection import KFold

    kept = [c for c in columns if not c.dropped and c.kind in (NUMERIC, BOOLEAN, CATEGORICAL, DATETIME)]
    if not kept or len(y) < MIN_ROWS:
        return []
    rng = np.random.default_rng(seed)
    idx = np.arange(len(y))
    if len(y) > LEAK_MAX_ROWS:
        idx = np.sort(rng.choice(len(y), LEAK_MAX_ROWS, replace=False))
    if problem_type == REGRESSION:
        target, n_classes = y.to_numpy(dtype="float64")[idx], 0
    else:
        codes, uniques = pd.factorize(y.iloc[idx])
        target, n_classes = codes.astype(np.int64), len(uniques)
        if n_classes < 2:
            return []
    folds = list(KFold(3, shuffle=True, random_state=seed).split(idx))
    features = {info.name: _leak_feature(X[info.name].iloc[idx], info) for info in kept}
    return [
        f"Column '{name}' alone predicts the target almost perfectly ({metric} {score:.3f}): "
        "check it is not derived from the target or only known after the outcome."
        for name, score, metric in leaking_columns(features, target, folds=folds, n_classes=n_classes,
                                                   problem_type=problem_type)
    ]


# --------------------------------------------------------------------------------------- entry point
def _check_target_present(df: pd.DataFrame, target: str) -> None:
    if target in df.columns:
        return
    names = [str(c) for c in df.columns]
    folded = {n.lower(): n for n in names}
    close = [folded[target.lower()]] if target.lower() in folded else []
    similar = difflib.get_close_matches(target.lower(), list(folded), n=3, cutoff=0.5)
    close += [folded[n] for n in similar if folded[n] not in close]
    if close:
        hint = "did you mean " + " or ".join(f"'{n}'" for n in close[:3]) + "?"
    else:
        more = " ..." if len(names) > 10 else ""
        hint = "the columns are " + ", ".join(f"'{n}'" for n in names[:10]) + more + "."
    raise DataError(f"Target column '{target}' is not in the table; {hint}")


def _check_frame(df: pd.DataFrame) -> pd.DataFrame:
    if not isinstance(df, pd.DataFrame):
        raise DataError(f"Training data must be a table (pandas DataFrame), not {type(df).__name__}.")
    if df.columns.size == 0 or len(df) == 0:
        raise DataError("The training table is empty; give a table with a header row and data rows.")
    names = pd.Index([str(c) for c in df.columns])
    dupes = sorted(set(names[names.duplicated()]))
    if dupes:
        raise DataError(
            f"Column names {', '.join(repr(d) for d in dupes)} appear more than once; rename them so "
            "every column name is unique."
        )
    return df.set_axis(names, axis=1)


def _data_warnings(columns: list[ColumnInfo], balance: dict[str, float] | None, target: str) -> list[str]:
    found = [
        f"Column '{c.name}' is {c.missing_rate:.0%} missing; its values may be of little use."
        for c in columns
        if not c.dropped and c.missing_rate > 0.5
    ]
    if balance:
        smallest = min(balance, key=balance.__getitem__)
        if balance[smallest] < 0.05 and balance[smallest] < 0.25 * max(balance.values()):
            found.append(
                f"Class '{smallest}' of target '{target}' is only {balance[smallest]:.1%} of the rows; "
                "predictions for it may be weak, so judge the model by a metric that weighs it."
            )
    return found


def prepare_training_data(df: pd.DataFrame, *, target: str, problem_type: str | None = None,
                          from_sample: bool = False) -> TrainingData:
    """Validate the table and target, infer every column's kind and collect a report for users.
    ``from_sample``: ``df`` is a sample of a larger table (see :func:`infer_columns`)."""
    df = _check_frame(df)
    _check_target_present(df, target)
    y_raw = df[target]
    y_all = clean_strings(y_raw) if is_string_like(y_raw) else y_raw
    keep = y_all.notna().to_numpy()
    if not keep.any():
        raise DataError(f"Target column '{target}' has no values; fill it in or choose another target.")
    n_dropped = int((~keep).sum())
    found: list[str] = []
    if n_dropped:
        found.append(f"{n_dropped:,} rows have no value in target '{target}' and were left out of training.")
    X = df.loc[keep].drop(columns=[target])
    y = y_all.loc[keep]
    if len(y) < MIN_ROWS:
        raise DataError(
            f"Only {len(y)} rows have a target value, fewer than the {MIN_ROWS} needed; add more rows."
        )
    ptype = _resolve_problem_type(y, problem_type, target)
    y, classes = _finalize_target(y, ptype, target)
    columns = infer_columns(X, from_sample=from_sample)
    summary, balance = _target_summary(y, ptype)
    found += _data_warnings(columns, balance, target)
    found += leakage_warnings(X, y, columns, ptype)
    report = DataReport(
        n_rows=len(y), n_columns=df.shape[1], target=target, problem_type=ptype, columns=columns,
        class_balance=balance, target_summary=summary, rows_dropped_missing_target=n_dropped,
        warnings=found,
    )
    return TrainingData(X=X, y=y, problem_type=ptype, report=report, classes=classes)
