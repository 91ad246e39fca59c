"""Where a candidate's folds run: in this process (the default), or as tasks on a Dask cluster.

The search asks an executor to *start* a candidate's bag and later to collect it, so several candidates
can be in flight when the cluster has the cores for them. :class:`LocalExecutor` starts nothing: it runs
:func:`fit_bagged` when the result is asked for, exactly as a search without an executor (Dask is never
imported then). :class:`DaskExecutor` submits one task per fold to a ``distributed.Client``:

- the training table is scattered to every worker once (``broadcast=True``), tasks name it by future;
- each task gets the search's wall-clock deadline: a fold that cannot start before it is not fitted, and
  a fold's own time limit never runs past it; tasks still running at the deadline are cancelled and their
  results discarded;
- a task that raises is retried once (``retries=1``); a worker that dies has its tasks rescheduled by the
  scheduler, and a fold that is lost anyway leaves its candidate skipped with the reason logged;
- a fitted model comes back as the bytes of its saved folder (relative path → bytes) and is rebuilt here
  with its family's own ``load``, so what reaches the run directory is the library's native files.

Clocks: the deadline is absolute (``time.time()``); workers on other machines must keep NTP time.
"""

from __future__ import annotations

import contextlib
import logging
import math
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from mlpilot.engine.budget import Budget
from mlpilot.engine.oof import MIN_FOLD_SECONDS, MIN_START_SECONDS, BagResult, fit_bagged, fit_fold
from mlpilot.engine.splits import Split
from mlpilot.errors import ConfigError

log = logging.getLogger("mlpilot")

LOCAL_PREFIX = "local:"
# Results that arrive this long after the search deadline are still taken: models check the deadline once
# per boosting round or epoch, so they end a little late, and the run's reserve (>= 2 s) covers it.
DEADLINE_GRACE = 1.0
# How long connecting to a scheduler may take before the run gives up with a clear message.
CONNECT_TIMEOUT = 20


class SavableModel(Protocol):
    n_iterations_: int | None

    def fit(self, X: Any, y: np.ndarray, *, X_val: Any, y_val: np.ndarray, time_limit: float | None) -> Any: ...

    def predict(self, X: Any) -> np.ndarray: ...

    def save(self, directory: Path) -> None: ...


ModelFactory = Callable[[], SavableModel]
ModelLoader = Callable[[Path], SavableModel]


class PendingBag(Protocol):
    def result(self) -> BagResult: ...


@dataclass
class SharedData:
    """The training table as the executor holds it: the frames themselves, or futures of scattered copies."""

    X: Any
    y: Any
    n_rows: int


# ------------------------------------------------------------------------------------------ local
@dataclass
class _Deferred:
    run: Callable[[], BagResult]

    def result(self) -> BagResult:
        return self.run()


class LocalExecutor:
    """In-process and sequential: one candidate at a time, each fold after the other."""

    threads_per_task: int | None = None  # None: the models use the run's ``n_threads``

    def share(self, X: Any, y: np.ndarray) -> SharedData:
        return SharedData(X, y, len(y))

    def candidates_at_once(self, n_folds: int) -> int:
        return 1

    def start_bag(
        self, make_model: ModelFactory, data: SharedData, splits: Sequence[Split], *,
        time_share: float, budget: Budget, load_model: ModelLoader,
    ) -> PendingBag:
        return _Deferred(partial(fit_bagged, make_model, data.X, data.y, splits, time_share=time_share, budget=budget))


# ------------------------------------------------------------------------------------------ Dask
@dataclass
class FoldOutput:
    """What one fold task sends back: predictions on its validation rows and the saved model's files."""

    started: bool
    pred: np.ndarray | None = None
    files: dict[str, bytes] = field(default_factory=dict)
    fit_seconds: float = 0.0
    predict_seconds: float = 0.0
    finished_at: float = 0.0
    hit_time_limit: bool = False  # a flag of the fitted model that its saved files do not carry


def run_fold(
    make_model: ModelFactory, X: Any, y: np.ndarray, train_idx: np.ndarray, val_idx: np.ndarray, *,
    time_limit: float | None, deadline: float | None,
) -> FoldOutput:
    """A fold task, run on a worker: fit, predict the validation rows, return the model as files."""
    if deadline is not None:
        left = deadline - time.time()
        if left < MIN_START_SECONDS:
            return FoldOutput(started=False, finished_at=time.time())
        time_limit = left if time_limit is None else min(time_limit, left)
    t0 = time.perf_counter()
    model, pred, predict_seconds = fit_fold(make_model, X, y, train_idx, val_idx, time_limit=time_limit)
    fit_seconds = time.perf_counter() - t0 - predict_seconds
    with tempfile.TemporaryDirectory(prefix="mlpilot-fold-") as tmp:
        model.save(Path(tmp))
        files = folder_bytes(Path(tmp))
    return FoldOutput(started=True, pred=pred, files=files, fit_seconds=fit_seconds,
                      predict_seconds=predict_seconds, finished_at=time.time(),
                      hit_time_limit=bool(getattr(model, "hit_time_limit_", False)))


def folder_bytes(root: Path) -> dict[str, bytes]:
    """Every file under ``root`` as relative POSIX path → bytes."""
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def load_from_bytes(files: dict[str, bytes], load_model: ModelLoader) -> SavableModel:
    """Write a model's files to a temporary folder and rebuild it with its family's own loader."""
    with tempfile.TemporaryDirectory(prefix="mlpilot-model-") as tmp:
        root = Path(tmp).resolve()
        for name, content in files.items():
            target = (root / name).resolve()
            if root not in target.parents:  # a worker must not write outside the folder
                raise ValueError(f"model file path {name!r} leaves its folder")
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(content)
        return load_model(root)


class _DaskBag:
    """A candidate's fold futures; ``result`` waits for them until the deadline and assembles the bag."""

    def __init__(self, submit_fold: Callable[[int], Any], splits: Sequence[Split], *, client: Any, n_rows: int,
                 deadline: float | None, load_model: ModelLoader) -> None:
        self.submit_fold, self.splits, self.client = submit_fold, splits, client
        self.n_rows, self.deadline, self.load_model = n_rows, deadline, load_model
        self.start = time.perf_counter()
        self.futures = [submit_fold(i) for i in range(len(splits))]

    def result(self) -> BagResult:
        self._wait()
        lost = [i for i, future in enumerate(self.futures) if _lost(future)]
        if lost and (self.deadline is None or time.time() < self.deadline - MIN_START_SECONDS):
            log.warning("re-running %d fold(s) lost with a worker", len(lost))
            for i in lost:
                self.futures[i] = self.submit_fold(i)
            self._wait()
        late = [f for f in self.futures if f.status not in ("finished", "error", "cancelled", "lost")]
        if late:
            self.client.cancel(late)
        bag = BagResult(n_folds=len(self.splits))
        reasons = []
        for i, (future, (_, val_idx)) in enumerate(zip(self.futures, self.splits, strict=True)):
            reason = self._add_fold(bag, future, val_idx)
            if reason:
                reasons.append(f"fold {i + 1}: {reason}")
        if reasons:
            bag.stopped_reason = "; ".join(reasons)
            log.warning("folds lost on the cluster: %s", bag.stopped_reason)
        bag.fit_time = time.perf_counter() - self.start
        return bag

    def _wait(self) -> None:
        """Until every fold is done (or lost) or the deadline, whichever comes first."""
        from distributed import wait
        from distributed.client import FuturesCancelledError

        timeout = None if self.deadline is None else max(0.0, self.deadline + DEADLINE_GRACE - time.time())
        with contextlib.suppress(TimeoutError, FuturesCancelledError):
            wait(self.futures, timeout=timeout)

    def _add_fold(self, bag: BagResult, future: Any, val_idx: np.ndarray) -> str:
        """Add a finished fold to ``bag``; the reason it could not be used otherwise."""
        if _lost(future):
            return f"lost with its worker, twice ({future.status})"
        if future.status == "error":
            raise future.exception()  # the model itself failed (twice): the search treats it as any failing one
        if future.status != "finished":
            return "still running at the deadline (cancelled)"
        out: FoldOutput = future.result()
        if not out.started:
            return "not started before the deadline"
        if self.deadline is not None and out.finished_at > self.deadline + DEADLINE_GRACE:
            return "finished after the deadline (discarded)"
        model = load_from_bytes(out.files, self.load_model)
        model.hit_time_limit_ = out.hit_time_limit
        bag.add_fold(model, out.pred, val_idx, n_rows=self.n_rows, predict_seconds=out.predict_seconds)
        return ""


def _lost(future: Any) -> bool:
    """The fold did not fail by itself: its worker (or the data it needed) went away."""
    if future.status in ("cancelled", "lost"):
        return True
    return future.status == "error" and type(future.exception()).__name__ in _WORKER_LOSS


_WORKER_LOSS = ("KilledWorker", "CommClosedError", "FutureCancelledError")


class DaskExecutor:
    """Fold tasks on a Dask cluster, through a ``distributed.Client`` the caller owns."""

    threads_per_task: int | None = 1  # each worker thread runs its own fold

    def __init__(self, client: Any) -> None:
        self.client = client

    @property
    def slots(self) -> int:
        """Worker threads in the cluster: how many folds can run at once."""
        return max(1, sum(self.client.nthreads().values()))

    def share(self, X: Any, y: np.ndarray) -> SharedData:
        self._local = (X, y)  # kept to scatter again if the cluster loses every copy with its workers
        X_future, y_future = self.client.scatter([X, y], broadcast=True)
        return SharedData(X_future, y_future, len(y))

    def _healthy(self, data: SharedData) -> SharedData:
        if data.X.status != "finished" or data.y.status != "finished":
            log.warning("the training table was lost with a worker; scattering it again")
            data.X, data.y = self.client.scatter(list(self._local), broadcast=True)
        return data

    def candidates_at_once(self, n_folds: int) -> int:
        return max(1, self.slots // max(n_folds, 1))

    def start_bag(
        self, make_model: ModelFactory, data: SharedData, splits: Sequence[Split], *,
        time_share: float, budget: Budget, load_model: ModelLoader,
    ) -> PendingBag:
        deadline = None if not budget.limited else time.time() + budget.remaining()
        fold_limit = None
        if budget.limited and not math.isinf(time_share):
            # Folds run side by side when there are slots for them; otherwise they queue and share the time.
            waves = math.ceil(len(splits) / self.slots)
            fold_limit = min(max(time_share / waves, MIN_FOLD_SECONDS), max(budget.remaining(), 0.0))
        tag = uuid.uuid4().hex[:8]
        attempts = [0] * len(splits)

        def submit_fold(i: int) -> Any:
            train_idx, val_idx = splits[i]
            shared = self._healthy(data)
            attempts[i] += 1
            return self.client.submit(run_fold, make_model, shared.X, shared.y, train_idx, val_idx,
                                      time_limit=fold_limit, deadline=deadline, retries=1, pure=False,
                                      key=f"run_fold-{tag}-{i}-{attempts[i]}")

        return _DaskBag(submit_fold, splits, client=self.client, n_rows=data.n_rows, deadline=deadline,
                        load_model=load_model)


Executor = LocalExecutor | DaskExecutor


# ------------------------------------------------------------------------------------------ opening
def check_cluster_address(cluster: str) -> None:
    """``local:N`` (N >= 1) or a scheduler address such as ``tcp://host:8786``."""
    if cluster.startswith(LOCAL_PREFIX):
        count = cluster[len(LOCAL_PREFIX):]
        if not count.isdigit() or int(count) < 1:
            raise ConfigError(f"`cluster` {cluster!r}: give the number of local workers, e.g. 'local:4'.")
    elif "://" not in cluster:
        raise ConfigError(
            f"`cluster` {cluster!r} is not a scheduler address: give e.g. 'tcp://host:8786' (started with "
            "`dask scheduler`) or 'local:4' for 4 worker processes on this machine."
        )


@contextlib.contextmanager
def open_client(cluster: str) -> Iterator[Any]:
    """A ``distributed.Client`` on ``cluster``; a ``local:N`` cluster is started here and closed after."""
    check_cluster_address(cluster)
    try:
        from distributed import Client, LocalCluster
    except ImportError as exc:
        raise ConfigError(
            "Training on a cluster needs Dask distributed: pip install 'mlpilot[dask]'."
        ) from exc

    if cluster.startswith(LOCAL_PREFIX):
        # A free port for the scheduler's HTTP server: several local clusters may run on one machine.
        local = LocalCluster(n_workers=int(cluster[len(LOCAL_PREFIX):]), threads_per_worker=1, processes=True,
                             dashboard_address=":0", host="127.0.0.1")
        with local, Client(local) as client:
            yield client
        return
    try:
        client = Client(cluster, timeout=CONNECT_TIMEOUT)
    except (OSError, TimeoutError) as exc:
        raise ConfigError(
            f"Could not reach the Dask scheduler at {cluster!r} ({exc}); start one with `dask scheduler` and "
            "workers with `dask worker ADDRESS`, or use cluster='local:N'."
        ) from exc
    with client:
        if not client.nthreads():
            raise ConfigError(f"The Dask scheduler at {cluster!r} has no workers; start some with `dask worker`.")
        yield client


@contextlib.contextmanager
def open_executor(cluster: str | None) -> Iterator[Executor]:
    """The local executor when ``cluster`` is None (Dask is not imported), else one on that cluster."""
    if cluster is None:
        yield LocalExecutor()
        return
    with open_client(cluster) as client:
        yield DaskExecutor(client)
