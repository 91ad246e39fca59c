"""GPT benchmark (not in CI): train on the default corpus (KJV) within a time budget and measure.

Reports validation loss and bits per character (on `--eval-chars` characters of the validation split, not the training
loop's estimate), training tokens/s, generation speed with and without the key-value cache, and
detection AUROC per statistic on fresh held-out human text and fresh model samples (a different
seed from the calibration). Results go to a JSON file; docs/gpt.md records a run.

    nice -n 10 .venv/bin/python benchmarks/gpt_bench.py --time-limit 600 --out runs/gpt-bench \\
        --json benchmarks/results/gpt_bpe_600s.json
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from mlpilot.engine.progress import ProgressEvent
from mlpilot.tasks.gpt.config import GPTTrainConfig, SamplingConfig
from mlpilot.tasks.gpt.data import TokenData, default_corpus, split_tokens
from mlpilot.tasks.gpt.detect import STATISTICS, auroc, detection_scores
from mlpilot.tasks.gpt.generate import encode_prompt, generate_ids
from mlpilot.tasks.gpt.run import GPTRun
from mlpilot.tasks.gpt.train import train as train_gpt

PROMPTS = ("And God said unto", "In the beginning", "Blessed are")


def log_event(event: ProgressEvent) -> None:
    if event.kind in ("sized", "eval", "calibrate", "done"):
        print(f"[{event.elapsed:6.1f}s] {event.kind:9} step {event.n_done}/{event.n_total} {event.message}", flush=True)


def held_out(run: GPTRun, text: str) -> tuple[np.ndarray, np.ndarray]:
    """The run's own train/validation split, rebuilt with its tokenizer (tokenization is deterministic)."""
    ids = run.tokenizer.encode(text).astype(np.uint16)
    return split_tokens(ids)


def generation_speed(run: GPTRun, *, tokens: int, use_cache: bool) -> float:
    config = SamplingConfig(max_new_tokens=tokens, seed=0, use_cache=use_cache)
    prompt = encode_prompt(run.tokenizer, "\n", run._device)
    start = time.perf_counter()
    for _ in generate_ids(run.model, prompt, config):
        pass
    return tokens / (time.perf_counter() - start)


def detection_auroc(run: GPTRun, data: TokenData, *, n: int, seed: int) -> dict[str, float]:
    """AUROC of each statistic, oriented as the calibration found it, on fresh texts."""
    cal = run.calibration
    human, machine, _ = detection_scores(run.model, data, n=n, length=cal.chunk_tokens,
                                         sampling=SamplingConfig(**cal.sampling), seed=seed)
    return {name: auroc(cal.signs[name] * machine[name], cal.signs[name] * human[name]) for name in STATISTICS}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--time-limit", type=float, default=600.0)
    parser.add_argument("--tokenizer", default="bpe", choices=("char", "bpe"))
    parser.add_argument("--out", type=Path, default=Path("runs/gpt-bench"))
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--eval-chars", type=int, default=200_000, help="validation characters scored")
    parser.add_argument("--detect-texts", type=int, default=100)
    for name in ("n_layer", "n_head", "n_embd", "block_size"):
        parser.add_argument("--" + name.replace("_", "-"), type=int, default=None, help="override the auto size")
    args = parser.parse_args()

    text = default_corpus()
    start = time.perf_counter()
    run = GPTRun.load(train_gpt(None, out=args.out, progress=log_event, config=GPTTrainConfig(
        time_limit=args.time_limit, tokenizer=args.tokenizer, seed=args.seed, n_layer=args.n_layer,
        n_head=args.n_head, n_embd=args.n_embd, block_size=args.block_size)))
    wall = time.perf_counter() - start
    if run.manifest.get("threads"):
        torch.set_num_threads(run.manifest["threads"])  # measure inference with the threads training chose
    train_ids, val_ids = held_out(run, text)
    val_text = run.tokenizer.decode(val_ids[: int(args.eval_chars / run.manifest["data"]["chars_per_token"])])
    evaluation = run.evaluate(val_text)
    data = TokenData(train_ids, val_ids, run.manifest["data"]["chars_per_token"])
    results: dict[str, Any] = {
        "time_limit": args.time_limit, "wall_seconds": wall, "tokenizer": args.tokenizer,
        "machine": f"{platform.processor() or platform.machine()}, {torch.get_num_threads()} torch threads",
        "device": run.manifest["device"],
        "model": run.manifest["model"], "n_params": run.manifest["n_params"], "sizing": run.manifest["sizing"],
        "train_metrics": run.metrics, "validation": evaluation,
        "generate_tokens_per_s": {"cache": generation_speed(run, tokens=500, use_cache=True),
                                  "no_cache": generation_speed(run, tokens=500, use_cache=False)},
        "calibration_auroc": run.calibration.aurocs, "calibration_best": run.calibration.best,
        "heldout_auroc": detection_auroc(run, data, n=args.detect_texts, seed=args.seed + 1000),
        "samples": {p: p + run.generate(p, SamplingConfig(max_new_tokens=int(200 / data.chars_per_token), seed=i))
                    for i, p in enumerate(PROMPTS)},
    }
    print(json.dumps(results, indent=2, ensure_ascii=False))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, indent=2, ensure_ascii=False))
    bpc = evaluation["bits_per_char"]
    print(f"\nval loss {evaluation['loss']:.4f} nats/token, {bpc:.3f} bits/char "
          f"(char-level nats: {bpc * math.log(2):.3f}); best held-out AUROC "
          f"{max(results['heldout_auroc'].values()):.3f}")


if __name__ == "__main__":
    main()
