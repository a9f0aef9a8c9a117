"""Each dynamic provider against the emulator over HTTP: check → create → read → diff → update → delete → read
reports gone, delete of something gone, adoption of what a crashed run left, and out-of-band deletes.

The providers run in this process, called as the engine calls them (``check``/``diff`` are pure, the others go
over HTTP), with short poll/backoff policies (``fast_providers``); ``test_engine_protocol`` runs them out of
process with the production ones.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest
from emulator_fixtures import SUBACCOUNT_1, SUBACCOUNT_2
from pulumi.runtime import rpc

from btp_infra.btp.entitlements import InvalidAmountError
from btp_infra.btp.errors import BtpError
from btp_infra.providers import (
    ServiceBindingProvider,
    ServiceInstanceProvider,
    ServiceManagerAccessProvider,
    SubaccountCheckProvider,
    SubaccountEntitlementProvider,
)
from btp_infra.providers.entitlement import entitlement_id
from btp_infra.sandbox import SandboxServer

from .support import OPERATOR, Operator, objects, stored_credentials

pytestmark = pytest.mark.usefixtures("cis_env", "fast_providers")

UNKNOWN_GUID = "99999999-9999-4999-8999-999999999999"
LABELS = {"btp-infra.managed-by": ["btp-infra"], "btp-infra.tenant": ["team-a"]}
WRITES = ("POST", "PUT", "PATCH", "DELETE")


def api_writes(sandbox: SandboxServer, since: int = 0) -> list[tuple[str, str]]:
    """Write calls to the BTP APIs (token requests excluded) after the first ``since`` log entries."""
    return [
        (c["method"], c["route"])
        for c in sandbox.calls()[since:]
        if c["method"] in WRITES and not str(c["route"]).startswith("/uaa/")
    ]


def failed_properties(result: Any) -> list[str]:
    return sorted({f.property for f in result.failures})


# ---- SubaccountCheck ----------------------------------------------------------------------------------


def test_subaccount_check_lifecycle(sb: SandboxServer) -> None:
    provider = SubaccountCheckProvider()
    props = {"subaccountId": SUBACCOUNT_1, "region": "eu10"}
    assert provider.check({}, props).failures == []
    created = provider.create(props)
    assert created.id == SUBACCOUNT_1
    assert created.outs is not None
    outs = created.outs
    assert (outs["subdomain"], outs["subaccountRegion"], outs["state"]) == ("tenant-a", "eu10", "OK")
    assert outs["displayName"] == "Tenant A"

    read = provider.read(created.id, outs)
    assert (read.id, read.outs) == (SUBACCOUNT_1, outs)
    assert provider.diff(created.id, outs, props).changes is False
    region_diff = provider.diff(created.id, outs, {**props, "region": None})
    assert (region_diff.changes, region_diff.replaces) == (True, [])
    moved = provider.diff(created.id, outs, {**props, "subaccountId": SUBACCOUNT_2})
    assert (moved.changes, moved.replaces) == (True, ["subaccountId"])

    assert provider.update(created.id, outs, {**props, "region": None}).outs == {**outs, "region": None}
    since = len(sb.calls())
    provider.delete(created.id, outs)  # not ours to delete
    assert api_writes(sb, since) == []
    assert provider.read(UNKNOWN_GUID, {**outs, "subaccountId": UNKNOWN_GUID}).id == ""


def test_subaccount_check_rejects_a_missing_wrong_region_or_unready_subaccount(sb: SandboxServer) -> None:
    provider = SubaccountCheckProvider()
    with pytest.raises(BtpError, match=f"subaccount {UNKNOWN_GUID} was not found"):
        provider.create({"subaccountId": UNKNOWN_GUID, "region": None})
    with pytest.raises(BtpError, match="is in region eu10, but btp-infra:region is us10"):
        provider.create({"subaccountId": SUBACCOUNT_1, "region": "us10"})
    sb.set_subaccount_state(SUBACCOUNT_1, "SUSPENDED", "billing")
    with pytest.raises(BtpError, match=r"is in state SUSPENDED, not OK \(billing\)"):
        provider.create({"subaccountId": SUBACCOUNT_1, "region": "eu10"})


def test_subaccount_check_validates_inputs() -> None:
    provider = SubaccountCheckProvider()
    assert failed_properties(provider.check({}, {"subaccountId": "  "})) == ["subaccountId"]
    assert failed_properties(provider.check({}, {})) == ["subaccountId"]
    assert provider.check({}, {"subaccountId": rpc.UNKNOWN}).failures == []  # preview: not known yet


# ---- SubaccountEntitlement ----------------------------------------------------------------------------


def entitlement_props(service: str, plan: str, amount: int | None = None) -> dict[str, Any]:
    return {
        "subaccountId": SUBACCOUNT_1,
        "serviceName": service,
        "planName": plan,
        "amount": amount,
        "timeoutSeconds": 30,
    }


def assignments(sb: SandboxServer, service: str, plan: str) -> list[dict[str, Any]]:
    return objects(sb, "assignments", subaccount=SUBACCOUNT_1, service=service, plan=plan)


def test_entitlement_with_numeric_quota_lifecycle(sb: SandboxServer) -> None:
    provider = SubaccountEntitlementProvider()
    props = entitlement_props("hana-cloud", "hana", 1)
    assert provider.check({}, props).failures == []
    created = provider.create(props)
    assert created.id == entitlement_id(SUBACCOUNT_1, "hana-cloud", "hana")
    assert created.outs is not None
    outs = created.outs
    assert (outs["state"], outs["assignedAmount"], outs["amount"]) == ("OK", 1, 1)
    assert [(a["amount"], a["entityState"]) for a in assignments(sb, "hana-cloud", "hana")] == [(1, "OK")]

    read = provider.read(created.id, outs)
    assert (read.id, read.outs) == (created.id, outs)
    assert provider.diff(created.id, outs, props).changes is False

    bigger = {**props, "amount": 2}
    change = provider.diff(created.id, outs, bigger)
    assert (change.changes, change.replaces) == (True, [])
    updated = provider.update(created.id, outs, bigger).outs
    assert updated is not None
    assert (updated["amount"], updated["assignedAmount"], updated["state"]) == (2, 2, "OK")
    assert [(a["amount"], a["entityState"]) for a in assignments(sb, "hana-cloud", "hana")] == [(2, "OK")]
    assert provider.diff(created.id, updated, bigger).changes is False

    for key, value in (("subaccountId", SUBACCOUNT_2), ("serviceName", "destination"), ("planName", "x")):
        replace = provider.diff(created.id, updated, {**bigger, key: value})
        assert (replace.changes, replace.replaces) == (True, [key])

    provider.delete(created.id, updated)
    assert assignments(sb, "hana-cloud", "hana") == []
    assert provider.read(created.id, updated).id == ""
    since = len(sb.calls())
    provider.delete(created.id, updated)  # already gone: succeeds without writing
    assert api_writes(sb, since) == []


def test_entitlement_without_quota_is_enabled_and_rejects_an_amount(sb: SandboxServer) -> None:
    provider = SubaccountEntitlementProvider()
    props = entitlement_props("destination", "lite")
    created = provider.create(props)
    assert created.outs is not None
    assert (created.outs["state"], created.outs["category"]) == ("OK", "ELASTIC_SERVICE")
    assert len(assignments(sb, "destination", "lite")) == 1
    assert provider.create(props).id == created.id  # a re-run adopts: still one assignment
    assert len(assignments(sb, "destination", "lite")) == 1

    since = len(sb.calls())
    with pytest.raises(InvalidAmountError, match="has no numeric quota"):
        provider.create(entitlement_props("xsuaa", "application", 2))
    assert api_writes(sb, since) == []  # refused before any write
    provider.delete(created.id, created.outs)
    assert provider.read(created.id, created.outs).id == ""


def test_entitlement_deleted_out_of_band_is_reported_gone(sb: SandboxServer, operator: Operator) -> None:
    provider = SubaccountEntitlementProvider()
    created = provider.create(entitlement_props(*OPERATOR))
    assert created.outs is not None
    operator.entitlements.unassign(SUBACCOUNT_1, *OPERATOR)
    assert provider.read(created.id, created.outs).id == ""


@pytest.mark.parametrize(
    ("change", "bad"),
    [
        ({"amount": 0}, ["amount"]),
        ({"amount": -1}, ["amount"]),
        ({"amount": 1.5}, ["amount"]),
        ({"amount": True}, ["amount"]),
        ({"amount": "2"}, ["amount"]),
        ({"serviceName": ""}, ["serviceName"]),
        ({"planName": None}, ["planName"]),
        ({"subaccountId": 42}, ["subaccountId"]),
        ({"timeoutSeconds": 0}, ["timeoutSeconds"]),
        ({"timeoutSeconds": "10m"}, ["timeoutSeconds"]),
        ({"amount": 0, "serviceName": " "}, ["amount", "serviceName"]),
        ({"amount": 2.0}, []),
        ({"amount": rpc.UNKNOWN, "subaccountId": rpc.UNKNOWN}, []),
    ],
)
def test_entitlement_check(change: dict[str, Any], bad: list[str]) -> None:
    result = SubaccountEntitlementProvider().check(
        {}, {**entitlement_props("hana-cloud", "hana", 1), **change}
    )
    assert failed_properties(result) == bad
    assert all(f.reason for f in result.failures)


# ---- ServiceManagerAccess -----------------------------------------------------------------------------


def test_sm_access_lifecycle(sb: SandboxServer) -> None:
    provider = ServiceManagerAccessProvider()
    props = {"subaccountId": SUBACCOUNT_1, "tenant": "team-a", "takeOwnership": False, "timeoutSeconds": None}
    assert provider.check({}, props).failures == []
    created = provider.create(props)
    assert created.id == SUBACCOUNT_1
    assert created.outs is not None
    outs = created.outs
    [admin] = objects(sb, "admin_bindings", subaccount=SUBACCOUNT_1)
    assert outs == {
        **props,
        "smUrl": f"{sb.url}/sm",
        "clientId": admin["client_id"],
        "created": True,
        "adopted": False,
        "tenants": [],
    }

    read = provider.read(created.id, outs)
    assert (read.id, read.outs) == (SUBACCOUNT_1, outs)
    assert provider.diff(created.id, outs, props).changes is False
    slower = {**props, "timeoutSeconds": 900}
    change = provider.diff(created.id, outs, slower)
    assert (change.changes, change.replaces) == (True, [])
    since = len(sb.calls())
    updated = provider.update(created.id, outs, slower).outs
    assert updated == {**outs, "timeoutSeconds": 900}
    assert sb.calls()[since:] == []  # only a wait changed: no API call
    moved = provider.diff(created.id, outs, {**props, "subaccountId": SUBACCOUNT_2})
    assert moved.replaces == ["subaccountId"]

    provider.delete(created.id, updated)
    assert objects(sb, "admin_bindings") == []
    assert objects(sb, "bindings") == [] and objects(sb, "instances") == []
    assert provider.read(created.id, updated).id == ""
    provider.delete(created.id, updated)  # 404 = gone


def test_sm_access_adopts_what_a_crashed_run_created(sb: SandboxServer) -> None:
    props = {"subaccountId": SUBACCOUNT_1, "tenant": "team-a", "timeoutSeconds": None}
    first = ServiceManagerAccessProvider().create(props)
    second = ServiceManagerAccessProvider().create(props)  # the engine never recorded the first one
    assert first.outs is not None and second.outs is not None
    assert second.id == first.id
    assert (first.outs["created"], second.outs["created"]) == (True, False)
    assert second.outs["clientId"] == first.outs["clientId"]
    assert len(objects(sb, "admin_bindings")) == 1


def test_sm_access_deleted_out_of_band_is_reported_gone(sb: SandboxServer, operator: Operator) -> None:
    provider = ServiceManagerAccessProvider()
    created = provider.create({"subaccountId": SUBACCOUNT_1, "tenant": "team-a", "timeoutSeconds": None})
    assert created.outs is not None
    operator.accounts.delete_service_management_binding(SUBACCOUNT_1)
    assert provider.read(created.id, created.outs).id == ""


def test_sm_access_check() -> None:
    provider = ServiceManagerAccessProvider()
    bad = {"subaccountId": "", "tenant": "", "takeOwnership": "yes", "timeoutSeconds": -1}
    assert failed_properties(provider.check({}, bad)) == [
        "subaccountId",
        "takeOwnership",
        "tenant",
        "timeoutSeconds",
    ]


# ---- ServiceInstance ----------------------------------------------------------------------------------


def instance_props(name: str = "btp-infra-team-a-operator-access", **change: Any) -> dict[str, Any]:
    return {
        "subaccountId": SUBACCOUNT_1,
        "name": name,
        "serviceOfferingName": OPERATOR[0],
        "servicePlanName": OPERATOR[1],
        "parameters": {},
        "labels": LABELS,
        "timeoutSeconds": 60,
        "adopt": None,
        "takeOwnership": None,
        **change,
    }


def instances(sb: SandboxServer, **match: Any) -> list[dict[str, Any]]:
    return [i for i in objects(sb, "instances", **match) if i["plan"] != "subaccount-admin"]


def stored_parameters(sb: SandboxServer, instance_id: str) -> dict[str, Any]:
    with sb.runtime.store.lock:
        return dict(sb.runtime.store.instances[instance_id].parameters)


def test_instance_lifecycle(sb: SandboxServer, operator: Operator) -> None:
    operator.operator_ready()
    provider = ServiceInstanceProvider()
    props = instance_props(parameters={"size": "s"})
    assert provider.check({}, props).failures == []
    created = provider.create(props)
    assert created.outs is not None
    outs = created.outs
    [live] = instances(sb)
    assert (live["id"], live["name"], live["labels"], live["ready"]) == (
        created.id,
        props["name"],
        LABELS,
        True,
    )
    assert stored_parameters(sb, created.id) == {"size": "s"}
    plan_id = operator.sm().find_plan(*OPERATOR).id
    assert outs == {**props, "instanceId": created.id, "servicePlanId": plan_id, "ready": True}

    read = provider.read(created.id, outs)
    assert (read.id, read.outs) == (created.id, outs)
    assert provider.diff(created.id, outs, props).changes is False

    relabelled = {**props, "labels": {"btp-infra.managed-by": ["btp-infra"], "team": ["a", "b"]}}
    change = provider.diff(created.id, outs, relabelled)
    assert (change.changes, change.replaces, change.delete_before_replace) == (True, [], False)
    outs = provider.update(created.id, outs, relabelled).outs or {}
    assert instances(sb)[0]["labels"] == {"btp-infra.managed-by": ["btp-infra"], "team": ["a", "b"]}
    assert outs["labels"] == relabelled["labels"]

    reparametrized = {**relabelled, "parameters": {"size": "m"}}
    assert provider.diff(created.id, outs, reparametrized).replaces == []
    outs = provider.update(created.id, outs, reparametrized).outs or {}
    assert stored_parameters(sb, created.id) == {"size": "m"}

    renamed = {**reparametrized, "name": "btp-infra-team-a-renamed"}
    assert provider.diff(created.id, outs, renamed).replaces == []
    outs = provider.update(created.id, outs, renamed).outs or {}
    assert [i["name"] for i in instances(sb)] == ["btp-infra-team-a-renamed"]
    assert outs["name"] == "btp-infra-team-a-renamed"
    assert provider.diff(created.id, provider.read(created.id, outs).outs or {}, renamed).changes is False

    for key, value in (("servicePlanName", "subaccount-admin"), ("serviceOfferingName", "destination")):
        replace = provider.diff(created.id, outs, {**renamed, key: value})
        # same name in the same subaccount: the old instance must be deleted first (create adopts by name)
        assert (replace.changes, replace.replaces, replace.delete_before_replace) == (True, [key], True)
    moved = provider.diff(created.id, outs, {**renamed, "subaccountId": SUBACCOUNT_2})
    assert (moved.replaces, moved.delete_before_replace) == (["subaccountId"], False)
    both = provider.diff(
        created.id, outs, {**renamed, "name": "other", "servicePlanName": "subaccount-admin"}
    )
    assert (both.replaces, both.delete_before_replace) == (["servicePlanName"], False)

    provider.delete(created.id, outs)
    assert instances(sb) == []
    assert provider.read(created.id, outs).id == ""
    provider.delete(created.id, outs)  # 404 = gone


def test_instance_plan_change_replaces_as_the_diff_says(sb: SandboxServer, operator: Operator) -> None:
    """Run the replacement the way the engine does after diff (delete first when it says so)."""
    operator.operator_ready()
    provider = ServiceInstanceProvider()
    old = provider.create(instance_props())
    assert old.outs is not None
    news = instance_props(servicePlanName="subaccount-admin")
    diff = provider.diff(old.id, old.outs, news)
    if diff.delete_before_replace:
        provider.delete(old.id, old.outs)
    new = provider.create(news)
    if not diff.delete_before_replace:
        provider.delete(old.id, old.outs)
    assert new.id != old.id
    named = objects(sb, "instances", name=news["name"])
    assert [(i["id"], i["plan"]) for i in named] == [(new.id, "subaccount-admin")]


def test_instance_update_of_the_timeout_only_writes_nothing(sb: SandboxServer, operator: Operator) -> None:
    operator.operator_ready()
    provider = ServiceInstanceProvider()
    created = provider.create(instance_props())
    assert created.outs is not None
    since = len(sb.calls())
    outs = provider.update(created.id, created.outs, instance_props(timeoutSeconds=120)).outs
    assert outs is not None and outs["timeoutSeconds"] == 120
    assert api_writes(sb, since) == []


def test_instance_create_adopts_what_a_crashed_run_created(sb: SandboxServer, operator: Operator) -> None:
    operator.operator_ready()
    first = ServiceInstanceProvider().create(instance_props())
    since = len(sb.calls())
    again = ServiceInstanceProvider().create(instance_props())  # the engine never recorded the first
    assert again.id == first.id
    assert again.outs == first.outs
    assert [i["id"] for i in instances(sb)] == [first.id]
    assert api_writes(sb, since) == []


def test_instance_create_adopts_an_in_flight_create(sb: SandboxServer, operator: Operator) -> None:
    """A crashed run's POST was accepted (202) and is still running: wait for it instead of POSTing again."""
    sm = operator.operator_ready()
    sb.set_latencies(instance=0.5)
    props = instance_props()
    plan_id = sm.find_plan(*OPERATOR).id
    body = {"name": props["name"], "service_plan_id": plan_id, "labels": LABELS}
    started = sm.transport.request("POST", "/v1/service_instances", json=body, ok=(202,))
    instance_id = started.headers["Location"].split("/")[3]
    since = len(sb.calls())
    adopted = ServiceInstanceProvider().create(props)
    assert adopted.id == instance_id
    assert adopted.outs is not None and adopted.outs["ready"] is True
    assert [(i["id"], i["last_operation"]["state"]) for i in instances(sb)] == [(instance_id, "succeeded")]
    assert api_writes(sb, since) == []


def test_instance_deleted_out_of_band_is_reported_gone(sb: SandboxServer, operator: Operator) -> None:
    sm = operator.operator_ready()
    provider = ServiceInstanceProvider()
    created = provider.create(instance_props())
    assert created.outs is not None
    sm.delete_instance(created.id, timeout=10)
    assert provider.read(created.id, created.outs).id == ""
    provider.delete(created.id, created.outs)


def test_instance_read_shows_drift_of_declared_labels_only(sb: SandboxServer, operator: Operator) -> None:
    sm = operator.operator_ready()
    provider = ServiceInstanceProvider()
    props = instance_props()
    created = provider.create(props)
    sm.update_instance(created.id, labels_add={"someone-else": ["x"]}, timeout=10)
    read = provider.read(created.id, created.outs or {})
    assert provider.diff(created.id, read.outs or {}, props).changes is False  # not our label
    sm.update_instance(created.id, labels_remove=["btp-infra.tenant"], timeout=10)
    read = provider.read(created.id, created.outs or {})
    assert read.outs is not None and read.outs["labels"] == {"btp-infra.managed-by": ["btp-infra"]}
    drift = provider.diff(created.id, read.outs, props)
    assert (drift.changes, drift.replaces) == (True, [])
    provider.update(created.id, read.outs, props)
    assert instances(sb)[0]["labels"] == {**LABELS, "someone-else": ["x"]}


@pytest.mark.parametrize(
    ("change", "bad"),
    [
        ({"name": ""}, ["name"]),
        ({"serviceOfferingName": None, "servicePlanName": " "}, ["serviceOfferingName", "servicePlanName"]),
        ({"parameters": ["size", "s"]}, ["parameters"]),
        ({"labels": ["a"]}, ["labels"]),
        ({"labels": {"bad key": ["x"]}}, ["labels"]),
        ({"labels": {"k": "v"}}, ["labels"]),
        ({"labels": {"k": []}}, ["labels"]),
        ({"labels": {"k": ["v", "v"]}}, ["labels"]),
        ({"labels": {"k": [""]}}, ["labels"]),
        ({"labels": {"k": ["x" * 256]}}, ["labels"]),
        ({"labels": {"k" * 101: ["x"]}}, ["labels"]),
        ({"timeoutSeconds": -5}, ["timeoutSeconds"]),
        ({"labels": {"a.b_c-D9": ["x", "y"]}, "parameters": None}, []),
        ({"labels": rpc.UNKNOWN, "parameters": rpc.UNKNOWN, "name": rpc.UNKNOWN}, []),
    ],
)
def test_instance_check(change: dict[str, Any], bad: list[str]) -> None:
    result = ServiceInstanceProvider().check({}, instance_props(**change))
    assert failed_properties(result) == bad
    assert "__provider" not in result.inputs


# ---- ServiceBinding -----------------------------------------------------------------------------------


def binding_props(instance_id: str, credential_type: str = "client-secret", **change: Any) -> dict[str, Any]:
    return {
        "subaccountId": SUBACCOUNT_1,
        "serviceInstanceId": instance_id,
        "name": f"btp-infra-team-a-operator-access-{credential_type}",
        "credentialType": credential_type,
        "parameters": {},
        "labels": LABELS,
        "timeoutSeconds": 60,
        "adopt": None,
        "takeOwnership": None,
        **change,
    }


def operator_instance(operator: Operator, name: str = "btp-infra-team-a-operator-access") -> str:
    sm = operator.operator_ready()
    return sm.create_instance(name, offering=OPERATOR[0], plan=OPERATOR[1], timeout=10).id


def bindings(sb: SandboxServer, instance_id: str) -> list[dict[str, Any]]:
    return objects(sb, "bindings", service_instance_id=instance_id)


def test_binding_lifecycle(sb: SandboxServer, operator: Operator) -> None:
    instance_id = operator_instance(operator)
    provider = ServiceBindingProvider()
    props = binding_props(instance_id)
    assert provider.check({}, props).failures == []
    created = provider.create(props)
    assert created.outs is not None
    outs = created.outs
    [live] = bindings(sb, instance_id)
    assert (live["id"], live["name"], live["labels"]) == (created.id, props["name"], LABELS)
    assert outs == {**props, "bindingId": created.id, "credentials": stored_credentials(sb, created.id)}
    assert set(outs["credentials"]) >= {"clientid", "clientsecret", "url", "sm_url", "xsappname"}

    read = provider.read(created.id, outs)
    assert (read.id, read.outs) == (created.id, outs)
    assert provider.diff(created.id, outs, props).changes is False

    relabelled = {**props, "labels": {"btp-infra.tenant": ["team-b"], "extra": ["1"]}}
    change = provider.diff(created.id, outs, relabelled)
    assert (change.changes, change.replaces) == (True, [])
    outs = provider.update(created.id, outs, relabelled).outs or {}
    assert bindings(sb, instance_id)[0]["labels"] == relabelled["labels"]
    assert outs["labels"] == relabelled["labels"]
    assert outs["credentials"] == stored_credentials(sb, created.id)
    assert bindings(sb, instance_id)[0]["id"] == created.id  # updated in place

    expected = {
        "name": ("other-name", False),  # a new name: create the new binding first
        "credentialType": ("x509", True),  # same name: the old one must go first
        "serviceInstanceId": ("another-instance", True),
        "parameters": ({"credential-type": "x509"}, True),
        "subaccountId": (SUBACCOUNT_2, True),
    }
    for key, (value, delete_first) in expected.items():
        replace = provider.diff(created.id, outs, {**relabelled, key: value})
        assert (replace.changes, replace.replaces, replace.delete_before_replace) == (
            True,
            [key],
            delete_first,
        )

    provider.delete(created.id, outs)
    assert bindings(sb, instance_id) == []
    assert provider.read(created.id, outs).id == ""
    provider.delete(created.id, outs)  # 404 = gone


def test_x509_binding_carries_certificate_and_key(sb: SandboxServer, operator: Operator) -> None:
    instance_id = operator_instance(operator)
    provider = ServiceBindingProvider()
    created = provider.create(binding_props(instance_id, "x509"))
    assert created.outs is not None
    creds = created.outs["credentials"]
    assert creds == stored_credentials(sb, created.id)
    assert creds["certificate"].startswith("-----BEGIN CERTIFICATE-----")
    assert "PRIVATE KEY-----" in creds["key"]
    assert creds["certurl"] == f"{sb.tls_url}/uaa/tenant-a"
    assert "clientsecret" not in creds
    assert [b["credential_type"] for b in bindings(sb, instance_id)] == ["x509"]


def test_binding_create_adopts_what_a_crashed_run_created(sb: SandboxServer, operator: Operator) -> None:
    instance_id = operator_instance(operator)
    first = ServiceBindingProvider().create(binding_props(instance_id))
    since = len(sb.calls())
    again = ServiceBindingProvider().create(binding_props(instance_id))
    assert again.id == first.id
    assert again.outs == first.outs  # the same credentials: nothing rotated
    assert [b["id"] for b in bindings(sb, instance_id)] == [first.id]
    assert api_writes(sb, since) == []


def test_binding_deleted_out_of_band_is_reported_gone(sb: SandboxServer, operator: Operator) -> None:
    instance_id = operator_instance(operator)
    provider = ServiceBindingProvider()
    created = provider.create(binding_props(instance_id))
    assert created.outs is not None
    operator.sm().delete_binding(created.id, timeout=10)
    assert provider.read(created.id, created.outs).id == ""
    provider.delete(created.id, created.outs)


def test_binding_of_a_missing_instance_fails_clearly(sb: SandboxServer, operator: Operator) -> None:
    operator.operator_ready()
    with pytest.raises(BtpError) as info:
        ServiceBindingProvider().create(binding_props(UNKNOWN_GUID))
    assert info.value.status in (400, 404)
    assert "create binding btp-infra-team-a-operator-access-client-secret" in str(info.value)


def test_sm_resources_without_admin_access_fail_clearly(sb: SandboxServer) -> None:
    with pytest.raises(BtpError, match="has no Service Manager admin access"):
        ServiceInstanceProvider().create(instance_props())


@pytest.mark.parametrize(
    ("change", "bad"),
    [
        ({"credentialType": "pem"}, ["credentialType"]),
        ({"credentialType": None}, ["credentialType"]),
        ({"serviceInstanceId": ""}, ["serviceInstanceId"]),
        ({"name": 3}, ["name"]),
        ({"parameters": "x509"}, ["parameters"]),
        ({"labels": {"k": ["v"], "k k": ["v"]}}, ["labels"]),
        ({"timeoutSeconds": True}, ["timeoutSeconds"]),
        ({"credentialType": "x509", "serviceInstanceId": rpc.UNKNOWN}, []),
    ],
)
def test_binding_check(change: dict[str, Any], bad: list[str]) -> None:
    result = ServiceBindingProvider().check({}, binding_props("instance", **change))
    assert failed_properties(result) == bad


def test_deletes_return_only_once_the_api_says_gone(sb: SandboxServer, operator: Operator) -> None:
    instance_id = operator_instance(operator)
    sb.set_latencies(binding_delete=0.3, instance_delete=0.3, entitlement_delete=0.3)
    binding = ServiceBindingProvider()
    created = binding.create(binding_props(instance_id))
    entitlement = SubaccountEntitlementProvider()
    hana = entitlement.create(entitlement_props("hana-cloud", "hana", 1))
    steps: list[tuple[Callable[[], None], Callable[[], list[dict[str, Any]]]]] = [
        (lambda: binding.delete(created.id, created.outs or {}), lambda: bindings(sb, instance_id)),
        (lambda: ServiceInstanceProvider().delete(instance_id, instance_props()), lambda: instances(sb)),
        (lambda: entitlement.delete(hana.id, hana.outs or {}), lambda: assignments(sb, "hana-cloud", "hana")),
    ]
    for delete, left in steps:
        started = time.monotonic()
        delete()
        assert left() == []  # gone when delete returns, not merely "deleting"
        assert time.monotonic() - started >= 0.3
