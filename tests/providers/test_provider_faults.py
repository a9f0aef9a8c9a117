"""The providers under faults injected into the emulator: 429 with ``Retry-After``, 5xx, lost responses,
failed asynchronous operations (clear error, and a re-run converges to exactly one object), expired tokens.
"""

from __future__ import annotations

import time
from typing import Any

import pytest
from emulator_fixtures import SUBACCOUNT_1

from btp_infra.btp.errors import OperationFailedError, ServerError
from btp_infra.providers import (
    ServiceBindingProvider,
    ServiceInstanceProvider,
    ServiceManagerAccessProvider,
    SubaccountEntitlementProvider,
)
from btp_infra.sandbox import SandboxServer

from .support import OPERATOR, Operator, objects

pytestmark = pytest.mark.usefixtures("cis_env", "fast_providers")

INSTANCES = "/sm/v1/service_instances"
BINDINGS = "/sm/v1/service_bindings"
ASSIGN = "/entitlements-service/entitlements/v1/subaccountServicePlans"
ADMIN_BINDING = "/accounts-service/accounts/v1/subaccounts/{guid}/serviceManagementBinding"
NAME = "btp-infra-team-a-operator-access"


def instance_props(**change: Any) -> dict[str, Any]:
    return {
        "subaccountId": SUBACCOUNT_1,
        "name": NAME,
        "serviceOfferingName": OPERATOR[0],
        "servicePlanName": OPERATOR[1],
        "parameters": {},
        "labels": {"btp-infra.tenant": ["team-a"]},
        "timeoutSeconds": 60,
        **change,
    }


def binding_props(instance_id: str) -> dict[str, Any]:
    return {
        "subaccountId": SUBACCOUNT_1,
        "serviceInstanceId": instance_id,
        "name": f"{NAME}-client-secret",
        "credentialType": "client-secret",
        "parameters": {},
        "labels": {},
        "timeoutSeconds": 60,
    }


def tenant_instances(sb: SandboxServer) -> list[dict[str, Any]]:
    return objects(sb, "instances", name=NAME)


def statuses(sb: SandboxServer, method: str, route: str) -> list[int | None]:
    """Statuses the client received for ``method route`` (the injected one; ``None``: connection reset)."""
    return [c["status"] for c in sb.calls() if c["method"] == method and c["route"] == route]


def wait_for_log(sb: SandboxServer, method: str, route: str, count: int) -> list[int | None]:
    """The emulator logs a call once it answered; give the last entry a moment to land."""
    deadline = time.monotonic() + 2
    while len(found := statuses(sb, method, route)) < count and time.monotonic() < deadline:
        time.sleep(0.01)
    return found


def test_429_with_retry_after_is_waited_for(sb: SandboxServer, operator: Operator) -> None:
    operator.operator_ready()
    sb.inject_fault("POST", INSTANCES, status=429, retry_after=1)
    started = time.monotonic()
    created = ServiceInstanceProvider().create(instance_props())
    elapsed = time.monotonic() - started
    assert elapsed >= 0.9, "Retry-After (an HTTP-date one second ahead) must be honoured"
    assert wait_for_log(sb, "POST", INSTANCES, 2) == [429, 201]  # synchronous SM (async=false)
    assert [i["id"] for i in tenant_instances(sb)] == [created.id]


def test_429_on_the_entitlement_write_is_waited_for(sb: SandboxServer) -> None:
    sb.inject_fault("PUT", ASSIGN, status=429, retry_after=0.3)
    props = {"subaccountId": SUBACCOUNT_1, "serviceName": "hana-cloud", "planName": "hana", "amount": 2}
    started = time.monotonic()
    created = SubaccountEntitlementProvider().create(props)
    assert time.monotonic() - started >= 0.25
    assert created.outs is not None and created.outs["assignedAmount"] == 2
    assert wait_for_log(sb, "PUT", ASSIGN, 2)[:2] == [429, 202]


def test_5xx_on_reads_are_retried(sb: SandboxServer, operator: Operator) -> None:
    operator.operator_ready()
    sb.inject_fault("GET", "/sm/v1/service_offerings", status=500, count=2)
    sb.inject_fault("GET", "/sm/v1/service_instances/{id}", status=502)
    sb.inject_fault("GET", "/sm/v1/service_instances/{id}/operations/{op}", status=503)
    provider = ServiceInstanceProvider()
    created = provider.create(instance_props())
    assert created.outs is not None and created.outs["ready"] is True
    assert statuses(sb, "GET", "/sm/v1/service_offerings")[:3] == [500, 500, 200]
    assert [i["id"] for i in tenant_instances(sb)] == [created.id]
    sb.inject_fault("GET", "/sm/v1/service_instances/{id}", status=500, count=2)
    assert provider.read(created.id, created.outs).id == created.id


def test_a_500_before_the_post_is_retried_once_nothing_was_created(
    sb: SandboxServer, operator: Operator
) -> None:
    operator.operator_ready()
    sb.inject_fault("POST", INSTANCES, status=500)
    created = ServiceInstanceProvider().create(instance_props())
    assert wait_for_log(sb, "POST", INSTANCES, 2) == [500, 201]
    assert [i["id"] for i in tenant_instances(sb)] == [created.id]


def test_5xx_persisting_past_the_attempts_fails_with_the_status(
    sb: SandboxServer, operator: Operator
) -> None:
    operator.operator_ready()
    sb.inject_fault("GET", "/sm/v1/service_offerings", status=502, count=50)
    with pytest.raises(ServerError) as info:
        ServiceInstanceProvider().create(instance_props())
    assert info.value.status == 502
    assert tenant_instances(sb) == []


@pytest.mark.parametrize(("kind", "status"), [("http", 502), ("reset", None)])
def test_lost_instance_post_response_makes_no_duplicate(
    sb: SandboxServer, operator: Operator, kind: str, status: int | None
) -> None:
    operator.operator_ready()
    sb.inject_fault("POST", INSTANCES, kind=kind, status=status, when="after")  # type: ignore[arg-type]
    created = ServiceInstanceProvider().create(instance_props())
    assert len(statuses(sb, "POST", INSTANCES)) == 1, "the lost POST had created it: no second POST"
    [live] = tenant_instances(sb)
    assert (live["id"], live["ready"]) == (created.id, True)


def test_lost_binding_post_response_makes_no_duplicate(sb: SandboxServer, operator: Operator) -> None:
    sm = operator.operator_ready()
    instance_id = sm.create_instance(NAME, offering=OPERATOR[0], plan=OPERATOR[1], timeout=10).id
    sb.inject_fault("POST", BINDINGS, status=502, when="after")
    created = ServiceBindingProvider().create(binding_props(instance_id))
    assert created.outs is not None and created.outs["credentials"]["clientsecret"]
    assert [b["id"] for b in objects(sb, "bindings", service_instance_id=instance_id)] == [created.id]
    assert len(statuses(sb, "POST", BINDINGS)) == 1


def test_lost_admin_binding_post_response_makes_no_duplicate(sb: SandboxServer, operator: Operator) -> None:
    operator.entitlements.assign(SUBACCOUNT_1, *OPERATOR)
    sb.inject_fault("POST", ADMIN_BINDING, status=504, when="after")
    created = ServiceManagerAccessProvider().create(
        {"subaccountId": SUBACCOUNT_1, "tenant": "team-a", "timeoutSeconds": None}
    )
    assert created.outs is not None
    [admin] = objects(sb, "admin_bindings", subaccount=SUBACCOUNT_1)
    assert created.outs["clientId"] == admin["client_id"]
    assert statuses(sb, "POST", ADMIN_BINDING) == [504]


def test_lost_entitlement_put_response_converges(sb: SandboxServer) -> None:
    sb.inject_fault("PUT", ASSIGN, status=502, when="after")
    props = {"subaccountId": SUBACCOUNT_1, "serviceName": "hana-cloud", "planName": "hana", "amount": 3}
    created = SubaccountEntitlementProvider().create(props)
    assert created.outs is not None and created.outs["assignedAmount"] == 3
    live = objects(sb, "assignments", subaccount=SUBACCOUNT_1, service="hana-cloud")
    assert [(a["amount"], a["entityState"]) for a in live] == [(3, "OK")]


def test_failed_instance_create_is_clear_and_a_rerun_converges(sb: SandboxServer, operator: Operator) -> None:
    operator.operator_ready()
    sb.inject_fault("POST", INSTANCES, kind="operation_failed", description="broker says no")
    provider = ServiceInstanceProvider()
    with pytest.raises(OperationFailedError) as info:
        provider.create(instance_props())
    assert f"create instance {NAME}: failed" in str(info.value)
    assert "broker says no" in str(info.value)
    [failed] = tenant_instances(sb)
    assert failed["last_operation"] == {"type": "create", "state": "failed"}

    created = ServiceInstanceProvider().create(instance_props())  # the next `pulumi up`
    [live] = tenant_instances(sb)
    assert live["id"] == created.id != failed["id"]
    assert (live["ready"], live["last_operation"]) == (True, {"type": "create", "state": "succeeded"})


def test_failed_binding_create_is_clear_and_a_rerun_converges(sb: SandboxServer, operator: Operator) -> None:
    sm = operator.operator_ready()
    instance_id = sm.create_instance(NAME, offering=OPERATOR[0], plan=OPERATOR[1], timeout=10).id
    sb.inject_fault("POST", BINDINGS, kind="operation_failed", description="no credentials today")
    with pytest.raises(OperationFailedError, match="no credentials today"):
        ServiceBindingProvider().create(binding_props(instance_id))
    created = ServiceBindingProvider().create(binding_props(instance_id))
    live = objects(sb, "bindings", service_instance_id=instance_id)
    assert [(b["id"], b["ready"]) for b in live] == [(created.id, True)]


def test_failed_entitlement_is_clear_and_a_rerun_converges(sb: SandboxServer) -> None:
    sb.inject_fault("PUT", ASSIGN, kind="operation_failed", description="quota service down")
    props = {"subaccountId": SUBACCOUNT_1, "serviceName": "hana-cloud", "planName": "hana", "amount": 1}
    with pytest.raises(OperationFailedError, match="quota service down"):
        SubaccountEntitlementProvider().create(props)
    created = SubaccountEntitlementProvider().create(props)
    assert created.outs is not None and created.outs["state"] == "OK"
    live = objects(sb, "assignments", subaccount=SUBACCOUNT_1, service="hana-cloud")
    assert [(a["amount"], a["entityState"]) for a in live] == [(1, "OK")]


def test_delete_survives_5xx_and_waits_until_gone(sb: SandboxServer, operator: Operator) -> None:
    operator.operator_ready()
    sb.set_latencies(instance_delete=0.3)
    provider = ServiceInstanceProvider()
    created = provider.create(instance_props())
    sb.inject_fault("DELETE", "/sm/v1/service_instances/{id}", status=500)
    provider.delete(created.id, created.outs or {})
    assert tenant_instances(sb) == []  # returned only once the API says gone
    assert statuses(sb, "DELETE", "/sm/v1/service_instances/{instance_id}")[:2] == [500, 200]


def test_revoked_tokens_are_refreshed(sb: SandboxServer, operator: Operator) -> None:
    operator.operator_ready()
    provider = ServiceInstanceProvider()
    created = provider.create(instance_props())
    sb.revoke_tokens()
    assert provider.read(created.id, created.outs or {}).id == created.id
