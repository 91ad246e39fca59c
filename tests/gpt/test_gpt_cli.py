"""``mlpilot gpt`` end to end on a tiny corpus, and bad inputs."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from mlpilot.cli.main import app

runner = CliRunner()
SIZE = ["--n-layer", "1", "--n-head", "2", "--n-embd", "32", "--block-size", "32", "--tokenizer", "char"]


@pytest.fixture(scope="module")
def cli_run(corpus_file, tmp_path_factory):
    out = tmp_path_factory.mktemp("cli") / "run"
    result = runner.invoke(app, ["gpt", "train", str(corpus_file), "--time-limit", "8", "--out", str(out),
                                 "--quiet", *SIZE])
    assert result.exit_code == 0, result.output
    return out, result.output


def test_train_reports_loss_samples_and_detection(cli_run):
    out, output = cli_run
    assert "Validation loss" in output and "Sample 1" in output and "AUROC" in output
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["kind"] == "gpt" and manifest["metrics"]["total_seconds"] < 12


def test_generate_next_evaluate_detect(cli_run, held_out_text, tmp_path):
    out, _ = cli_run
    result = runner.invoke(app, ["gpt", "generate", str(out), "--prompt", "And God", "--max-new-tokens", "30",
                                 "--seed", "1", "--top-k", "5", "--top-p", "0.9"])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("And God") and len(result.output.rstrip("\n")) == len("And God") + 30
    no_cache = runner.invoke(app, ["gpt", "generate", str(out), "--prompt", "And God", "--max-new-tokens", "30",
                                   "--seed", "1", "--top-k", "5", "--top-p", "0.9", "--no-cache"])
    assert no_cache.output == result.output
    result = runner.invoke(app, ["gpt", "next", str(out), "--prompt", "And God", "--top", "3", "--json"])
    assert result.exit_code == 0, result.output
    assert len(json.loads(result.output)) == 3
    text = tmp_path / "held_out.txt"
    text.write_text(held_out_text)
    result = runner.invoke(app, ["gpt", "evaluate", str(out), str(text), "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["bits_per_char"] > 0
    result = runner.invoke(app, ["gpt", "detect", str(out), "-"], input=held_out_text)
    assert result.exit_code == 0, result.output
    assert "Verdict:" in result.output


@pytest.mark.parametrize("args, message", [
    (["gpt", "train", "missing.txt", "--time-limit", "5"], "missing.txt"),
    (["gpt", "train", "{corpus}", "--tokenizer", "words"], "tokenizer"),
    (["gpt", "train", "{corpus}", "--time-limit", "-1"], "time_limit"),
    (["gpt", "train", "{corpus}", "--resume", "--out", "{folder}/fresh"], "nothing to resume"),
    (["gpt", "generate", "{folder}", "--prompt", "x"], "No mlpilot run"),
    (["gpt", "generate", "{run}", "--temperature", "-2"], "temperature"),
    (["gpt", "evaluate", "{run}", "missing.txt"], "missing.txt"),
    (["gpt", "detect", "{run}", "{binary}"], "UTF-8"),
])
def test_bad_inputs_exit_1_with_one_sentence(cli_run, corpus_file, tmp_path, args, message):
    binary = tmp_path / "blob.txt"
    binary.write_bytes(b"\xff\xfe\x00\x81")
    out, _ = cli_run
    args = [a.format(corpus=corpus_file, folder=tmp_path, run=out, binary=binary) for a in args]
    result = runner.invoke(app, [*args, "--quiet"] if args[1] == "train" else args)
    assert result.exit_code == 1, result.output
    assert message in result.output and "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) <= 3  # one sentence (rich may wrap it)


def test_api_load_dispatches_gpt_runs(cli_run):
    from mlpilot import api

    out, _ = cli_run
    assert type(api.load(out)).__name__ == "GPTRun"  # api.load dispatches on the manifest's kind
