"""Property-based fuzzing of the OpenAPI spec: whatever a client sends, the server never answers 5xx."""

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings

from mlpilot.serve import create_app

pytestmark = pytest.mark.fuzz
EXAMPLES_PER_OPERATION = 30


def test_no_server_errors(churn_run):
    schema = schemathesis.openapi.from_asgi("/openapi.json", create_app(churn_run.path, max_rows=10))
    operations = [result.ok() for result in schema.get_all_operations()]
    assert {op.path for op in operations} >= {"/v1/predict", "/v1/predict/csv", "/v1/model"}
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(max_examples=EXAMPLES_PER_OPERATION, deadline=None, derandomize=True, database=None,
                  suppress_health_check=list(HealthCheck))
        def no_5xx(case):
            response = case.call()
            assert response.status_code < 500, f"{case.method} {case.path}: {response.status_code} {response.text}"

        no_5xx()
