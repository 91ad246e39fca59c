"""Tiny corpora and one tiny trained run shared by the GPT tests (CPU, seconds)."""

from __future__ import annotations

import pytest

from mlpilot.tasks.gpt.config import GPTTrainConfig
from mlpilot.tasks.gpt.data import default_corpus

TINY = {"n_layer": 1, "n_head": 2, "n_embd": 32, "block_size": 32}


def tiny_config(**changes: object) -> GPTTrainConfig:
    base = {"time_limit": None, "max_steps": 20, "eval_iters": 2, "n_evals": 4, "calibration_texts": 8,
            "calibration_tokens": 48, "batch_size": 8, "tokenizer": "char", **TINY}
    return GPTTrainConfig(**{**base, **changes})


@pytest.fixture(scope="session")
def kjv_text() -> str:
    return default_corpus()


@pytest.fixture(scope="session")
def corpus_file(tmp_path_factory, kjv_text):
    """About 30k characters of Genesis: big enough for a split, small enough for seconds of training."""
    path = tmp_path_factory.mktemp("corpus") / "genesis.txt"
    path.write_text(kjv_text[:30_000], encoding="utf-8")
    return path


@pytest.fixture(scope="session")
def held_out_text(kjv_text) -> str:
    return kjv_text[200_000:202_000]


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory, corpus_file):
    from mlpilot.tasks.gpt.run import GPTRun
    from mlpilot.tasks.gpt.train import train

    out = tmp_path_factory.mktemp("gpt") / "run"
    return GPTRun.load(train(corpus_file, tiny_config(max_steps=30), out=out))


@pytest.fixture(scope="session")
def make_config():
    """``tiny_config`` for the tests (test modules here are not a package, so they cannot import it)."""
    return tiny_config


@pytest.fixture(scope="module", autouse=True)
def _one_thread(one_torch_thread):
    """Every GPT test runs with torch on one thread (the fixture is in tests/conftest.py)."""
