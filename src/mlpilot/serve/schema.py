"""Request and response models generated from a run's input schema, and row-by-row validation.

The models serve two purposes: ``/docs`` shows the real columns, types and known categories of the
model being served, and each JSON row is validated on its own so that a request can report every
bad row and column at once (or, with ``partial``, score the good rows anyway). Validation mirrors
what the feature pipeline accepts: numbers may arrive as numeric strings, categories as numbers,
missing values as ``null``; it rejects what the pipeline would reject or silently corrupt
(non-numeric text and infinities in numeric columns, unparseable dates, nested objects).
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import Annotated, Any

import pandas as pd
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationError,
    create_model,
)

NUMERIC, BOOLEAN, CATEGORICAL, DATETIME, TEXT = "numeric", "boolean", "categorical", "datetime", "text"
_EXPECTED = {
    NUMERIC: "a finite number (or a numeric string) or null",
    BOOLEAN: "true, false, or a yes/no style string, or null",
    CATEGORICAL: "a string (or a number) or null",
    DATETIME: "a date or date-time string such as '2024-01-31' or '2024-01-31T08:30:00', or null",
    TEXT: "a string or null",
}
Label = str | int | float | bool


class RowError(BaseModel):
    """One problem in one row (``row`` is its 0-based index in the request) and one column."""

    row: int | None = Field(description="0-based index of the row in the request; null for request-level errors")
    column: str | None = Field(description="The column at fault; null when the whole row or request is at fault")
    message: str


class ErrorResponse(BaseModel):
    errors: list[RowError]


# --------------------------------------------------------------------------------------- coercion
def _blank_to_none(value: Any) -> Any:
    return None if isinstance(value, str) and not value.strip() else value


def _scalar_to_str(value: Any) -> Any:
    """Numbers become their usual spelling (1.0 -> "1") so integer-coded categories match training."""
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            return None  # NaN/inf as a category means "no value", as the pipeline treats it
        return str(int(value)) if value.is_integer() and abs(value) < 2**53 else repr(value)
    return value


def _check_date(value: Any) -> Any:
    value = _blank_to_none(value)
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValueError("not a string")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            pd.to_datetime(value, utc=True, format="mixed")
        except (ValueError, TypeError, OverflowError):
            raise ValueError("not a date") from None
    return value


def _field_type(kind: str) -> Any:
    if kind == NUMERIC:
        # The finiteness constraint sits on the float alone: a blank string becomes None before it.
        return Annotated[Annotated[float, Field(allow_inf_nan=False)] | None, BeforeValidator(_blank_to_none)]
    if kind == BOOLEAN:
        return Annotated[bool | str | None, BeforeValidator(_blank_to_none)]
    if kind == DATETIME:
        return Annotated[str | None, BeforeValidator(_check_date)]
    return Annotated[str | None, BeforeValidator(_scalar_to_str)]


def _description(column: dict[str, Any]) -> str:
    text = f"{column['kind']} column"
    categories = column.get("categories")
    if categories:
        shown = ", ".join(repr(c) for c in categories[:20]) + (" ..." if len(categories) > 20 else "")
        text += f"; known values: {shown} (other values are accepted and treated as missing)"
    return text + "; null when unknown"


# --------------------------------------------------------------------------------------- models
@dataclass(frozen=True)
class ServingSchema:
    """Everything generated from one run: pydantic models, a request example, and the column kinds."""

    row_model: type[BaseModel]
    request_model: type[BaseModel]
    response_model: type[BaseModel]
    kinds: dict[str, str]
    example: dict[str, Any]

    @property
    def columns(self) -> list[str]:
        return list(self.kinds)


def build_schema(
    *, input_schema: list[dict[str, Any]], examples: dict[str, Any], classification: bool, max_rows: int
) -> ServingSchema:
    """Pydantic models whose JSON schema is this run's: one field per input column, all required."""
    fields: dict[str, Any] = {}
    example: dict[str, Any] = {}
    for column in input_schema:
        name, kind = column["name"], column["kind"]
        sample = _example_value(kind, examples.get(name))
        fields[name] = (_field_type(kind), Field(..., description=_description(column), examples=[sample]))
        example[name] = sample
    row_model = create_model("Row", __config__=ConfigDict(extra="ignore"), **fields)
    request_model = create_model(
        "PredictRequest",
        rows=(list[row_model], Field(..., max_length=max_rows, description=f"At most {max_rows} rows.")),
        partial=(bool, Field(False, description="Score the valid rows even when others are invalid.")),
    )
    request_model.model_config["json_schema_extra"] = {"examples": [{"rows": [example], "partial": False}]}
    outputs: dict[str, Any] = {
        "predictions": (list[Label | None], Field(..., description="One per row; null for an invalid row.")),
        "errors": (list[RowError], Field(default_factory=list, description="Invalid rows (partial requests).")),
    }
    if classification:
        outputs["probabilities"] = (
            list[dict[str, float] | None], Field(..., description="Per row: class label -> probability."),
        )
    response_model = create_model("PredictResponse", **outputs)
    kinds = {c["name"]: c["kind"] for c in input_schema}
    return ServingSchema(row_model=row_model, request_model=request_model, response_model=response_model,
                         kinds=kinds, example=example)


def _example_value(kind: str, raw: Any) -> Any:
    if raw is None:
        return None
    if kind == NUMERIC:
        try:
            value = float(raw)
        except (TypeError, ValueError):
            return None
        return int(value) if value.is_integer() else value
    return str(raw)


# --------------------------------------------------------------------------------------- validation
@dataclass
class Validated:
    """Valid rows as a frame (index = their position in the request), and every error found."""

    frame: pd.DataFrame
    errors: list[RowError]


def validate_rows(schema: ServingSchema, rows: list[Any]) -> Validated:
    """Validate all rows; the fast path validates the whole list at once, a failure re-checks row by row."""
    adapter = TypeAdapter(list[schema.row_model])
    try:
        good = adapter.validate_python(rows)
        return Validated(frame=_frame(schema, [r.model_dump() for r in good], list(range(len(rows)))), errors=[])
    except ValidationError:
        pass
    records: list[dict[str, Any]] = []
    positions: list[int] = []
    errors: list[RowError] = []
    for i, row in enumerate(rows):
        try:
            records.append(schema.row_model.model_validate(row).model_dump())
            positions.append(i)
        except ValidationError as exc:
            errors.extend(_row_errors(schema, i, exc))
    return Validated(frame=_frame(schema, records, positions), errors=errors)


def _row_errors(schema: ServingSchema, row: int, exc: ValidationError) -> list[RowError]:
    """One error per bad column (a union type reports each alternative; the user needs one sentence)."""
    found: dict[str | None, RowError] = {}
    for error in exc.errors(include_url=False):
        loc = error["loc"]
        column = str(loc[0]) if loc else None
        if column in found:
            continue
        if column is None:
            message = "Each row must be a JSON object mapping column names to values."
        elif error["type"] == "missing":
            message = f"Column '{column}' is missing; the model needs it (send null when the value is unknown)."
        else:
            got = _shorten(error.get("input"))
            message = f"Column '{column}' must be {_EXPECTED[schema.kinds[column]]}; got {got}."
        found[column] = RowError(row=row, column=column, message=message)
    return list(found.values())


def _shorten(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _frame(schema: ServingSchema, records: list[dict[str, Any]], positions: list[int]) -> pd.DataFrame:
    """Numeric columns as float64, the others as Python objects: the dtypes the pipeline expects."""
    data: dict[str, Any] = {}
    for name, kind in schema.kinds.items():
        values = [r[name] for r in records]
        if kind == NUMERIC:
            data[name] = pd.Series(values, dtype="float64", index=positions)
        else:
            data[name] = pd.Series(values, dtype=object, index=positions)
    return pd.DataFrame(data, index=pd.Index(positions))
