"""Run systems on the benchmark suite with the shared protocol; one JSON line per table, system and seed.

Each fit runs in its own child process (peak memory is per table). The anchors run from their own venvs
(``benchmarks/setup_anchors.sh``: FLAML and AutoGluon pin different XGBoost builds):

    .venv/bin/python benchmarks/run.py --systems mlpilot --time-limit 60 --out benchmarks/results/60s.jsonl
    .venv-anchors/bin/python benchmarks/run.py --systems flaml --time-limit 60 --out benchmarks/results/60s.jsonl
    .venv-autogluon/bin/python benchmarks/run.py --systems autogluon_best --time-limit 60 \\
        --out benchmarks/results/60s.jsonl

A long run (the 300-s suite takes hours per system) can be stopped and continued: ``--resume`` skips
every fit ``--out`` already holds.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import resource
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from protocol import DEFAULT_SUITE, constant_score, load_task, read_suite, score
from systems import SYSTEMS, run_details


def run_one(system: str, row: dict[str, str], *, time_limit: float, seed: int) -> dict[str, Any]:
    task = load_task(row, seed=seed)
    with tempfile.TemporaryDirectory(prefix="mlpilot-bench-") as workdir:
        start = time.perf_counter()
        predict, predict_proba = SYSTEMS[system](task, time_limit=time_limit, seed=seed, workdir=Path(workdir))
        fit_s = time.perf_counter() - start
        features = task.test.drop(columns=[task.target])
        start = time.perf_counter()
        predictions, proba = predict(features), predict_proba(features)
        predict_s = time.perf_counter() - start
        result = score(task, predictions=predictions, proba=proba)
        details = run_details(system, task, Path(workdir))
    return {
        "system": system, "task": task.id, "problem_type": task.problem_type, "metric": task.metric, "seed": seed,
        "time_limit": time_limit, "fit_s": round(fit_s, 2),
        "predict_ms_per_1k": round(predict_s / len(features) * 1e6, 1),
        "peak_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "constant_score": constant_score(task), **result, **details,
    }


def _child(system: str, row: dict[str, str], time_limit: float, seed: int, queue: Any) -> None:
    try:
        queue.put(run_one(system, row, time_limit=time_limit, seed=seed))
    except Exception as exc:  # record the failure and go on with the next table
        queue.put({"system": system, "task": row["id"], "seed": seed, "time_limit": time_limit,
                   "error": f"{type(exc).__name__}: {exc}"})


def finished_fits(path: Path) -> set[tuple[str, str, int, float]]:
    """(system, task, seed, time limit) of every successful result already in ``path``."""
    if not path.exists():
        return set()
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return {(r["system"], r["task"], r["seed"], float(r["time_limit"])) for r in rows if "error" not in r}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--systems", nargs="+", default=["mlpilot"], choices=sorted(SYSTEMS))
    parser.add_argument("--suite", type=Path, default=DEFAULT_SUITE)
    parser.add_argument("--time-limit", type=float, default=60.0)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--tasks", nargs="*", help="only these task ids")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/results.jsonl"))
    parser.add_argument("--resume", action="store_true",
                        help="skip the fits --out already holds a result for (a long run spread over several sittings)")
    args = parser.parse_args()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    done = finished_fits(args.out) if args.resume else set()
    ctx = mp.get_context("spawn")
    for row in read_suite(args.suite, args.tasks):
        for system in args.systems:
            for seed in args.seeds:
                if (system, row["id"], seed, args.time_limit) in done:
                    continue
                queue = ctx.Queue()
                child = ctx.Process(target=_child, args=(system, row, args.time_limit, seed, queue))
                child.start()
                result = queue.get()
                child.join()
                print(json.dumps(result), flush=True)
                with args.out.open("a") as out:
                    out.write(json.dumps(result) + "\n")


if __name__ == "__main__":
    main()
