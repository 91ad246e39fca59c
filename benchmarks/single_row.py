"""Single-row prediction latency, in process, for one system on one suite table (not run in CI).

Fits the system on the protocol's 80% split, then times ``predict`` + ``predict_proba`` on one
held-out row at a time, as a CRM calling for one customer would. Run each system from its own venv
and compare the JSON lines (same table, seed and time limit):

    .venv/bin/python benchmarks/single_row.py --system mlpilot --out benchmarks/results/single_row.jsonl
    .venv-autogluon/bin/python benchmarks/single_row.py --system autogluon_best \\
        --out benchmarks/results/single_row.jsonl
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from protocol import DEFAULT_SUITE, load_task, read_suite
from systems import SYSTEMS


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--system", required=True, choices=sorted(SYSTEMS))
    parser.add_argument("--table", default="wa_churn")
    parser.add_argument("--time-limit", type=float, default=30.0)
    parser.add_argument("--rows", type=int, default=200, help="held-out rows, each predicted alone")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=None, help="append one JSON line here")
    args = parser.parse_args()
    row = next(r for r in read_suite(DEFAULT_SUITE) if r["id"] == args.table)
    task = load_task(row, seed=args.seed)
    features = task.test.drop(columns=[task.target]).head(args.rows)
    with tempfile.TemporaryDirectory(prefix="single-row-") as workdir:
        predict, predict_proba = SYSTEMS[args.system](task, time_limit=args.time_limit, seed=args.seed,
                                                      workdir=Path(workdir))
        for i in range(5):  # warm caches and lazy imports
            predict(features.iloc[[i]]), predict_proba(features.iloc[[i]])
        times = []
        for i in range(len(features)):
            one = features.iloc[[i]]
            start = time.perf_counter()
            predict(one), predict_proba(one)
            times.append(time.perf_counter() - start)
    ms = np.array(times) * 1000
    result = {"system": args.system, "table": args.table, "time_limit": args.time_limit, "seed": args.seed,
              "rows": len(ms), "p50_ms": round(float(np.percentile(ms, 50)), 2),
              "p90_ms": round(float(np.percentile(ms, 90)), 2), "p99_ms": round(float(np.percentile(ms, 99)), 2),
              "mean_ms": round(float(ms.mean()), 2)}
    print(json.dumps(result))
    if args.out:
        with args.out.open("a") as handle:
            handle.write(json.dumps(result) + "\n")


if __name__ == "__main__":
    main()
