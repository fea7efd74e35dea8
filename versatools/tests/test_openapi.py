"""The OpenAPI contract, exercised by schemathesis against the real app and database."""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance, status_code_conformance

from versatools.wsgi import application

schema = schemathesis.openapi.from_wsgi("/api/openapi.json", application)


def test_the_openapi_document_is_served_and_names_every_endpoint(client) -> None:
    document = client.get("/api/openapi.json").json()

    paths = set(document["paths"])
    assert paths >= {
        "/api/history",
        "/api/history/{run_id}",
        "/api/runs",
        "/api/uploads",
        "/api/files",
        "/api/webhooks/billing",
        "/api/runs/{run_id}/download",
        "/api/dashboard",
        "/api/stats/tools",
        "/api/plans",
    }


@pytest.fixture
def authenticated(make_user, bearer, settings) -> dict[str, str]:
    from billing.services import credit_balance_open

    # Configured, so that the billing webhook answers for its body (401 unsigned), not 503.
    settings.BILLING_WEBHOOK_SECRET = "openapi-test-webhook-secret"

    user = make_user()
    credit_balance_open(user_id=user.id, credits=1000)
    return bearer(user)


@pytest.mark.django_db(transaction=True)
@schema.parametrize()
@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
@pytest.mark.slow
def test_the_api_keeps_its_contract(case, authenticated) -> None:
    response = case.call(headers=authenticated)

    case.validate_response(response, checks=(not_a_server_error, status_code_conformance, response_schema_conformance))
