from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mlpilot.errors import DataError
from mlpilot.tasks.tabular.io import _clean_each, clean_strings, read_table


def _frame() -> pd.DataFrame:
    return pd.DataFrame({"a": [1, 2, 3], "b": ["x", "y", "z"], "c": [0.5, 1.5, 2.5]})


@pytest.mark.parametrize(("sep", "name"), [(",", "t.csv"), (";", "t.csv"), ("\t", "t.tsv"), ("\t", "t.txt"),
                                           ("|", "t.csv")])
def test_csv_delimiters_are_detected(tmp_path: Path, sep: str, name: str) -> None:
    path = tmp_path / name
    path.write_text(sep.join(["a", "b", "c"]) + "\n" + "\n".join(
        sep.join([str(i), f"v{i}", f"{i}.5"]) for i in range(20)) + "\n")
    df = read_table(path)
    assert list(df.columns) == ["a", "b", "c"]
    assert len(df) == 20
    assert df["a"].tolist() == list(range(20))
    assert df["c"].iloc[3] == 3.5


def test_single_column_csv(tmp_path: Path) -> None:
    path = tmp_path / "one.csv"
    path.write_text("value\n1\n2\n3\n")
    assert read_table(path)["value"].tolist() == [1, 2, 3]


def test_latin1_encoding_is_detected(tmp_path: Path) -> None:
    path = tmp_path / "latin.csv"
    rows = ["ville;prix"] + [f"{town};{i}" for i, town in enumerate(["Zürich", "Orléans", "Besançon"] * 10)]
    path.write_bytes(("\n".join(rows) + "\n").encode("latin-1"))
    df = read_table(path)
    assert list(df.columns) == ["ville", "prix"]
    assert df["ville"].iloc[1] == "Orléans"
    assert df["ville"].iloc[2] == "Besançon"


def test_utf8_bom_is_stripped(tmp_path: Path) -> None:
    path = tmp_path / "bom.csv"
    path.write_bytes(b"\xef\xbb\xbfname,score\nAnna,1\nBj\xc3\xb6rn,2\n")
    df = read_table(path)
    assert list(df.columns) == ["name", "score"]
    assert df["name"].iloc[1] == "Björn"


def test_missing_tokens_and_empty_strings_are_nan(tmp_path: Path) -> None:
    path = tmp_path / "na.csv"
    path.write_text("a,b\n1,x\n,?\nNA,-\n4,N/A\n5,null\n")
    df = read_table(path)
    assert df["a"].isna().tolist() == [False, True, True, False, False]
    assert df["b"].isna().tolist() == [False, True, True, True, True]


def test_clean_strings_strips_and_blanks_missing_tokens_keeping_the_index() -> None:
    s = pd.Series([" a", "b ", None, "NA", "a", "?", "b", "a"], index=range(10, 18), name="plan")
    out = clean_strings(s)
    assert out.index.equals(s.index) and out.name == "plan"
    assert out.tolist()[:2] == ["a", "b"]
    assert out.isna().tolist() == [False, False, True, True, False, True, False, False]
    assert clean_strings(pd.Series([1.0, 2.0, np.nan, 1.0])).tolist()[:2] == ["1", "2"]  # integer floats as integers


@pytest.mark.parametrize("values", [
    pd.Series([" a", "b ", None, "NA", "a", "?", "b", "a"] * 5),
    pd.Series([1.0, 2.0, np.nan, 1.0, -0.0] * 8),
    pd.Series([1.5, 2.0, np.nan] * 10),
    pd.Series(pd.Categorical(["x", "y", None, "x"] * 10)),
    pd.Series([True, False, True] * 10),
    pd.Series(["u", " V ", "None"] * 10, dtype="string[pyarrow]"),
    pd.Series([1, "1", " 1", None, 2**60] * 5, dtype=object),
    pd.Series([np.nan] * 6),
    pd.Series([], dtype=object),
    pd.Series(["a", "b", "c"]),  # mostly distinct: cleaned row by row
])
def test_clean_strings_by_distinct_value_matches_row_by_row(values: pd.Series) -> None:
    pd.testing.assert_series_equal(clean_strings(values), _clean_each(values))


def test_ragged_csv_falls_back_or_fails_cleanly(tmp_path: Path) -> None:
    path = tmp_path / "ragged.csv"
    path.write_text("a,b\n1,2\n3,4,5,6\n")
    try:
        df = read_table(path)
    except DataError as exc:
        assert "could not be read" in str(exc)
    else:
        assert list(df.columns)[:2] == ["a", "b"]


def test_parquet_and_json(tmp_path: Path) -> None:
    frame = _frame()
    frame.to_parquet(tmp_path / "t.parquet")
    frame.to_parquet(tmp_path / "t.pq")
    frame.to_json(tmp_path / "t.json", orient="records")
    frame.to_json(tmp_path / "t.jsonl", orient="records", lines=True)
    for name in ("t.parquet", "t.pq", "t.json", "t.jsonl"):
        df = read_table(str(tmp_path / name))
        assert df["a"].tolist() == [1, 2, 3], name
        assert df["b"].tolist() == ["x", "y", "z"], name


def test_in_memory_tables() -> None:
    import polars as pl
    import pyarrow as pa

    frame = _frame()
    copy = read_table(frame)
    copy.loc[0, "a"] = 99
    assert frame.loc[0, "a"] == 1  # the caller's frame is untouched
    for source in (pl.from_pandas(frame), pa.Table.from_pandas(frame)):
        df = read_table(source)
        assert isinstance(df, pd.DataFrame)
        assert df["b"].tolist() == ["x", "y", "z"]
        np.testing.assert_allclose(df["c"].to_numpy(), [0.5, 1.5, 2.5])


def test_missing_file_names_path_and_cwd(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"nope\.csv' does not exist \(current directory"):
        read_table(tmp_path / "nope.csv")


def test_unknown_extension_lists_supported(tmp_path: Path) -> None:
    path = tmp_path / "t.xlsx"
    path.write_bytes(b"PK")
    with pytest.raises(DataError, match=r"unsupported extension '\.xlsx'.*\.csv.*\.parquet"):
        read_table(path)


def test_directory_is_rejected(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="is a folder"):
        read_table(tmp_path)


@pytest.mark.parametrize("content", [b"", b"\n\n  \n"])
def test_empty_file(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "e.csv"
    path.write_bytes(content)
    with pytest.raises(DataError, match="is empty"):
        read_table(path)


def test_header_only(tmp_path: Path) -> None:
    path = tmp_path / "h.csv"
    path.write_text("a,b,c\n")
    with pytest.raises(DataError, match="header but no data rows"):
        read_table(path)


def test_duplicate_columns_in_csv_header(tmp_path: Path) -> None:
    path = tmp_path / "d.csv"
    path.write_text("a,b,a,c,b\n1,2,3,4,5\n")
    with pytest.raises(DataError, match="more than one column named 'a', 'b'"):
        read_table(path)


def test_duplicate_columns_in_frame() -> None:
    frame = pd.DataFrame([[1, 2]], columns=["x", "x"])
    with pytest.raises(DataError, match="more than one column named 'x'"):
        read_table(frame)


def test_empty_frame() -> None:
    with pytest.raises(DataError, match="no columns"):
        read_table(pd.DataFrame())
    with pytest.raises(DataError, match="no data rows"):
        read_table(pd.DataFrame({"a": []}))


def test_corrupt_parquet(tmp_path: Path) -> None:
    path = tmp_path / "bad.parquet"
    path.write_bytes(b"this is not parquet at all")
    with pytest.raises(DataError, match=r"could not be read.*valid \.parquet file"):
        read_table(path)


def test_unsupported_type() -> None:
    with pytest.raises(DataError, match="Cannot read a table from a list"):
        read_table([[1, 2], [3, 4]])
