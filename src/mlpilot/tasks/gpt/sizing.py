"""Choose the model size from the time budget and the corpus size.

The rule: measure this machine's matrix-multiply speed (a fraction of a second), estimate how many
training tokens each rung of a fixed ladder of shapes could see in the training time, and take the
largest rung that still sees at least ``TOKENS_PER_PARAM`` tokens per block (non-embedding)
parameter and has no more block parameters than ``PARAMS_PER_CORPUS_TOKEN`` times the corpus
tokens. Embeddings are left out of the count, as in Kaplan et al.'s scaling laws: a BPE
vocabulary's large embedding table would otherwise push the choice to the smallest shapes. Small budgets and small
corpora therefore give small models; a GPU's higher speed moves the choice up the ladder.
Explicit ``n_layer`` / ``n_head`` / ``n_embd`` / ``block_size`` replace the rung's values.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import torch

from mlpilot.errors import ConfigError, DataError
from mlpilot.tasks.gpt.model import GPT, GPTConfig

# (n_layer, n_head, n_embd, block_size), smallest first; heads of 32 to 64 dimensions as in nanoGPT.
LADDER: tuple[tuple[int, int, int, int], ...] = (
    (2, 2, 64, 64),
    (3, 3, 96, 128),
    (4, 4, 128, 128),
    (4, 4, 192, 128),
    (6, 6, 192, 256),
    (6, 4, 256, 256),
    (6, 6, 384, 256),
    (8, 8, 512, 256),
    (12, 12, 768, 256),
)
# Chinchilla's compute-optimal ratio is ~20 tokens per parameter; at a few minutes of CPU time a
# somewhat larger, less-trained model learns faster per second (nanoGPT's CPU "baby" config saw
# ~2 tokens per parameter), so the rule sits between the two.
TOKENS_PER_PARAM = 8.0
# More parameters than corpus tokens only memorises; this keeps small corpora on small models.
PARAMS_PER_CORPUS_TOKEN = 1.0
# Fraction of the measured matmul speed a small transformer step reaches (layer norms, softmax,
# attention and the optimizer are not matmuls); 0.35 to 0.75 measured on a 2-core CPU (docs/gpt.md).
EFFICIENCY = 0.5


@dataclass(frozen=True)
class SizeChoice:
    """The chosen shape, batch and the numbers behind the choice (kept in the run's manifest)."""

    config: GPTConfig
    batch_size: int
    flops_per_s: float
    est_tokens: float
    rule: str


def measure_flops(device: str) -> float:
    """Sustained float matmul speed of ``device`` in FLOP/s, from a few (1024×256)·(256×1024) products."""
    dtype = torch.bfloat16 if device.startswith("cuda") else torch.float32
    a = torch.randn(1024, 256, device=device, dtype=dtype)
    b = torch.randn(256, 1024, device=device, dtype=dtype)
    _sync(device)
    (a @ b).sum().item()  # warm up kernels and thread pools
    reps, t0 = 0, time.perf_counter()
    while reps < 200 and time.perf_counter() - t0 < 0.25:
        a @ b
        reps += 1
    _sync(device)
    return 2 * 1024 * 256 * 1024 * reps / max(time.perf_counter() - t0, 1e-9)


def choose_threads(max_threads: int) -> int:
    """CPU threads for training: ``max_threads`` only when clearly faster than one thread.

    On a machine shared with other busy processes, torch's threads wait on each other at every
    operation; one thread was then 6x faster on a 2-core machine (docs/gpt.md), while on a quiet
    machine more threads gain less than 2x: hence the 1.3x margin. Timed on a few training steps
    of a small GPT, so the check costs well under a second; training repeats it at every validation
    because the load of a shared machine changes.
    """
    if max_threads <= 1:
        return 1
    current = torch.get_num_threads()
    timings = {}
    for threads in (max_threads, 1):
        torch.set_num_threads(threads)
        timings[threads] = _time_small_steps()
    torch.set_num_threads(current)
    return max_threads if timings[max_threads] * 1.3 < timings[1] else 1


def _time_small_steps() -> float:
    model = GPT(GPTConfig(vocab_size=64, block_size=64, n_layer=2, n_head=2, n_embd=64))
    x = torch.randint(64, (8, 64))
    best = float("inf")
    for _ in range(4):  # the first is warm-up; keep the fastest of the rest
        t0 = time.perf_counter()
        _, loss = model(x, x)
        assert loss is not None
        loss.backward()
        best = min(best, time.perf_counter() - t0)
    return best


def _sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def default_batch_size(block_size: int, device: str) -> int:
    """Tokens per step: ~2k on a CPU (many small steps learn faster there), ~16k on a GPU."""
    tokens = 16384 if device.startswith("cuda") else 2048
    return max(4, tokens // block_size)


def choose_size(
    *, train_seconds: float | None, corpus_tokens: int, val_tokens: int, vocab_size: int, device: str,
    overrides: dict[str, int | None], batch_size: int | None = None,
) -> SizeChoice:
    """Apply the rule above; ``train_seconds=None`` (no time limit) takes the largest rung the corpus allows."""
    flops = measure_flops(device) * EFFICIENCY
    chosen, est = LADDER[0], 0.0
    for rung in LADDER:
        cfg = _build(rung, overrides, vocab_size, val_tokens)
        tokens = float("inf") if train_seconds is None else train_seconds * flops / cfg.flops_per_token()
        enough_time = tokens >= TOKENS_PER_PARAM * cfg.n_block_params()
        enough_data = cfg.n_block_params() <= PARAMS_PER_CORPUS_TOKEN * corpus_tokens
        if rung is LADDER[0] or (enough_time and enough_data):
            chosen, est = rung, tokens
    cfg = _build(chosen, overrides, vocab_size, val_tokens)
    rule = (
        f"largest of {len(LADDER)} shapes with ≥{TOKENS_PER_PARAM:g} training tokens per block parameter in the "
        f"budget (at {flops / 1e9:.1f} effective GFLOP/s) and ≤{PARAMS_PER_CORPUS_TOKEN:g} block parameter per "
        f"corpus token"
    )
    return SizeChoice(cfg, batch_size or default_batch_size(cfg.block_size, device), flops, est, rule)


def _build(rung: tuple[int, int, int, int], overrides: dict[str, int | None], vocab: int, val_tokens: int) -> GPTConfig:
    n_layer, n_head, n_embd, block = rung
    n_layer = overrides.get("n_layer") or n_layer
    n_embd = overrides.get("n_embd") or n_embd
    n_head = overrides.get("n_head") or (n_head if n_embd % n_head == 0 else max(1, n_embd // 64))
    longest = val_tokens - 2  # a validation batch needs block_size + 1 consecutive tokens
    if longest < 8:
        raise DataError(
            f"The corpus is too small: its validation part has {val_tokens} tokens; give at least a few "
            f"thousand characters of text."
        )
    wanted = overrides.get("block_size")
    if wanted is not None and wanted > longest:
        raise ConfigError(
            f"block_size {wanted} is longer than the validation text allows ({longest} tokens); "
            f"choose a smaller --block-size or a bigger corpus."
        )
    block = wanted or min(block, 1 << (longest.bit_length() - 1))
    return GPTConfig(vocab_size=vocab, block_size=block, n_layer=n_layer, n_head=n_head, n_embd=n_embd)
