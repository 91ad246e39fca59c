"""Turning raw rows into the *native frame* every model family consumes.

The pipeline is fitted once on the training rows and then applied, unchanged, to every batch at
prediction time, including single rows behind an API, so every step is vectorised and all fitted
state is plain JSON plus numpy arrays: a saved run can be loaded without unpickling anything.
Text n-grams go through a stateless ``HashingVectorizer``; the idf weights and SVD components are
kept as arrays and applied as a matrix product, which is all ``TfidfTransformer`` and
``TruncatedSVD`` do at transform time.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy import sparse

from mlpilot.errors import ArtifactError, DataError
from mlpilot.tasks.tabular.inference import (
    BOOLEAN,
    CATEGORICAL,
    DATETIME,
    FALSE_TOKENS,
    NUMERIC,
    TEXT,
    TRUE_TOKENS,
    DataReport,
)
from mlpilot.tasks.tabular.io import clean_strings, epoch_days, is_string_like, parse_datetimes, to_float

OTHER = "__other__"
MIN_CATEGORY_COUNT = 2
HASH_FEATURES = 2**18
MAX_SVD_COMPONENTS = 20
MAX_TEXT_FIT_ROWS = 20_000
FORMAT_VERSION = 1
_BOOL_MAP = {**{t: 1.0 for t in TRUE_TOKENS}, **{f: 0.0 for f in FALSE_TOKENS}}
_SCHEMA_DTYPES = {NUMERIC: "float", BOOLEAN: "boolean", CATEGORICAL: "string", DATETIME: "datetime",
                  TEXT: "string"}


def _hasher() -> Any:
    from sklearn.feature_extraction.text import HashingVectorizer

    return HashingVectorizer(n_features=HASH_FEATURES, ngram_range=(1, 2), alternate_sign=False, norm=None)


def _unseen_note(strs: pd.Series, *, unseen: np.ndarray, name: str) -> list[str]:
    """A note on the values of ``strs`` where ``unseen`` is set (none when there are none)."""
    values = strs[np.asarray(unseen, dtype=bool)]
    if values.empty:
        return []
    shown = ", ".join(repr(str(v)) for v in values.unique()[:3])
    return [f"Column '{name}' has {len(values)} value(s) not seen in training (e.g. {shown}); "
            "they are treated as missing."]


# --------------------------------------------------------------------------------------- text
class _TextModel:
    """Hashed word 1-2 grams → tf-idf (l2) → SVD, with only the state needed to repeat it."""

    def __init__(self, *, used: np.ndarray, idf: np.ndarray, idf_unseen: float, components: np.ndarray):
        self.used, self.idf, self.idf_unseen, self.components = used, idf, idf_unseen, components
        self._weights = np.full(HASH_FEATURES, idf_unseen)
        self._weights[used] = idf

    @classmethod
    def fit(cls, texts: pd.Series, *, seed: int = 0) -> _TextModel:
        from sklearn.decomposition import TruncatedSVD

        texts = texts.dropna()
        if len(texts) > MAX_TEXT_FIT_ROWS:
            texts = texts.sample(MAX_TEXT_FIT_ROWS, random_state=seed)
        counts = _hasher().transform(texts.tolist())
        n_docs = counts.shape[0]
        doc_freq = np.bincount(counts.indices, minlength=HASH_FEATURES)
        used = np.flatnonzero(doc_freq)
        idf = np.log((1.0 + n_docs) / (1.0 + doc_freq[used])) + 1.0  # TfidfTransformer(smooth_idf=True)
        model = cls(used=used, idf=idf, idf_unseen=float(np.log(1.0 + n_docs) + 1.0),
                    components=np.zeros((0, len(used))))
        k = min(MAX_SVD_COMPONENTS, len(used) - 1, max(2, n_docs // 25), n_docs - 1)
        if k >= 1:
            svd = TruncatedSVD(n_components=k, random_state=seed).fit(model._tfidf(counts))
            model.components = svd.components_.astype(np.float64)
        return model

    def _tfidf(self, counts: sparse.csr_matrix) -> sparse.csr_matrix:
        """l2-normalised tf-idf restricted to the n-grams seen at fit (the norm counts all of them)."""
        weighted = sparse.csr_matrix(counts, dtype=np.float64, copy=True)
        weighted.data *= self._weights[weighted.indices]
        norms = np.sqrt(np.asarray(weighted.multiply(weighted).sum(axis=1)).ravel())
        scale = np.divide(1.0, norms, out=np.zeros_like(norms), where=norms > 0)
        return sparse.diags(scale) @ weighted[:, self.used]

    def transform(self, texts: pd.Series) -> np.ndarray:
        counts = _hasher().transform(texts.fillna("").tolist())
        out = np.asarray(self._tfidf(counts) @ self.components.T, dtype=np.float64)
        out[texts.isna().to_numpy()] = np.nan
        return out


def _text_stats(texts: pd.Series) -> dict[str, np.ndarray]:
    n_chars = texts.str.len().to_numpy(dtype="float64", na_value=np.nan)
    denom = np.where(n_chars > 0, n_chars, np.nan)

    def share(pattern: str) -> np.ndarray:
        counts = texts.str.count(pattern).to_numpy(dtype="float64", na_value=np.nan)
        return np.where(n_chars > 0, counts / denom, np.where(np.isnan(n_chars), np.nan, 0.0))

    return {
        "n_chars": n_chars,
        "n_words": texts.str.count(r"\S+").to_numpy(dtype="float64", na_value=np.nan),
        "frac_upper": share(r"[A-Z]"),
        "frac_digits": share(r"\d"),
    }


_DATE_PARTS = ("year", "month", "day", "dayofweek", "dayofyear")


def _date_features(stamps: pd.Series, *, with_time: bool) -> dict[str, np.ndarray]:
    parts = [*_DATE_PARTS, "hour"] if with_time else list(_DATE_PARTS)
    out = {p: getattr(stamps.dt, p).to_numpy(dtype="float64", na_value=np.nan) for p in parts}
    out["epoch_days"] = epoch_days(stamps)
    return out


# --------------------------------------------------------------------------------------- pipeline
class FeaturePipeline:
    """Raw table → native frame (float64 and fixed ``category`` columns), fitted once, saved as JSON."""

    def __init__(self, report: DataReport):
        self.report = report
        self.columns_ = [c for c in report.columns if not c.dropped]
        self.specs_: dict[str, dict[str, Any]] = {}
        self.text_models_: dict[str, _TextModel] = {}
        self.feature_names_: list[str] = []
        self.source_columns_: dict[str, str] = {}
        self._dtypes: dict[str, pd.CategoricalDtype] = {}

    @property
    def input_columns(self) -> list[str]:
        return [c.name for c in self.columns_]

    # ----------------------------------------------------------------------------- fit
    def fit(self, X: pd.DataFrame) -> FeaturePipeline:
        """Fix categories, date parts and text projections on the training rows."""
        missing = [c for c in self.input_columns if c not in X.columns]
        if missing:
            raise DataError(f"Training rows lack columns {', '.join(repr(m) for m in missing)}.")
        for col in self.columns_:
            s = X[col.name]
            spec: dict[str, Any] = {"kind": col.kind}
            if col.kind == CATEGORICAL:
                spec.update(_fit_categories(s))
            elif col.kind == DATETIME:
                stamps = parse_datetimes(s).dropna()
                spec["with_time"] = bool(
                    len(stamps) and (stamps.dt.hour.nunique() > 1 or stamps.dt.minute.nunique() > 1)
                )
            elif col.kind == TEXT:
                self.text_models_[col.name] = _TextModel.fit(clean_strings(s))
            self.specs_[col.name] = spec
        self._finish()
        return self

    def _finish(self) -> None:
        """Derive the category dtypes and the output column order from the fitted specs."""
        self._dtypes = {
            name: pd.CategoricalDtype(spec["categories"])
            for name, spec in self.specs_.items()
            if spec["kind"] == CATEGORICAL
        }
        empty = pd.DataFrame({c.name: pd.Series([None], dtype=object) for c in self.columns_})
        self.feature_names_ = list(self.transform(empty).columns)
        self.source_columns_ = {f: self._source_of(f) for f in self.feature_names_}

    def _source_of(self, feature: str) -> str:
        if feature in self.specs_:
            return feature
        return next(n for n in self.specs_ if feature.startswith(n + "__"))

    # ----------------------------------------------------------------------------- transform
    def transform(self, X: pd.DataFrame, *, notes: list[str] | None = None) -> pd.DataFrame:
        """Native frame in the fitted column order; unknown categories and bad values become NaN.

        With a ``notes`` list, a note is added to it for each categorical or boolean column holding
        values training never saw (read off the encoded column, so the strings are cleaned once).
        """
        out: dict[str, Any] = {}
        for col in self.columns_:
            s = X[col.name]
            kind = self.specs_[col.name]["kind"]
            if kind == NUMERIC:
                out[col.name] = to_float(s)
            elif kind == BOOLEAN:
                strs = clean_strings(s).str.lower()
                out[col.name] = strs.map(_BOOL_MAP).to_numpy(dtype="float64", na_value=np.nan)
                if notes is not None:
                    notes.extend(_unseen_note(strs, unseen=strs.notna() & np.isnan(out[col.name]), name=col.name))
            elif kind == CATEGORICAL:
                out[col.name] = self._categorical(s, col.name, notes=notes)
            elif kind == DATETIME:
                parts = _date_features(parse_datetimes(s), with_time=self.specs_[col.name]["with_time"])
                out.update({f"{col.name}__{p}": v for p, v in parts.items()})
            elif kind == TEXT:
                out.update(self._text(s, col.name))
        return pd.DataFrame(out, index=X.index)

    def _categorical(self, s: pd.Series, name: str, *, notes: list[str] | None = None) -> pd.Categorical:
        strs = clean_strings(s)
        rare = self.specs_[name]["rare"]
        if rare:
            strs = strs.mask(strs.isin(rare), OTHER)
        encoded = pd.Categorical(strs, dtype=self._dtypes[name])
        if notes is not None:
            notes.extend(_unseen_note(strs, unseen=strs.notna().to_numpy() & (encoded.codes == -1), name=name))
        return encoded

    def _text(self, s: pd.Series, name: str) -> dict[str, np.ndarray]:
        texts = clean_strings(s)
        out = {f"{name}__{k}": v for k, v in _text_stats(texts).items()}
        projected = self.text_models_[name].transform(texts)
        out.update({f"{name}__svd{i}": projected[:, i] for i in range(projected.shape[1])})
        return out

    # ----------------------------------------------------------------------------- predict-time checks
    def check_input(self, X: pd.DataFrame) -> tuple[pd.DataFrame, list[str]]:
        """Align prediction rows to the training columns; fail on what would silently corrupt scores.

        Values training never saw are noted by :meth:`transform` (given a ``notes`` list), which
        encodes the categories anyway.
        """
        needed = self.input_columns
        missing = [c for c in needed if c not in X.columns]
        if missing:
            raise DataError(
                f"The input lacks {len(missing)} column(s) the model needs: "
                f"{', '.join(repr(m) for m in missing)}; add them (values may be empty)."
            )
        notes: list[str] = []
        known = set(needed) | {c.name for c in self.report.columns} | {self.report.target}
        extra = [str(c) for c in X.columns if c not in known]
        if extra:
            shown = ", ".join(repr(e) for e in extra[:10]) + (" ..." if len(extra) > 10 else "")
            notes.append(f"Ignored {len(extra)} column(s) the model does not use: {shown}.")
        aligned = X[needed].copy()
        for col in self.columns_:
            kind = self.specs_[col.name]["kind"]
            if kind == NUMERIC:
                aligned[col.name] = _strict_float(X[col.name], col.name)
            elif kind == DATETIME:
                _check_dates(X[col.name], col.name)
        return aligned, notes

    # ----------------------------------------------------------------------------- schema & storage
    def input_schema(self) -> list[dict[str, Any]]:
        """One entry per input column the model reads, for API validation and documentation."""
        schema = []
        for col in self.columns_:
            spec = self.specs_[col.name]
            categories = None
            if col.kind == CATEGORICAL:
                categories = sorted([c for c in spec["categories"] if c != OTHER] + spec["rare"])
            elif col.kind == BOOLEAN:
                categories = list(col.categories or ["False", "True"])
            schema.append({"name": col.name, "kind": col.kind, "dtype": _SCHEMA_DTYPES[col.kind],
                           "categories": categories, "nullable": True})
        return schema

    def save(self, directory: Path) -> None:
        """``pipeline.json`` plus ``pipeline_arrays.npz``: inspectable, and safe to load."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        arrays: dict[str, np.ndarray] = {}
        text_state = {}
        for i, (name, model) in enumerate(self.text_models_.items()):
            key = f"text{i}"
            arrays.update({f"{key}_used": model.used, f"{key}_idf": model.idf,
                           f"{key}_components": model.components})
            text_state[name] = {"key": key, "idf_unseen": model.idf_unseen}
        doc = {"format_version": FORMAT_VERSION, "report": self.report.to_dict(), "specs": self.specs_,
               "text": text_state, "feature_names": self.feature_names_}
        (directory / "pipeline.json").write_text(json.dumps(doc, indent=1))
        np.savez(directory / "pipeline_arrays.npz", **arrays)

    @classmethod
    def load(cls, directory: Path) -> FeaturePipeline:
        """Rebuild from JSON and arrays (``allow_pickle=False``); the output matches the saved pipeline."""
        directory = Path(directory)
        try:
            doc = json.loads((directory / "pipeline.json").read_text())
            with np.load(directory / "pipeline_arrays.npz", allow_pickle=False) as npz:
                arrays = {k: npz[k] for k in npz.files}
            pipeline = cls(DataReport.from_dict(doc["report"]))
            pipeline.specs_ = doc["specs"]
            for name, state in doc["text"].items():
                key = state["key"]
                pipeline.text_models_[name] = _TextModel(
                    used=arrays[f"{key}_used"], idf=arrays[f"{key}_idf"], idf_unseen=state["idf_unseen"],
                    components=arrays[f"{key}_components"],
                )
            pipeline._finish()
        except (OSError, KeyError, ValueError, TypeError) as exc:
            raise ArtifactError(
                f"The feature pipeline in '{directory}' could not be loaded ({exc}); re-run fit."
            ) from exc
        if pipeline.feature_names_ != doc["feature_names"]:
            raise ArtifactError(f"The feature pipeline in '{directory}' is inconsistent; re-run fit.")
        return pipeline


# --------------------------------------------------------------------------------------- helpers
def _fit_categories(s: pd.Series) -> dict[str, Any]:
    """Categories seen at least twice; the rest share one ``__other__`` level so models can pool them."""
    counts = clean_strings(s).value_counts()
    common = sorted(str(v) for v in counts.index[counts >= MIN_CATEGORY_COUNT])
    rare = sorted(str(v) for v in counts.index[counts < MIN_CATEGORY_COUNT])
    categories = [*common, OTHER] if rare else common
    return {"categories": categories, "rare": rare}


def _strict_float(s: pd.Series, name: str) -> pd.Series:
    if not is_string_like(s):
        values = to_float(s)
    else:
        strs = clean_strings(s)
        values = pd.to_numeric(strs, errors="coerce").to_numpy(dtype="float64", na_value=np.nan)
        bad = strs.notna().to_numpy() & np.isnan(values)
        if bad.any():
            pos = int(np.flatnonzero(bad)[0])
            raise DataError(
                f"Column '{name}' must be numeric but holds '{strs.iloc[pos]}' at row {s.index[pos]}; "
                "correct that value or leave it empty."
            )
    if np.isinf(values).any():
        pos = int(np.flatnonzero(np.isinf(values))[0])
        raise DataError(
            f"Column '{name}' has an infinite value at row {s.index[pos]}; replace it with a finite "
            "value or leave it empty."
        )
    return pd.Series(values, index=s.index, name=s.name)


def _check_dates(s: pd.Series, name: str) -> None:
    if pd.api.types.is_datetime64_any_dtype(s):
        return
    strs = clean_strings(s)
    bad = strs.notna() & parse_datetimes(s).isna()
    if bad.any():
        pos = int(np.flatnonzero(bad.to_numpy())[0])
        raise DataError(
            f"Column '{name}' must hold dates but holds '{strs.iloc[pos]}' at row {s.index[pos]}; "
            "correct that value or leave it empty."
        )
