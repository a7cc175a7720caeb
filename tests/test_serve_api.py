"""Property-based API test: schemathesis generates requests from /openapi.json (valid and invalid)
and checks every response against the schema. At least 1,000 cases, 0 failures (``make test-api``).

A 413 answer (a generated body over 1 MiB) is checked by everything except ``negative_data_rejection``,
whose list of rejection codes lacks 413. Excluded check: ``positive_data_acceptance`` (schema-valid data must get 2xx). The scenario binds
some values that a static schema cannot express: ``gcycles_per_mbit`` and the device ``cpu_ghz``
must equal the scenario's, a history has sim.history_slots entries, an outcome needs a decision_id
the service issued, and a policy spec must name a policy. Those are answered 422 / 404 as documented.
"""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import negative_data_rejection, positive_data_acceptance

from mecoffload.serve.app import create_app
from mecoffload.serve.service import Service
from mecoffload.sim.scenario import load_scenario

pytestmark = pytest.mark.api
KEY = "schemathesis-key-0123456789"
EXAMPLES = 160  # per operation; 10 operations (some have few distinct cases, so the total is counted)
SERVICE = Service(load_scenario("comllm", None), "oracle")
schema = schemathesis.openapi.from_asgi("/openapi.json", create_app(SERVICE, KEY))
CASES: list[str] = []


@schema.parametrize()
@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
def test_api(case):
    CASES.append(case.operation.label)
    response = case.call(headers={"x-api-key": KEY})
    # 413 (body over 1 MiB) is a rejection too; schemathesis' negative check only knows 4xx codes of its own list
    skip = [positive_data_acceptance] + ([negative_data_rejection] if response.status_code == 413 else [])
    case.validate_response(response, excluded_checks=skip)


def test_enough_cases():
    """Runs after ``test_api`` (file order): the whole run generated at least 1,000 requests."""
    print(f"schemathesis: {len(CASES)} generated requests over {len(set(CASES))} operations: {sorted(set(CASES))}")
    assert len(CASES) >= 1000, (len(CASES), sorted(set(CASES)))
