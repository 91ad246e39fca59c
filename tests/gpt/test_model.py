"""Model shapes, the key-value cache, and sampling filters."""

from __future__ import annotations

import math

import pytest
import torch

from mlpilot.errors import ConfigError
from mlpilot.tasks.gpt.config import SamplingConfig
from mlpilot.tasks.gpt.generate import filter_logits, generate_ids, pick
from mlpilot.tasks.gpt.model import GPT, GPTConfig, KVCache


def _model(**changes) -> GPT:
    torch.manual_seed(0)
    return GPT(GPTConfig(**{"vocab_size": 50, "block_size": 16, "n_layer": 2, "n_head": 2, "n_embd": 32, **changes}))


def test_forward_shapes_loss_and_tied_embeddings():
    model = _model()
    x, y = torch.randint(50, (3, 16)), torch.randint(50, (3, 16))
    logits, loss = model(x, y)
    assert logits.shape == (3, 16, 50)
    assert loss is not None and math.isclose(loss.item(), math.log(50), rel_tol=0.1)  # ~uniform at init
    assert model(x)[1] is None
    assert "lm_head.weight" not in model.state_dict()  # the output layer is the token embedding
    assert model.num_parameters() == model.config.n_params()
    with pytest.raises(ValueError):
        model(torch.randint(50, (1, 17)))


def test_weight_decay_only_on_matrices():
    decay, no_decay = _model().param_groups(0.1)
    assert all(p.dim() >= 2 for p in decay["params"]) and all(p.dim() < 2 for p in no_decay["params"])


def test_bad_config_is_a_config_error():
    with pytest.raises(ConfigError, match="multiple of n_head"):
        GPTConfig(vocab_size=10, n_embd=30, n_head=4)


def test_cached_forward_matches_full_forward():
    model = _model().double().eval()
    x = torch.randint(50, (2, 12))
    full, _ = model(x)
    cache = KVCache(model.config.n_layer)
    first, _ = model(x[:, :5], cache=cache)
    rest = [model(x[:, t:t + 1], cache=cache)[0] for t in range(5, 12)]
    stepped = torch.cat([first, *rest], dim=1)
    assert torch.allclose(full, stepped, atol=1e-10)


@pytest.mark.parametrize("n_new", [10, 40])  # 40 runs past block_size: the context window slides
def test_generation_with_and_without_cache_is_identical_at_temperature_zero(n_new):
    model = _model().double()
    prompt = torch.randint(50, (2, 5))
    with_cache = torch.stack(list(generate_ids(model, prompt, SamplingConfig(max_new_tokens=n_new, temperature=0))))
    without = torch.stack(list(generate_ids(
        model, prompt, SamplingConfig(max_new_tokens=n_new, temperature=0, use_cache=False))))
    assert with_cache.shape == (n_new, 2)
    assert torch.equal(with_cache, without)


def test_seeded_sampling_is_reproducible():
    model = _model()
    prompt = torch.randint(50, (1, 4))
    config = SamplingConfig(max_new_tokens=20, temperature=1.0, seed=3)
    first = torch.stack(list(generate_ids(model, prompt, config)))
    assert torch.equal(first, torch.stack(list(generate_ids(model, prompt, config))))


def test_top_k_and_top_p_never_pick_a_filtered_token():
    torch.manual_seed(0)
    logits = torch.randn(4, 30) * 3
    gen = torch.Generator().manual_seed(0)
    topk = set(torch.topk(logits, 5).indices.flatten().tolist())
    probs = logits.softmax(-1)
    for _ in range(200):
        picked = pick(logits, SamplingConfig(temperature=1.0, top_k=5), gen)
        for row, token in enumerate(picked.tolist()):
            assert token in torch.topk(logits[row], 5).indices.tolist()
        assert set(picked.tolist()) <= topk
        picked = pick(logits, SamplingConfig(temperature=1.0, top_p=0.5), gen)
        for row, token in enumerate(picked.tolist()):
            order = probs[row].argsort(descending=True)
            mass_before = probs[row][order][: (order == token).nonzero().item()].sum()
            assert mass_before < 0.5  # tokens before it had not yet reached p


def test_filter_logits_keeps_the_nucleus():
    logits = torch.log(torch.tensor([[0.5, 0.3, 0.15, 0.05]]))
    kept = torch.isfinite(filter_logits(logits, top_k=None, top_p=0.8))
    assert kept.tolist() == [[True, True, False, False]]
    kept = torch.isfinite(filter_logits(logits, top_k=None, top_p=0.81))
    assert kept.tolist() == [[True, True, True, False]]
    assert torch.isfinite(filter_logits(logits, top_k=1, top_p=None)).sum() == 1


@pytest.mark.parametrize("changes", [{"temperature": -1}, {"top_k": 0}, {"top_p": 0.0}, {"top_p": 1.5}])
def test_bad_sampling_settings(changes):
    with pytest.raises(ConfigError):
        SamplingConfig(**changes)
