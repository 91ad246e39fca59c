"""Regression and multiclass runs, with date and boolean inputs, behind the REST app."""

import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient

import mlpilot
from mlpilot.serve import create_app


@pytest.fixture(scope="module")
def table():
    rng = np.random.default_rng(0)
    n = 300
    frame = pd.DataFrame({
        "x": rng.normal(size=n), "c": rng.choice(["a", "b", "c"], n),
        "d": pd.date_range("2020-01-01", periods=n).astype(str), "flag": rng.choice(["yes", "no"], n),
    })
    frame["y"] = frame.x * 2 + (frame.c == "a") + rng.normal(size=n) * 0.1
    frame["k"] = np.where(frame.x > 0.5, "hi", np.where(frame.x < -0.5, "lo", "mid"))
    return frame


@pytest.fixture(scope="module")
def rows(table):
    return table.head(6).drop(columns=["y", "k"]).to_dict(orient="records")


def _fit(table, tmp_path_factory, *, target, drop):
    path = tmp_path_factory.mktemp("kinds") / target
    return mlpilot.fit(table.drop(columns=[drop]), target=target, families=["linear"], n_folds=2, path=path, seed=0)


def test_regression_has_values_and_no_probabilities(table, rows, tmp_path_factory):
    model = _fit(table, tmp_path_factory, target="y", drop="k")
    body = TestClient(create_app(model.path)).post("/v1/predict", json={"rows": rows}).json()
    assert "probabilities" not in body
    np.testing.assert_allclose(body["predictions"], model.predict(pd.DataFrame(rows)), rtol=1e-9)


def test_multiclass_dates_and_booleans(table, rows, tmp_path_factory):
    model = _fit(table, tmp_path_factory, target="k", drop="y")
    client = TestClient(create_app(model.path))
    body = client.post("/v1/predict", json={"rows": rows}).json()
    assert body["predictions"] == model.predict(pd.DataFrame(rows)).tolist()
    assert set(body["probabilities"][0]) == {"hi", "lo", "mid"}
    bad = [dict(rows[0], d="not a date", flag=3), dict(rows[1], flag=True, d=None)]
    response = client.post("/v1/predict", json={"rows": bad, "partial": True})
    assert response.status_code == 200
    assert {(e["row"], e["column"]) for e in response.json()["errors"]} == {(0, "d"), (0, "flag")}
    assert response.json()["predictions"][1] in ("hi", "lo", "mid")
