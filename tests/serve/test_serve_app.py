"""The REST app in process: every endpoint, every error path, and agreement with the Python predictor."""

import io
import json

import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient

from mlpilot.serve import create_app


def _errors(response):
    body = response.json()
    assert set(body) == {"errors"}
    for error in body["errors"]:
        assert set(error) == {"row", "column", "message"} and error["message"]
    return body["errors"]


# --------------------------------------------------------------------------------------- describe
def test_health(client):
    response = client.get("/v1/health")
    assert response.status_code == 200 and response.json() == {"status": "ok"}


def test_model_describes_task_inputs_and_scores(client, churn_run):
    info = client.get("/v1/model").json()
    assert info["task"] == "binary" and info["target"] == "churn"
    assert info["classes"] == ["No", "Yes"]
    assert info["threshold"] == pytest.approx(churn_run.threshold)
    assert info["temperature"] == churn_run.temperature
    assert [c["name"] for c in info["input_schema"]] == [c["name"] for c in churn_run.input_schema]
    assert info["metrics"]["metric"] == "roc_auc" and 0.5 < info["metrics"]["score_val"] <= 1
    assert info["metrics"]["validation"] and info["metrics"]["leaderboard"]
    assert info["mlpilot_version"]


def test_openapi_shows_this_models_columns(client, churn_run):
    doc = client.get("/openapi.json").json()
    row = doc["components"]["schemas"]["Row"]
    assert set(row["required"]) == {c["name"] for c in churn_run.input_schema}
    assert "Month-to-month" in row["properties"]["contract"]["description"]
    body = doc["paths"]["/v1/predict"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert body == {"$ref": "#/components/schemas/PredictRequest"}
    assert client.get("/docs").status_code == 200


# --------------------------------------------------------------------------------------- predict
def test_predictions_equal_the_python_predictor(client, churn_run, new_rows):
    response = client.post("/v1/predict", json={"rows": new_rows})
    assert response.status_code == 200, response.text
    body = response.json()
    frame = pd.DataFrame(new_rows)
    assert body["predictions"] == churn_run.predict(frame).tolist()
    proba = pd.DataFrame(body["probabilities"])[["No", "Yes"]]
    np.testing.assert_allclose(proba.to_numpy(), churn_run.predict_proba(frame).to_numpy(), rtol=1e-9)
    assert body["errors"] == []


def test_extra_columns_unseen_categories_and_coercible_strings_are_accepted(client, churn_run, new_rows):
    rows = [dict(r) for r in new_rows[:3]]
    rows[0]["not_a_column"] = "ignored"
    rows[0]["churn"] = "Yes"  # the target itself is ignored too
    rows[1]["contract"] = "Ten year"  # never seen in training
    rows[2]["tenure"] = str(rows[2]["tenure"])
    response = client.post("/v1/predict", json={"rows": rows})
    assert response.status_code == 200, response.text
    expected = pd.DataFrame(rows).drop(columns=["not_a_column", "churn"])
    expected.loc[1, "contract"] = None
    expected["tenure"] = expected["tenure"].astype(float)
    assert response.json()["predictions"] == churn_run.predict(expected).tolist()


def test_every_bad_row_and_column_is_listed(client, new_rows):
    rows = [dict(r) for r in new_rows[:4]]
    rows[0]["tenure"] = "twelve"
    rows[0]["monthly_charges"] = {"amount": 3}
    del rows[2]["contract"]
    rows[3] = ["not", "an", "object"]
    response = client.post("/v1/predict", json={"rows": rows})
    assert response.status_code == 422
    found = {(e["row"], e["column"]) for e in _errors(response)}
    assert found == {(0, "tenure"), (0, "monthly_charges"), (2, "contract"), (3, None)}


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity", '"inf"'])
def test_non_finite_numbers_are_rejected(client, new_rows, literal):
    text = json.dumps({"rows": [new_rows[0]]}).replace('"tenure": ' + json.dumps(new_rows[0]["tenure"]),
                                                          f'"tenure": {literal}')
    response = client.post("/v1/predict", content=text, headers={"content-type": "application/json"})
    assert response.status_code == 422
    assert [(e["row"], e["column"]) for e in _errors(response)] == [(0, "tenure")]


def test_partial_scores_the_valid_rows(client, churn_run, new_rows):
    rows = [dict(r) for r in new_rows[:4]]
    rows[1]["tenure"] = "oops"
    response = client.post("/v1/predict", json={"rows": rows, "partial": True})
    assert response.status_code == 200
    body = response.json()
    assert body["predictions"][1] is None and body["probabilities"][1] is None
    good = pd.DataFrame([rows[0], rows[2], rows[3]])
    assert [body["predictions"][i] for i in (0, 2, 3)] == churn_run.predict(good).tolist()
    assert [(e["row"], e["column"]) for e in body["errors"]] == [(1, "tenure")]


def test_empty_rows_give_empty_results(client):
    assert client.post("/v1/predict", json={"rows": []}).json() == {"predictions": [], "probabilities": [],
                                                                      "errors": []}


@pytest.mark.parametrize("body", ["not json", "[1, 2]", '{"rows": {"a": 1}}', '{"rows": [], "partial": "yes"}'])
def test_malformed_bodies_are_one_clear_422(client, body):
    response = client.post("/v1/predict", content=body, headers={"content-type": "application/json"})
    assert response.status_code == 422
    (error,) = _errors(response)
    assert error["row"] is None
    assert "rows" in error["message"] or "partial" in error["message"]


# --------------------------------------------------------------------------------------- limits
def test_too_many_rows_is_413_with_a_clear_message(churn_run, new_rows):
    client = TestClient(create_app(churn_run.path, max_rows=5))
    response = client.post("/v1/predict", json={"rows": new_rows[:6]})
    assert response.status_code == 413
    assert "at most 5" in _errors(response)[0]["message"]


def test_body_size_limit_checks_declared_and_streamed_bytes(churn_run, new_rows):
    client = TestClient(create_app(churn_run.path, max_request_bytes=2_000))
    big = json.dumps({"rows": new_rows}).encode()
    declared = client.post("/v1/predict", content=big, headers={"content-type": "application/json"})
    assert declared.status_code == 413 and "2,000 bytes" in _errors(declared)[0]["message"]

    def chunks():  # no Content-Length: only counting the received bytes catches it
        for start in range(0, len(big), 500):
            yield big[start:start + 500]

    streamed = client.post("/v1/predict", content=chunks(), headers={"content-type": "application/json"})
    assert streamed.status_code == 413
    small = client.post("/v1/predict", json={"rows": new_rows[:1]})
    assert small.status_code == 200


def test_bearer_token(churn_run, new_rows):
    client = TestClient(create_app(churn_run.path, token="s3cret"))
    assert client.get("/v1/health").status_code == 200
    missing = client.post("/v1/predict", json={"rows": new_rows[:1]})
    assert missing.status_code == 401 and missing.headers["www-authenticate"].startswith("Bearer")
    wrong = client.get("/v1/model", headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401 and "invalid_token" in wrong.headers["www-authenticate"]
    assert _errors(wrong)[0]["message"]
    ok = client.post("/v1/predict", json={"rows": new_rows[:1]}, headers={"Authorization": "Bearer s3cret"})
    assert ok.status_code == 200
    assert client.get("/v1/metrics").status_code == 401
    assert "bearer" in client.get("/openapi.json").json()["components"]["securitySchemes"]


def test_cors_is_off_unless_origins_are_given(client, churn_run):
    origin = {"Origin": "https://app.example.com"}
    assert "access-control-allow-origin" not in client.get("/v1/health", headers=origin).headers
    cors = TestClient(create_app(churn_run.path, token="t", cors_origins=["https://app.example.com"]))
    preflight = cors.options("/v1/predict", headers={**origin, "Access-Control-Request-Method": "POST",
                                                     "Access-Control-Request-Headers": "authorization"})
    assert preflight.status_code == 200
    assert preflight.headers["access-control-allow-origin"] == "https://app.example.com"


# --------------------------------------------------------------------------------------- csv
def _csv_bytes(frame):
    buffer = io.StringIO()
    frame.to_csv(buffer, index=False)
    return buffer.getvalue().encode()


def test_csv_upload_round_trip(client, churn_run, churn_split):
    _, test = churn_split
    data = test.drop(columns=["churn"])
    response = client.post("/v1/predict/csv", files={"file": ("new.csv", _csv_bytes(data), "text/csv")})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    result = pd.read_csv(io.StringIO(response.text))
    assert list(result.columns) == ["prediction", "proba_No", "proba_Yes"]
    assert result["prediction"].tolist() == churn_run.predict(data).tolist()
    np.testing.assert_allclose(result["proba_Yes"], churn_run.predict_proba(data)["Yes"], rtol=1e-9)


def test_csv_upload_errors_are_json(client, churn_run, churn_split):
    _, test = churn_split
    partial = _csv_bytes(test.drop(columns=["churn", "tenure"]))
    response = client.post("/v1/predict/csv", files={"file": ("new.csv", partial, "text/csv")})
    assert response.status_code == 422 and "tenure" in _errors(response)[0]["message"]
    assert client.post("/v1/predict/csv").status_code == 422
    small = TestClient(create_app(churn_run.path, max_upload_bytes=1_000))
    too_big = small.post("/v1/predict/csv", files={"file": ("new.csv", _csv_bytes(test), "text/csv")})
    assert too_big.status_code == 413


# --------------------------------------------------------------------------------------- metrics
def test_metrics_count_requests_latency_and_prediction_errors(churn_run, new_rows):
    client = TestClient(create_app(churn_run.path))
    client.post("/v1/predict", json={"rows": new_rows[:2]})
    client.post("/v1/predict", json={"rows": [{"tenure": "x"}]})
    client.get("/nowhere")
    text = client.get("/v1/metrics").text
    assert 'mlpilot_http_requests_total{endpoint="/v1/predict",method="POST",status="200"} 1.0' in text
    assert 'mlpilot_http_requests_total{endpoint="/v1/predict",method="POST",status="422"} 1.0' in text
    assert 'endpoint="other"' in text and "/nowhere" not in text
    assert 'mlpilot_http_request_duration_seconds_bucket{endpoint="/v1/predict",le="+Inf"} 2.0' in text
    assert "mlpilot_prediction_errors_total 1.0" in text
    assert "mlpilot_predicted_rows_total 2.0" in text


def test_values_that_break_a_models_arithmetic_are_a_4xx(client, new_rows):
    row = dict(new_rows[0], female=1.7e308, partner=-1.7e308)  # finite, but overflow a standardising step
    response = client.post("/v1/predict", json={"rows": [row]})
    assert response.status_code in (200, 422)
    if response.status_code == 422:
        assert "could not score" in _errors(response)[0]["message"]
