"""Batch scoring for ``mlpilot predict``: files of any size, in chunks, with bounded memory.

CSV and Parquet inputs are read ``chunk_rows`` rows at a time and every chunk's predictions are
appended to a temporary file beside the output, which is renamed into place only once the last
chunk is written: a crash or Ctrl-C never leaves a half-written output that looks complete. Anything
the chunked readers do not handle (other formats, empty files, duplicate header names...) goes through
the in-memory reader, which also words the error for the user.
"""

from __future__ import annotations

import codecs
import csv
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import pandas as pd
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from mlpilot import api
from mlpilot.cli.display import err_console

CHUNK_ROWS = 100_000
CSV_SUFFIXES = (".csv", ".tsv", ".txt")
PARQUET_SUFFIXES = (".parquet", ".pq")
SAMPLE_BYTES = 64 * 1024
MAX_NOTES = 5


@dataclass
class ChunkSource:
    """Frames of at most ``chunk_rows`` rows; ``done()`` says how far along ``total`` the reading is."""

    chunks: Iterator[pd.DataFrame]
    total: float
    unit: str
    done: Callable[[], float] = field(default=lambda: 0)


@dataclass
class BatchResult:
    rows: int
    notes: list[str]


def score_frame(model: api.Predictor, data: Any) -> pd.DataFrame:
    """``predicted_<target>`` plus ``proba_<label>`` per class, one line per input row."""
    labels, proba = model.predict_with_proba(data)
    result = labels.to_frame(name=f"predicted_{model.target}")
    if proba is not None:
        result = result.join(proba.add_prefix("proba_"))
    return result


def predict_file(
    model: api.Predictor, data: str, *, out: Path | None, chunk_rows: int = CHUNK_ROWS, show_progress: bool = True
) -> BatchResult:
    """Score ``data`` (a path) chunk by chunk into ``out`` (CSV or Parquet by suffix; CSV on stdout if None)."""
    source = open_chunks(Path(data), chunk_rows=chunk_rows)
    if source is None:  # not chunkable: the in-memory path reads it (and explains what is wrong with it)
        frame = score_frame(model, data)
        source = ChunkSource(chunks=iter([frame]), total=len(frame), unit="rows")
        scored: Iterator[pd.DataFrame] = source.chunks
        notes = list(model.notes)
    else:
        notes = []
        scored = _scored_chunks(model, source, notes)
    rows = 0
    with _output(out) as writer, _progress(source, enabled=show_progress) as advance:
        for frame in scored:
            writer.write(frame)
            rows += len(frame)
            advance()
    return BatchResult(rows=rows, notes=notes[:MAX_NOTES])


def _scored_chunks(model: api.Predictor, source: ChunkSource, notes: list[str]) -> Iterator[pd.DataFrame]:
    for chunk in source.chunks:
        result = score_frame(model, chunk)
        notes.extend(n for n in model.notes if n not in notes)
        yield result


# --------------------------------------------------------------------------------------- reading
def open_chunks(path: Path, *, chunk_rows: int) -> ChunkSource | None:
    """A chunked reader for a non-empty CSV/TSV/Parquet file, or None to read it whole instead."""
    suffix = path.suffix.lower()
    if not path.is_file() or path.stat().st_size == 0 or suffix not in CSV_SUFFIXES + PARQUET_SUFFIXES:
        return None
    source = _parquet_chunks(path, chunk_rows) if suffix in PARQUET_SUFFIXES else _csv_chunks(path, chunk_rows)
    if source is None:
        return None
    first = next(source.chunks, None)
    if first is None or first.empty:  # header only: the in-memory reader words that error
        return None
    source.chunks = _prepend(first, source.chunks)
    return source


def _prepend(first: pd.DataFrame, rest: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
    yield first
    yield from rest


def _csv_chunks(path: Path, chunk_rows: int) -> ChunkSource | None:
    encoding, sep, header = _sniff(path)
    if header is None or len(set(header)) != len(header):
        return None
    handle = path.open("rb")
    reader = pd.read_csv(handle, sep=sep, encoding=encoding, encoding_errors="replace",
                         chunksize=chunk_rows)
    return ChunkSource(chunks=_closing(reader, handle), total=path.stat().st_size, unit="bytes", done=handle.tell)


def _closing(reader: Any, handle: IO[bytes]) -> Iterator[pd.DataFrame]:
    try:
        yield from reader
    finally:
        reader.close()
        handle.close()


def _sniff(path: Path) -> tuple[str, str, list[str] | None]:
    """Encoding, delimiter and header of a text table, guessed from its first 64 KiB."""
    with path.open("rb") as fh:
        sample = fh.read(SAMPLE_BYTES)
    encoding = "utf-8-sig" if sample.startswith(codecs.BOM_UTF8) else "utf-8"
    try:
        codecs.getincrementaldecoder(encoding)().decode(sample, final=False)
    except UnicodeDecodeError:
        encoding = "cp1252"  # by far the most common non-UTF-8 export (Excel on Windows)
    text = codecs.getincrementaldecoder(encoding)(errors="replace").decode(sample, final=False)
    lines = [line for line in text.splitlines()[:50] if line.strip()]
    if not lines:
        return encoding, ",", None
    default = "\t" if path.suffix.lower() == ".tsv" else ","
    try:
        sep = csv.Sniffer().sniff("\n".join(lines), delimiters=",;\t|").delimiter
    except csv.Error:
        sep = default
    header = next(csv.reader([lines[0].lstrip("\ufeff")], delimiter=sep))
    return encoding, sep, [h.strip() for h in header]


def _parquet_chunks(path: Path, chunk_rows: int) -> ChunkSource | None:
    import pyarrow.parquet as pq

    try:
        parquet = pq.ParquetFile(path)
    except (OSError, ValueError):
        return None  # not a valid Parquet file: the in-memory reader says so
    total = parquet.metadata.num_rows
    state = {"rows": 0}

    def frames() -> Iterator[pd.DataFrame]:
        try:
            for batch in parquet.iter_batches(batch_size=chunk_rows):
                frame = batch.to_pandas()
                frame.index = pd.RangeIndex(state["rows"], state["rows"] + len(frame))
                state["rows"] += len(frame)
                yield frame
        finally:
            parquet.close()

    return ChunkSource(chunks=frames(), total=total, unit="rows", done=lambda: state["rows"])


# --------------------------------------------------------------------------------------- writing
class _CsvWriter:
    def __init__(self, handle: IO[str], *, owned: bool) -> None:
        self.handle, self.owned, self.header = handle, owned, True

    def write(self, frame: pd.DataFrame) -> None:
        frame.to_csv(self.handle, index=False, header=self.header)
        self.header = False

    def close(self) -> None:
        if self.owned:
            self.handle.close()
        else:
            self.handle.flush()


class _ParquetWriter:
    def __init__(self, path: Path) -> None:
        self.path, self.writer, self.schema = path, None, None

    def write(self, frame: pd.DataFrame) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        # Every chunk is cast to the first one's schema, so a chunk whose labels happen to look numeric
        # cannot change a column's type halfway through the file.
        table = pa.Table.from_pandas(frame, schema=self.schema, preserve_index=False)
        if self.writer is None:
            self.schema = table.schema
            self.writer = pq.ParquetWriter(self.path, self.schema)
        self.writer.write_table(table)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


@contextmanager
def _output(out: Path | None) -> Iterator[Any]:
    """A chunk writer; file outputs go to a temporary sibling renamed into place only on success."""
    if out is None:
        writer = _CsvWriter(sys.stdout, owned=False)
        yield writer
        writer.close()
        return
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp-{os.getpid()}")
    try:
        if out.suffix.lower() in PARQUET_SUFFIXES:
            writer: Any = _ParquetWriter(tmp)
        else:
            writer = _CsvWriter(tmp.open("w", newline="", encoding="utf-8"), owned=True)
        try:
            yield writer
        finally:
            writer.close()
        os.replace(tmp, out)
    finally:
        tmp.unlink(missing_ok=True)


@contextmanager
def _progress(source: ChunkSource, *, enabled: bool) -> Iterator[Any]:
    """A progress bar on stderr (only on a terminal); yields the function to call after each chunk."""
    if not (enabled and err_console.is_terminal):
        yield lambda: None
        return
    bar = Progress(TextColumn("[bold]scoring"), BarColumn(), TaskProgressColumn(), TextColumn("{task.fields[rows]}"),
                   TimeElapsedColumn(), TimeRemainingColumn(), console=err_console, transient=True)
    task = bar.add_task("scoring", total=source.total or None, rows="")
    written = {"rows": 0}

    def advance() -> None:
        written["rows"] += 1
        bar.update(task, completed=source.done(), rows=f"{written['rows']} chunk(s)")

    with bar:
        yield advance
