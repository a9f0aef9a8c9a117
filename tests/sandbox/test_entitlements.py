"""Entitlements API: amount vs enable, quota, the 30004 lock, entityState, jobs (btp-api.md §C.1, §C.2)."""

from __future__ import annotations

from typing import Any

import pytest
from emulator_fixtures import SUBACCOUNT_1, SUBACCOUNT_2

from btp_infra.sandbox import SandboxServer

from .helpers import OPERATOR, Api, wait_until

HANA = ("hana-cloud", "hana")


@pytest.mark.parametrize(
    ("plan", "info", "fragment"),
    [
        (OPERATOR, {"amount": 1}, "no numeric quota"),
        (HANA, {"enable": True}, "numeric quota"),
        (HANA, {"amount": 1, "enable": True}, "not both"),
        (OPERATOR, {}, "specify enable"),
        (HANA, {"amount": -1}, "negative"),
    ],
)
def test_amount_and_enable_rules(
    api: Api, plan: tuple[str, str], info: dict[str, Any], fragment: str
) -> None:
    reply = api.assign(SUBACCOUNT_1, *plan, **info)
    assert reply.status_code == 400
    error = reply.json()["error"]
    assert 30000 <= error["code"] < 40000
    assert fragment in error["message"]
    assert api.assignment(SUBACCOUNT_1, *plan) is None


def test_unknown_plan_or_subaccount_is_404(api: Api) -> None:
    assert api.assign(SUBACCOUNT_1, "no-such-service", "plan", enable=True).status_code == 404
    assert api.assign("unknown-subaccount", *OPERATOR, enable=True).status_code == 404


def test_body_is_validated(api: Api) -> None:
    reply = api.entitlements(
        "PUT", "/entitlements/v1/subaccountServicePlans", json={"subaccountServicePlans": []}
    )
    assert reply.status_code == 400
    assert "error" in reply.json()


def test_entity_state_goes_started_processing_ok(api: Api, sb: SandboxServer) -> None:
    sb.set_latencies(entitlement=30.0)
    reply = api.assign(SUBACCOUNT_1, *HANA, amount=2)
    assert reply.status_code == 202
    info = api.assignment(SUBACCOUNT_1, *HANA)
    assert info is not None
    assert (info["entityState"], info["entityType"], info["requestedAmount"]) == ("STARTED", "SUBACCOUNT", 2)
    sb.advance_clock(15)
    assert (api.assignment(SUBACCOUNT_1, *HANA) or {})["entityState"] == "PROCESSING"
    sb.advance_clock(15)
    info = api.assignment(SUBACCOUNT_1, *HANA)
    assert info is not None
    assert (info["entityState"], info["amount"], info["autoAssigned"]) == ("OK", 2, False)


def test_second_change_while_processing_is_the_30004_lock(api: Api, sb: SandboxServer) -> None:
    sb.set_latencies(entitlement=30.0)
    assert api.assign(SUBACCOUNT_1, *OPERATOR, enable=True).status_code == 202
    locked = api.assign(SUBACCOUNT_1, *OPERATOR, enable=True)
    assert locked.status_code == 400
    assert locked.json()["error"]["code"] == 30004
    # another subaccount is not locked
    assert api.assign(SUBACCOUNT_2, *OPERATOR, enable=True).status_code == 202
    sb.advance_clock(30)
    assert api.assign(SUBACCOUNT_1, *OPERATOR, enable=False).status_code == 202


def test_quota_exceeded_is_409(api: Api) -> None:
    api.entitle(SUBACCOUNT_1, *HANA, amount=3)
    reply = api.assign(SUBACCOUNT_2, *HANA, amount=2)
    assert reply.status_code == 409
    assert reply.json()["error"]["code"] == 30015
    assert api.assign(SUBACCOUNT_2, *HANA, amount=1).status_code == 202


def test_entitled_plan_reports_global_quota(api: Api) -> None:
    api.entitle(SUBACCOUNT_1, *HANA, amount=3)
    params = {"subaccountGUID": SUBACCOUNT_1, "serviceName": "hana-cloud", "planName": "hana"}
    body = api.entitlements("GET", "/entitlements/v1/assignments", params=params).json()
    [service] = body["entitledServices"]
    [plan] = service["servicePlans"]
    assert (plan["name"], plan["category"], plan["amount"], plan["remainingAmount"]) == (
        "hana",
        "SERVICE",
        4,
        1,
    )
    assert plan["unlimited"] is False
    operator = api.entitlements(
        "GET", "/entitlements/v1/assignments", params={"serviceName": OPERATOR[0], "planName": OPERATOR[1]}
    ).json()["entitledServices"][0]["servicePlans"][0]
    assert (operator["category"], operator["unlimited"]) == ("ELASTIC_SERVICE", True)


def test_unassign_passes_processing_then_disappears(api: Api, sb: SandboxServer) -> None:
    api.entitle(SUBACCOUNT_1, *OPERATOR)
    sb.set_latencies(entitlement_delete=30.0)
    assert api.assign(SUBACCOUNT_1, *OPERATOR, enable=False).status_code == 202
    sb.advance_clock(10.1)
    info = api.assignment(SUBACCOUNT_1, *OPERATOR)
    assert info is not None
    assert (info["entityState"], info["requestedAmount"]) == ("PROCESSING", 0)
    sb.advance_clock(20)
    assert api.assignment(SUBACCOUNT_1, *OPERATOR) is None


def test_amount_zero_unassigns_a_quota_plan(api: Api) -> None:
    api.entitle(SUBACCOUNT_1, *HANA, amount=1)
    assert api.assign(SUBACCOUNT_1, *HANA, amount=0).status_code == 202
    wait_until(lambda: api.assignment(SUBACCOUNT_1, *HANA) is None)


def test_job_location_and_status(api: Api, sb: SandboxServer) -> None:
    sb.set_latencies(entitlement=30.0)
    reply = api.assign(SUBACCOUNT_1, *OPERATOR, enable=True)
    location = reply.headers["Location"]
    assert location.startswith("/jobs-management/v1/jobs/")
    status = api.entitlements("GET", location + "/status").json()
    assert status["status"] == "IN_PROGRESS"
    sb.advance_clock(30)
    assert api.entitlements("GET", location + "/status").json()["status"] == "COMPLETED"
    assert api.entitlements("GET", "/jobs-management/v1/jobs/nope/status").status_code == 404


def test_injected_failure_ends_processing_failed(api: Api, sb: SandboxServer) -> None:
    sb.inject_fault(
        "PUT",
        "/entitlements-service/entitlements/v1/subaccountServicePlans",
        kind="operation_failed",
        description="backend exploded",
    )
    location = api.assign(SUBACCOUNT_1, *OPERATOR, enable=True).headers["Location"]
    info = wait_until(
        lambda: (
            (i := api.assignment(SUBACCOUNT_1, *OPERATOR)) and i["entityState"] == "PROCESSING_FAILED" and i
        )
    )
    assert info["stateMessage"] == "backend exploded"
    job = api.entitlements("GET", location + "/status").json()
    assert (job["status"], job["description"]) == ("FAILED", "backend exploded")
    # a failed assignment does not hold the lock and does not make the plan visible
    creds = api.admin()
    plans = api.sm(creds, "GET", "/v1/service_plans", params={"fieldQuery": f"name eq '{OPERATOR[1]}'"})
    assert plans.json()["num_items"] == 0
    assert api.assign(SUBACCOUNT_1, *OPERATOR, enable=True).status_code == 202


def test_auto_assigned_plans(api: Api) -> None:
    params = {
        "subaccountGUID": SUBACCOUNT_1,
        "serviceName": "service-manager",
        "planName": "subaccount-admin",
    }
    body = api.entitlements("GET", "/entitlements/v1/assignments", params=params).json()
    assert body["assignedServices"] == []
    params["includeAutoManagedPlans"] = "true"
    body = api.entitlements("GET", "/entitlements/v1/assignments", params=params).json()
    info = body["assignedServices"][0]["servicePlans"][0]["assignmentInfo"][0]
    assert (info["autoAssigned"], info["entityState"]) == (True, "OK")
    assert api.assign(SUBACCOUNT_1, "service-manager", "subaccount-admin", enable=False).status_code == 400


def test_unassign_with_instances_of_the_plan_is_409(api: Api) -> None:
    creds = api.operator_ready()
    api.create_instance(creds, "in-use")
    reply = api.assign(SUBACCOUNT_1, *OPERATOR, enable=False)
    assert reply.status_code == 409
    assert api.assignment(SUBACCOUNT_1, *OPERATOR) is not None


def test_unknown_subaccount_filter_is_404(api: Api) -> None:
    reply = api.entitlements("GET", "/entitlements/v1/assignments", params={"subaccountGUID": "nope"})
    assert reply.status_code == 404
