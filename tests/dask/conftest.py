"""A real Dask cluster on loopback, started with the ``dask`` command line: one scheduler, two worker processes.

Workers run without a nanny, so a test can kill a worker process and it stays dead. They import the
mlpilot under test (this checkout's ``src``), as real workers import the installed one.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

pytest.importorskip("distributed")

SRC = Path(__file__).resolve().parents[2] / "src"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _dask_command() -> list[str]:
    script = Path(sys.executable).parent / "dask"
    return [str(script)] if script.exists() else [sys.executable, "-m", "dask"]


@dataclass
class LoopbackCluster:
    address: str
    scheduler: subprocess.Popen
    workers: list[subprocess.Popen]


@contextlib.contextmanager
def loopback_cluster(n_workers: int = 2) -> Iterator[LoopbackCluster]:
    """Start ``dask scheduler`` and ``n_workers`` × ``dask worker``; wait until all registered; always tear down."""
    from distributed import Client

    port = _free_port()
    address = f"tcp://127.0.0.1:{port}"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(SRC), os.environ.get("PYTHONPATH", "")]),
           "OMP_NUM_THREADS": "1"}
    quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL, "env": env}
    procs: list[subprocess.Popen] = []
    try:
        scheduler = subprocess.Popen(
            [*_dask_command(), "scheduler", "--host", "127.0.0.1", "--port", str(port), "--no-dashboard"], **quiet
        )
        procs.append(scheduler)
        workers = [
            subprocess.Popen([*_dask_command(), "worker", address, "--nworkers", "1", "--nthreads", "1",
                              "--no-nanny", "--no-dashboard", "--host", "127.0.0.1", "--memory-limit", "1GB",
                              "--name", f"w{i}"], **quiet)
            for i in range(n_workers)
        ]
        procs += workers
        with Client(address, timeout=30) as client:
            client.wait_for_workers(n_workers, timeout=60)
        yield LoopbackCluster(address, scheduler, workers)
    finally:
        for proc in reversed(procs):
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 10
        for proc in procs:
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


@pytest.fixture(scope="module")
def cluster() -> Iterator[LoopbackCluster]:
    with loopback_cluster() as running:
        yield running


@pytest.fixture
def start_cluster():
    """The context manager itself, for a test that needs a cluster of its own (e.g. one it breaks)."""
    return loopback_cluster
