"""Scale-out benchmark: a table bigger than one Dask worker's memory limit (not run in CI).

1. Generates a seeded binary-classification table of ``--rows`` rows (24 numeric columns, one categorical)
   as Parquet parts, plus a separate 200k-row test table.
2. Fits it in memory with the memory budget capped at one worker's limit (``MLPILOT_MEMORY_LIMIT``): mlpilot
   must refuse with a message pointing at ``--cluster``.
3. Starts a real cluster with the ``dask`` command line (``dask scheduler`` + ``--workers`` × ``dask worker
   --memory-limit``) and fits the Parquet folder through it; records fit time, the leaderboard, the test
   ROC AUC (predicted over a Dask DataFrame), and the peak memory of each worker and of this process.

Run:  nice -n 10 python benchmarks/dask_bench.py --rows 8000000 --workers 9 --memory-limit 1.5GB --time-limit 360
Writes benchmarks/results/dask.json and prints a Markdown table for docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd
import psutil

N_NUMERIC = 24
PARTS = 40
TEST_ROWS = 200_000
RESULTS = Path(__file__).resolve().parent / "results" / "dask.json"


def make_table(n_rows: int, seed: int) -> pd.DataFrame:
    """Numeric columns with a non-linear signal, one categorical column with its own effect, a binary target."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n_rows, N_NUMERIC))
    region = rng.integers(0, 8, size=n_rows)
    logit = (X[:, 0] - 0.8 * X[:, 1] + 0.6 * X[:, 2] * X[:, 3] + np.sin(2 * X[:, 4]) + 0.5 * np.abs(X[:, 5])
             + 0.3 * (region - 3.5) / 3.5 - 0.4)
    y = rng.random(n_rows) < 1 / (1 + np.exp(-logit))
    table = pd.DataFrame(X, columns=[f"x{i}" for i in range(N_NUMERIC)])
    table["region"] = pd.Categorical.from_codes(region, [f"r{i}" for i in range(8)]).astype(str)
    table["target"] = np.where(y, "yes", "no")
    return table


def write_parts(folder: Path, n_rows: int, seed: int) -> None:
    folder.mkdir(parents=True)
    per_part = -(-n_rows // PARTS)
    for i in range(PARTS):  # one part at a time: the generator never holds the whole table either
        make_table(min(per_part, n_rows - i * per_part), seed + i).to_parquet(folder / f"part-{i:03d}.parquet")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class PeakMemory(threading.Thread):
    """Polls the resident memory of some processes (with their children, except this process's: the cluster)
    and keeps each one's peak."""

    def __init__(self, pids: dict[str, int]) -> None:
        super().__init__(daemon=True)
        self.pids, self.peak = pids, dict.fromkeys(pids, 0)
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.wait(0.5):
            for name, pid in self.pids.items():
                try:
                    proc = psutil.Process(pid)
                    children = [] if pid == os.getpid() else proc.children(recursive=True)
                    rss = proc.memory_info().rss + sum(c.memory_info().rss for c in children)
                except psutil.Error:
                    continue
                self.peak[name] = max(self.peak[name], rss)


def start_cluster(n_workers: int, memory_limit: str) -> tuple[str, list[subprocess.Popen]]:
    dask = Path(sys.executable).parent / "dask"
    port = free_port()
    address = f"tcp://127.0.0.1:{port}"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    env.pop("MLPILOT_MEMORY_LIMIT", None)
    procs = [subprocess.Popen([str(dask), "scheduler", "--host", "127.0.0.1", "--port", str(port),
                               "--no-dashboard"], env=env, stderr=subprocess.DEVNULL)]
    procs += [subprocess.Popen([str(dask), "worker", address, "--nworkers", "1", "--nthreads", "1",
                                "--memory-limit", memory_limit, "--no-dashboard", "--host", "127.0.0.1",
                                "--local-directory", "/tmp/mlpilot_dask_bench/spill"], env=env,
                               stderr=subprocess.DEVNULL) for _ in range(n_workers)]
    from distributed import Client

    with Client(address, timeout=60) as client:
        client.wait_for_workers(n_workers, timeout=120)
    return address, procs


def refuse_in_memory(folder: Path) -> dict:
    import mlpilot

    start = time.perf_counter()
    try:
        mlpilot.fit(str(folder), target="target", time_limit=60, path="/tmp/mlpilot_dask_bench/in_memory_run")
        outcome = "trained (not refused)"
    except mlpilot.DataError as exc:
        outcome = str(exc)
    return {"message": outcome, "seconds": round(time.perf_counter() - start, 2)}


def fit_on_cluster(folder: Path, test: pd.DataFrame, args: argparse.Namespace) -> dict:
    import dask.dataframe as dd
    from sklearn.metrics import roc_auc_score

    import mlpilot

    address, procs = start_cluster(args.workers, args.memory_limit)
    peaks = PeakMemory({"client": os.getpid(), **{f"worker{i}": p.pid for i, p in enumerate(procs[1:])}})
    peaks.start()
    try:
        start = time.perf_counter()
        model = mlpilot.fit(str(folder), target="target", time_limit=args.time_limit, cluster=address,
                            path="/tmp/mlpilot_dask_bench/run")
        fit_seconds = time.perf_counter() - start
        loaded = mlpilot.load(model.path)
        start = time.perf_counter()
        proba = loaded.predict_proba(dd.from_pandas(test.drop(columns=["target"]), npartitions=8)).compute()
        predict_seconds = time.perf_counter() - start
    finally:
        peaks.done.set()
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.wait(timeout=30)
    board = model.leaderboard()
    return {
        "fit_seconds": round(fit_seconds, 1),
        "validation": model.manifest["validation"],
        "leaderboard": board[["model", board.columns[2], "fit_time_s", "status"]].to_dict("records"),
        "test_roc_auc": round(float(roc_auc_score(test["target"] == "yes", proba["yes"])), 4),
        "predict_seconds_200k_rows_dask": round(predict_seconds, 2),
        "peak_rss_mb": {k: round(v / 2**20) for k, v in peaks.peak.items()},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=8_000_000)
    parser.add_argument("--workers", type=int, default=9)
    parser.add_argument("--memory-limit", default="1.5GB")
    parser.add_argument("--time-limit", type=float, default=360)
    args = parser.parse_args()
    root = Path("/tmp/mlpilot_dask_bench")
    shutil.rmtree(root, ignore_errors=True)
    start = time.perf_counter()
    write_parts(root / "table", args.rows, seed=0)
    import pyarrow.parquet as pq

    from mlpilot.tasks.tabular.io import table_memory_bytes

    result = {
        "rows": args.rows, "workers": args.workers, "worker_memory_limit": args.memory_limit,
        "time_limit": args.time_limit, "generate_seconds": round(time.perf_counter() - start, 1),
        "parquet_mb_on_disk": round(sum(p.stat().st_size for p in (root / "table").glob("*.parquet")) / 2**20),
        "table_mb_in_memory": round(table_memory_bytes(root / "table") / 2**20),
        "parts": len(list((root / "table").glob("*.parquet"))),
        "columns": pq.ParquetFile(next((root / "table").glob("*.parquet"))).metadata.num_columns,
    }
    # This process gets the memory of one worker: the table must not fit in it, in memory or through the cluster.
    os.environ["MLPILOT_MEMORY_LIMIT"] = args.memory_limit
    result["in_memory"] = refuse_in_memory(root / "table")
    test = make_table(TEST_ROWS, seed=10_000)
    result["dask"] = fit_on_cluster(root / "table", test, args)
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
