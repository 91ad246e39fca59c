"""Fixtures for the serving tests: the session's one small churn run (tests/conftest.py) behind an app."""

import math

import pytest
from fastapi.testclient import TestClient

from mlpilot.serve import create_app


@pytest.fixture(scope="session")
def new_rows(churn_split):
    """Unlabelled rows as a JSON client would send them (missing values as null, never NaN)."""
    _, test = churn_split
    frame = test.drop(columns=["churn"]).head(20)
    records = frame.to_dict(orient="records")
    return [{k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in r.items()} for r in records]


@pytest.fixture(scope="session")
def app(churn_run):
    return create_app(churn_run.path)


@pytest.fixture(scope="session")
def client(app):
    with TestClient(app) as test_client:
        yield test_client
