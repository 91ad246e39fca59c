"""Train a learned reconstructor within a time budget, validate per volume, keep the best, resume.

Protocol (fastMRI): training slices get a fresh random mask each time they are drawn; validation
volumes get one mask seeded by the file name, so validation scores are comparable across epochs
and runs. The model with the best mean validation SSIM (per volume, averaged over volumes) is kept.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from mlpilot.engine.budget import Budget
from mlpilot.engine.progress import ProgressCallback, ProgressEvent, no_progress
from mlpilot.errors import ConfigError, DataError
from mlpilot.tasks.mri.checkpoint import TrainingState, load_training_state, save_run
from mlpilot.tasks.mri.data import Volume, list_volumes
from mlpilot.tasks.mri.dataset import MaskTransform, SliceDataset, collate, shape_groups
from mlpilot.tasks.mri.masks import MASK_TYPES, MaskChoice, MaskFunc
from mlpilot.tasks.mri.metrics import VolumeMetrics, mean_metrics
from mlpilot.tasks.mri.models import ModelConfig, build_model, ssim_loss
from mlpilot.tasks.mri.recon import model_volume, targets, undersample_volume, zero_filled_volume


@dataclass(frozen=True)
class TrainConfig:
    """How to train. ``time_limit`` (seconds) bounds this call; ``max_steps`` bounds optimiser steps."""

    model: ModelConfig = field(default_factory=ModelConfig)
    accelerations: tuple[int, ...] = (4,)
    mask_type: str = "random"
    time_limit: float | None = 60.0
    max_steps: int | None = None
    batch_size: int = 4
    lr: float = 1e-3
    ssim_weight: float = 0.0  # loss = (1 - w)·L1 + w·(1 - SSIM) on images scaled by the volume max; fastMRI U-Net: L1
    val_fraction: float = 0.2
    val_every_steps: int | None = None  # default: once per epoch and at the end
    seed: int = 0
    resume: bool = False
    # torch threads; None keeps torch's default. On a loaded machine 1 thread can be several times
    # faster than 2, because idle-waiting worker threads fight other processes for the cores.
    n_threads: int | None = None
    device: str | None = None  # "cpu", "cuda", "cuda:1"...; None: the GPU when torch sees one, else the CPU

    def __post_init__(self) -> None:
        if self.time_limit is not None and self.time_limit <= 0:
            raise ConfigError(f"Time limit {self.time_limit} is invalid; give a positive number of seconds.")
        if self.time_limit is None and self.max_steps is None:
            raise ConfigError("Training needs a time limit or a step limit; pass --time-limit or --max-steps.")
        if self.mask_type not in MASK_TYPES:
            raise ConfigError(f"Unknown mask type {self.mask_type!r}; use one of {', '.join(MASK_TYPES)}.")
        if not 0.0 <= self.ssim_weight <= 1.0 or self.batch_size < 1 or self.lr <= 0:
            raise ConfigError("Training needs 0 <= ssim_weight <= 1, batch_size >= 1 and lr > 0.")
        if self.n_threads is not None and self.n_threads < 1:
            raise ConfigError(f"Thread count {self.n_threads} is invalid; use 1 or more (or leave it out).")
        for acc in self.accelerations:
            MaskFunc(acc, kind=self.mask_type)  # validates each acceleration once, here
        if self.device is not None and self.device.startswith("cuda") and not torch.cuda.is_available():
            raise ConfigError(f"Device {self.device!r} was asked for but torch sees no GPU; use --device cpu.")

    def resolved_device(self) -> str:
        return self.device or ("cuda" if torch.cuda.is_available() else "cpu")

    def mask_funcs(self) -> list[MaskFunc]:
        return [MaskFunc(acc, kind=self.mask_type) for acc in self.accelerations]


def split_volumes(files: Sequence[Path], *, val_fraction: float, seed: int) -> tuple[list[Path], list[Path]]:
    """Hold out whole volumes for validation (slices of one volume are never split across the two)."""
    if len(files) < 2:
        raise DataError(
            f"Training needs at least 2 volumes (one held out for validation) but found {len(files)}; "
            f"simulate more with `mlpilot mri simulate --volumes 4`."
        )
    order = np.random.default_rng(seed).permutation(len(files))
    n_val = min(len(files) - 1, max(1, round(len(files) * val_fraction)))
    return [files[i] for i in sorted(order[n_val:])], [files[i] for i in sorted(order[:n_val])]


def validate(model: torch.nn.Module, volumes: Sequence[Volume], mask_funcs: Sequence[MaskFunc],
             *, batch_size: int) -> dict[str, dict[str, float]]:
    """Mean per-volume NMSE / PSNR / SSIM of the model and of zero-filling, per acceleration."""
    out = {}
    for mask_func in mask_funcs:
        rows, zf_rows = [], []
        for volume in volumes:
            samples = undersample_volume(volume, mask_func)
            gt = targets(samples)
            rows.append(VolumeMetrics.compute(gt, model_volume(model, samples, batch_size=batch_size)))
            zf_rows.append(VolumeMetrics.compute(gt, zero_filled_volume(samples)))
        out[f"{mask_func.acceleration}x"] = mean_metrics(rows) | {"zero_filled": mean_metrics(zf_rows)}
    return out


def _batches(dataset: SliceDataset, batch_size: int, rng: np.random.Generator) -> list[list[int]]:
    batches = []
    for group in shape_groups(dataset):
        order = rng.permutation(group)
        batches += [list(order[i : i + batch_size]) for i in range(0, len(order), batch_size)]
    return [batches[i] for i in rng.permutation(len(batches))]


def _loss(model: torch.nn.Module, dataset: SliceDataset, indices: list[int], ssim_weight: float) -> torch.Tensor:
    device = next(model.parameters()).device
    batch = collate([dataset[int(i)] for i in indices]).to(device)
    # bf16 autocast on GPUs that have it: convolutions run on tensor cores; the FFTs, norms and the
    # loss stay in float32 (autocast keeps them there).
    with torch.autocast(device_type="cuda", dtype=torch.bfloat16,
                        enabled=device.type == "cuda" and torch.cuda.is_bf16_supported()):
        output = model(batch.masked_kspace, batch.mask, batch.crop)  # (B, h, w)
    output = output.float()
    scale = batch.max_value.clamp_min(1e-12)[:, None, None]  # (B, 1, 1)
    l1 = F.l1_loss(output / scale, batch.target / scale)
    if ssim_weight == 0:
        return l1
    ssim_term = ssim_loss(output / scale, batch.target / scale, torch.ones_like(batch.max_value))
    return (1 - ssim_weight) * l1 + ssim_weight * ssim_term


def _lr(config: TrainConfig, budget: Budget, step: int, start_step: int) -> float:
    # Cosine decay over whichever limit ends training first, so a short budget still anneals.
    fractions = []
    if config.time_limit is not None:
        fractions.append(budget.elapsed() / config.time_limit)
    if config.max_steps is not None:
        fractions.append((step - start_step) / max(config.max_steps, 1))
    frac = min(1.0, max(fractions))
    return config.lr * (0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * frac)))


def train_step(model: torch.nn.Module, optimizer: torch.optim.Optimizer, dataset: SliceDataset,
               indices: list[int], *, ssim_weight: float) -> float:
    """One optimiser step on the slices ``indices``; returns the loss before the step."""
    model.train()
    optimizer.zero_grad(set_to_none=True)
    loss = _loss(model, dataset, indices, ssim_weight)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm=1.0)
    optimizer.step()
    return float(loss.detach())


def _initial_state(config: TrainConfig, out: Path, model: torch.nn.Module,
                   optimizer: torch.optim.Optimizer) -> TrainingState:
    if config.resume and (out / "manifest.json").is_file():
        state = load_training_state(out)
        if state.model_config != config.model:
            raise ConfigError(
                f"Run '{out}' was trained with {state.model_config}, not {config.model}; resume with the same "
                f"model settings or choose a new --out."
            )
        model.load_state_dict(state.last_weights)
        optimizer.load_state_dict(state.optimizer)
        state.log.append(f"resumed at step {state.step}")
        return state
    weights = {k: v.detach().clone() for k, v in model.state_dict().items()}
    return TrainingState(model_config=config.model, best_weights=weights, last_weights=weights,
                         optimizer=optimizer.state_dict())


def _data_summary(train_set: SliceDataset, val_volumes: Sequence[Volume]) -> dict[str, Any]:
    first = train_set.volumes[0]
    return {
        "train_volumes": [v.name for v in train_set.volumes], "val_volumes": [v.name for v in val_volumes],
        "train_slices": len(train_set), "multicoil": first.multicoil,
        "kspace_shape": list(first.kspace.shape[1:]), "recon_size": list(first.header.recon_size),
    }


def train(data: str | Path, out: str | Path, config: TrainConfig, *,
          progress: ProgressCallback = no_progress) -> Path:
    """Train ``config.model`` on the fastMRI volumes in ``data``; save the run to ``out`` and return its path."""
    threads = torch.get_num_threads()
    try:
        return _Trainer(data, Path(out), config, progress).run()
    finally:
        torch.set_num_threads(threads)  # config.n_threads applies to this call only


class _Trainer:
    """One training call: owns the model, optimiser, budget and the run directory it keeps up to date."""

    def __init__(self, data: str | Path, out: Path, config: TrainConfig, progress: ProgressCallback) -> None:
        self.budget = Budget(config.time_limit)  # started first: reading the data counts against the limit
        if config.n_threads is not None:
            torch.set_num_threads(config.n_threads)
        torch.manual_seed(config.seed)
        self.rng = np.random.default_rng(config.seed)
        self.out, self.config, self.progress = out, config, progress
        train_files, val_files = split_volumes(list_volumes(data), val_fraction=config.val_fraction,
                                               seed=config.seed)
        self.mask_funcs = config.mask_funcs()
        choice = MaskChoice(tuple(self.mask_funcs))
        self.train_set = SliceDataset(train_files, transform=MaskTransform(choice, use_seed=False, seed=config.seed))
        self.val_volumes = SliceDataset(val_files, transform=MaskTransform(self.mask_funcs[0])).volumes
        self.model = build_model(config.model).to(config.resolved_device())
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=config.lr)
        self.state = _initial_state(config, out, self.model, self.optimizer)
        self.start_step, self.start_elapsed = self.state.step, self.state.elapsed
        self.manifest = {"config": asdict(config) | {"device": config.resolved_device()},
                         "data": _data_summary(self.train_set, self.val_volumes)}
        self.best = max((h["score"] for h in self.state.history), default=-math.inf)
        self.val_cost, self.step_cost, self.since_val = 0.0, 0.0, 0

    def run(self) -> Path:
        config, state = self.config, self.state
        self.progress(ProgressEvent("start", 0.0, config.time_limit, model=config.model.kind,
                                    n_total=len(self.train_set)))
        if not state.history:
            self.checkpoint("initial")
        while self._epoch():
            state.epoch += 1
            if self.since_val:
                self.checkpoint(f"end of epoch {state.epoch}")
        if self.since_val:
            self.checkpoint("final")
        self.progress(ProgressEvent("done", self.budget.elapsed(), self.budget.remaining_total(),
                                    best_score=self.best, n_done=state.step))
        return self.out.resolve()

    def _epoch(self) -> bool:
        """Train one pass over the data; False when a time or step limit stopped it early."""
        config, state = self.config, self.state
        for indices in _batches(self.train_set, config.batch_size, self.rng):
            out_of_steps = config.max_steps is not None and state.step - self.start_step >= config.max_steps
            # Stop while there is still time to validate and save what was learned.
            out_of_time = self.budget.remaining_total() < 1.5 * self.step_cost + 1.2 * self.val_cost
            if out_of_steps or out_of_time:
                return False
            for group in self.optimizer.param_groups:
                group["lr"] = _lr(config, self.budget, state.step, self.start_step)
            t0 = time.perf_counter()
            loss = train_step(self.model, self.optimizer, self.train_set, indices, ssim_weight=config.ssim_weight)
            cost = time.perf_counter() - t0
            self.step_cost = 0.8 * self.step_cost + 0.2 * cost if self.step_cost else cost
            state.step, self.since_val = state.step + 1, self.since_val + 1
            state.log.append(f"step {state.step} loss {loss:.5f}")
            if config.val_every_steps and self.since_val >= config.val_every_steps:
                self.checkpoint("periodic")
        return True

    def checkpoint(self, note: str) -> None:
        """Validate, keep the weights if they are the best so far, and rewrite the run directory."""
        state, t0 = self.state, time.perf_counter()
        scores = validate(self.model, self.val_volumes, self.mask_funcs, batch_size=self.config.batch_size)
        score = float(np.mean([scores[k]["ssim"] for k in scores]))
        state.last_weights = {k: v.detach().clone() for k, v in self.model.state_dict().items()}
        if score > self.best:
            self.best, state.best_weights = score, state.last_weights
        state.optimizer = self.optimizer.state_dict()
        state.elapsed = self.start_elapsed + self.budget.elapsed()
        state.history.append({"step": state.step, "epoch": state.epoch, "score": score, "validation": scores})
        state.log.append(f"step {state.step} epoch {state.epoch} {note}: val SSIM {score:.4f}")
        best_entry = max(state.history, key=lambda h: h["score"])
        save_run(self.out, state, self.manifest | {"best": best_entry, "steps": state.step})
        self.val_cost, self.since_val = time.perf_counter() - t0, 0
        self.progress(ProgressEvent("model_done", self.budget.elapsed(), self.budget.remaining_total(),
                                    model=self.config.model.kind, score=score, best_score=self.best,
                                    message=note, n_done=state.step))
