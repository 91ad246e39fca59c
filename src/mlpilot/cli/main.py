"""``mlpilot`` command line: fit, predict, leaderboard, evaluate and the churn demo.

User mistakes print one plain sentence on stderr and exit with status 1; ``--debug`` shows the
traceback instead.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from mlpilot import api
from mlpilot._version import __version__
from mlpilot.cli import deploy_cmd, export_cmd, gpt_cmd, mri_cmd, report_cmd, serve_cmd, ui_cmd
from mlpilot.cli.display import console, err_console, live_progress, print_leaderboard, print_metrics, report_lines
from mlpilot.cli.errors import _state, user_errors

app = typer.Typer(
    name="mlpilot",
    help="AutoML: a validated, explained, deployable model from a table, within a time budget.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


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
    data: Annotated[str, typer.Argument(help="Training table: CSV, TSV or Parquet file (or Parquet folder).")],
    target: Annotated[str, typer.Option("--target", "-t", help="Column to predict.")],
    time_limit: Annotated[float | None, typer.Option(help="Seconds for the whole fit (default: no limit).")] = None,
    metric: Annotated[str | None, typer.Option(help="Metric to optimise, e.g. roc_auc, log_loss, rmse.")] = None,
    task: Annotated[str | None, typer.Option(help="binary, multiclass or regression (inferred if omitted).")] = None,
    out: Annotated[Path | None, typer.Option(help="Run directory to save to.")] = None,
    preset: Annotated[str, typer.Option(help="medium_quality, best_quality or fast.")] = "medium_quality",
    seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
    max_models: Annotated[int | None, typer.Option(help="Try at most this many models.")] = None,
    refit_full: Annotated[bool, typer.Option(help="Refit ensemble members on all rows (faster predict).")] = False,
    tune: Annotated[bool, typer.Option(
        help="Spend time the portfolio leaves on an Optuna search of the best boosted-tree families.")] = False,
    cluster: Annotated[str | None, typer.Option(help="Dask scheduler address (tcp://host:8786) or local:N.")] = None,
    families: Annotated[str | None, typer.Option(
        help="Only these model families, comma-separated, e.g. lightgbm,xgboost,linear.")] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress display.")] = False,
) -> None:
    """Train models on DATA to predict TARGET and save the run."""
    with live_progress(time_limit=time_limit, metric=metric, enabled=not quiet) as progress:
        model = api.fit(data, target=target, time_limit=time_limit, metric=metric, task=task, path=out,
                        preset=preset, seed=seed, max_models=max_models, refit_full=refit_full, tune=tune,
                        cluster=cluster, progress=progress,
                        families=[f.strip() for f in families.split(",") if f.strip()] if families else None)
    console.print(report_lines(model.data_report.summary_lines(), title="Data report"))
    print_leaderboard(model.leaderboard(), title="Leaderboard (out-of-fold scores)")
    console.print(f"Run saved to [bold]{model.path}[/]")


@app.command()
@user_errors
def predict(
    run_dir: Annotated[Path, typer.Argument(help="A run directory saved by `mlpilot fit`.")],
    data: Annotated[str, typer.Argument(help="Table to score: CSV, TSV or Parquet file.")],
    out: Annotated[Path | None, typer.Option(help="Write predictions to this CSV or Parquet file.")] = None,
    chunk_rows: Annotated[int, typer.Option(min=1, help="Rows scored at a time (bounds memory).")] = 100_000,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
) -> None:
    """Predict every row of DATA with a saved run (large CSV/Parquet files are streamed in chunks)."""
    from mlpilot.cli.batch import predict_file

    model = api.load(run_dir)
    result = predict_file(model, data, out=out, chunk_rows=chunk_rows, show_progress=not quiet)
    for note in result.notes:
        err_console.print(f"Note: {note}", highlight=False)
    if out is not None:
        err_console.print(f"Wrote {result.rows} predictions to {out}")


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
    print_metrics(api.load(run_dir).evaluate(data), as_json=as_json)


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


# Deployment commands live in their own modules (issue 4).
app.command(name="serve")(user_errors(serve_cmd.serve))
app.command(name="card")(user_errors(deploy_cmd.card))
app.command(name="ui")(user_errors(ui_cmd.ui))  # the guided web app (issue 5)
app.command(name="report")(user_errors(report_cmd.report))  # HTML report of a run (issue 5)
app.command(name="export")(user_errors(export_cmd.export))  # ONNX / standalone Python (issue 4)

app.add_typer(mri_cmd.app, name="mri")  # MRI reconstruction commands (issue 6)
app.add_typer(gpt_cmd.app, name="gpt")  # GPT pretraining, generation and detection (issue 7)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
