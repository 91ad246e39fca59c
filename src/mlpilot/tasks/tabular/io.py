"""Reading user tables, and the value-parsing rules every later stage shares.

Users hand over whatever they have: a CSV written by Excel in latin-1 with semicolons, a Parquet file,
a DataFrame from a notebook. ``read_table`` turns all of them into one pandas DataFrame and rejects
the unusable ones with a :class:`DataError` that says how to fix the file, so no later stage has to
think about file formats. The helpers below (missing tokens, numbers and dates stored as text) live
here so that training and prediction read values in exactly the same way.
"""

from __future__ import annotations

import codecs
import csv
import os
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from mlpilot.engine.budget import available_memory, memory_allows
from mlpilot.errors import DataError

# Compared after stripping and lower-casing; spreadsheets and exports use all of these for "no value".
MISSING_TOKENS = frozenset({"", "na", "n/a", "nan", "null", "none", "?", "-", "#n/a", "<na>", "nil"})
_CSV_NA = sorted({"?", "-", "NA", "N/A", "n/a", "null", "NULL", "None", "none", "nil", "#N/A", "<NA>"})
TEXT_SUFFIXES = (".csv", ".tsv", ".txt")
PARQUET_SUFFIXES = (".parquet", ".pq")
JSON_SUFFIXES = (".json", ".jsonl")
SUPPORTED_SUFFIXES = TEXT_SUFFIXES + PARQUET_SUFFIXES + JSON_SUFFIXES
SAMPLE_BYTES = 64 * 1024


# --------------------------------------------------------------------------------------- values
def integer_valued(values: np.ndarray) -> bool:
    """True when every finite value is a whole number (and there is at least one)."""
    finite = values[np.isfinite(values)]
    return bool(finite.size and np.all(finite == np.round(finite)) and np.all(np.abs(finite) < 2**53))


def clean_strings(s: pd.Series) -> pd.Series:
    """Stripped strings with every usual missing token turned into NaN, so all readers agree.

    Each distinct value is cleaned once: a categorical column of a few thousand rows holds a handful,
    and cleaning every row was a third of the time a prediction spent preparing its input.
    """
    codes, uniques = pd.factorize(s)  # missing values get code -1
    if 2 * len(uniques) > len(s):  # mostly distinct values (free text, identifiers): nothing to share
        return _clean_each(s)
    # A plain loop over the few distinct values: pandas' string methods cost ~0.2 ms a call whatever
    # the length, more than the loop.
    whole = pd.api.types.is_float_dtype(s) and integer_valued(np.asarray(uniques, dtype="float64"))
    lookup = np.array([_clean_value(int(v) if whole else v) for v in uniques] + [np.nan], dtype=object)
    return pd.Series(lookup[codes], index=s.index, name=s.name, dtype="str")  # code -1 → the NaN at the end


def _clean_value(value: Any) -> Any:
    text = str(value).strip()
    return np.nan if text.lower() in MISSING_TOKENS else text


def _clean_each(s: pd.Series) -> pd.Series:
    if pd.api.types.is_float_dtype(s) and integer_valued(s.to_numpy(dtype="float64", na_value=np.nan)):
        s = s.astype("Int64")  # 1.0 -> "1", so integer categories match their string spelling
    out = s.astype("str").str.strip()
    return out.mask(out.str.lower().isin(MISSING_TOKENS))


def is_string_like(s: pd.Series) -> bool:
    return not (
        pd.api.types.is_bool_dtype(s)
        or pd.api.types.is_numeric_dtype(s)
        or pd.api.types.is_datetime64_any_dtype(s)
        or pd.api.types.is_timedelta64_dtype(s)
    )


def to_float(s: pd.Series) -> np.ndarray:
    """Float view of a numeric-like column; unparseable strings become NaN (callers check first)."""
    if pd.api.types.is_timedelta64_dtype(s):
        return s.dt.total_seconds().to_numpy(dtype="float64", na_value=np.nan)
    if pd.api.types.is_bool_dtype(s) or pd.api.types.is_numeric_dtype(s):
        return s.to_numpy(dtype="float64", na_value=np.nan)
    return pd.to_numeric(clean_strings(s), errors="coerce").to_numpy(dtype="float64", na_value=np.nan)


def parse_datetimes(s: pd.Series) -> pd.Series:
    """Naive timestamps (zone-aware columns keep their wall clock, text with offsets becomes UTC).

    Tries the fast single-format parse before the slow per-value one.
    """
    if pd.api.types.is_datetime64_any_dtype(s):
        return s if getattr(s.dt, "tz", None) is None else s.dt.tz_localize(None)
    strs = clean_strings(s)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            out = pd.to_datetime(strs, errors="coerce", utc=True)
        except (ValueError, TypeError, OverflowError):
            out = pd.Series(pd.NaT, index=s.index, dtype="datetime64[ns, UTC]")
        if out.isna().sum() > strs.isna().sum():
            try:
                mixed = pd.to_datetime(strs, errors="coerce", utc=True, format="mixed")
            except (ValueError, TypeError, OverflowError):
                mixed = out
            if mixed.notna().sum() > out.notna().sum():
                out = mixed
    return out.dt.tz_localize(None)


def epoch_days(stamps: pd.Series) -> np.ndarray:
    """Days since 1970 as floats (NaN for missing): a trend feature any model can use."""
    return ((stamps - pd.Timestamp(0)) / pd.Timedelta(days=1)).to_numpy(dtype="float64", na_value=np.nan)


# --------------------------------------------------------------------------------------- tables
def read_table(source: Any) -> pd.DataFrame:
    """A pandas DataFrame from a file path or an in-memory table; the caller's object is not changed."""
    if isinstance(source, pd.DataFrame):
        df = source.copy()
    elif isinstance(source, (str, os.PathLike)):
        df = _read_path(Path(source))
    elif type(source).__module__.split(".")[0] in ("polars", "pyarrow") and hasattr(source, "to_pandas"):
        df = source.to_pandas()  # polars DataFrame or pyarrow Table
    else:
        raise DataError(
            f"Cannot read a table from a {type(source).__name__}; pass a file path, a pandas or polars "
            "DataFrame, or a pyarrow Table."
        )
    return _check_table(df, where="The table")


def _check_table(df: pd.DataFrame, *, where: str) -> pd.DataFrame:
    if df.columns.size == 0:
        raise DataError(f"{where} has no columns; give a table with a header row and data rows.")
    names = pd.Index([str(c) for c in df.columns])
    _check_duplicates(list(names), where=where)
    if len(df) == 0:
        raise DataError(f"{where} has a header but no data rows; add at least one row of data.")
    return df.set_axis(names, axis=1)


def _check_duplicates(names: list[str], *, where: str) -> None:
    seen: set[str] = set()
    dupes = sorted({n for n in names if n in seen or seen.add(n)})
    if dupes:
        listed = ", ".join(f"'{d}'" for d in dupes)
        raise DataError(f"{where} has more than one column named {listed}; rename them so each is unique.")


def _read_path(path: Path) -> pd.DataFrame:
    if not path.exists():
        raise DataError(f"File '{path}' does not exist (current directory: {Path.cwd()}); check the path.")
    if path.is_dir():
        if not parquet_files(path):
            raise DataError(
                f"'{path}' is a folder without Parquet files; give the path of a data file, or a folder of "
                ".parquet files."
            )
        return _check_table(_read_parquet(path), where=f"Folder '{path}'")
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        raise DataError(
            f"File '{path}' has an unsupported extension '{suffix}'; use one of "
            f"{', '.join(SUPPORTED_SUFFIXES)}."
        )
    if path.stat().st_size == 0:
        raise DataError(f"File '{path}' is empty; give a file with a header row and data rows.")
    try:
        if suffix in PARQUET_SUFFIXES:
            df = pd.read_parquet(path)
        elif suffix in JSON_SUFFIXES:
            df = pd.read_json(path, lines=suffix == ".jsonl")
        else:
            df = _read_text(path)
    except DataError:
        raise
    except (OSError, ValueError, UnicodeError, pd.errors.ParserError, ImportError) as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise DataError(
            f"File '{path}' could not be read ({reason}); check it is a valid {suffix} file."
        ) from exc
    return _check_table(df, where=f"File '{path}'")


def is_dask_frame(data: Any) -> bool:
    """A Dask DataFrame (told apart without importing Dask)."""
    return type(data).__module__.split(".")[0] == "dask" and hasattr(data, "map_partitions")


def parquet_files(path: Path) -> list[Path]:
    """The Parquet files of a file or folder path (searched recursively, e.g. hive partitions)."""
    if path.is_dir():
        return sorted(p for p in path.rglob("*") if p.suffix.lower() in PARQUET_SUFFIXES)
    return [path] if path.suffix.lower() in PARQUET_SUFFIXES else []


def _read_parquet(path: Path) -> pd.DataFrame:
    try:
        return pd.read_parquet(path)
    except (OSError, ValueError, ImportError) as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise DataError(f"Parquet data '{path}' could not be read ({reason}); check its files.") from exc


# The training search holds the table about this many times: the raw table, its features, a fold's copy.
TABLE_COPIES = 3


def table_memory_bytes(path: Path) -> int:
    """Bytes the table at ``path`` takes once read: Parquet's uncompressed size, or a text file's size."""
    import pyarrow.parquet as pq

    files = parquet_files(path)
    if not files:
        return path.stat().st_size
    return sum(
        pq.ParquetFile(f).metadata.row_group(i).total_byte_size
        for f in files for i in range(pq.ParquetFile(f).metadata.num_row_groups)
    )


def check_fits_in_memory(source: Any) -> None:
    """Refuse a table file whose in-memory copies would not fit, pointing at out-of-memory training."""
    if not isinstance(source, (str, os.PathLike)) or not Path(source).exists():
        return  # in-memory tables are already in memory; a missing path gets read_table's message
    path = Path(source)
    need = TABLE_COPIES * table_memory_bytes(path)
    if memory_allows(need):
        return
    fix = (
        f"train on a Dask cluster, which reads it partition by partition: `mlpilot fit {path} --target COL "
        "--cluster local:4` (or cluster= in mlpilot.fit; docs/scale-out.md)"
        if parquet_files(path) else
        "save it as a folder of Parquet files and train on a Dask cluster with `--cluster` (docs/scale-out.md)"
    )
    raise DataError(
        f"Table '{path}' needs about {_size(need)} of memory to train on ({TABLE_COPIES}x its "
        f"{_size(need // TABLE_COPIES)}: the table, its features and a fold's copy), more than 80% of the "
        f"{_size(available_memory())} available; {fix}."
    )


def _size(n_bytes: int) -> str:
    return f"{n_bytes / 2**30:.2f} GiB" if n_bytes >= 2**30 else f"{n_bytes / 2**20:.1f} MiB"


def _detect_encoding(sample: bytes) -> str:
    """UTF-8 when the bytes decode as such (most files); otherwise charset_normalizer's best guess."""
    if sample.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    try:
        codecs.getincrementaldecoder("utf-8")().decode(sample, final=False)
        return "utf-8"
    except UnicodeDecodeError:
        pass
    try:
        from charset_normalizer import from_bytes

        matches = list(from_bytes(sample))
    except ImportError:
        return "utf-8"
    if not matches:
        return "utf-8"
    # Short samples fit many single-byte code pages equally well; Western Windows/Latin-1 exports are
    # by far the most common, so prefer cp1252 among the equally clean candidates.
    clean = [m for m in matches if m.chaos <= matches[0].chaos + 0.01]
    if any("cp1252" in m.could_be_from_charset for m in clean):
        return "cp1252"
    return matches[0].encoding


def _detect_delimiter(text: str, *, suffix: str) -> str:
    lines = [line for line in text.splitlines()[:50] if line.strip()]
    default = "\t" if suffix == ".tsv" else ","
    if not lines:
        return default
    try:
        return csv.Sniffer().sniff("\n".join(lines), delimiters=",;\t|").delimiter
    except csv.Error:
        counts = {d: lines[0].count(d) for d in (default, ",", ";", "\t", "|")}
        best = max(counts, key=counts.__getitem__)
        return best if counts[best] else default


def _read_text(path: Path) -> pd.DataFrame:
    with path.open("rb") as fh:
        sample = fh.read(SAMPLE_BYTES)
    encoding = _detect_encoding(sample)
    text = codecs.getincrementaldecoder(encoding)(errors="replace").decode(sample, final=False)
    if not text.strip():
        raise DataError(f"File '{path}' is empty; give a file with a header row and data rows.")
    sep = _detect_delimiter(text, suffix=path.suffix.lower())
    header = next(csv.reader([text.lstrip("\ufeff").splitlines()[0]], delimiter=sep))
    _check_duplicates(header, where=f"File '{path}'")
    options: dict[str, Any] = {"sep": sep, "encoding": encoding, "na_values": _CSV_NA}
    try:
        return pd.read_csv(path, engine="pyarrow", **options)
    except pd.errors.EmptyDataError:
        raise
    except Exception:  # the pyarrow engine is strict (ragged rows, odd quoting): the C engine copes
        try:
            return pd.read_csv(path, engine="c", low_memory=False, **options)
        except pd.errors.EmptyDataError as exc:
            raise DataError(f"File '{path}' has no columns; give a file with a header row.") from exc
