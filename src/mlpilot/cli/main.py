"""``mlpilot`` command line: fit, predict, leaderboard, evaluate and the churn demo.

User mistakes print one plain sentence on stderr and exit with status 1; ``--debug`` shows the
traceback instead.
"""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer

from mlpilot import api
from mlpilot._version import __version__
from mlpilot.cli.display import console, err_console, live_progress, print_leaderboard, report_lines
from mlpilot.errors import MlpilotError

app = typer.Typer(
    name="mlpilot",
    help="AutoML: a validated, explained, deployable model from a table, within a time budget.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
_state = {"debug": False}
F = TypeVar("F", bound=Callable[..., Any])


def user_errors(func: F) -> F:
    """Turn mlpilot's user-facing errors into one line on stderr and a non-zero exit."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except MlpilotError as exc:
            if _state["debug"]:
                raise
            err_console.print(f"[bold red]Error:[/] {exc}", highlight=False, soft_wrap=True)
            raise typer.Exit(1) from None
        except KeyboardInterrupt:
            err_console.print("Interrupted.")
            raise typer.Exit(130) from None

    return wrapper  # type: ignore[return-value]


def _version(value: bool) -> None:
    if value:
        console.print(f"mlpilot {__version__}")
        raise typer.Exit()


@app.callback()
def main_options(
    debug: Annotated[bool, typer.Option("--debug", help="Show full tracebacks for errors.")] = False,
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Show the version.")
    ] = False,
) -> None:
    _state["debug"] = debug


@app.command()
@user_errors
def fit(
    data: Annotated[str, typer.Argument(help="Training table: CSV, TSV or Parquet file.")],
    target: Annotated[str, typer.Option("--target", "-t", help="Column to predict.")],
    time_limit: Annotated[float | None, typer.Option(help="Seconds for the whole fit (default: no limit).")] = None,
    metric: Annotated[str | None, typer.Option(help="Metric to optimise, e.g. roc_auc, log_loss, rmse.")] = None,
    task: Annotated[str | None, typer.Option(help="binary, multiclass or regression (inferred if omitted).")] = None,
    out: Annotated[Path | None, typer.Option(help="Run directory to save to.")] = None,
    preset: Annotated[str, typer.Option(help="medium_quality, best_quality or fast.")] = "medium_quality",
    seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
    max_models: Annotated[int | None, typer.Option(help="Try at most this many models.")] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress display.")] = False,
) -> None:
    """Train models on DATA to predict TARGET and save the run."""
    with live_progress(time_limit=time_limit, metric=metric, enabled=not quiet) as progress:
        model = api.fit(data, target=target, time_limit=time_limit, metric=metric, task=task, path=out,
                        preset=preset, seed=seed, max_models=max_models, progress=progress)
    console.print(report_lines(model.data_report.summary_lines(), title="Data report"))
    print_leaderboard(model.leaderboard(), title="Leaderboard (out-of-fold scores)")
    console.print(f"Run saved to [bold]{model.path}[/]")


@app.command()
@user_errors
def predict(
    run_dir: Annotated[Path, typer.Argument(help="A run directory saved by `mlpilot fit`.")],
    data: Annotated[str, typer.Argument(help="Table to score: CSV, TSV or Parquet file.")],
    out: Annotated[Path | None, typer.Option(help="Write predictions to this CSV or Parquet file.")] = None,
) -> None:
    """Predict every row of DATA with a saved run."""
    model = api.load(run_dir)
    result = model.predict(data).to_frame(name=f"predicted_{model.target}")
    if model.problem_type != "regression":
        proba = model.predict_proba(data).add_prefix("proba_")
        result = result.join(proba)
    for note in model.notes:
        err_console.print(f"Note: {note}", highlight=False)
    if out is None:
        result.to_csv(sys.stdout, index=False)
        return
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.suffix.lower() in (".parquet", ".pq"):
        result.to_parquet(out, index=False)
    else:
        result.to_csv(out, index=False)
    err_console.print(f"Wrote {len(result)} predictions to {out}")


@app.command()
@user_errors
def leaderboard(run_dir: Annotated[Path, typer.Argument(help="A run directory saved by `mlpilot fit`.")]) -> None:
    """Show every model a run tried, its validation score and timings."""
    model = api.load(run_dir)
    title = f"Leaderboard ({model.metric}, {model.manifest['validation']})"
    print_leaderboard(model.leaderboard(), title=title)


@app.command()
@user_errors
def evaluate(
    run_dir: Annotated[Path, typer.Argument(help="A run directory saved by `mlpilot fit`.")],
    data: Annotated[str, typer.Argument(help="Labelled table (with the target column).")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the metrics as JSON.")] = False,
) -> None:
    """Score a saved run on labelled data."""
    model = api.load(run_dir)
    metrics = model.evaluate(data)
    if as_json:
        console.print_json(json.dumps(metrics))
        return
    for name, value in metrics.items():
        console.print(f"{name:>20}: {value:.5g}")


@app.command()
@user_errors
def demo(
    time_limit: Annotated[float, typer.Option(help="Seconds for training.")] = 60.0,
    out: Annotated[Path, typer.Option(help="Run directory to save to.")] = Path("runs/churn-demo"),
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress display.")] = False,
) -> None:
    """Predict which telecom customers will cancel (the bundled Telco churn table), and why."""
    from mlpilot.cli.demo import run_demo

    run_demo(time_limit=time_limit, out=out, show_progress=not quiet)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
