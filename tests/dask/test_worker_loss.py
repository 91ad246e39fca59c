"""A worker process killed in the middle of a fit: its fold is rescheduled (or skipped) and the run completes."""

from __future__ import annotations

import threading
import time

import mlpilot


def _kill_a_worker_running_a_fold(address: str, workers: list, killed: threading.Event, stop: threading.Event):
    from distributed import Client

    with Client(address, timeout=30) as client:
        names = {addr: info["name"] for addr, info in client.scheduler_info()["workers"].items()}
        while not stop.is_set():
            busy = [addr for addr, keys in client.processing().items() if any("run_fold" in str(k) for k in keys)]
            if busy:
                workers[int(str(names[busy[0]])[1:])].kill()  # SIGKILL: no goodbye to the scheduler
                killed.set()
                return
            time.sleep(0.01)


def test_the_run_completes_when_a_worker_dies_mid_fit(start_cluster, churn_split, tmp_path):
    train, test = churn_split
    with start_cluster(2) as cluster:
        killed, stop = threading.Event(), threading.Event()
        killer = threading.Thread(target=_kill_a_worker_running_a_fold,
                                  args=(cluster.address, cluster.workers, killed, stop), daemon=True)
        killer.start()
        try:
            model = mlpilot.fit(train, target="churn", families=["lightgbm", "linear"], n_folds=3, max_models=2,
                                seed=0, path=tmp_path / "run", cluster=cluster.address)
        finally:
            stop.set()
            killer.join(timeout=10)
        assert killed.is_set(), "no worker was running a fold to kill"
        assert sum(w.poll() is not None for w in cluster.workers) == 1
    board = model.leaderboard()
    assert board.loc[0, "model"] == "WeightedEnsemble"
    assert (board["status"] == "ok").sum() >= 2
    loaded = mlpilot.load(model.path)
    assert loaded.evaluate(test)["roc_auc"] > 0.75
