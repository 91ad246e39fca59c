"""The facade every interface calls: ``fit`` a model, ``load`` a saved run.

It only turns arguments into the task's config dataclass and forwards; the work lives in
``mlpilot.tasks``.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlpilot.engine.artifact import read_manifest
from mlpilot.engine.metrics import default_metric
from mlpilot.engine.progress import ProgressCallback, ProgressEvent, no_progress
from mlpilot.errors import ArtifactError
from mlpilot.tasks import mri as mri  # MRI reconstruction facade (issue 6); torch is imported lazily
from mlpilot.tasks.gpt.config import GPTTrainConfig, SamplingConfig  # GPT (issue 7): torch-free configs
from mlpilot.tasks.tabular.card import render_model_card as render_model_card  # re-export for interfaces
from mlpilot.tasks.tabular.config import TabularConfig, resolve_config
from mlpilot.tasks.tabular.export import ExportResult, export_run
from mlpilot.tasks.tabular.inference import prepare_training_data
from mlpilot.tasks.tabular.io import read_table as read_table  # re-export: interfaces read user tables once
from mlpilot.tasks.tabular.predictor import TabularPredictor
from mlpilot.tasks.tabular.task import fit_tabular

Predictor = TabularPredictor
__all__ = ["ExportResult", "Predictor", "ProgressCallback", "ProgressEvent", "export", "fit", "inspect", "load",
           "read_table"]


def fit(
    data: Any,
    *,
    target: str,
    time_limit: float | None = None,
    metric: str | None = None,
    task: str | None = None,
    seed: int = 0,
    path: str | Path | None = None,
    preset: str = "medium_quality",
    max_models: int | None = None,
    n_folds: int | None = None,
    families: list[str] | tuple[str, ...] | None = None,
    n_threads: int | None = None,
    bag_sets: int | None = None,
    refit_full: bool = False,
    tune: bool | None = None,
    cluster: str | None = None,
    progress: ProgressCallback | None = None,
    stop: threading.Event | None = None,
) -> TabularPredictor:
    """Train, validate and ensemble models that predict ``target``, within ``time_limit`` seconds.

    ``data``: a CSV/Parquet path, a pandas or polars DataFrame, or a pyarrow Table.
    ``task``: ``"binary"``, ``"multiclass"`` or ``"regression"`` (inferred when omitted).
    ``metric``: e.g. ``"roc_auc"``, ``"log_loss"``, ``"rmse"`` (the task's default when omitted).
    ``path``: where the run directory is saved (``mlpilot_runs/run-<timestamp>`` by default).
    ``refit_full``: refit each ensemble member once on all rows (one model instead of k per member).
    ``tune``: spend the time the portfolio leaves on an Optuna search of the best boosted-tree
    families (off by default; see docs/benchmarks.md for when it pays).
    ``stop``: set this event (from another thread) to end the search early and keep the best so far.
    ``cluster``: train on Dask: ``"tcp://host:8786"`` (a running scheduler) or ``"local:N"`` (N local
    worker processes); ``data`` may then also be a Dask DataFrame or a Parquet folder bigger than memory
    (docs/scale-out.md).
    Returns the saved run, loaded and ready to ``predict``.
    """
    config = TabularConfig(
        target=target, time_limit=time_limit, metric=metric, problem_type=task, seed=seed, preset=preset,
        max_models=max_models, n_folds=n_folds, families=tuple(families) if families else None,
        n_threads=n_threads, bag_sets=1 if bag_sets is None else bag_sets, refit_full=refit_full,
        tune=False if tune is None else tune, cluster=cluster,
    )
    explicit = {name for name in ("n_folds", "families", "max_models") if getattr(config, name) is not None}
    explicit |= {name for name, value in (("bag_sets", bag_sets), ("tune", tune)) if value is not None}
    config = resolve_config(config, explicit=explicit)
    return fit_tabular(data, config, path=path, progress=progress or no_progress, stop=stop)


def inspect(data: Any, *, target: str, task: str | None = None) -> dict[str, Any]:
    """The data report ``fit`` would build for ``target``, without training (column kinds, missing
    values, warnings), plus the metric ``fit`` would optimise by default. Raises ``DataError`` for a
    table or target that ``fit`` would refuse (e.g. a target with one class)."""
    training = prepare_training_data(read_table(data), target=target, problem_type=task)
    metric = default_metric(training.problem_type)
    return {**training.report.to_dict(), "default_metric": metric.name,
            "metric_greater_is_better": metric.greater_is_better}


def load(path: str | Path, *, n_threads: int | None = None) -> TabularPredictor:
    """Load a saved run. Checks the version and every file's checksum first; never unpickles.

    ``n_threads`` (tabular runs): the most threads one prediction call uses; None = all cores.
    """
    manifest = read_manifest(path)
    kind = manifest.get("kind")
    if kind == "tabular":
        return TabularPredictor.load(path, n_threads=n_threads)
    if kind == "mri":
        return mri.load(path)
    if kind == "gpt":
        return load_gpt(path)
    raise ArtifactError(f"Run '{path}' holds a {kind!r} model, which this mlpilot cannot load.")


def export(
    run_dir: str | Path,
    *,
    format: str,
    out: str | Path | None = None,
    data: str | Path | None = None,
    model: str | None = None,
) -> ExportResult:
    """Export a saved tabular run, outside its folder.

    ``format="onnx"``: the whole ensemble as one ONNX graph (``out``: a ``.onnx`` path) plus a sidecar
    JSON describing its input columns; checked against mlpilot's predictions on ``data`` (or synthetic
    rows) first. ``format="python"``: a standalone script that prepares the data and retrains the best
    model (or member ``model``), plus its requirements.txt, in the folder ``out``.
    """
    return export_run(run_dir, format=format, out=out, data=data, model=model)


# ------------------------------------------------------------------------------ GPT (issue 7)
__all__ += ["GPTTrainConfig", "SamplingConfig", "load_gpt", "train_gpt"]
if TYPE_CHECKING:
    from mlpilot.tasks.gpt.run import GPTRun


def train_gpt(
    corpus: str | Path | None = None,
    *,
    out: str | Path = "runs/gpt",
    config: GPTTrainConfig | None = None,
    progress: ProgressCallback | None = None,
) -> GPTRun:
    """Pretrain a GPT on ``corpus`` (a text file, a folder of .txt files, or None for the KJV Bible).

    ``config`` holds the budget, tokenizer, sizes and seed (``GPTTrainConfig(time_limit=120)``);
    returns the saved run as a ``GPTRun``, ready to ``generate``, ``evaluate`` and ``detect``.
    """
    from mlpilot.tasks.gpt.train import train

    path = train(corpus, config or GPTTrainConfig(), out=out, progress=progress or no_progress)
    return load_gpt(path)


def load_gpt(path: str | Path) -> GPTRun:
    """Load a GPT run (checksums verified first; weights from safetensors, never unpickled)."""
    from mlpilot.tasks.gpt.run import GPTRun

    return GPTRun.load(path)

