"""``mlpilot gpt``: pretrain a small GPT, generate text, look at next-token probabilities, evaluate, detect.

Options left out fall back to the defaults of the task's config dataclasses (``GPTTrainConfig``,
``SamplingConfig``), so defaults live in one place.
"""

from __future__ import annotations

import json
import math
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.live import Live
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from mlpilot import api
from mlpilot.cli.display import console, err_console, print_metrics
from mlpilot.cli.errors import user_errors
from mlpilot.errors import DataError

app = typer.Typer(help="Pretrain a small GPT on a corpus, generate text, and flag machine-generated text.",
                  no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False)

RunDir = Annotated[Path, typer.Argument(help="A run directory saved by `mlpilot gpt train` or `demo`.")]
Prompt = Annotated[str, typer.Option("--prompt", "-p", help="Text to continue.")]
Quiet = Annotated[bool, typer.Option("--quiet", "-q", help="No progress display.")]
AsJson = Annotated[bool, typer.Option("--json", help="Print the result as JSON.")]
DEMO_PROMPT = "And God said unto"


def _given(**values: Any) -> dict[str, Any]:
    """The options the user actually set (None means: use the config dataclass default)."""
    return {name: value for name, value in values.items() if value is not None}


# ------------------------------------------------------------------------------------------ progress


class TrainProgress:
    """A live bar over the planned steps, with validation loss, throughput and time left."""

    def __init__(self) -> None:
        self.bar = Progress(TextColumn("[bold]{task.description}"), BarColumn(), TextColumn("{task.fields[status]}"),
                            TimeElapsedColumn(), console=err_console)
        self.task_id = self.bar.add_task("gpt", total=1, status="reading the corpus")

    def __call__(self, event: api.ProgressEvent) -> None:
        if event.kind == "sized":
            err_console.print(f"Model: {event.message}", highlight=False)
        parts = [event.message]
        if event.best_score is not None:
            parts.append(f"best val {event.best_score:.4f}")
        if event.remaining is not None and math.isfinite(event.remaining):
            parts.append(f"{max(event.remaining, 0):.0f}s left")
        total = max(event.n_total, event.n_done, 1)
        completed = total if event.kind == "done" else event.n_done
        self.bar.update(self.task_id, total=total, completed=completed, status=" · ".join(parts),
                        description=f"step {event.n_done}/{total}" if event.n_total else "gpt")


@contextmanager
def _progress(enabled: bool) -> Iterator[Any]:
    if not enabled:
        yield None
        return
    view = TrainProgress()
    with Live(view.bar, console=err_console, refresh_per_second=4):
        yield view


# ------------------------------------------------------------------------------------------ commands


@app.command()
@user_errors
def train(
    corpus: Annotated[str, typer.Argument(help="A UTF-8 text file or a folder of .txt files.")],
    out: Annotated[Path, typer.Option(help="Run directory to save to.")] = Path("runs/gpt"),
    time_limit: Annotated[float | None, typer.Option(help="Seconds for the whole run (default 600).")] = None,
    tokenizer: Annotated[str | None, typer.Option(help="bpe (byte-level BPE, default) or char.")] = None,
    resume: Annotated[bool, typer.Option("--resume", help="Continue an interrupted run with the same --out.")] = False,
    n_layer: Annotated[int | None, typer.Option(help="Transformer blocks (default: from the budget).")] = None,
    n_head: Annotated[int | None, typer.Option(help="Attention heads (default: from the budget).")] = None,
    n_embd: Annotated[int | None, typer.Option(help="Embedding width (default: from the budget).")] = None,
    block_size: Annotated[int | None, typer.Option(help="Context length in tokens (default: from the budget).")] = None,
    max_steps: Annotated[int | None, typer.Option(help="Stop after this many optimizer steps.")] = None,
    seed: Annotated[int | None, typer.Option(help="Random seed.")] = None,
    quiet: Quiet = False,
) -> None:
    """Pretrain a GPT on CORPUS within the time limit and save the run."""
    run = _train_and_report(corpus, out=out, quiet=quiet, settings=_given(
        time_limit=time_limit, tokenizer=tokenizer, resume=resume or None, n_layer=n_layer, n_head=n_head,
        n_embd=n_embd, block_size=block_size, max_steps=max_steps, seed=seed))
    console.print(f"\nRun saved to [bold]{run.path}[/]")


@app.command()
@user_errors
def demo(
    time_limit: Annotated[float, typer.Option(help="Seconds for the whole run.")] = 120.0,
    out: Annotated[Path, typer.Option(help="Run directory to save to.")] = Path("runs/gpt-demo"),
    resume: Annotated[bool, typer.Option("--resume", help="Continue an interrupted demo run.")] = False,
    quiet: Quiet = False,
) -> None:
    """Train on the King James Bible (ships offline), then sample, show next-token odds and detection AUROCs."""
    run = _train_and_report(None, out=out, quiet=quiet, settings={"time_limit": time_limit, "resume": resume})
    _print_next(run.next_tokens(DEMO_PROMPT, top=8), DEMO_PROMPT)
    console.print(f"\nRun saved to [bold]{run.path}[/]")
    console.print(f"Try: mlpilot gpt generate {out} --prompt \"{DEMO_PROMPT}\"", highlight=False)


def _train_and_report(corpus: str | None, *, out: Path, quiet: bool, settings: dict[str, Any]) -> Any:
    config = api.GPTTrainConfig(**settings)
    try:
        with _progress(not quiet) as progress:
            run = api.train_gpt(corpus, out=out, config=config, progress=progress)
    except KeyboardInterrupt:
        err_console.print(f"Interrupted. The last checkpoint is kept in {out}.work; run the same command with "
                          f"--resume to continue.", highlight=False)
        raise typer.Exit(130) from None
    m = run.metrics
    console.print(
        f"Validation loss {m['val_loss']:.4f} nats/token · {m['val_bits_per_char']:.3f} bits/char · "
        f"{m['steps']} steps · {m['tokens_per_s'] or 0:,.0f} tokens/s · {run.manifest['n_params']:,} parameters",
        highlight=False,
    )
    for i, sample in enumerate(run.samples, 1):
        console.print(f"\n[bold]Sample {i}[/]\n{sample.strip()}", highlight=False)
    _print_calibration(run.calibration)
    return run


def _print_calibration(calibration: Any) -> None:
    table = Table(title="Machine-text detection (held-out human text vs the model's own samples)",
                  header_style="bold")
    for column in ("statistic", "AUROC", "higher means"):
        table.add_column(column)
    for name, value in sorted(calibration.aurocs.items(), key=lambda kv: -kv[1]):
        marker = " (used)" if name == calibration.best else ""
        table.add_row(name + marker, f"{value:.3f}", "machine" if calibration.signs[name] > 0 else "human")
    console.print(table)


def _print_next(candidates: list[tuple[str, float]], prompt: str) -> None:
    table = Table(title=f"Most probable next tokens after {prompt!r}", header_style="bold")
    table.add_column("token")
    table.add_column("probability", justify="right")
    for token, p in candidates:
        table.add_row(repr(token), f"{p:.4f}")
    console.print(table)


@app.command()
@user_errors
def generate(
    run_dir: RunDir,
    prompt: Prompt = "",
    max_new_tokens: Annotated[int | None, typer.Option(help="Tokens to generate (default 200).")] = None,
    temperature: Annotated[float | None, typer.Option(help="0 is greedy; default 0.8.")] = None,
    top_k: Annotated[int | None, typer.Option(help="Sample among the k most probable tokens only.")] = None,
    top_p: Annotated[float | None, typer.Option(help="Nucleus sampling: smallest set with this mass.")] = None,
    seed: Annotated[int | None, typer.Option(help="Random seed (default: a fresh one).")] = None,
    no_cache: Annotated[bool, typer.Option("--no-cache", help="Recompute the context at every token.")] = False,
) -> None:
    """Continue PROMPT with text sampled from the model, streamed to stdout."""
    sampling = api.SamplingConfig(**_given(max_new_tokens=max_new_tokens, temperature=temperature, top_k=top_k,
                                           top_p=top_p, seed=seed, use_cache=False if no_cache else None))
    run = api.load_gpt(run_dir)
    sys.stdout.write(prompt)
    for piece in run.stream(prompt, sampling):
        sys.stdout.write(piece)
        sys.stdout.flush()
    sys.stdout.write("\n")


@app.command(name="next")
@user_errors
def next_token(
    run_dir: RunDir,
    prompt: Prompt = "",
    top: Annotated[int, typer.Option(min=1, help="How many tokens to show.")] = 10,
    as_json: AsJson = False,
) -> None:
    """Show the most probable next tokens after PROMPT, with their probabilities."""
    candidates = api.load_gpt(run_dir).next_tokens(prompt, top=top)
    if as_json:
        console.print_json(json.dumps([{"token": t, "probability": p} for t, p in candidates]))
        return
    _print_next(candidates, prompt)


@app.command()
@user_errors
def evaluate(
    run_dir: RunDir,
    text_file: Annotated[str, typer.Argument(help="Held-out text (UTF-8 file, or - for stdin).")],
    as_json: AsJson = False,
) -> None:
    """Perplexity and bits per character of a held-out text under the model."""
    print_metrics(api.load_gpt(run_dir).evaluate(_read_text(text_file)), as_json=as_json, width=15)


@app.command()
@user_errors
def detect(
    run_dir: RunDir,
    text_file: Annotated[str, typer.Argument(help="Text to check (UTF-8 file, or - for stdin).")],
    as_json: AsJson = False,
) -> None:
    """Estimate whether a text was generated by this model (calibrated on its own samples)."""
    result = api.load_gpt(run_dir).detect(_read_text(text_file))
    if as_json:
        console.print_json(json.dumps(result))
        return
    console.print(f"Verdict: [bold]{result['verdict']}[/] (probability machine-generated "
                  f"{result['probability_machine']:.3f}, {result['statistic']} {result['score']:.4g} "
                  f"vs threshold {result['threshold']:.4g}, {result['n_tokens']} tokens)")
    for name, value in result["scores"].items():
        console.print(f"{name:>15}: {value:.5g}")
    if "note" in result:
        err_console.print(f"Note: {result['note']}", highlight=False)


def _read_text(source: str) -> str:
    if source == "-":
        return sys.stdin.read()
    path = Path(source)
    if not path.is_file():
        raise DataError(f"Text file '{source}' does not exist; pass a UTF-8 text file, or - to read stdin.")
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise DataError(f"'{source}' is not UTF-8 text; convert it to UTF-8 or pass another file.") from None
