"""The GPT task's settings: one dataclass per component, the only place their defaults live.

Kept free of torch so interfaces can build them without loading the deep-learning stack.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any

from mlpilot.errors import ConfigError

TOKENIZERS = ("char", "bpe")
SIZE_KEYS = ("n_layer", "n_head", "n_embd", "block_size")


@dataclass(frozen=True)
class GPTTrainConfig:
    """Everything ``train`` accepts; ``None`` sizes are chosen from the budget and the corpus."""

    time_limit: float | None = 600.0
    max_steps: int | None = None
    tokenizer: str = "bpe"  # measured better than characters at equal CPU budgets (docs/gpt.md)
    vocab_size: int | None = None
    n_layer: int | None = None
    n_head: int | None = None
    n_embd: int | None = None
    block_size: int | None = None
    dropout: float | None = None
    batch_size: int | None = None
    learning_rate: float = 1e-3  # nanoGPT: "with baby networks can afford to go a bit higher"
    min_lr_ratio: float = 0.1
    warmup_steps: int | None = None
    weight_decay: float = 0.1
    beta1: float = 0.9
    beta2: float = 0.99  # nanoGPT shakespeare_char: few tokens per step
    grad_clip: float = 1.0
    eval_iters: int = 20
    n_evals: int = 12
    calibration_texts: int = 64
    calibration_tokens: int = 256
    seed: int = 0
    resume: bool = False
    device: str | None = None
    work_dir: str | None = None
    keep_work: bool = False

    def __post_init__(self) -> None:
        if self.time_limit is not None and not self.time_limit > 0:
            raise ConfigError(f"time_limit must be a positive number of seconds, got {self.time_limit}.")
        if self.time_limit is None and self.max_steps is None:
            raise ConfigError("Give a time limit (--time-limit SECONDS) or a number of steps (max_steps).")
        if self.tokenizer not in TOKENIZERS:
            raise ConfigError(f"Unknown tokenizer '{self.tokenizer}'; use one of: {', '.join(TOKENIZERS)}.")
        for name in ("max_steps", "vocab_size", *SIZE_KEYS, "batch_size", "eval_iters", "n_evals"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise ConfigError(f"{name} must be at least 1, got {value}.")
        if self.calibration_texts < 2 or self.calibration_tokens < 16:
            raise ConfigError("Calibration needs at least 2 texts of at least 16 tokens each.")
        if not self.learning_rate > 0:
            raise ConfigError(f"learning_rate must be positive, got {self.learning_rate}.")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class SamplingConfig:
    """How to pick each next token. ``temperature=0`` is greedy; ``seed=None`` draws a fresh seed."""

    max_new_tokens: int = 200
    temperature: float = 0.8
    top_k: int | None = None
    top_p: float | None = None
    seed: int | None = None
    use_cache: bool = True

    def __post_init__(self) -> None:
        if self.max_new_tokens < 0:
            raise ConfigError(f"max_new_tokens must be 0 or more, got {self.max_new_tokens}.")
        if not (self.temperature >= 0 and math.isfinite(self.temperature)):
            raise ConfigError(f"temperature must be 0 (greedy) or positive, got {self.temperature}.")
        if self.top_k is not None and self.top_k < 1:
            raise ConfigError(f"top_k must be at least 1, got {self.top_k}; leave it out to disable it.")
        if self.top_p is not None and not 0.0 < self.top_p <= 1.0:
            raise ConfigError(f"top_p must be in (0, 1], got {self.top_p}; leave it out to disable it.")

    def to_dict(self) -> dict[str, object]:
        return dataclasses.asdict(self)
