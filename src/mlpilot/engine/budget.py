"""Time budget and memory accounting shared by every task's search."""

from __future__ import annotations

import ctypes
import functools
import math
import os
import re
import sys
import threading
import time
from dataclasses import dataclass, field

import psutil

from mlpilot.errors import ConfigError

# No model starts with less than this left of the search's budget.
MIN_MODEL_SECONDS = 1.0


@dataclass
class Budget:
    """A wall-clock budget that started when the user called ``fit``.

    ``time_limit=None`` means no limit (the run is then fully reproducible). ``reserve`` seconds are
    held back for the work after the search (ensembling, saving), so the search never eats them.
    ``stop_signal`` ends the search early when set (by ``stop()`` or by another thread, e.g. a UI's
    "stop" button): no candidate or fold starts after it, and what already finished is kept.
    """

    time_limit: float | None
    reserve: float = 0.0
    started: float = field(default_factory=time.perf_counter)
    stop_signal: threading.Event = field(default_factory=threading.Event)

    def stop(self) -> None:
        self.stop_signal.set()

    @property
    def stopped(self) -> bool:
        return self.stop_signal.is_set()

    @property
    def limited(self) -> bool:
        return self.time_limit is not None

    def elapsed(self) -> float:
        return time.perf_counter() - self.started

    def spent(self) -> bool:
        """Stopped, or under a second left: too little to start another model."""
        return self.stopped or (self.limited and self.remaining() < MIN_MODEL_SECONDS)

    def remaining(self) -> float:
        """Seconds left for the search (the reserve excluded); infinite without a limit, 0 once stopped."""
        if self.stopped:
            return 0.0
        if self.time_limit is None:
            return math.inf
        return self.time_limit - self.reserve - self.elapsed()

    def remaining_total(self) -> float:
        """Seconds left before the user's limit, reserve included."""
        if self.time_limit is None:
            return math.inf
        return self.time_limit - self.elapsed()

    def share(self, *, n_left: int, min_share: float = 0.15) -> float:
        """Time for the next candidate when ``n_left`` candidates (it included) are still to run.

        Early candidates are the strongest, so they get more than an equal split: at least
        ``min_share`` of what remains, which keeps a slow first model from starving later ones.
        """
        left = self.remaining()
        if math.isinf(left):
            return math.inf
        return max(0.0, left * max(min_share, 1.0 / max(n_left, 1)))


# Caps the memory a run may count on (e.g. "300MB", "2GiB", "1500000000"): for a machine shared with other
# work, a container whose limit psutil cannot see, or to check the out-of-memory path on a small table.
MEMORY_LIMIT_ENV = "MLPILOT_MEMORY_LIMIT"
_UNITS = {"": 1, "b": 1, "kb": 10**3, "mb": 10**6, "gb": 10**9, "tb": 10**12,
          "kib": 2**10, "mib": 2**20, "gib": 2**30, "tib": 2**40}


def parse_bytes(text: str) -> int:
    """``"300MB"`` → 300_000_000; ``ValueError`` naming the accepted forms otherwise."""
    match = re.fullmatch(r"\s*([0-9]+(?:\.[0-9]+)?(?:e[0-9]+)?)\s*([a-z]*)\s*", text.lower())
    if not match or match.group(2) not in _UNITS:
        raise ValueError(f"{text!r} is not a size: write e.g. 300MB, 2GiB or a number of bytes")
    return int(float(match.group(1)) * _UNITS[match.group(2)])


def available_memory() -> int:
    """Bytes of memory this process can still use (capped by ``MLPILOT_MEMORY_LIMIT`` when it is set)."""
    free = int(psutil.virtual_memory().available)
    limit = os.environ.get(MEMORY_LIMIT_ENV)
    if not limit:
        return free
    try:
        return min(free, parse_bytes(limit))
    except ValueError as exc:
        raise ConfigError(f"Environment variable {MEMORY_LIMIT_ENV}: {exc}.") from exc


def memory_allows(needed_bytes: int, *, fraction: float = 0.8) -> bool:
    """True when ``needed_bytes`` fits in ``fraction`` of the available memory."""
    return needed_bytes <= fraction * available_memory()


def return_free_heap() -> bool:
    """Ask the C allocator to give the free pages it keeps back to the system; False where it cannot.

    glibc keeps memory that native libraries (LightGBM, XGBoost, CatBoost, torch) free after a fit,
    often in one arena per thread, so a process's footprint ratchets up fit after fit even though
    nothing holds that memory. Dask's workers trim for the same reason.
    """
    libc = _glibc()
    return bool(libc.malloc_trim(0)) if libc is not None else False


@functools.cache
def _glibc() -> ctypes.CDLL | None:
    """glibc, opened once (the trim runs after every fit); None elsewhere, e.g. musl or macOS."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL("libc.so.6")
        libc.malloc_trim  # noqa: B018 - musl has no malloc_trim: AttributeError here
    except (OSError, AttributeError):
        return None
    return libc
