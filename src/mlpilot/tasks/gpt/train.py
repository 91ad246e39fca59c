"""Pretrain a GPT on a corpus within a time budget, then calibrate its detector and save the run.

Steps: read and tokenize the corpus (into a work folder next to the run) → choose the model size
(``sizing.py``) → train with AdamW, linear warmup and cosine decay, gradient clipping, periodic
validation, best and last checkpoints in the work folder → calibrate detection → write the run
directory atomically (``engine.artifact.write_run``, kind ``"gpt"``) → remove the work folder.

The schedule's length comes from the budget: after a few steps the measured seconds per step fix
how many steps fit, and that estimate is refreshed at every validation (the machine may be shared).
An interrupted run (Ctrl-C, crash, time-out) resumes from the work folder with ``resume=True``.

Progress events: ``start``, ``sized`` (the chosen model), ``step`` (at most once a second),
``eval`` (``score`` = validation loss, ``best_score`` = best so far), ``calibrate``, ``done``;
``n_done`` / ``n_total`` are the steps done and planned, ``message`` carries tokens per second.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import math
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from mlpilot.engine.budget import Budget
from mlpilot.engine.progress import ProgressCallback, ProgressEvent, no_progress
from mlpilot.errors import ConfigError
from mlpilot.tasks.gpt.checkpoint import find_checkpoint, load_checkpoint, save_checkpoint, save_weights
from mlpilot.tasks.gpt.config import SIZE_KEYS, GPTTrainConfig
from mlpilot.tasks.gpt.data import TokenData, Tokenizer, fingerprint, load_data, prepare_data, read_corpus
from mlpilot.tasks.gpt.model import GPT, GPTConfig
from mlpilot.tasks.gpt.sizing import choose_size, choose_threads

PROBE_STEPS = 6  # steps timed before the schedule's length is fixed (the first one is warm-up)


@dataclass
class TrainState:
    """Progress that survives an interruption (saved as JSON with every checkpoint)."""

    step: int = 0
    planned_steps: int = 1
    best_val: float = math.inf
    tokens_seen: int = 0
    train_seconds: float = 0.0
    history: list[dict[str, float]] = field(default_factory=list)


@dataclass
class Session:
    """The live objects of one training run."""

    model: GPT
    optimizer: torch.optim.Optimizer
    generator: torch.Generator
    tokenizer: Tokenizer
    data: TokenData
    meta: dict[str, Any]
    state: TrainState
    device: str
    work: Path

    @property
    def batch_size(self) -> int:
        return int(self.meta["batch_size"])

    def autocast(self) -> contextlib.AbstractContextManager[Any]:
        # bf16 autocast only on CUDA with bf16 support; CPUs train in float32 (as nanoGPT does).
        if self.device.startswith("cuda") and torch.cuda.is_bf16_supported():
            return torch.autocast(device_type="cuda", dtype=torch.bfloat16)
        return contextlib.nullcontext()


def lr_at(step: int, *, planned: int, warmup: int, peak: float, floor: float) -> float:
    """Linear warmup (non-zero at step 0), then cosine decay from ``peak`` to ``floor`` at ``planned``."""
    if step < warmup:
        return peak * (step + 1) / (warmup + 1)
    progress = min(1.0, (step - warmup) / max(1, planned - warmup))
    return floor + 0.5 * (1.0 + math.cos(math.pi * progress)) * (peak - floor)


def work_folder(out: Path, config: GPTTrainConfig) -> Path:
    return Path(config.work_dir) if config.work_dir else out.parent / f"{out.name}.work"


def reserve_seconds(time_limit: float | None) -> float:
    """Seconds kept for calibration, samples and saving: 5 s plus 3% of the budget, at most 30%."""
    if time_limit is None:
        return 0.0
    return min(0.3 * time_limit, 5.0 + 0.03 * time_limit)


def train(
    corpus: str | Path | None, config: GPTTrainConfig, *, out: str | Path, progress: ProgressCallback = no_progress
) -> Path:
    """Train on ``corpus`` (a file, a folder of .txt files, or None for the KJV) and save the run to ``out``."""
    from mlpilot.tasks.gpt.finish import finish_run

    budget = Budget(config.time_limit, reserve=reserve_seconds(config.time_limit))
    out = Path(out)
    torch.manual_seed(config.seed)
    progress(ProgressEvent(kind="start", elapsed=0.0, remaining=_left(budget), message="reading the corpus"))
    text = read_corpus(corpus)
    threads = torch.get_num_threads()
    try:
        session = open_session(text, config, out=out, budget=budget, max_threads=threads)
        _emit(session, budget, progress, kind="sized", message=_describe(session))
        try:
            train_loop(session, config, budget, progress, max_threads=threads)
        except KeyboardInterrupt:
            _checkpoint(session)
            raise
        path = finish_run(session, config, out=out, corpus=corpus, budget=budget, progress=progress)
    finally:
        torch.set_num_threads(threads)  # open_session may have lowered it for this run only
    if not config.keep_work:
        shutil.rmtree(session.work, ignore_errors=True)
    return path


def open_session(text: str, config: GPTTrainConfig, *, out: Path, budget: Budget, max_threads: int) -> Session:
    """A fresh session (tokenize, size, build) or, with ``resume``, the one saved in the work folder."""
    work = work_folder(out, config)
    device = config.device or ("cuda" if torch.cuda.is_available() else "cpu")
    if device == "cpu":
        torch.set_num_threads(choose_threads(max_threads))
    if config.resume:
        return _resume_session(text, config, work=work, device=device)
    shutil.rmtree(work, ignore_errors=True)
    try:
        tokenizer, data = prepare_data(text, kind=config.tokenizer, vocab_size=config.vocab_size, work_dir=work)
        choice = choose_size(
            train_seconds=budget.remaining() if budget.limited else None, corpus_tokens=len(data.train),
            val_tokens=len(data.val), vocab_size=tokenizer.vocab_size, device=device,
            overrides={k: getattr(config, k) for k in SIZE_KEYS}, batch_size=config.batch_size,
        )
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)  # nothing worth resuming yet
        raise
    tokens_per_step = choice.batch_size * choice.config.block_size
    est_steps = max(1, int(min(choice.est_tokens, 1e12) // tokens_per_step))
    planned = min(config.max_steps, est_steps) if config.max_steps else est_steps
    # Regularise only when the budget allows several passes over the corpus (otherwise it underfits).
    epochs = planned * tokens_per_step / max(len(data.train), 1)
    dropout = config.dropout if config.dropout is not None else (0.1 if epochs > 4 else 0.0)
    model_config = dataclasses.replace(choice.config, dropout=dropout)
    meta = {
        "fingerprint": fingerprint(text), "tokenizer": tokenizer.kind, "model": model_config.to_dict(),
        "batch_size": choice.batch_size, "device": device, "threads": torch.get_num_threads(),
        "warmup": config.warmup_steps or int(min(200, max(5, planned // 20))),
        "sizing": {"rule": choice.rule, "effective_gflops": choice.flops_per_s / 1e9,
                   "estimated_tokens": min(choice.est_tokens, 1e15), "n_params": model_config.n_params()},
    }
    (work / "meta.json").write_text(json.dumps(meta, indent=2))
    model, optimizer, generator = _build(model_config, config, device)
    return Session(model, optimizer, generator, tokenizer, data, meta, TrainState(planned_steps=planned), device, work)


def _build(model_config: GPTConfig, config: GPTTrainConfig, device: str) -> tuple[GPT, torch.optim.Optimizer, Any]:
    model = GPT(model_config).to(device)
    optimizer = torch.optim.AdamW(
        model.param_groups(config.weight_decay), lr=config.learning_rate, betas=(config.beta1, config.beta2),
        fused=device.startswith("cuda"),
    )
    generator = torch.Generator()  # batch positions are drawn on the CPU whatever the device
    generator.manual_seed(config.seed)
    return model, optimizer, generator


def _resume_session(text: str, config: GPTTrainConfig, *, work: Path, device: str) -> Session:
    checkpoint = find_checkpoint(work / "last")
    if checkpoint is None or not (work / "meta.json").is_file():
        raise ConfigError(f"There is nothing to resume in '{work}'; train without --resume to start afresh.")
    meta = json.loads((work / "meta.json").read_text())
    if meta["fingerprint"] != fingerprint(text):
        raise ConfigError(
            f"The corpus differs from the one the interrupted run in '{work}' used; pass the same corpus "
            f"to resume, or train without --resume."
        )
    model_config = GPTConfig(**meta["model"])
    clashes = [k for k in SIZE_KEYS if getattr(config, k) is not None and getattr(config, k) != meta["model"][k]]
    if clashes:
        saved = ", ".join(f"{k}={meta['model'][k]}" for k in clashes)
        raise ConfigError(
            f"The interrupted run has {saved}; "
            f"drop or match those options to resume."
        )
    tokenizer, data = load_data(work)
    model, optimizer, generator = _build(model_config, config, device)
    saved = load_checkpoint(checkpoint, model=model, optimizer=optimizer, generator=generator)
    state = TrainState(**saved)
    if config.max_steps:
        state.planned_steps = max(state.step + 1, config.max_steps)
    return Session(model, optimizer, generator, tokenizer, data, meta, state, device, work)


def train_loop(
    s: Session, config: GPTTrainConfig, budget: Budget, progress: ProgressCallback, *, max_threads: int = 1
) -> None:
    """Step until the planned steps are done or the budget's training time is spent."""
    state, clock = s.state, _Clock()
    next_eval = state.step + max(1, state.planned_steps // config.n_evals)
    last_eval, last_emit = state.step, 0.0
    while _keep_going(state, config, budget, clock):
        t0 = time.perf_counter()
        loss = _step(s, config)
        clock.tick(time.perf_counter() - t0)
        state.step += 1
        state.tokens_seen += s.batch_size * s.model.config.block_size
        state.train_seconds += clock.last
        if clock.steps == PROBE_STEPS:
            _replan(state, config, budget, clock, force=True)
            next_eval = min(next_eval, state.step + _eval_every(state, config))
        if state.step >= next_eval or state.step >= state.planned_steps:
            _evaluate(s, config, float(loss), clock, budget, progress)
            last_eval = state.step
            if s.device == "cpu" and torch.get_num_threads() != (threads := choose_threads(max_threads)):
                torch.set_num_threads(threads)
                clock = _Clock()  # the speed changed: time the probe steps again
            _replan(state, config, budget, clock)
            next_eval = state.step + _eval_every(state, config)
        elif time.perf_counter() - last_emit > 1.0:
            last_emit = time.perf_counter()
            _emit(s, budget, progress, kind="step", message=f"train loss {float(loss):.3f}, {clock.rate(s):,.0f} tok/s")
    if state.step != last_eval or not state.history:
        _evaluate(s, config, math.nan, clock, budget, progress)


def _eval_every(state: TrainState, config: GPTTrainConfig) -> int:
    """Steps between validations: the plan split into ``n_evals`` parts."""
    return max(1, state.planned_steps // config.n_evals)


def _keep_going(state: TrainState, config: GPTTrainConfig, budget: Budget, clock: _Clock) -> bool:
    if config.max_steps is not None and state.step >= config.max_steps:
        return False
    if budget.limited:
        # In the probe phase the plan is provisional: only the clock can stop training.
        return budget.remaining() > 0 and (clock.steps < PROBE_STEPS or state.step < state.planned_steps)
    return state.step < state.planned_steps


def _step(s: Session, config: GPTTrainConfig) -> torch.Tensor:
    state = s.state
    lr = lr_at(state.step, planned=state.planned_steps, warmup=int(s.meta["warmup"]), peak=config.learning_rate,
               floor=config.learning_rate * config.min_lr_ratio)
    for group in s.optimizer.param_groups:
        group["lr"] = lr
    x, y = s.data.get_batch("train", s.batch_size, s.model.config.block_size, s.generator, s.device)  # (B, T)
    s.model.train()
    with s.autocast():
        _, loss = s.model(x, y)
    s.optimizer.zero_grad(set_to_none=True)
    assert loss is not None
    loss.backward()
    torch.nn.utils.clip_grad_norm_(s.model.parameters(), config.grad_clip)
    s.optimizer.step()
    return loss.detach()


class _Clock:
    """Seconds per training step in this session, the first (warm-up) step left out."""

    def __init__(self) -> None:
        self.steps, self.seconds, self.last = 0, 0.0, 0.0

    def tick(self, seconds: float) -> None:
        self.steps += 1
        self.last = seconds
        if self.steps > 1:
            self.seconds += seconds

    def per_step(self) -> float:
        return self.seconds / (self.steps - 1) if self.steps > 1 else self.last or 1.0

    def rate(self, s: Session) -> float:
        return s.batch_size * s.model.config.block_size / max(self.per_step(), 1e-9)


def _replan(state: TrainState, config: GPTTrainConfig, budget: Budget, clock: _Clock, *, force: bool = False) -> None:
    """Fit the schedule to the time left: steps = remaining seconds / seconds per step, evaluations included.

    A finished schedule is not extended (the learning rate has already decayed), except right after
    the probe steps, when the first estimate is replaced by a measured one.
    """
    if not budget.limited or clock.steps < 2 or (state.step >= state.planned_steps and not force):
        return
    per_step = clock.per_step()
    eval_seconds = config.n_evals * config.eval_iters * per_step / 3  # upper bound: a forward is ~1/3 of a step
    steps_left = max(1, int((budget.remaining() - eval_seconds) / per_step))
    planned = state.step + steps_left
    state.planned_steps = min(planned, config.max_steps) if config.max_steps else planned


@torch.no_grad()
def estimate_loss(s: Session, split: str, iters: int, seed: int) -> float:
    """Mean loss over ``iters`` batches; the same batches at every call, so evaluations compare."""
    generator = torch.Generator()
    generator.manual_seed(seed + 1)
    s.model.eval()
    losses = []
    for _ in range(iters):
        x, y = s.data.get_batch(split, s.batch_size, s.model.config.block_size, generator, s.device)  # (B, T)
        with s.autocast():
            _, loss = s.model(x, y)
        assert loss is not None
        losses.append(float(loss))
    s.model.train()
    return sum(losses) / len(losses)


def _evaluate(
    s: Session, config: GPTTrainConfig, train_loss: float, clock: _Clock, budget: Budget, progress: ProgressCallback
) -> None:
    state = s.state
    val = estimate_loss(s, "val", config.eval_iters, config.seed)
    improved = val < state.best_val
    if improved:
        state.best_val = val
        save_weights(s.model, s.work / "best.safetensors")
    state.history.append({"step": state.step, "train_loss": train_loss, "val_loss": val,
                          "tokens_per_s": clock.rate(s), "elapsed": budget.elapsed()})
    _checkpoint(s)
    _emit(s, budget, progress, kind="eval", score=val,
          message=f"val loss {val:.4f}{' (best)' if improved else ''}, {clock.rate(s):,.0f} tok/s")


def _checkpoint(s: Session) -> None:
    save_checkpoint(s.work / "last", model=s.model, optimizer=s.optimizer, generator=s.generator,
                    state=dataclasses.asdict(s.state))


def _emit(
    s: Session, budget: Budget, progress: ProgressCallback, *, kind: str, message: str, score: float | None = None
) -> None:
    best = s.state.best_val if math.isfinite(s.state.best_val) else None
    progress(ProgressEvent(kind=kind, elapsed=budget.elapsed(), remaining=_left(budget), model="gpt", score=score,
                           best_score=best, message=message, n_done=s.state.step, n_total=s.state.planned_steps))


def _left(budget: Budget) -> float | None:
    return budget.remaining_total() if budget.limited else None


def _describe(s: Session) -> str:
    c = s.model.config
    threads = f" ({torch.get_num_threads()} threads)" if s.device == "cpu" else ""
    return (f"{c.n_layer} layers, {c.n_head} heads, {c.n_embd} wide, context {c.block_size}, "
            f"{s.model.num_parameters():,} parameters, {s.tokenizer.kind} vocabulary of {c.vocab_size}, "
            f"batch {s.batch_size}, on {s.device}{threads}")
