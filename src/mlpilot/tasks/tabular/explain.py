"""Per-row explanations: SHAP contributions of the tree models, summed back to input columns.

Tree SHAP values are additive over models, so the contributions of a bag of fold models are their
average, and those of the ensemble are the weight-averaged contributions of its explainable members
(in margin space: log-odds for classification, the target's units for regression).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from mlpilot.tasks.tabular.models.base import MULTICLASS, TabularModel

Member = tuple[str, list[TabularModel], float]  # (name, fold models, ensemble weight)


@dataclass
class Explanation:
    """What drove each prediction.

    ``contributions``: one row per input row, one column per input column, in ``units``; a row's
    contributions plus ``base_value`` give the model's raw output. ``importance``: mean absolute
    contribution per column, largest first (the global view).
    """

    contributions: pd.DataFrame
    base_value: pd.Series
    importance: pd.Series
    units: str
    models: list[str]

    def top_reasons(self, row: object, *, k: int = 3) -> list[tuple[str, float]]:
        """The ``k`` columns that pushed row ``row`` (an index label) the most, signed."""
        values = self.contributions.loc[row]
        order = values.abs().sort_values(ascending=False).index[:k]
        return [(str(col), float(values[col])) for col in order]


def explainable_members(members: list[Member], explainer: Member | None) -> list[Member]:
    """The ensemble members SHAP can explain, or the stand-in explainer model when none can."""
    return [m for m in members if m[1][0].can_explain] or ([explainer] if explainer else [])


def bag_contributions(models: list[TabularModel], X: pd.DataFrame) -> np.ndarray:
    """Average SHAP contributions over the fold models of one candidate."""
    return np.mean([m.contributions(X) for m in models], axis=0)


def explain_rows(
    members: list[Member],
    X: pd.DataFrame,
    *,
    source_columns: dict[str, str],
    input_columns: list[str],
    index: pd.Index,
    predicted_codes: np.ndarray | None,
    units: str,
) -> Explanation:
    """Combine the members' contributions and sum derived features back to their input column."""
    total_weight = sum(weight for _, _, weight in members)
    combined = None
    for _, models, weight in members:
        # the stand-in explainer is not in the ensemble (weight 0): it then explains on its own
        share = weight / total_weight if total_weight > 0 else 1.0 / len(members)
        contrib = bag_contributions(models, X) * share
        combined = contrib if combined is None else combined + contrib
    if combined.ndim == 3:  # multiclass: explain the predicted class of each row
        combined = combined[np.arange(len(X)), predicted_codes]
    per_feature = pd.DataFrame(combined[:, :-1], columns=list(X.columns), index=index)
    grouped = per_feature.T.groupby(lambda f: source_columns.get(f, f), sort=False).sum().T
    contributions = grouped.reindex(columns=[c for c in input_columns if c in grouped.columns])
    importance = contributions.abs().mean().sort_values(ascending=False)
    return Explanation(
        contributions=contributions,
        base_value=pd.Series(combined[:, -1], index=index, name="base_value"),
        importance=importance,
        units=units,
        models=[name for name, _, _ in members],
    )


def explanation_units(problem_type: str, classes: list) -> str:
    if problem_type == MULTICLASS:
        return "log-odds of the predicted class"
    if classes:
        return f"log-odds of {classes[1]!r}"
    return "units of the target"
