"""Load test for `mlpilot serve`: latency percentiles and throughput of single-row predictions.

Starts the REST server for a run on a free loopback port (a separate process, as in production, so
the load generator does not share the server's interpreter), sends ``--requests`` requests from
``--clients`` concurrent clients (or stops at ``--duration`` seconds), and prints p50/p90/p99
latency, throughput and the error count. The rows come from ``--data`` (a CSV) or, without it, the
request example the server publishes in its OpenAPI document.

    nice -n 10 .venv/bin/python benchmarks/serve_load.py runs/churn --clients 8 --requests 2000

Figures depend on the machine and on what else runs on it: compare runs made on the same machine.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import random
import socket
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import httpx

STARTUP_TIMEOUT_S = 120.0


@dataclass
class LoadResult:
    clients: int
    rows_per_request: int
    requests: int
    errors: int
    seconds: float
    throughput_rps: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    server_workers: int


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_server(run_dir: Path, *, port: int, workers: int) -> subprocess.Popen[bytes]:
    env = {**os.environ, "MLPILOT_SERVE_RUN_DIR": str(run_dir.resolve()), "MLPILOT_TOKEN": ""}
    command = [sys.executable, "-m", "uvicorn", "--factory", "mlpilot.serve.factory:app_from_env",
               "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers), "--log-level", "warning"]
    return subprocess.Popen(command, env=env, start_new_session=True)


def wait_until_healthy(base_url: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"The server exited with status {process.returncode} before it was ready.")
        try:
            if httpx.get(f"{base_url}/v1/health", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise SystemExit(f"The server was not ready after {STARTUP_TIMEOUT_S:.0f} s.")


def load_rows(base_url: str, data: Path | None) -> list[dict[str, Any]]:
    if data is None:
        doc = httpx.get(f"{base_url}/openapi.json", timeout=10).json()
        return list(doc["components"]["schemas"]["PredictRequest"]["examples"][0]["rows"])
    import pandas as pd

    frame = pd.read_csv(data)
    frame = frame.astype(object).where(frame.notna(), None)  # JSON has null, not NaN
    return frame.to_dict(orient="records")


async def _client(
    http: httpx.AsyncClient, rows: list[dict[str, Any]], *, per_request: int, quota: list[int], deadline: float,
    latencies: list[float], errors: list[int], seed: int,
) -> None:
    rng = random.Random(seed)
    while quota[0] > 0 and time.perf_counter() < deadline:
        quota[0] -= 1
        body = {"rows": [rows[rng.randrange(len(rows))] for _ in range(per_request)]}
        start = time.perf_counter()
        try:
            response = await http.post("/v1/predict", json=body)
            ok = response.status_code == 200
        except httpx.HTTPError:
            ok = False
        latencies.append(time.perf_counter() - start)
        if not ok:
            errors[0] += 1


async def run_load(
    base_url: str, rows: list[dict[str, Any]], *, clients: int, requests: int, duration: float, per_request: int,
) -> tuple[list[float], int, float]:
    latencies: list[float] = []
    errors, quota = [0], [requests]
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=base_url, timeout=30, limits=limits) as http:
        start = time.perf_counter()
        deadline = start + duration
        await asyncio.gather(*(
            _client(http, rows, per_request=per_request, quota=quota, deadline=deadline, latencies=latencies,
                    errors=errors, seed=i)
            for i in range(clients)
        ))
        elapsed = time.perf_counter() - start
    return latencies, errors[0], elapsed


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, math.ceil(q / 100 * len(ordered)) - 1))
    return ordered[index]


def summarise(latencies: list[float], errors: int, elapsed: float, *, clients: int, per_request: int,
              workers: int) -> LoadResult:
    ms = [v * 1000 for v in latencies] or [float("nan")]
    return LoadResult(
        clients=clients, rows_per_request=per_request, requests=len(latencies), errors=errors,
        seconds=round(elapsed, 2), throughput_rps=round(len(latencies) / elapsed, 1) if elapsed else 0.0,
        p50_ms=round(_percentile(ms, 50), 2), p90_ms=round(_percentile(ms, 90), 2),
        p99_ms=round(_percentile(ms, 99), 2), max_ms=round(max(ms), 2), server_workers=workers,
    )


def main(argv: list[str] | None = None) -> LoadResult:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dir", type=Path, help="A run directory saved by `mlpilot fit`.")
    parser.add_argument("--clients", type=int, default=8, help="Concurrent clients (default 8).")
    parser.add_argument("--requests", type=int, default=2000, help="Total requests (default 2000).")
    parser.add_argument("--duration", type=float, default=60.0, help="Stop after this many seconds (default 60).")
    parser.add_argument("--rows", type=int, default=1, help="Rows per request (default 1).")
    parser.add_argument("--workers", type=int, default=1, help="Server worker processes (default 1).")
    parser.add_argument("--warmup", type=int, default=20, help="Unmeasured requests first (default 20).")
    parser.add_argument("--data", type=Path, help="CSV of rows to send (default: the server's request example).")
    parser.add_argument("--json", type=Path, help="Also write the result to this JSON file.")
    args = parser.parse_args(argv)

    port = _free_port()
    base_url = f"http://127.0.0.1:{port}"
    server = start_server(args.run_dir, port=port, workers=args.workers)
    try:
        wait_until_healthy(base_url, server)
        rows = load_rows(base_url, args.data)
        asyncio.run(run_load(base_url, rows, clients=1, requests=args.warmup, duration=30, per_request=args.rows))
        latencies, errors, elapsed = asyncio.run(run_load(
            base_url, rows, clients=args.clients, requests=args.requests, duration=args.duration,
            per_request=args.rows,
        ))
    finally:
        server.terminate()
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()
    result = summarise(latencies, errors, elapsed, clients=args.clients, per_request=args.rows, workers=args.workers)
    print(json.dumps(asdict(result), indent=1))
    if args.json:
        args.json.write_text(json.dumps(asdict(result), indent=1))
    return result


if __name__ == "__main__":
    main()
