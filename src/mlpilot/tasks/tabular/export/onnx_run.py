"""``export --format onnx`` end to end: convert, check against mlpilot, write graph and sidecar."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from mlpilot.errors import ConfigError
from mlpilot.tasks.tabular.export import ExportResult
from mlpilot.tasks.tabular.export.onnx_export import (
    PROBA_TOLERANCE,
    Member,
    check,
    convert_members,
    describe,
    write_onnx,
)
from mlpilot.tasks.tabular.export.python_families import SUPPORTED
from mlpilot.tasks.tabular.export.sample import check_rows
from mlpilot.tasks.tabular.features import FeaturePipeline
from mlpilot.tasks.tabular.run_dir import ensemble_temperature


def export_onnx(manifest: dict[str, Any], pipeline: FeaturePipeline, members: list[Member], *, out: Path,
                data: str | Path | None) -> ExportResult:
    try:
        import onnxruntime  # noqa: F401  (the check needs it; fail before converting anything)
        import skl2onnx  # noqa: F401
        from onnxmltools.convert import convert_lightgbm  # noqa: F401
    except ImportError as exc:
        raise ConfigError(f"ONNX export needs the export extra ({exc.name} is missing): "
                          "pip install 'mlpilot[export]'.") from exc
    if out.suffix.lower() != ".onnx":
        raise ConfigError(f"'{out}' should end in .onnx (the sidecar JSON is written next to it).")
    names = pipeline.feature_names_
    native, sample = check_rows(pipeline, target=manifest["target"], data=data)
    categorical = [j for j, n in enumerate(names) if isinstance(native[n].dtype, pd.CategoricalDtype)]
    scriptable = any(models[0].key in SUPPORTED for _, models, _ in members)
    converted = convert_members(members, n_features=len(names), has_categorical=bool(categorical),
                                python_export_works=scriptable)
    model, result = check(members, converted, native=native, problem_type=manifest["problem_type"],
                          feature_names=names, categorical=categorical, sample=sample,
                          temperature=ensemble_temperature(manifest))
    write_onnx(model, out, sidecar=describe(manifest, pipeline, converted, result))
    n_models = sum(len(c.folds) for c in converted)
    notes = [
        f"{len(converted)} member(s), {n_models} model(s) in one graph; input 'features' has "
        f"{len(names)} float32 columns, described in {out.with_suffix('.json').name}.",
        f"Check on {result.sample}: ONNX Runtime vs mlpilot max difference {result.max_abs_diff:.2g} "
        f"(tolerance {PROBA_TOLERANCE:g}).",
    ]
    return ExportResult(path=out, files=[out, out.with_suffix(".json")], notes=notes)
