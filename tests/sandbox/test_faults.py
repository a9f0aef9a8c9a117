"""Fault injection: HTTP errors, dropped connections, timeouts and lost responses (``when="after"``)."""

from __future__ import annotations

import time
from email.utils import parsedate_to_datetime
from typing import Any

import pytest
import requests
from emulator_fixtures import SUBACCOUNT_1

from btp_infra.sandbox import SandboxServer

from .helpers import OPERATOR, Api

CREATE = ("POST", "/sm/v1/service_instances")
BODY = {"name": "f", "service_offering_name": OPERATOR[0], "service_plan_name": OPERATOR[1]}


@pytest.fixture
def creds(api: Api) -> dict[str, Any]:
    return api.operator_ready()


def count(api: Api, creds: dict[str, Any], name: str = "f") -> int:
    reply = api.sm(creds, "GET", "/v1/service_instances", params={"fieldQuery": f"name eq '{name}'"})
    return int(reply.json()["num_items"])


def test_http_fault_before_answers_instead_of_the_api(
    api: Api, sb: SandboxServer, creds: dict[str, Any]
) -> None:
    sb.inject_fault(*CREATE, status=503, count=2)
    for _ in range(2):
        reply = api.sm(creds, "POST", "/v1/service_instances", json=BODY)
        assert reply.status_code == 503
        assert reply.json()["error"] == "ServiceUnavailable"
    assert count(api, creds) == 0
    assert api.sm(creds, "POST", "/v1/service_instances", json=BODY).status_code == 202
    assert count(api, creds) == 1


def test_429_fault_carries_retry_after(api: Api, sb: SandboxServer, creds: dict[str, Any]) -> None:
    sb.inject_fault(*CREATE, status=429, retry_after=3)
    reply = api.sm(creds, "POST", "/v1/service_instances", json=BODY)
    assert (reply.status_code, reply.json()["error"]) == (429, "TooManyRequests")
    delay = parsedate_to_datetime(reply.headers["Retry-After"]).timestamp() - time.time()  # SAP: an HTTP-date
    assert 2 <= delay <= 4


def test_entitlement_lock_fault_has_code_30004(api: Api, sb: SandboxServer) -> None:
    sb.inject_fault("PUT", "/entitlements-service/entitlements/v1/subaccountServicePlans", status=400)
    reply = api.assign(SUBACCOUNT_1, *OPERATOR, enable=True)
    assert reply.status_code == 400
    assert reply.json()["error"]["code"] == 30004
    assert api.assignment(SUBACCOUNT_1, *OPERATOR) is None


def test_reset_drops_the_connection(api: Api, sb: SandboxServer, creds: dict[str, Any]) -> None:
    sb.inject_fault(*CREATE, kind="reset")
    with pytest.raises(requests.exceptions.ConnectionError):
        api.sm(creds, "POST", "/v1/service_instances", json=BODY)
    assert count(api, creds) == 0


def test_reset_after_loses_the_response_of_a_performed_create(
    api: Api, sb: SandboxServer, creds: dict[str, Any]
) -> None:
    sb.inject_fault(*CREATE, kind="reset", when="after")
    with pytest.raises(requests.exceptions.ConnectionError):
        api.sm(creds, "POST", "/v1/service_instances", json=BODY)
    assert count(api, creds) == 1  # a naive retry now creates a duplicate
    call = [c for c in sb.calls() if (c["method"], c["route"]) == CREATE][-1]
    assert (call["status"], call["fault"], call["handled_status"]) == (None, "reset", 202)


def test_http_fault_after_is_a_lost_response(api: Api, sb: SandboxServer, creds: dict[str, Any]) -> None:
    sb.inject_fault(*CREATE, status=502, when="after")
    reply = api.sm(creds, "POST", "/v1/service_instances", json=BODY)
    assert reply.status_code == 502
    assert count(api, creds) == 1


def test_timeout_sleeps_past_the_client_read_timeout(
    api: Api, sb: SandboxServer, creds: dict[str, Any]
) -> None:
    sb.inject_fault(*CREATE, kind="timeout", read_timeout=0.2)
    started = time.monotonic()
    with pytest.raises(requests.exceptions.ReadTimeout):
        api.sm(creds, "POST", "/v1/service_instances", json=BODY, timeout=(2, 0.2))
    assert time.monotonic() - started < 1
    assert count(api, creds) == 0
    sb.inject_fault(*CREATE, kind="timeout", read_timeout=0.2, when="after")
    with pytest.raises(requests.exceptions.ReadTimeout):
        api.sm(creds, "POST", "/v1/service_instances", json=BODY, timeout=(2, 0.2))
    assert count(api, creds) == 1


def test_faults_match_route_templates_and_methods(api: Api, sb: SandboxServer, creds: dict[str, Any]) -> None:
    instance = api.create_instance(creds, "target")
    sb.inject_fault("GET", "/sm/v1/service_instances/{id}", status=500)  # placeholder name differs
    assert api.sm(creds, "GET", "/v1/service_instances").status_code == 200  # other route
    assert (
        api.sm(
            creds, "DELETE", f"/v1/service_instances/{instance['id']}", params={"async": "false"}
        ).status_code
        == 200
    )
    assert api.sm(creds, "GET", f"/v1/service_instances/{instance['id']}").status_code == 500
    assert api.sm(creds, "GET", f"/v1/service_instances/{instance['id']}").status_code == 404


def test_fault_headers_model_router_errors(api: Api, sb: SandboxServer, creds: dict[str, Any]) -> None:
    sb.inject_fault("GET", "/sm/v1/service_plans", status=404, headers={"X-Cf-RouterError": "unknown_route"})
    reply = api.sm(creds, "GET", "/v1/service_plans")
    assert (reply.status_code, reply.headers["X-Cf-RouterError"]) == (404, "unknown_route")


def test_faults_via_the_control_endpoint(api: Api, sb: SandboxServer) -> None:
    spec = {"method": "GET", "route": "/accounts-service/accounts/v1/subaccounts", "status": 500, "count": 1}
    created = requests.post(sb.url + "/sandbox/faults", json=spec, timeout=5)
    assert created.status_code == 201
    assert [f["id"] for f in requests.get(sb.url + "/sandbox/faults", timeout=5).json()] == [
        created.json()["id"]
    ]
    reply = api.accounts("GET", "/accounts/v1/subaccounts")
    assert reply.status_code == 500
    assert 20000 <= reply.json()["error"]["code"] < 30000
    assert api.accounts("GET", "/accounts/v1/subaccounts").status_code == 200
    invalid = requests.post(sb.url + "/sandbox/faults", json={"method": "GET", "route": "/x"}, timeout=5)
    assert invalid.status_code == 400  # kind http needs a status
