"""Every provider the way the Pulumi engine runs it: the ``__provider`` string ``Resource.__init__`` stores in
state, loaded by ``python -u -m pulumi.dynamic`` in a fresh interpreter started from the project directory,
driven over the gRPC ``ResourceProvider`` protocol (Configure, Check, Create, Read, Diff, Update, Delete)
against the emulator. The subprocess uses the production retry/poll policies.
"""

from __future__ import annotations

import json
from typing import Any

import grpc
import pytest
from dynamic_host import PROJECT_DIR, DynamicProviderHost, serialized
from emulator_fixtures import SUBACCOUNT_1, SUBACCOUNT_2
from pulumi.runtime import proto

from btp_infra.credentials import ENV_KEY
from btp_infra.offline import rendering
from btp_infra.providers import (
    ServiceBinding,
    ServiceBindingProvider,
    ServiceInstance,
    ServiceInstanceProvider,
    ServiceManagerAccess,
    ServiceManagerAccessProvider,
    Subaccount,
    SubaccountCheck,
    SubaccountCheckProvider,
    SubaccountEntitlement,
    SubaccountEntitlementProvider,
    SubaccountProvider,
)
from btp_infra.sandbox import SandboxServer

from .support import OPERATOR, Operator, objects, secrets_of, stored_credentials

pytestmark = pytest.mark.usefixtures("no_cis_env")

DYN = "pulumi-python:dynamic/btp:"
KINDS = (
    "SubaccountCheck",
    "SubaccountEntitlement",
    "ServiceManagerAccess",
    "ServiceInstance",
    "ServiceBinding",
    "Subaccount",
)
PROVIDER_CLASSES = {
    "SubaccountCheck": SubaccountCheckProvider,
    "SubaccountEntitlement": SubaccountEntitlementProvider,
    "ServiceManagerAccess": ServiceManagerAccessProvider,
    "ServiceInstance": ServiceInstanceProvider,
    "ServiceBinding": ServiceBindingProvider,
    "Subaccount": SubaccountProvider,
}
NAME = "btp-infra-team-a-operator-access"
LABELS = {"btp-infra.managed-by": ["btp-infra"], "btp-infra.tenant": ["team-a"]}
NONE, SOME = proto.DiffResponse.DIFF_NONE, proto.DiffResponse.DIFF_SOME


def resource_provider_strings() -> dict[str, str]:
    """``__provider`` of each resource type, as ``Resource.__init__`` serialized it (captured under mocks)."""

    def program() -> None:
        SubaccountCheck("c", subaccount_id=SUBACCOUNT_1, namespace="incident")
        SubaccountEntitlement("e", subaccount_id=SUBACCOUNT_1, service_name="s", plan_name="p")
        ServiceManagerAccess("a", subaccount_id=SUBACCOUNT_1, tenant="incident")
        ServiceInstance(
            "i",
            subaccount_id=SUBACCOUNT_1,
            instance_name="n",
            service_offering_name="o",
            service_plan_name="p",
        )
        ServiceBinding("b", subaccount_id=SUBACCOUNT_1, service_instance_id="i", binding_name="n")
        Subaccount("s", display_name="S", subdomain="acme-incident", region="eu10", namespace="incident")

    result = rendering.render("protocol", {}, program)
    assert result.error is None, result.error
    found = {}
    for resource in result.resources:
        envelope = resource.inputs["__provider"]
        assert rendering.is_secret_envelope(envelope), "__provider is a secret in state"
        found[resource.type.removeprefix(DYN)] = str(rendering.unwrap_secrets(envelope))
    assert sorted(found) == sorted(KINDS)
    return found


@pytest.fixture(scope="module")
def provider_strings() -> dict[str, str]:
    return resource_provider_strings()


def test_resources_store_the_serialized_provider(provider_strings: dict[str, str]) -> None:
    for kind, cls in PROVIDER_CLASSES.items():
        assert provider_strings[kind] == serialized(cls()), f"{kind}: deterministic, state-free pickle"
    assert len(set(provider_strings.values())) == len(KINDS)


class Engine:
    """Speaks to the host as the engine does: URNs, ``__provider`` in every property bag."""

    def __init__(self, host: DynamicProviderHost, provider_strings: dict[str, str]) -> None:
        self.host = host
        self.strings = provider_strings

    def urn(self, kind: str, name: str) -> str:
        return f"urn:pulumi:test::btp-infra::btp-infra:index:TenantNamespace${DYN}{kind}::{name}"

    def check(self, kind: str, inputs: dict[str, Any], olds: dict[str, Any] | None = None) -> dict[str, Any]:
        news = {**inputs, "__provider": self.strings[kind]}
        checked, failures = self.host.check(self.urn(kind, "r"), olds or {}, news)
        assert failures == [], [(f.property, f.reason) for f in failures]
        assert checked["__provider"] == self.strings[kind]
        return checked

    def failures(self, kind: str, inputs: dict[str, Any], olds: dict[str, Any] | None = None) -> list[str]:
        news = {**inputs, "__provider": self.strings[kind]}
        _, failures = self.host.check(self.urn(kind, "r"), olds or {}, news)
        return sorted(f.property for f in failures)

    def create(self, kind: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        id_, outs = self.host.create(self.urn(kind, "r"), self.check(kind, inputs))
        assert id_ and outs["__provider"] == self.strings[kind]
        return id_, outs

    def read(self, kind: str, id_: str, outs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        return self.host.read(self.urn(kind, "r"), id_, outs)

    def diff(self, kind: str, id_: str, outs: dict[str, Any], inputs: dict[str, Any]) -> Any:
        return self.host.diff(self.urn(kind, "r"), id_, outs, self.check(kind, inputs, outs))

    def update(self, kind: str, id_: str, outs: dict[str, Any], inputs: dict[str, Any]) -> dict[str, Any]:
        new_outs = self.host.update(self.urn(kind, "r"), id_, outs, self.check(kind, inputs, outs))
        assert new_outs["__provider"] == self.strings[kind]
        return new_outs

    def delete(self, kind: str, id_: str, outs: dict[str, Any]) -> None:
        self.host.delete(self.urn(kind, "r"), id_, outs)

    def same(self, kind: str, id_: str, outs: dict[str, Any], inputs: dict[str, Any]) -> None:
        """read returns what create stored, and diff against the same inputs says: no change."""
        read_id, read_outs = self.read(kind, id_, outs)
        assert (read_id, read_outs) == (id_, outs)
        assert self.diff(kind, id_, outs, inputs).changes == NONE


def without_provider(outs: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in outs.items() if k != "__provider"}


def test_every_provider_round_trips_through_the_engine_protocol(
    sb: SandboxServer, provider_strings: dict[str, str]
) -> None:
    env = {ENV_KEY: json.dumps(sb.cis_service_key())}
    with DynamicProviderHost(env=env, cwd=PROJECT_DIR) as host:
        host.configure({"btp-infra:namespace": "team-a"})  # the full stack config, no key in it
        engine = Engine(host, provider_strings)

        # SubaccountCheck
        check_in = {"subaccountId": SUBACCOUNT_1, "region": "eu10"}
        check_id, check_outs = engine.create("SubaccountCheck", check_in)
        assert (check_id, check_outs["subdomain"], check_outs["state"]) == (SUBACCOUNT_1, "tenant-a", "OK")
        engine.same("SubaccountCheck", check_id, check_outs, check_in)
        # A deployed tenant is never moved to another subaccount: check refuses it (old inputs → new).
        moved = {**check_in, "subaccountId": SUBACCOUNT_2}
        assert engine.failures("SubaccountCheck", moved, olds=check_in) == ["subaccountId"]
        check_outs = engine.update("SubaccountCheck", check_id, check_outs, {**check_in, "region": None})
        assert (
            "region" not in check_outs and check_outs["subaccountRegion"] == "eu10"
        )  # None is dropped on the wire
        assert engine.failures("SubaccountCheck", {"subaccountId": ""}) == ["subaccountId"]

        # SubaccountEntitlement: the operator plan (enable) and a numeric one (amount 1 → 2)
        op_in = {"subaccountId": SUBACCOUNT_1, "serviceName": OPERATOR[0], "planName": OPERATOR[1]}
        op_id, op_outs = engine.create("SubaccountEntitlement", op_in)
        hana_in = {"subaccountId": SUBACCOUNT_1, "serviceName": "hana-cloud", "planName": "hana", "amount": 1}
        hana_id, hana_outs = engine.create("SubaccountEntitlement", hana_in)
        assert hana_id == f"{SUBACCOUNT_1},hana-cloud,hana" and hana_outs["assignedAmount"] == 1
        engine.same("SubaccountEntitlement", hana_id, hana_outs, hana_in)
        change = engine.diff("SubaccountEntitlement", hana_id, hana_outs, {**hana_in, "amount": 2})
        assert (change.changes, list(change.replaces)) == (SOME, [])
        replace = engine.diff("SubaccountEntitlement", hana_id, hana_outs, {**hana_in, "planName": "other"})
        assert (replace.changes, list(replace.replaces)) == (SOME, ["planName"])
        hana_outs = engine.update("SubaccountEntitlement", hana_id, hana_outs, {**hana_in, "amount": 2})
        assert hana_outs["assignedAmount"] == 2
        assert [a["amount"] for a in objects(sb, "assignments", service="hana-cloud")] == [2]
        assert engine.failures("SubaccountEntitlement", {**hana_in, "amount": 0}) == ["amount"]

        # ServiceManagerAccess
        access_in: dict[str, Any] = {"subaccountId": SUBACCOUNT_1, "tenant": "team-a"}
        access_id, access_outs = engine.create("ServiceManagerAccess", access_in)
        assert (access_outs["smUrl"], access_outs["created"]) == (f"{sb.url}/sm", True)
        engine.same("ServiceManagerAccess", access_id, access_outs, access_in)
        access_outs = engine.update(
            "ServiceManagerAccess", access_id, access_outs, {**access_in, "timeoutSeconds": 60}
        )
        assert access_outs["timeoutSeconds"] == 60

        # ServiceInstance
        inst_in = {
            "subaccountId": SUBACCOUNT_1,
            "name": NAME,
            "serviceOfferingName": OPERATOR[0],
            "servicePlanName": OPERATOR[1],
            "parameters": {},
            "labels": LABELS,
        }
        inst_id, inst_outs = engine.create("ServiceInstance", inst_in)
        assert inst_outs["instanceId"] == inst_id and inst_outs["ready"] is True
        engine.same("ServiceInstance", inst_id, inst_outs, inst_in)
        relabelled = {**inst_in, "labels": {**LABELS, "team": ["a"]}}
        inst_outs = engine.update("ServiceInstance", inst_id, inst_outs, relabelled)
        assert objects(sb, "instances", id=inst_id)[0]["labels"] == relabelled["labels"]
        replace = engine.diff("ServiceInstance", inst_id, inst_outs, {**relabelled, "servicePlanName": "x"})
        assert (list(replace.replaces), replace.deleteBeforeReplace) == (["servicePlanName"], True)
        assert engine.failures("ServiceInstance", {**inst_in, "labels": {"bad key": ["x"]}}) == ["labels"]

        # ServiceBinding: client-secret and x509
        bindings: dict[str, tuple[str, dict[str, Any], dict[str, Any]]] = {}
        for ctype in ("client-secret", "x509"):
            bind_in = {
                "subaccountId": SUBACCOUNT_1,
                "serviceInstanceId": inst_id,
                "name": f"{NAME}-{ctype}",
                "credentialType": ctype,
                "parameters": {},
                "labels": LABELS,
            }
            bind_id, bind_outs = engine.create("ServiceBinding", bind_in)
            assert bind_outs["credentials"] == stored_credentials(sb, bind_id)
            engine.same("ServiceBinding", bind_id, bind_outs, bind_in)
            bindings[ctype] = (bind_id, bind_outs, bind_in)
        bind_id, bind_outs, bind_in = bindings["client-secret"]
        bind_outs = engine.update("ServiceBinding", bind_id, bind_outs, {**bind_in, "labels": {"x": ["y"]}})
        assert objects(sb, "bindings", id=bind_id)[0]["labels"] == {"x": ["y"]}
        assert bind_outs["credentials"] == stored_credentials(sb, bind_id)
        replace = engine.diff("ServiceBinding", bind_id, bind_outs, {**bind_in, "credentialType": "x509"})
        assert (list(replace.replaces), replace.deleteBeforeReplace) == (["credentialType"], True)
        assert engine.failures("ServiceBinding", {**bind_in, "credentialType": "pem"}) == ["credentialType"]
        bindings["client-secret"] = (bind_id, bind_outs, bind_in)
        with pytest.raises(grpc.RpcError) as failed:
            engine.create(
                "ServiceBinding", {**bind_in, "name": "orphan", "serviceInstanceId": "no-such-instance"}
            )
        details = str(failed.value.details())

        # Delete everything, dependents first; read reports each gone; deleting again succeeds.
        gone: list[tuple[str, str, dict[str, Any]]] = [
            *(("ServiceBinding", i, o) for i, o, _ in bindings.values()),
            ("ServiceInstance", inst_id, inst_outs),
            ("ServiceManagerAccess", access_id, access_outs),
            ("SubaccountEntitlement", hana_id, hana_outs),
            ("SubaccountEntitlement", op_id, op_outs),
        ]
        for kind, id_, outs in gone:
            engine.delete(kind, id_, outs)
            read_id, read_outs = engine.read(kind, id_, outs)
            assert (read_id, without_provider(read_outs)) == ("", {}), kind
            engine.delete(kind, id_, outs)
        engine.delete("SubaccountCheck", check_id, check_outs)
        secrets = secrets_of(sb)
    state = sb.state()
    assert [state[k] for k in ("assignments", "admin_bindings", "instances", "bindings")] == [[], [], [], []]
    assert "create binding orphan" in details
    leaks = [
        where
        for where, text in (("error", details), ("stderr", host.stderr))
        if any(s in text for s in secrets)
    ]
    assert leaks == [], "secrets leaked (values not shown)"


def test_the_key_can_come_only_from_the_stack_config(
    sb: SandboxServer, provider_strings: dict[str, str]
) -> None:
    """No key in the environment: Configure's ``btp-infra:cisServiceKey`` is the only source."""
    raw = json.dumps(sb.cis_service_key())
    with DynamicProviderHost(cwd=PROJECT_DIR) as host:
        host.configure({"btp-infra:namespace": "team-a", "btp-infra:cisServiceKey": raw})
        engine = Engine(host, provider_strings)
        engine.create("SubaccountCheck", {"subaccountId": SUBACCOUNT_1})
        op_in = {"subaccountId": SUBACCOUNT_1, "serviceName": OPERATOR[0], "planName": OPERATOR[1]}
        op_id, op_outs = engine.create("SubaccountEntitlement", op_in)
        access_id, access_outs = engine.create(
            "ServiceManagerAccess", {"subaccountId": SUBACCOUNT_1, "tenant": "team-a"}
        )
        inst_in = {
            "subaccountId": SUBACCOUNT_1,
            "name": NAME,
            "serviceOfferingName": OPERATOR[0],
            "servicePlanName": OPERATOR[1],
        }
        inst_id, inst_outs = engine.create("ServiceInstance", inst_in)
        bind_in = {
            "subaccountId": SUBACCOUNT_1,
            "serviceInstanceId": inst_id,
            "name": f"{NAME}-client-secret",
            "credentialType": "client-secret",
        }
        bind_id, bind_outs = engine.create("ServiceBinding", bind_in)
        assert bind_outs["credentials"] == stored_credentials(sb, bind_id)
        assert engine.read("ServiceBinding", bind_id, bind_outs)[0] == bind_id
        engine.delete("ServiceBinding", bind_id, bind_outs)
        engine.delete("ServiceInstance", inst_id, inst_outs)
        engine.delete("ServiceManagerAccess", access_id, access_outs)
        engine.delete("SubaccountEntitlement", op_id, op_outs)
    state = sb.state()
    assert [state[k] for k in ("assignments", "admin_bindings", "instances", "bindings")] == [[], [], [], []]


def test_without_any_key_the_engine_gets_a_clear_error(
    sb: SandboxServer, provider_strings: dict[str, str]
) -> None:
    with DynamicProviderHost(cwd=PROJECT_DIR) as host:
        host.configure({"btp-infra:namespace": "team-a"})
        with pytest.raises(grpc.RpcError) as failed:
            Engine(host, provider_strings).create("SubaccountCheck", {"subaccountId": SUBACCOUNT_1})
    assert "no cis service key configured" in str(failed.value.details())
    assert sb.calls() == []


def test_the_real_server_refuses_a_rename_and_a_claimed_subaccount(
    sb: SandboxServer, provider_strings: dict[str, str], operator: Operator
) -> None:
    """Both refusals travel the engine's protocol: a CheckFailure on ``namespace`` (so preview and up stop
    before any step), and a failed Create whose message names the tenant that owns the subaccount."""
    env = {ENV_KEY: json.dumps(sb.cis_service_key())}
    with DynamicProviderHost(env=env, cwd=PROJECT_DIR) as host:
        host.configure({"btp-infra:namespace": "team-b"})
        engine = Engine(host, provider_strings)
        provider = provider_strings["SubaccountCheck"]
        olds = {"subaccountId": SUBACCOUNT_1, "namespace": "team-a", "__provider": provider}
        _, failures = host.check(
            engine.urn("SubaccountCheck", "tenant-subaccount"), olds, {**olds, "namespace": "team-b"}
        )
        assert [f.property for f in failures] == ["namespace"]
        assert "changed from 'team-a' to 'team-b'" in failures[0].reason

        # team-a's instance lives in the subaccount: team-b's claim is refused, team-a's read names it.
        sm = operator.operator_ready()
        sm.create_instance(
            "btp-infra-team-a-operator-access",
            offering=OPERATOR[0],
            plan=OPERATOR[1],
            labels={"btp-infra.managed-by": ["btp-infra"], "btp-infra.tenant": ["team-a"]},
        )
        access_in = {"subaccountId": SUBACCOUNT_1, "tenant": "team-a"}
        access_id, access_outs = engine.create("ServiceManagerAccess", access_in)
        assert access_outs["tenants"] == ["team-a"] and access_outs["adopted"] is True
        with pytest.raises(grpc.RpcError) as refused:
            engine.create("ServiceManagerAccess", {**access_in, "tenant": "team-b"})
        assert f"subaccount {SUBACCOUNT_1} already serves tenant namespace team-a" in str(
            refused.value.details()
        )
        assert engine.read("ServiceManagerAccess", access_id, access_outs)[1]["tenants"] == ["team-a"]
