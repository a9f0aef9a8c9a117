"""Preview values the engine does not know yet, through the real ``python -m pulumi.dynamic`` server.

In preview the engine marshals an unknown input (an output of a resource not created yet, e.g. the
operator-access instance's id) as the sentinel *string* ``04da6b54-80e4-46f7-96ec-b56ff0331ba9`` in the
protobuf Struct (``sdk/go/common/resource/plugin/rpc.go``: ``UnknownStringValue``; ``provider_plugin.go``
``Check``/``Diff`` marshal with ``KeepUnknowns``). The dynamic server deserializes ``Check`` and ``Diff``
requests with ``keep_unknowns=True`` (``pulumi/dynamic/__main__.py``), so the provider sees a
``pulumi.output.Unknown`` object, not the string. Every provider must accept it wherever an input can come
from another resource's output, pass it through ``check`` unchanged, and count it as a change in ``diff``.
"""

from __future__ import annotations

from typing import Any

import pytest
from dynamic_host import PROJECT_DIR, DynamicProviderHost, _struct
from emulator_fixtures import SUBACCOUNT_1
from google.protobuf import struct_pb2
from pulumi.output import Unknown
from pulumi.runtime import proto, rpc

from btp_infra.providers.base import diff_inputs, is_unknown

from .test_engine_protocol import DYN, resource_provider_strings

pytestmark = pytest.mark.usefixtures("no_cis_env")

ENGINE_UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"  # plugin.UnknownStringValue
SOME = proto.DiffResponse.DIFF_SOME
INSTANCE_ID = "6b1bbd3d-0b5e-4ec0-9d0c-4b3a3b0b5e11"
NAME = "btp-infra-team-a-operator-access"
LABELS = {"btp-infra.managed-by": ["btp-infra"], "btp-infra.tenant": ["team-a"]}

#: Inputs of each kind, as the component declares them; ``unknown`` = those fed by another resource's output.
CASES: dict[str, tuple[dict[str, Any], tuple[str, ...]]] = {
    "SubaccountCheck": ({"subaccountId": SUBACCOUNT_1, "region": "eu10", "namespace": "team-a"}, ("region",)),
    "ServiceManagerAccess": (
        {"subaccountId": SUBACCOUNT_1, "tenant": "team-a", "takeOwnership": False, "timeoutSeconds": 600},
        ("subaccountId",),
    ),
    "SubaccountEntitlement": (
        {
            "subaccountId": SUBACCOUNT_1,
            "serviceName": "hana-cloud",
            "planName": "hana",
            "amount": 1,
            "tenant": "team-a",
            "takeOwnership": False,
            "timeoutSeconds": 1200,
        },
        ("subaccountId", "amount"),
    ),
    "ServiceInstance": (
        {
            "subaccountId": SUBACCOUNT_1,
            "name": NAME,
            "serviceOfferingName": "service-manager",
            "servicePlanName": "service-operator-access",
            "parameters": {},
            "labels": LABELS,
            "timeoutSeconds": 1800,
        },
        ("subaccountId",),
    ),
    "ServiceBinding": (
        {
            "subaccountId": SUBACCOUNT_1,
            "serviceInstanceId": INSTANCE_ID,
            "name": f"{NAME}-client-secret",
            "credentialType": "client-secret",
            "parameters": {},
            "labels": LABELS,
            "timeoutSeconds": 600,
        },
        ("subaccountId", "serviceInstanceId"),
    ),
}


@pytest.fixture(scope="module")
def provider_strings() -> dict[str, str]:
    return resource_provider_strings()


@pytest.fixture(scope="module")
def host() -> Any:
    with DynamicProviderHost(cwd=PROJECT_DIR) as server:
        server.configure({"btp-infra:namespace": "team-a"})
        yield server


def urn(kind: str) -> str:
    return f"urn:pulumi:test::btp-infra::btp-infra:index:TenantNamespace${DYN}{kind}::tenant-{kind}"


def wire(props: dict[str, Any]) -> struct_pb2.Struct:
    """``props`` as the engine puts them on the wire (unknowns = the sentinel string)."""
    return _struct(props)


def test_the_wire_form_is_the_engines() -> None:
    struct = wire({"serviceInstanceId": rpc.UNKNOWN})
    assert struct.fields["serviceInstanceId"].string_value == ENGINE_UNKNOWN
    assert rpc.deserialize_properties(struct, True)["serviceInstanceId"].__class__ is Unknown


def test_is_unknown_knows_both_forms() -> None:
    assert is_unknown(Unknown()) and is_unknown(rpc.UNKNOWN)  # type: ignore[no-untyped-call]
    assert not is_unknown(None) and not is_unknown("x") and not is_unknown({"a": 1})
    unknown = Unknown()  # type: ignore[no-untyped-call]
    result = diff_inputs({"a": "x"}, {"a": unknown}, keys=("a",), replace_keys=("a",))
    assert (result.changes, result.replaces) == (True, ["a"])


@pytest.mark.parametrize("kind", sorted(CASES))
def test_check_and_diff_accept_unknown_inputs(
    kind: str, host: DynamicProviderHost, provider_strings: dict[str, str]
) -> None:
    inputs, fed = CASES[kind]
    provider = provider_strings[kind]
    unknown_news = {**inputs, **dict.fromkeys(fed, rpc.UNKNOWN), "__provider": provider}

    # Preview of a new stack: no olds.
    response = host.stub.Check(proto.CheckRequest(urn=urn(kind), olds=wire({}), news=wire(unknown_news)))
    assert [(f.property, f.reason) for f in response.failures] == []
    for key in fed:  # passed through unchanged: still unknown on the way back to the engine
        assert response.inputs.fields[key].string_value == ENGINE_UNKNOWN, key

    # Preview of an update: olds known (the state's inputs for Check, its outputs for Diff).
    olds = {**inputs, "__provider": provider}
    response = host.stub.Check(proto.CheckRequest(urn=urn(kind), olds=wire(olds), news=wire(unknown_news)))
    assert [(f.property, f.reason) for f in response.failures] == []
    diff = host.stub.Diff(proto.DiffRequest(id="id", urn=urn(kind), olds=wire(olds), news=response.inputs))
    assert diff.changes == SOME, "an unknown new value may differ"


def test_preview_of_a_new_binding_with_an_unknown_instance(
    host: DynamicProviderHost, provider_strings: dict[str, str]
) -> None:
    """The case from the field: ``pulumi preview`` of a new tenant, the instance does not exist yet."""
    inputs, _ = CASES["ServiceBinding"]
    news = {**inputs, "serviceInstanceId": rpc.UNKNOWN, "__provider": provider_strings["ServiceBinding"]}
    response = host.stub.Check(proto.CheckRequest(urn=urn("ServiceBinding"), olds=wire({}), news=wire(news)))
    assert list(response.failures) == []


@pytest.mark.parametrize("kind", sorted(k for k, (inputs, _) in CASES.items() if "timeoutSeconds" in inputs))
def test_a_changed_timeout_is_an_update_never_a_replace(
    kind: str, host: DynamicProviderHost, provider_strings: dict[str, str]
) -> None:
    """Behaviour-only inputs: an update (the new value reaches state, where delete reads it), no replace."""
    inputs, _ = CASES[kind]
    provider = provider_strings[kind]
    olds = {**inputs, "__provider": provider}
    news = {**inputs, "timeoutSeconds": 7200, "__provider": provider}
    diff = host.stub.Diff(proto.DiffRequest(id="id", urn=urn(kind), olds=wire(olds), news=wire(news)))
    assert (diff.changes, list(diff.replaces)) == (SOME, [])
