"""Plain descriptions of the pipeline's output columns: what each feature is and how it is computed.

Shared by the ONNX sidecar JSON (a consumer must build the input matrix) and the Python export
(comments in the generated script).
"""

from __future__ import annotations

from typing import Any

from mlpilot.tasks.tabular.features import OTHER
from mlpilot.tasks.tabular.inference import BOOLEAN, CATEGORICAL, DATETIME, FALSE_TOKENS, NUMERIC, TEXT, TRUE_TOKENS

_DATE_PARTS = {
    "year": "calendar year", "month": "month 1-12", "day": "day of month 1-31",
    "dayofweek": "day of week, Monday=0", "dayofyear": "day of year 1-366", "hour": "hour 0-23",
    "epoch_days": "days since 1970-01-01 (fractional)",
}
_TEXT_STATS = {
    "n_chars": "number of characters", "n_words": "number of whitespace-separated words",
    "frac_upper": "share of characters that are A-Z", "frac_digits": "share of characters that are digits",
}


def feature_table(pipeline: Any) -> list[dict[str, Any]]:
    """One entry per feature, in the matrix's column order."""
    rows = []
    for feature in pipeline.feature_names_:
        source = pipeline.source_columns_[feature]
        spec = pipeline.specs_[source]
        entry: dict[str, Any] = {"name": feature, "source_column": source, "kind": spec["kind"]}
        entry.update(_how(feature, source, spec))
        rows.append(entry)
    return rows


def _how(feature: str, source: str, spec: dict[str, Any]) -> dict[str, Any]:
    kind = spec["kind"]
    if kind == NUMERIC:
        return {"computed": f"'{source}' as a number"}
    if kind == BOOLEAN:
        return {"computed": f"1 when '{source}' is one of {sorted(TRUE_TOKENS)}, 0 when one of "
                            f"{sorted(FALSE_TOKENS)} (case-insensitive), else missing"}
    if kind == CATEGORICAL:
        rare = spec["rare"]
        how = f"position of '{source}' in `categories` (0-based); unseen values are missing"
        if rare:
            how += f"; the rare values in `rare` count as '{OTHER}'"
        return {"computed": how, "categories": spec["categories"], "rare": rare}
    part = feature[len(source) + 2:]
    if kind == DATETIME:
        return {"computed": f"{_DATE_PARTS[part]} of the date/time in '{source}'"}
    if kind == TEXT and part in _TEXT_STATS:
        return {"computed": f"{_TEXT_STATS[part]} of '{source}'"}
    return {"computed": f"component {part[3:]} of the hashed word 1-2-gram TF-IDF of '{source}' projected by "
                        "the fitted SVD (see the Python export's prepare code)"}
