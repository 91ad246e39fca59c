"""``mlpilot mri``: simulate fastMRI data, train a reconstructor, reconstruct files, evaluate against baselines.

Options left out fall back to the defaults of the task's config dataclasses (``SimulationConfig``,
``TrainConfig``, ``ModelConfig``, ``CsConfig``), so defaults live in one place.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from mlpilot import api
from mlpilot.cli.display import console, err_console
from mlpilot.cli.errors import user_errors
from mlpilot.errors import ArtifactError

app = typer.Typer(help="Accelerated MRI reconstruction (fastMRI): a full image from a fraction of the k-space.",
                  no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False)


def _given(**values: Any) -> dict[str, Any]:
    """The options the user actually set (None means: use the config dataclass default)."""
    return {name: value for name, value in values.items() if value is not None}


@app.command()
@user_errors
def simulate(
    out: Annotated[Path, typer.Option(help="Folder to write the fastMRI .h5 volumes to.")],
    volumes: Annotated[int | None, typer.Option(help="Number of volumes (files).")] = None,
    coils: Annotated[int | None, typer.Option(help="Receive coils; 1 = single-coil.")] = None,
    slices: Annotated[int | None, typer.Option(help="Slices per volume.")] = None,
    size: Annotated[tuple[int, int] | None, typer.Option(help="k-space matrix H W (readout, phase).")] = None,
    source: Annotated[str | None, typer.Option(
        help="phantom, natural (photographs), mni_brain (a real MR brain in random view and contrast), "
             "shepp_logan, nibabel_epi (real MR), nibabel_t1 (real MR) or skimage_brain.")] = None,
    noise: Annotated[float | None, typer.Option(help="k-space noise std as a fraction of the image maximum.")] = None,
    seed: Annotated[int | None, typer.Option(help="Random seed.")] = None,
) -> None:
    """Write simulated fastMRI-format volumes (k-space from phantoms or real magnitude MR images)."""
    config = api.mri.SimulationConfig(**_given(volumes=volumes, coils=coils, slices=slices, size=size,
                                               source=source, noise=noise, seed=seed))
    paths = api.mri.simulate(out, config)
    console.print(f"Wrote {len(paths)} volumes ({config.slices} slices, {config.coils} coil(s), "
                  f"k-space {config.size[0]}×{config.size[1]}, source {config.source}) to [bold]{out}[/]")


@app.command()
@user_errors
def train(
    data: Annotated[Path, typer.Argument(help="Folder of fully sampled fastMRI .h5 volumes.")],
    out: Annotated[Path, typer.Option(help="Run directory to save to.")],
    time_limit: Annotated[float | None, typer.Option(help="Seconds for training, validation included.")] = None,
    model: Annotated[str | None, typer.Option(help="unet or varnet.")] = None,
    acceleration: Annotated[list[int] | None, typer.Option(help="Acceleration(s) to train for; repeat for several.")
                            ] = None,
    mask_type: Annotated[str | None, typer.Option(help="random, equispaced or equispaced_fraction.")] = None,
    chans: Annotated[int | None, typer.Option(help="U-Net channels at the first level.")] = None,
    pools: Annotated[int | None, typer.Option(help="U-Net pooling levels.")] = None,
    cascades: Annotated[int | None, typer.Option(help="VarNet cascades.")] = None,
    data_consistency: Annotated[bool, typer.Option(
        help="U-Net: put the measured k-space lines back into its output.")] = True,
    batch_size: Annotated[int | None, typer.Option(help="Slices per optimiser step.")] = None,
    lr: Annotated[float | None, typer.Option(help="Adam learning rate (cosine-decayed over the budget).")] = None,
    max_steps: Annotated[int | None, typer.Option(help="Stop after this many optimiser steps.")] = None,
    seed: Annotated[int | None, typer.Option(help="Random seed.")] = None,
    threads: Annotated[int | None, typer.Option(help="torch threads; 1 is often fastest on a busy machine.")] = None,
    device: Annotated[str | None, typer.Option(help="cpu or cuda (default: the GPU when there is one).")] = None,
    resume: Annotated[bool, typer.Option("--resume", help="Continue the run in --out from its checkpoint.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress lines.")] = False,
) -> None:
    """Train a U-Net or E2E-VarNet on DATA within a time limit; keeps the best checkpoint by validation SSIM."""
    model_config = api.mri.ModelConfig(data_consistency=data_consistency, **_given(
        kind=model, chans=chans, num_pool_layers=pools, cascades=cascades))
    accelerations = tuple(acceleration) if acceleration else None
    config = api.mri.TrainConfig(model=model_config, resume=resume, **_given(
        accelerations=accelerations, mask_type=mask_type, time_limit=time_limit, batch_size=batch_size, lr=lr,
        max_steps=max_steps, seed=seed, n_threads=threads, device=device))

    def show(event: Any) -> None:
        if not quiet and event.kind == "model_done":
            err_console.print(f"[{event.elapsed:6.1f}s] step {event.n_done:>6} {event.message}: "
                              f"val SSIM {event.score:.4f} (best {event.best_score:.4f})", highlight=False)

    run = api.mri.train(data, out, config, progress=show)
    predictor = api.load(run)
    best = predictor.manifest["best"]
    _print_table({k: {"model": v, "zero_filled": v["zero_filled"]} for k, v in best["validation"].items()},
                 title=f"Validation (best at step {best['step']})")
    console.print(f"Run saved to [bold]{run}[/]")


@app.command()
@user_errors
def reconstruct(
    run_dir: Annotated[Path, typer.Argument(help="A run directory saved by `mlpilot mri train`.")],
    source: Annotated[Path, typer.Argument(help="fastMRI .h5 file with (undersampled) k-space.")],
    out: Annotated[Path, typer.Option(help="Output .h5 file (fastMRI 'reconstruction' layout).")],
    acceleration: Annotated[int | None, typer.Option(
        help="Treat the input as fully sampled and undersample it at this acceleration first.")] = None,
) -> None:
    """Reconstruct SOURCE with a trained model and write a fastMRI-format reconstruction file."""
    predictor = api.load(run_dir)
    if not hasattr(predictor, "reconstruct_file"):
        raise ArtifactError(f"Run '{run_dir}' is not an MRI run; train one with `mlpilot mri train`.")
    path = predictor.reconstruct_file(source, out, acceleration=acceleration)
    console.print(f"Wrote the reconstruction of {source.name} to [bold]{path}[/]")


@app.command()
@user_errors
def evaluate(
    run_dir: Annotated[Path, typer.Argument(help="A run directory saved by `mlpilot mri train`.")],
    data: Annotated[Path, typer.Argument(help="Folder (or file) of fully sampled fastMRI volumes with targets.")],
    acceleration: Annotated[list[int] | None, typer.Option(help="Acceleration(s); repeat for several.")] = None,
    cs: Annotated[bool, typer.Option("--cs/--no-cs", help="Include the compressed-sensing baseline.")] = True,
    cs_regulariser: Annotated[str | None, typer.Option(help="tv or wavelet.")] = None,
    cs_lamda: Annotated[float | None, typer.Option(help="CS regularisation weight.")] = None,
    cs_iterations: Annotated[int | None, typer.Option(help="CS solver iterations.")] = None,
    panel: Annotated[Path | None, typer.Option(help="PNG comparison panel to write.")] = Path("mri-panel.png"),
    panel_slice: Annotated[int | None, typer.Option("--slice", help="Slice shown in the panel.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the results as JSON.")] = False,
) -> None:
    """Compare zero-filled, compressed sensing and the trained model: NMSE / PSNR / SSIM per volume, averaged."""
    predictor = api.load(run_dir)
    if not hasattr(predictor, "reconstruct_file"):
        raise ArtifactError(f"Run '{run_dir}' is not an MRI run; train one with `mlpilot mri train`.")
    cs_config = api.mri.CsConfig(**_given(regulariser=cs_regulariser, lamda=cs_lamda, max_iter=cs_iterations)) \
        if cs else None
    report = predictor.evaluate(data, accelerations=acceleration, cs=cs_config, panel=panel, panel_slice=panel_slice)
    if as_json:
        console.print_json(json.dumps(report))
        return
    _print_table(report["results"], title=f"fastMRI metrics over {report['volumes']} volume(s)")
    if report["panel"]:
        console.print(f"Panel written to [bold]{report['panel']}[/]")


def _print_table(results: dict[str, dict[str, dict[str, float]]], *, title: str) -> None:
    from rich.table import Table

    table = Table(title=title)
    for column in ("Acceleration", "Method", "NMSE", "PSNR (dB)", "SSIM"):
        table.add_column(column, justify="left" if column == "Method" else "right")
    labels = {"zero_filled": "Zero-filled", "cs": "Compressed sensing", "model": "Model"}
    for acc, methods in results.items():
        for method, m in methods.items():
            table.add_row(acc, labels.get(method, method), f"{m['nmse']:.4f}", f"{m['psnr']:.2f}", f"{m['ssim']:.4f}")
    console.print(table)
