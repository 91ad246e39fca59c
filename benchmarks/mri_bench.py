"""MRI reconstruction benchmark (not run in CI): U-Net (or VarNet) vs zero-filled vs compressed sensing on CPU.

Protocol:

1. simulate training volumes (single-coil unless ``--coils``) split evenly over ``--train-sources``:
   random anatomical phantoms, photographs, and slabs of the MNI152 T1 brain template in random view
   and contrast (seeds 0, 100, 200); held-out phantom
   volumes (another seed), and held-out *real* magnitude MR volumes shipped by nibabel (the EPI brain
   ``example4d.nii.gz`` and the T1 ``anatomical.nii``), each turned into k-space the same way
   (random smooth phase, intensity bias, complex noise);
2. train the fastMRI U-Net (or E2E-VarNet) on the training volumes for ``--budget`` seconds at 4x and 8x jointly
   (random masks, fastMRI centre fractions), validation on held-out training-seed volumes;
3. pick the CS (total-variation) weight per acceleration on one *training* volume of each source;
4. score zero-filled, CS and the model on each held-out set with fastMRI's per-volume NMSE / PSNR /
   SSIM, masks seeded per volume, and write a comparison panel.

Run: ``nice -n 10 .venv/bin/python benchmarks/mri_bench.py --budget 600 --out /tmp/mri_bench``
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch

from mlpilot.tasks import mri
from mlpilot.tasks.mri.baselines import CsConfig
from mlpilot.tasks.mri.data import list_volumes, read_volume
from mlpilot.tasks.mri.masks import MaskFunc
from mlpilot.tasks.mri.metrics import VolumeMetrics
from mlpilot.tasks.mri.recon import cs_volume, targets, undersample_volume

ACCELERATIONS = (4, 8)
LAMDAS = (0.003, 0.01, 0.03)


def simulate_sets(root: Path, args: argparse.Namespace) -> dict[str, Path]:
    size = (args.size[0], args.size[1])
    # Training volumes are split evenly over --train-sources, all written into one folder; every
    # test set is held out (other seeds, or real MR the model never sees).
    shares = np.array_split(np.arange(args.train_volumes), len(args.train_sources))
    sets = [("train", source, len(share), i * 100) for i, (source, share) in enumerate(
        zip(args.train_sources, shares, strict=True))]
    sets += [("test_phantom", "phantom", args.test_volumes, 1000), ("test_real_epi", "nibabel_epi", 1, 2000),
             ("test_real_t1", "nibabel_t1", 1, 3000)]
    paths = {}
    for name, source, volumes, seed in sets:
        folder = root / name
        config = mri.SimulationConfig(volumes=volumes, slices=args.slices, size=size, source=source, seed=seed,
                                      coils=args.coils)
        mri.simulate(folder, config)
        paths[name] = folder
    return paths


def tune_cs(train_dir: Path, *, sources: list[str], max_iter: int) -> dict[int, CsConfig]:
    """The TV weight with the best mean SSIM over one training volume of each source, per acceleration."""
    files = list_volumes(train_dir)
    volumes = [read_volume(next(f for f in files if f.name.startswith(f"{source}_"))) for source in sources]
    chosen = {}
    for acc in ACCELERATIONS:
        scores = {}
        for lam in LAMDAS:
            ssims = []
            for volume in volumes:
                samples = undersample_volume(volume, MaskFunc(acc))
                ssims.append(VolumeMetrics.compute(targets(samples), cs_volume(samples, CsConfig(
                    lamda=lam, max_iter=max_iter))).ssim)
            scores[lam] = float(np.mean(ssims))
        best = max(scores, key=lambda lam: scores[lam])
        chosen[acc] = CsConfig(lamda=best, max_iter=max_iter)
        print(f"CS {acc}x: TV weight {best} (mean training-volume SSIM {scores})", flush=True)
    return chosen


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budget", type=float, default=420.0, help="U-Net training seconds (validation included)")
    parser.add_argument("--out", type=Path, default=Path("/tmp/mri_bench"))
    parser.add_argument("--train-volumes", type=int, default=60)
    parser.add_argument("--test-volumes", type=int, default=4)
    parser.add_argument("--slices", type=int, default=8)
    parser.add_argument("--size", type=int, nargs=2, default=[160, 128])
    parser.add_argument("--chans", type=int, default=16)
    parser.add_argument("--model", choices=["unet", "varnet"], default="unet")
    parser.add_argument("--cascades", type=int, default=4, help="VarNet cascades")
    parser.add_argument("--no-data-consistency", dest="data_consistency", action="store_false",
                        help="U-Net without its data-consistency step (fastMRI's U-Net)")
    parser.add_argument("--pools", type=int, default=4)
    parser.add_argument("--cs-iterations", type=int, default=500)
    parser.add_argument("--threads", type=int, default=1, help="torch threads (1 is fastest on a shared machine)")
    parser.add_argument("--coils", type=int, default=1, help="coils of every simulated volume (>1: multi-coil)")
    parser.add_argument("--seed", type=int, default=0, help="training seed (validation split, batches, masks)")
    parser.add_argument("--train-sources", nargs="+", default=["phantom", "natural", "mni_brain"], choices=mri.SOURCES,
                        help="simulation sources of the training volumes (split evenly)")
    parser.add_argument("--device", default="cpu", help="cpu or cuda")
    parser.add_argument("--batch-size", type=int, default=4)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    t0 = time.perf_counter()
    paths = simulate_sets(args.out / "data", args)
    model_config = mri.ModelConfig(kind=args.model, chans=args.chans, num_pool_layers=args.pools,
                                   cascades=args.cascades, data_consistency=args.data_consistency)
    config = mri.TrainConfig(model=model_config, accelerations=ACCELERATIONS, time_limit=args.budget,
                             val_fraction=0.15, n_threads=args.threads, device=args.device,
                             batch_size=args.batch_size, seed=args.seed)
    run = mri.train(paths["train"], args.out / "run", config)
    train_seconds = time.perf_counter() - t0
    predictor = mri.load(run)
    summary = {
        "budget_s": args.budget, "train_and_simulate_s": round(train_seconds, 1),
        "steps": predictor.manifest["steps"], "best_step": predictor.manifest["best"]["step"],
        "args": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()}, "results": {},
    }
    cs = tune_cs(paths["train"], sources=args.train_sources, max_iter=args.cs_iterations)
    summary["cs"] = {a: c.lamda for a, c in cs.items()}
    results = summary["results"]
    for name in ("test_phantom", "test_real_epi", "test_real_t1"):
        results[name] = {}
        for acc in ACCELERATIONS:
            panel = args.out / f"panel_{name}_{acc}x.png"
            report = predictor.evaluate(paths[name], accelerations=[acc], cs=cs[acc], panel=panel)
            results[name][f"{acc}x"] = report["results"][f"{acc}x"]
            print(name, acc, json.dumps(report["results"][f"{acc}x"]), flush=True)
            # Written after every evaluation, so a run stopped by a time limit keeps what it measured.
            summary["total_s"] = round(time.perf_counter() - t0, 1)
            (args.out / "results.json").write_text(json.dumps(summary, indent=2))
    print(markdown(results))
    print(json.dumps({k: v for k, v in summary.items() if k != "results"}))


def markdown(results: dict[str, dict]) -> str:
    lines = ["| Test set | Acc. | Method | NMSE | PSNR (dB) | SSIM |", "|---|---|---|---|---|---|"]
    labels = {"zero_filled": "Zero-filled", "cs": "CS (TV)", "model": "Model"}
    for name, by_acc in results.items():
        for acc, methods in by_acc.items():
            for method, m in methods.items():
                lines.append(f"| {name} | {acc} | {labels[method]} | {m['nmse']:.4f} | {m['psnr']:.2f} | "
                             f"{m['ssim']:.4f} |")
            gain = methods["model"]["psnr"] - methods["zero_filled"]["psnr"]
            ssim_gain = methods["model"]["ssim"] - methods["zero_filled"]["ssim"]
            lines.append(f"| {name} | {acc} | Model − zero-filled | | {gain:+.2f} | {ssim_gain:+.4f} |")
    return "\n".join(lines)


if __name__ == "__main__":
    np.seterr(all="ignore")
    main()
