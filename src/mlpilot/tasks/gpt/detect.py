"""Flag machine-generated text with the model's own statistics (white-box, zero-shot).

Per text, from one forward pass: mean log-likelihood (Solaiman et al.), mean log-rank (GLTR,
DetectGPT baselines), mean predictive entropy, and the analytic Fast-DetectGPT curvature
(Bao et al. 2024): ``(Σ log p(x_t) − Σ E_p[log p]) / sqrt(Σ Var_p[log p])``, where the expectation
and variance are those of the model's own next-token distribution at each position.

Calibration, at the end of training: held-out human chunks against the model's own samples (same
length, same decoding settings as ``generate``'s defaults). Each statistic gets an AUROC and an
orientation (higher = machine); the best one gets a threshold (Youden's J) and a logistic fit that
turns its score into a probability.
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass
from typing import Any, NamedTuple

import numpy as np
import torch

from mlpilot.errors import DataError
from mlpilot.tasks.gpt.config import SamplingConfig
from mlpilot.tasks.gpt.data import TokenData, Tokenizer
from mlpilot.tasks.gpt.generate import generate_ids
from mlpilot.tasks.gpt.model import GPT

STATISTICS = ("log_likelihood", "log_rank", "entropy", "curvature")
PROMPT_TOKENS = 4  # machine samples continue the first tokens of a human chunk, so both start alike
MIN_TOKENS = 12  # generated tokens per calibration sample even when time is short


class PositionStats(NamedTuple):
    """Per-position statistics, each (B, T): the observed token and the model's own distribution."""

    log_prob: torch.Tensor  # log p(x_t)
    log_rank: torch.Tensor  # log of 1 + number of tokens more probable than x_t
    entropy: torch.Tensor  # −Σ p log p
    variance: torch.Tensor  # Var_p[log p]


def position_stats(logits: torch.Tensor, targets: torch.Tensor) -> PositionStats:
    """logits (B, T, V), targets (B, T) -> statistics (B, T) each."""
    logp = logits.float().log_softmax(dim=-1)  # (B, T, V)
    p = logp.exp()  # (B, T, V)
    observed = logp.gather(-1, targets[..., None]).squeeze(-1)  # (B, T)
    rank = (logp > observed[..., None]).sum(dim=-1) + 1  # (B, T)
    entropy = -(p * logp).sum(dim=-1)  # (B, T); E_p[log p] = −entropy
    variance = (p * logp.square()).sum(dim=-1) - entropy.square()  # (B, T)
    return PositionStats(observed, rank.float().log(), entropy, variance.clamp_min(0.0))


def reduce_stats(stats: PositionStats) -> dict[str, np.ndarray]:
    """One value per text (B,) for every statistic, each oriented as the literature defines it."""
    n = stats.log_prob.shape[1]
    discrepancy = stats.log_prob.sum(1) + stats.entropy.sum(1)  # Σ log p(x) − Σ E[log p]
    curvature = discrepancy / stats.variance.sum(1).clamp_min(1e-6).sqrt()
    values = {
        "log_likelihood": stats.log_prob.sum(1) / n,
        "log_rank": -stats.log_rank.sum(1) / n,  # negated: machine text sits in the top ranks
        "entropy": stats.entropy.sum(1) / n,
        "curvature": curvature,
    }
    return {name: v.detach().double().cpu().numpy() for name, v in values.items()}


@torch.no_grad()
def score_ids(model: GPT, ids: torch.Tensor, *, rows_per_pass: int | None = None) -> dict[str, np.ndarray]:
    """Statistics of each row of ``ids`` (B, N), N ≥ 2; rows longer than the context are scored in windows.

    Later windows keep half a block of context and score only the positions not scored yet.
    """
    model.eval()
    B, N = ids.shape
    block = model.config.block_size
    rows = rows_per_pass or max(1, (1 << 22) // (min(N, block) * model.config.vocab_size))
    parts: list[PositionStats] = []
    scored, start = 0, 0
    while scored < N - 1:
        end = min(start + block, N - 1)  # inputs ids[:, start:end], targets ids[:, start+1:end+1]
        chunks = []
        for r in range(0, B, rows):
            logits, _ = model(ids[r:r + rows, start:end])  # (b, t, V)
            chunks.append(position_stats(logits, ids[r:r + rows, start + 1:end + 1]))
        window = PositionStats(*(torch.cat(t, dim=0) for t in zip(*chunks, strict=True)))
        parts.append(PositionStats(*(t[:, scored - start:] for t in window)))
        scored, start = end, max(0, end - block // 2)
    return reduce_stats(PositionStats(*(torch.cat(t, dim=1) for t in zip(*parts, strict=True))))


def auroc(positive: np.ndarray, negative: np.ndarray) -> float:
    """Area under the ROC curve (Mann–Whitney U with average ranks for ties); positive = machine."""
    scores = np.concatenate([positive, negative])
    order = scores.argsort(kind="mergesort")
    ranks = np.empty(len(scores))
    sorted_scores = scores[order]
    i = 0
    while i < len(scores):  # average ranks over ties
        j = i
        while j + 1 < len(scores) and sorted_scores[j + 1] == sorted_scores[i]:
            j += 1
        ranks[order[i:j + 1]] = (i + j) / 2 + 1
        i = j + 1
    n_pos, n_neg = len(positive), len(negative)
    return float((ranks[:n_pos].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


@dataclass
class Calibration:
    """What ``detect`` needs: the chosen statistic, its orientation, threshold and probability fit."""

    aurocs: dict[str, float]  # oriented: max(AUROC, 1 − AUROC)
    signs: dict[str, float]  # +1 when higher means machine, −1 otherwise
    best: str
    threshold: float  # on the oriented score of ``best``
    slope: float
    intercept: float
    chunk_tokens: int
    n_human: int
    n_machine: int
    sampling: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Calibration:
        return cls(**data)


def calibrate(
    human: dict[str, np.ndarray], machine: dict[str, np.ndarray], *, chunk_tokens: int, sampling: dict[str, Any]
) -> Calibration:
    """Orient every statistic, pick the one with the best AUROC, and fit its threshold and probability."""
    aurocs, signs = {}, {}
    for name in STATISTICS:
        raw = auroc(machine[name], human[name])
        signs[name] = 1.0 if raw >= 0.5 else -1.0
        aurocs[name] = max(raw, 1.0 - raw) if math.isfinite(raw) else 0.5
    best = max(STATISTICS, key=lambda n: aurocs[n])
    pos, neg = signs[best] * machine[best], signs[best] * human[best]
    slope, intercept = _logistic_fit(np.concatenate([pos, neg]), np.r_[np.ones(len(pos)), np.zeros(len(neg))])
    return Calibration(
        aurocs=aurocs, signs=signs, best=best, threshold=_youden_threshold(pos, neg), slope=slope,
        intercept=intercept, chunk_tokens=chunk_tokens, n_human=len(neg), n_machine=len(pos), sampling=sampling,
    )


def _youden_threshold(positive: np.ndarray, negative: np.ndarray) -> float:
    """The cut that maximises TPR − FPR when ``score ≥ cut`` means machine (midpoint between scores)."""
    values = np.unique(np.concatenate([positive, negative]))
    cuts = np.concatenate([[values[0] - 1.0], (values[:-1] + values[1:]) / 2, [values[-1] + 1.0]])
    tpr = (positive[None, :] >= cuts[:, None]).mean(axis=1)
    fpr = (negative[None, :] >= cuts[:, None]).mean(axis=1)
    return float(cuts[int(np.argmax(tpr - fpr))])


def _logistic_fit(x: np.ndarray, y: np.ndarray, *, l2: float = 1e-2, steps: int = 50) -> tuple[float, float]:
    """1-D logistic regression by Newton's method; the small ridge keeps separable data finite."""
    mu, sd = float(x.mean()), float(x.std()) or 1.0
    z = (x - mu) / sd
    w = np.zeros(2)  # (slope, intercept) on the standardised score
    design = np.stack([z, np.ones_like(z)], axis=1)  # (n, 2)
    for _ in range(steps):
        p = 1 / (1 + np.exp(-(design @ w)))
        grad = design.T @ (p - y) + l2 * np.r_[w[0], 0.0]
        hess = (design * (p * (1 - p))[:, None]).T @ design + l2 * np.eye(2)
        w -= np.linalg.solve(hess, grad)
    return float(w[0] / sd), float(w[1] - w[0] * mu / sd)


def verdict(scores: dict[str, float], calibration: Calibration, *, n_tokens: int | None = None) -> dict[str, Any]:
    """Probability that a text of ``n_tokens`` tokens is machine-generated, and the thresholded verdict.

    The other statistics are means, but the curvature is a z-score that grows with √length; it is
    rescaled to the calibration length before the threshold applies.
    """
    oriented = calibration.signs[calibration.best] * scores[calibration.best]
    if calibration.best == "curvature" and n_tokens is not None and n_tokens > 1:
        oriented *= math.sqrt((calibration.chunk_tokens - 1) / (n_tokens - 1))
    logit = calibration.slope * oriented + calibration.intercept
    probability = 1 / (1 + math.exp(-max(-50.0, min(50.0, logit))))
    return {
        "statistic": calibration.best,
        "score": oriented,
        "threshold": calibration.threshold,
        "probability_machine": probability,
        "verdict": "machine" if oriented >= calibration.threshold else "human",
    }


def human_and_machine(
    model: GPT, data: TokenData, *, n: int, length: int, sampling: SamplingConfig, seed: int,
    deadline: float | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """``n`` held-out human chunks and ``n`` model samples, both (n, L) token ids.

    L is ``length``, or less when ``deadline`` (a ``time.perf_counter`` value) comes first: the
    samples then stop early and the human chunks are cut to the same length, never below 16 tokens.
    """
    device = next(model.parameters()).device
    rng = np.random.default_rng(seed)
    starts = rng.integers(0, len(data.val) - length, size=n)
    human = torch.as_tensor(np.stack([data.val[s:s + length].astype(np.int64) for s in starts]), device=device)
    prompt = human[:, :PROMPT_TOKENS]  # (n, P)
    config = SamplingConfig(**{**sampling.to_dict(), "max_new_tokens": length - PROMPT_TOKENS, "seed": seed})
    new: list[torch.Tensor] = []
    for token in generate_ids(model, prompt, config):  # token: (n,)
        new.append(token)
        if deadline is not None and len(new) >= MIN_TOKENS and time.perf_counter() > deadline:
            break
    machine = torch.cat([prompt, torch.stack(new, dim=1)], dim=1)  # (n, L)
    return human[:, :machine.shape[1]], machine


def detection_scores(
    model: GPT, data: TokenData, *, n: int, length: int, sampling: SamplingConfig, seed: int,
    deadline: float | None = None,
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray], int]:
    """Statistics of held-out human chunks and of the model's own samples, and the chunk length used."""
    human, machine = human_and_machine(
        model, data, n=n, length=length, sampling=sampling, seed=seed, deadline=deadline
    )
    return score_ids(model, human), score_ids(model, machine), int(machine.shape[1])


def detect_text(model: GPT, tokenizer: Tokenizer, text: str, calibration: Calibration) -> dict[str, Any]:
    """Scores of one text, and the calibrated probability and verdict."""
    device = next(model.parameters()).device
    ids = torch.as_tensor(tokenizer.encode(text), dtype=torch.long, device=device)[None, :]  # (1, N)
    if ids.shape[1] < 2:
        raise DataError("The text to check is too short: give at least two tokens (a few characters or words).")
    scores = {name: float(v[0]) for name, v in score_ids(model, ids).items()}
    n_tokens = int(ids.shape[1])
    result = {"scores": scores, "n_tokens": n_tokens, **verdict(scores, calibration, n_tokens=n_tokens)}
    if ids.shape[1] < calibration.chunk_tokens // 2:
        result["note"] = (
            f"The text has {ids.shape[1]} tokens; the detector was calibrated on {calibration.chunk_tokens}, "
            f"so the verdict on this short text is less reliable."
        )
    return result
