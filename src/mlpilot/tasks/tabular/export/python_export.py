"""``export --format python``: the run's best model as a standalone script a data scientist can read.

The script is rendered from Jinja2 templates kept as package data (``templates/``): the fitted
feature pipeline's decisions become constants (dropped columns and why, category levels, rare levels,
date columns...), the model's family becomes a short ``train``/``predict_scores`` pair with the
run's exact library parameters, and the iteration count is the fold models' mean early-stopped choice
(what ``refit_full`` uses). Nothing in it imports mlpilot.
"""

from __future__ import annotations

import json
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from mlpilot._version import __version__
from mlpilot.errors import ConfigError
from mlpilot.tasks.tabular.export import ExportResult
from mlpilot.tasks.tabular.features import HASH_FEATURES, FeaturePipeline
from mlpilot.tasks.tabular.inference import BOOLEAN, CATEGORICAL, DATETIME, FALSE_TOKENS, NUMERIC, TEXT, TRUE_TOKENS
from mlpilot.tasks.tabular.io import MISSING_TOKENS
from mlpilot.tasks.tabular.models import get_model_class
from mlpilot.tasks.tabular.models.base import TabularModel
from mlpilot.tasks.tabular.refit import refit_params
from mlpilot.tasks.tabular.run_dir import ensemble_temperature

SCRIPT_NAME = "train_and_predict.py"
Member = tuple[str, list[TabularModel], float]
_TEMPLATES = Path(__file__).with_name("templates")
_LINE = 100


def export_python(run: Path, manifest: dict[str, Any], pipeline: FeaturePipeline, members: list[Member], *,
                  out: Path, model: str | None) -> ExportResult:
    name, models, _ = choose_member(manifest, members, model)
    first = models[0]
    from mlpilot.tasks.tabular.export.python_families import family_context

    iterations = [m.n_iterations_ for m in models if m.n_iterations_]
    params = refit_params(first.key, first.params, iterations)
    refit = get_model_class(first.key)(problem_type=first.problem_type, n_classes=first.n_classes, params=params,
                                       seed=first.seed, n_threads=1)
    note = _iterations_note(models)
    context = {**_run_context(run, manifest, name, first, note), **_pipeline_context(pipeline)}
    context["n_fold_models"] = len(models)
    # The temperature was fitted for the blend: it belongs in the script only when the blend is this member.
    context["temperature"] = ensemble_temperature(manifest) if len(members) == 1 else None
    family = family_context(refit, n_rows=int(manifest["data_report"]["n_rows"]), classes=manifest["classes"],
                            categorical=list(context["categories"]))
    env = _environment()
    context["family_code"] = env.get_template(family.template).render({**context, **family.values}).rstrip()
    context["family_imports"] = _sorted_imports(["import numpy as np", "import pandas as pd", *family.imports])
    script = env.get_template("train_and_predict.py.j2").render(**context)
    packages = ["numpy", "pandas", "pyarrow", *family.packages]
    if context["text"]:
        packages += ["scikit-learn", "scipy"]
    requirements = env.get_template("requirements.txt.j2").render(
        script_name=SCRIPT_NAME, requirements=[(p, metadata.version(p)) for p in dict.fromkeys(packages)])
    files = _write(out, script=script, requirements=requirements, pipeline=pipeline)
    notes = [f"Wrote the {'best model' if context['is_best'] else 'member'} {name} ({first.name}); run it with: "
             f"python {out / SCRIPT_NAME} TRAIN_FILE SCORE_FILE --out predictions.csv"]
    return ExportResult(path=out, files=files, notes=notes)


def _sorted_imports(lines: list[str]) -> list[str]:
    """isort's order (the script passes ruff): ``import x`` lines first, then ``from x import y``."""
    return sorted(i for i in lines if i.startswith("import ")) + sorted(i for i in lines if i.startswith("from "))


def choose_member(manifest: dict[str, Any], members: list[Member], wanted: str | None) -> Member:
    """``wanted``, or the member with the best out-of-fold score; a clear error for families without code."""
    from mlpilot.tasks.tabular.export.python_families import SUPPORTED

    by_name = {m[0]: m for m in members}
    if wanted is not None:
        if wanted not in by_name:
            raise ConfigError(f"'{wanted}' is not a member of this run's ensemble; choose one of: "
                              f"{', '.join(by_name)}.")
        member = by_name[wanted]
    else:
        scores = {row["model"]: row["score_val"] for row in manifest["leaderboard"] if row["model"] in by_name}
        sign = 1.0 if manifest.get("metric_greater_is_better", True) else -1.0
        member = by_name[max(scores, key=lambda n: sign * scores[n])]
    family = member[1][0].key
    if family not in SUPPORTED:
        others = [n for n, ms, _ in members if ms[0].key in SUPPORTED]
        hint = f"choose another member with --model ({', '.join(others)})" if others else "re-fit without it"
        raise ConfigError(f"Member {member[0]} (family {family}) cannot be written as a standalone script; {hint}.")
    return member


def _iterations_note(models: list[TabularModel]) -> str:
    counts = [m.n_iterations_ for m in models if m.n_iterations_]
    if not counts:
        return "as configured"
    if len(models) == 1:
        return f"the run refitted this model on all rows with {counts[0]}"
    return f"mean of the fold models' early-stopped choices {', '.join(str(c) for c in counts)}"


def _run_context(run: Path, manifest: dict[str, Any], name: str, model: TabularModel, note: str) -> dict[str, Any]:
    board = {row["model"]: row for row in manifest["leaderboard"]}
    scores = [r["score_val"] for r in manifest["leaderboard"][1:] if r["status"] == "ok"]
    sign = 1.0 if manifest.get("metric_greater_is_better", True) else -1.0
    threshold = manifest.get("threshold")
    return {
        "version": __version__, "run_name": run.resolve().name, "script_name": SCRIPT_NAME,
        "model_name": name, "family_name": model.name, "target": manifest["target"],
        "problem_type": manifest["problem_type"], "metric": manifest["metric"],
        "score": f"{board[name]['score_val']:.4g}", "validation": manifest["validation"],
        "is_best": board[name]["score_val"] == max(scores, key=lambda s: sign * s),
        "classes": manifest["classes"] or None,
        "threshold": None if threshold is None else round(float(threshold["value"]), 6),
        "threshold_note": None if threshold is None else f"it maximises {threshold['optimised_for']}",
        "iteration_word": "trees" if model.key in ("extra_trees", "random_forest") else "boosting rounds",
        "iterations_note": note,
    }


def _pipeline_context(pipeline: FeaturePipeline) -> dict[str, Any]:
    specs = pipeline.specs_
    by_kind: dict[str, list[str]] = {}
    for column, spec in specs.items():
        by_kind.setdefault(spec["kind"], []).append(column)
    report = pipeline.report
    return {
        "dropped": {c.name: c.reason for c in report.columns if c.dropped},
        "numeric": by_kind.get(NUMERIC, []),
        "boolean": by_kind.get(BOOLEAN, []),
        "categories": {c: specs[c]["categories"] for c in by_kind.get(CATEGORICAL, [])},
        "rare": {c: specs[c]["rare"] for c in by_kind.get(CATEGORICAL, [])},
        "dates": {c: bool(specs[c]["with_time"]) for c in by_kind.get(DATETIME, [])},
        "text": by_kind.get(TEXT, []),
        "hash_features": HASH_FEATURES,
        "feature_order": list(pipeline.feature_names_),
        "missing_tokens": sorted(MISSING_TOKENS),
        "boolean_values": {**{t: 1.0 for t in sorted(TRUE_TOKENS)}, **{f: 0.0 for f in sorted(FALSE_TOKENS)}},
    }


def _environment() -> Any:
    try:
        import jinja2
    except ImportError as exc:
        raise ConfigError("The Python export needs Jinja2: pip install 'mlpilot[export]'.") from exc
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(_TEMPLATES)), trim_blocks=True,
                             lstrip_blocks=True, keep_trailing_newline=True, undefined=jinja2.StrictUndefined)
    env.filters["pyrepr"] = python_literal
    return env


def python_literal(value: Any, indent: int = 0) -> str:
    """A Python literal for JSON-like ``value``: on one line when short, else one item per line."""
    value = json.loads(json.dumps(value, default=_plain))
    flat = repr(value)
    if len(flat) + indent <= _LINE - 20 or not isinstance(value, (dict, list)) or not value:
        return flat
    pad, inner = " " * indent, " " * (indent + 4)
    if isinstance(value, dict):
        items = [f"{inner}{k!r}: {python_literal(v, indent + 4)}," for k, v in value.items()]
        return "{\n" + "\n".join(items) + f"\n{pad}}}"
    items = [f"{inner}{python_literal(v, indent + 4)}," for v in value]
    return "[\n" + "\n".join(items) + f"\n{pad}]"


def _plain(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"not a plain value: {type(value).__name__}")


def _write(out: Path, *, script: str, requirements: str, pipeline: FeaturePipeline) -> list[Path]:
    if out.exists() and not out.is_dir():
        raise ConfigError(f"'{out}' is a file; give a folder to write the script into with --out.")
    out.mkdir(parents=True, exist_ok=True)
    files = {SCRIPT_NAME: script.encode(), "requirements.txt": requirements.encode()}
    written = []
    for name, data in files.items():
        tmp = out / f".{name}.tmp"
        tmp.write_bytes(data)
        tmp.replace(out / name)
        written.append(out / name)
    if pipeline.text_models_:  # the fitted TF-IDF weights and SVD components: arrays, not code
        arrays: dict[str, np.ndarray] = {}
        for name, text in pipeline.text_models_.items():
            arrays.update({f"{name}/used": text.used, f"{name}/idf": text.idf,
                           f"{name}/components": text.components, f"{name}/idf_unseen": np.array(text.idf_unseen)})
        np.savez(out / "text_features.npz", **arrays)
        written.append(out / "text_features.npz")
    return written
