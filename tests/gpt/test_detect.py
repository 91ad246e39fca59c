"""Detection statistics, AUROC, calibration, and the loaded run's detect / evaluate / next views."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import torch

from mlpilot.errors import DataError
from mlpilot.tasks.gpt.detect import STATISTICS, auroc, calibrate, position_stats, reduce_stats, score_ids, verdict
from mlpilot.tasks.gpt.model import GPT, GPTConfig


def test_position_stats_shapes_and_ranges():
    torch.manual_seed(0)
    logits, targets = torch.randn(3, 7, 11), torch.randint(11, (3, 7))
    stats = position_stats(logits, targets)
    for tensor in stats:
        assert tensor.shape == (3, 7) and torch.isfinite(tensor).all()
    assert (stats.log_rank >= 0).all() and (stats.entropy >= 0).all() and (stats.variance >= 0).all()
    top = logits.argmax(-1)
    assert torch.allclose(position_stats(logits, top).log_rank, torch.zeros(3, 7))
    reduced = reduce_stats(stats)
    assert set(reduced) == set(STATISTICS) and all(v.shape == (3,) for v in reduced.values())


def test_curvature_is_standard_normal_on_own_samples_and_large_on_greedy_text():
    torch.manual_seed(0)
    logits = torch.randn(400, 64, 20) * 2
    sampled = torch.distributions.Categorical(logits=logits).sample()  # (400, 64)
    z = reduce_stats(position_stats(logits, sampled))["curvature"]
    assert abs(z.mean()) < 0.2 and 0.8 < z.std() < 1.2  # the analytic z-score under the model's own sampling
    greedy = reduce_stats(position_stats(logits, logits.argmax(-1)))["curvature"]
    assert greedy.min() > 3


def test_auroc_on_constructed_scores():
    assert auroc(np.array([3.0, 4.0]), np.array([1.0, 2.0])) == 1.0
    assert auroc(np.array([1.0, 2.0]), np.array([3.0, 4.0])) == 0.0
    assert auroc(np.array([1.0, 1.0]), np.array([1.0, 1.0])) == 0.5
    rng = np.random.default_rng(0)
    pos, neg = rng.normal(1, 1, 50).round(1), rng.normal(0, 1, 60).round(1)
    pairs = (pos[:, None] > neg[None, :]).mean() + 0.5 * (pos[:, None] == neg[None, :]).mean()
    assert auroc(pos, neg) == pytest.approx(pairs)


def test_calibration_orients_picks_the_best_statistic_and_thresholds_it():
    rng = np.random.default_rng(0)
    human = {name: rng.normal(0, 1, 40) for name in STATISTICS}
    machine = {name: rng.normal(0, 1, 40) for name in STATISTICS}
    machine["entropy"] = rng.normal(-3, 1, 40)  # machine text: lower entropy → orientation −1
    cal = calibrate(human, machine, chunk_tokens=64, sampling={})
    assert cal.best == "entropy" and cal.signs["entropy"] == -1.0 and cal.aurocs["entropy"] > 0.95
    assert all(0.5 <= a <= 1.0 for a in cal.aurocs.values())
    low = verdict({**dict.fromkeys(STATISTICS, 0.0), "entropy": -4.0}, cal)
    high = verdict({**dict.fromkeys(STATISTICS, 0.0), "entropy": 1.0}, cal)
    assert low["verdict"] == "machine" and low["probability_machine"] > 0.9
    assert high["verdict"] == "human" and high["probability_machine"] < 0.1


def test_windowed_scoring_matches_a_single_pass_and_handles_long_texts():
    torch.manual_seed(0)
    model = GPT(GPTConfig(vocab_size=30, block_size=16, n_layer=1, n_head=2, n_embd=16)).double().eval()
    ids = torch.randint(30, (2, 17))
    direct = reduce_stats(position_stats(model(ids[:, :-1])[0], ids[:, 1:]))
    windowed = score_ids(model, ids, rows_per_pass=1)
    for name in STATISTICS:
        assert np.allclose(direct[name], windowed[name])
    long = score_ids(model, torch.randint(30, (1, 50)))
    assert all(np.isfinite(v).all() and v.shape == (1,) for v in long.values())


def test_run_detect_evaluate_and_next(tiny_run, held_out_text):
    cal = tiny_run.manifest["calibration"]
    assert set(cal["aurocs"]) == set(STATISTICS) and cal["n_human"] == cal["n_machine"] == 8
    result = tiny_run.detect(held_out_text)
    assert result["verdict"] in ("human", "machine") and 0.0 <= result["probability_machine"] <= 1.0
    assert all(math.isfinite(v) for v in result["scores"].values())
    metrics = tiny_run.evaluate(held_out_text)
    assert metrics["n_chars"] == len(held_out_text) - 1  # char tokenizer: every character but the first
    assert metrics["bits_per_char"] == pytest.approx(metrics["loss"] / math.log(2))
    assert metrics["perplexity"] == pytest.approx(math.exp(metrics["loss"]))
    top = tiny_run.next_tokens("And God said", top=5)
    assert len(top) == 5 and all(a[1] >= b[1] for a, b in itertools.pairwise(top))
    assert sum(p for _, p in top) <= 1.0 + 1e-6
    with pytest.raises(DataError):
        tiny_run.detect("a")


def test_streaming_generation_from_a_loaded_run(tiny_run):
    from mlpilot.tasks.gpt.config import SamplingConfig

    config = SamplingConfig(max_new_tokens=25, seed=1)
    pieces = list(tiny_run.stream("In the beginning", config))
    assert len(pieces) == 25 and "".join(pieces) == tiny_run.generate("In the beginning", config)


def test_curvature_verdict_is_rescaled_to_the_calibration_length():
    rng = np.random.default_rng(0)
    human = {name: rng.normal(0, 1, 30) for name in STATISTICS}
    machine = {**{name: rng.normal(0, 1, 30) for name in STATISTICS}, "curvature": rng.normal(8, 1, 30)}
    cal = calibrate(human, machine, chunk_tokens=257, sampling={})
    assert cal.best == "curvature"
    scores = {**dict.fromkeys(STATISTICS, 0.0), "curvature": 4.0}  # z of a 65-token text: √4 × smaller
    assert verdict(scores, cal)["verdict"] == "human"
    assert verdict(scores, cal, n_tokens=65)["verdict"] == "machine"
