"""The search's bookkeeping of one candidate (the search itself is exercised through ``mlpilot.fit``)."""

from __future__ import annotations

from mlpilot.tasks.tabular.trainer import CandidateResult


def test_folds_cut_short_are_counted_over_bag_sets_and_noted() -> None:
    result = CandidateResult("CatBoost", "catboost", {}, status="ok", n_folds=5)
    result.add_cut_folds(0)
    assert (result.n_folds_cut, result.reason) == (0, "")
    result.add_cut_folds(2)
    result.n_folds += 5  # a second bag set, as repeated bagging adds it
    result.add_cut_folds(3)
    assert result.row()["folds_cut_by_time"] == 5
    assert result.reason == "cut short by the time limit on 5 of 10 folds"


def test_the_blend_is_rescaled_on_validated_rows_only_and_regression_never() -> None:
    import numpy as np
    from scipy.special import softmax

    from mlpilot.engine.metrics import get_metric
    from mlpilot.tasks.tabular.trainer import calibrate_blend

    rng = np.random.default_rng(0)
    logits = rng.normal(scale=2.0, size=(3000, 3))
    y = np.array([rng.choice(3, p=p) for p in softmax(logits, axis=1)])
    proba = softmax(logits / 2, axis=1)  # a blend half as confident as it should be
    proba[:500] = np.nan  # rows no validation fold scored (a holdout split)
    log_loss = get_metric("log_loss", "multiclass")
    before = log_loss(y[500:], proba[500:])
    temperature, score = calibrate_blend(proba, y, metric=log_loss, problem_type="multiclass", score=before)
    assert 0.4 < temperature < 0.6
    assert np.isnan(proba[:500]).all() and score == log_loss(y[500:], proba[500:]) < before
    values = rng.normal(size=100)
    rmse = get_metric("rmse")
    assert calibrate_blend(values, values, metric=rmse, problem_type="regression", score=1.0) == (None, 1.0)


def test_a_fitted_temperature_reaches_the_run_its_card_and_its_predictions(churn_split, tmp_path, monkeypatch) -> None:
    import numpy as np

    import mlpilot
    from mlpilot.engine.calibration import apply_temperature
    from mlpilot.tasks.tabular import trainer

    monkeypatch.setattr(trainer, "fit_temperature", lambda y, proba, metric: 0.8)
    train, test = churn_split
    run = mlpilot.fit(train, target="churn", families=["linear"], n_folds=2, metric="log_loss",
                      path=tmp_path / "run", seed=0)
    assert run.temperature == 0.8 and run.manifest["ensemble"]["temperature"] == 0.8
    assert "temperature-scaled (T = 0.800" in (run.path / "model_card.md").read_text()
    (_, models, _), = run.members
    raw = np.mean([m.predict(run.pipeline.transform(run.pipeline.check_input(test)[0])) for m in models], axis=0)
    np.testing.assert_allclose(run.predict_proba(test).to_numpy(), apply_temperature(raw, 0.8))
    np.testing.assert_allclose(mlpilot.load(run.path).predict_proba(test).to_numpy(), apply_temperature(raw, 0.8))


def test_a_long_budget_bags_8_folds_with_at_most_25_fold_models(churn_split, tmp_path) -> None:
    import mlpilot

    train, _ = churn_split
    run = mlpilot.fit(train.iloc[:400], target="churn", families=["linear"], time_limit=300, path=tmp_path / "run",
                      seed=0)
    assert run.manifest["n_folds"] == 8
    assert [m["n_folds"] for m in run.manifest["ensemble"]["members"]] == [24]  # 3 bag sets, not the preset's 5
    explicit = mlpilot.fit(train.iloc[:400], target="churn", families=["linear"], time_limit=300, n_folds=8,
                           path=tmp_path / "explicit", seed=0)
    assert [m["n_folds"] for m in explicit.manifest["ensemble"]["members"]] == [40]  # the caller's folds: 5 sets
