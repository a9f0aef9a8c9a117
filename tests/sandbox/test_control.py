"""Control endpoints and their Python twins: state, call log, latencies, reset, revoke, clock."""

from __future__ import annotations

import json
import logging

import pytest
import requests
from emulator_fixtures import SUBACCOUNT_1

from btp_infra.sandbox import SandboxServer

from .helpers import OPERATOR, Api


def control(sb: SandboxServer, method: str, path: str, **kwargs: object) -> requests.Response:
    return requests.request(method, sb.url + "/sandbox" + path, timeout=5, **kwargs)  # type: ignore[arg-type]


def test_state_shows_objects_but_no_secrets(api: Api, sb: SandboxServer) -> None:
    creds = api.operator_ready()
    instance = api.create_instance(creds, "visible")
    state = control(sb, "GET", "/state").json()
    assert state == json.loads(json.dumps(sb.state()))  # HTTP and Python agree
    assert [a["plan"] for a in state["assignments"]] == [OPERATOR[1]]
    assert state["admin_bindings"][0]["client_id"] == creds["clientid"]
    assert instance["id"] in [i["id"] for i in state["instances"]]
    assert state["calls"]["POST /sm/v1/service_instances"] == {"201": 1}
    text = json.dumps(state)
    for secret in (
        creds["clientsecret"],
        api.key["uaa"]["clientsecret"],
        api.cis_token(),
        api.sm_token(creds),
    ):
        assert secret not in text


def test_call_log_and_server_logs_are_free_of_secrets(
    api: Api, sb: SandboxServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    creds = api.admin()
    api.sm(creds, "GET", "/v1/service_plans")
    api.token(creds["url"], creds["clientid"], "wrong-" + creds["clientsecret"], basic=False)
    calls = control(sb, "GET", "/calls").json()
    assert [c["seq"] for c in calls] == sorted(c["seq"] for c in calls)
    plans, failed_token = calls[-2:]
    assert (plans["method"], plans["route"], plans["status"], plans["client_id"]) == (
        "GET",
        "/sm/v1/service_plans",
        200,
        creds["clientid"],
    )
    assert (failed_token["status"], failed_token["client_id"]) == (401, creds["clientid"])
    token_call = next(c for c in calls if c["route"] == "/uaa/{subdomain}/oauth/token")
    assert token_call["client_id"] == api.key["uaa"]["clientid"]
    text = json.dumps(calls)
    for secret in (
        creds["clientsecret"],
        api.key["uaa"]["clientsecret"],
        api.cis_token(),
        api.sm_token(creds),
    ):
        assert secret not in text
    assert not any(c["path"].startswith("/sandbox") for c in calls)


def test_routes_listing_names_fault_targets(sb: SandboxServer) -> None:
    routes = control(sb, "GET", "/routes").json()
    assert {"method": "POST", "route": "/sm/v1/service_instances"} in routes
    assert {
        "method": "GET",
        "route": "/sm/v1/service_instances/{instance_id}/operations/{operation_id}",
    } in routes


def test_latencies_endpoint(api: Api, sb: SandboxServer) -> None:
    reply = control(sb, "PUT", "/latencies", json={"instance": 30})
    assert reply.status_code == 200
    assert reply.json()["instance"] == 30
    assert control(sb, "PUT", "/latencies", json={"nope": 1}).status_code == 400
    assert control(sb, "PUT", "/latencies", json={"instance": -1}).status_code == 400
    creds = api.operator_ready()
    body = {"name": "slow", "service_offering_name": OPERATOR[0], "service_plan_name": OPERATOR[1]}
    location = api.sm(creds, "POST", "/v1/service_instances", json=body).headers["Location"]
    assert api.sm(creds, "GET", location).json()["state"] == "in progress"
    assert control(sb, "POST", "/clock/advance", json={"seconds": 30}).status_code == 200
    assert api.sm(creds, "GET", location).json()["state"] == "succeeded"


def test_reset_restores_the_initial_state(api: Api, sb: SandboxServer) -> None:
    api.operator_ready()
    sb.set_latencies(instance=9)
    sb.inject_fault("GET", "/sm/v1/service_plans", status=500)
    assert control(sb, "POST", "/reset").status_code == 200
    state = sb.state()
    assert (state["assignments"], state["instances"], state["faults"], state["calls"]) == ([], [], [], {})
    assert state["latencies"]["instance"] == sb.config.latencies.instance
    assert api.accounts("GET", "/accounts/v1/subaccounts").status_code == 401  # tokens are gone
    assert Api(sb).accounts("GET", "/accounts/v1/subaccounts").status_code == 200  # same cis key


def test_revoke_one_client_over_http(api: Api, sb: SandboxServer) -> None:
    creds = api.admin()
    assert api.sm(creds, "GET", "/v1/service_plans").status_code == 200
    reply = control(sb, "POST", "/tokens/revoke", json={"client_id": creds["clientid"]})
    assert reply.json() == {"revoked": 1}
    assert api.sm(creds, "GET", "/v1/service_plans").status_code == 401
    assert api.accounts("GET", "/accounts/v1/subaccounts").status_code == 200


def test_subaccount_state_can_be_changed(api: Api, sb: SandboxServer) -> None:
    reply = control(
        sb, "PATCH", f"/subaccounts/{SUBACCOUNT_1}", json={"state": "UPDATING", "state_message": "m"}
    )
    assert reply.status_code == 200
    sub = api.accounts("GET", f"/accounts/v1/subaccounts/{SUBACCOUNT_1}").json()
    assert (sub["state"], sub["stateMessage"]) == ("UPDATING", "m")
    assert control(sb, "PATCH", "/subaccounts/nope", json={"state": "OK"}).status_code == 404
    assert control(sb, "PATCH", f"/subaccounts/{SUBACCOUNT_1}", json={"state": "BOGUS"}).status_code == 400
