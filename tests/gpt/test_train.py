"""Training: the loss falls, checkpoints are safetensors + JSON, interrupted runs resume, tampering is refused."""

from __future__ import annotations

import itertools
import json

import pytest

from mlpilot.engine.progress import ProgressEvent
from mlpilot.errors import ArtifactError, ConfigError, DataError
from mlpilot.tasks.gpt.run import GPTRun
from mlpilot.tasks.gpt.train import lr_at, train


def test_training_lowers_the_validation_loss_and_saves_a_run(tiny_run):
    history = json.loads((tiny_run.path / "history.json").read_text())
    assert history[-1]["val_loss"] < history[0]["val_loss"] - 0.3
    files = {p.name for p in tiny_run.path.rglob("*") if p.is_file()}
    assert {"manifest.json", "model.safetensors", "config.json", "tokenizer.json"} <= files
    assert not any(name.endswith((".pt", ".pkl", ".bin")) for name in files)
    m = tiny_run.metrics
    assert m["steps"] == 30 and m["val_loss"] == pytest.approx(min(h["val_loss"] for h in history))
    assert not (tiny_run.path.parent / "run.work").exists()  # the work folder goes once the run is saved


def test_interrupted_training_resumes_from_its_checkpoint(corpus_file, tmp_path, make_config):
    out = tmp_path / "run"
    events: list[ProgressEvent] = []

    def interrupt_at_step_10(event: ProgressEvent) -> None:
        events.append(event)
        if event.kind == "eval" and event.n_done >= 10:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train(corpus_file, make_config(max_steps=20, n_evals=10), out=out, progress=interrupt_at_step_10)
    work = tmp_path / "run.work"
    state = json.loads((work / "last" / "state.json").read_text())
    assert state["step"] == 10 and not out.exists()
    assert {p.name for p in (work / "last").iterdir()} == {
        "model.safetensors", "optimizer.safetensors", "optimizer.json", "rng.safetensors", "state.json"}

    resumed: list[ProgressEvent] = []
    run = GPTRun.load(train(corpus_file, make_config(max_steps=20, n_evals=10, resume=True), out=out,
                            progress=resumed.append))
    steps = [e.n_done for e in resumed if e.kind == "eval"]
    assert steps[0] > 10 and steps[-1] == 20  # continued, did not start over
    history = json.loads((run.path / "history.json").read_text())
    assert [h["step"] for h in history][:5] == [2, 4, 6, 8, 10]  # history carried across the interruption


def test_resume_without_a_checkpoint_or_with_another_corpus(corpus_file, tmp_path, make_config):
    with pytest.raises(ConfigError, match="nothing to resume"):
        train(corpus_file, make_config(resume=True), out=tmp_path / "run")
    with pytest.raises(KeyboardInterrupt):
        train(corpus_file, make_config(), out=tmp_path / "run", progress=_interrupt)
    other = tmp_path / "other.txt"
    other.write_text(corpus_file.read_text()[:-100])
    with pytest.raises(ConfigError, match="corpus differs"):
        train(other, make_config(resume=True), out=tmp_path / "run")


def _interrupt(event: ProgressEvent) -> None:
    if event.kind == "eval":
        raise KeyboardInterrupt


def test_tampered_run_is_refused(tiny_run, tmp_path):
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(tiny_run.path, copy)
    weights = copy / "models" / "gpt" / "model.safetensors"
    raw = bytearray(weights.read_bytes())
    raw[-1] ^= 0xFF
    weights.write_bytes(bytes(raw))
    with pytest.raises(ArtifactError, match="checksum"):
        GPTRun.load(copy)


def test_learning_rate_warms_up_then_decays_to_the_floor():
    lrs = [lr_at(s, planned=100, warmup=10, peak=1e-3, floor=1e-4) for s in range(101)]
    assert 0 < lrs[0] < lrs[9] < lrs[10] == pytest.approx(1e-3)
    assert lrs[100] == pytest.approx(1e-4) and all(a >= b for a, b in itertools.pairwise(lrs[10:]))


def test_bad_inputs(tmp_path, make_config):
    with pytest.raises(DataError, match="does not exist"):
        train(tmp_path / "missing.txt", make_config(), out=tmp_path / "run")
    small = tmp_path / "small.txt"
    small.write_text("tiny corpus\n")
    with pytest.raises(DataError, match="too small"):
        train(small, make_config(block_size=None), out=tmp_path / "run")
    assert not (tmp_path / "run.work").exists()
    with pytest.raises(ConfigError, match="tokenizer"):
        make_config(tokenizer="words")
    with pytest.raises(ConfigError, match="time limit"):
        make_config(max_steps=None)


def test_bpe_run_end_to_end(corpus_file, tmp_path, make_config, held_out_text):
    run = GPTRun.load(train(corpus_file, make_config(tokenizer="bpe", max_steps=6), out=tmp_path / "run"))
    assert run.tokenizer.kind == "bpe" and run.config.vocab_size > 256
    assert run.manifest["data"]["chars_per_token"] > 1.5
    metrics = run.evaluate(held_out_text)
    assert metrics["bits_per_char"] < metrics["bits_per_token"]
    assert isinstance(run.generate("And God", run_sampling()), str)


def run_sampling():
    from mlpilot.tasks.gpt.config import SamplingConfig

    return SamplingConfig(max_new_tokens=10, seed=0)
