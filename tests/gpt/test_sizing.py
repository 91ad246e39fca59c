"""The model-size rule: bigger budgets and corpora give bigger models; explicit sizes win."""

from __future__ import annotations

import pytest

from mlpilot.errors import ConfigError, DataError
from mlpilot.tasks.gpt.sizing import LADDER, choose_size

NO_OVERRIDES = dict.fromkeys(("n_layer", "n_head", "n_embd", "block_size"))


def _choose(seconds, corpus_tokens=10**8, overrides=NO_OVERRIDES, val_tokens=10**6):
    return choose_size(train_seconds=seconds, corpus_tokens=corpus_tokens, val_tokens=val_tokens, vocab_size=64,
                       device="cpu", overrides=overrides)


def test_more_time_or_more_data_never_gives_a_smaller_model():
    sizes = [_choose(s).config.n_params() for s in (1, 60, 600, 6000, 10**7)]
    assert sizes == sorted(sizes) and sizes[0] < sizes[-1]
    assert _choose(None).config.n_layer == LADDER[-1][0]  # no time limit: only the corpus caps the size
    assert _choose(None, corpus_tokens=30_000).config.n_layer == LADDER[0][0]  # small corpus, small model


def test_explicit_sizes_and_short_validation_text():
    choice = _choose(60, overrides={**NO_OVERRIDES, "n_layer": 3, "n_embd": 48, "n_head": 3})
    assert (choice.config.n_layer, choice.config.n_embd, choice.config.n_head) == (3, 48, 3)
    assert _choose(60, val_tokens=100).config.block_size == 64  # a power of two that fits the validation text
    with pytest.raises(ConfigError, match="block_size"):
        _choose(60, val_tokens=100, overrides={**NO_OVERRIDES, "block_size": 512})
    with pytest.raises(DataError, match="too small"):
        _choose(60, val_tokens=5)
