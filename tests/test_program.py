"""The Pulumi program under mocks: shipped stacks render the expected graph; bad config registers nothing."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import dill
import pytest

from btp_infra import program
from btp_infra.config import (
    ConfigError,
    discover_stacks,
    engine_config,
    engine_values,
    load_stack_file,
    stack_name_of,
)
from btp_infra.offline import rendering
from btp_infra.offline.rendering import RenderResult, is_secret_envelope, unwrap_secrets
from btp_infra.operator_secret import REQUIRED_KEYS, SECRET_LABELS, TOKEN_URL_SUFFIX

PROJECT_DIR = Path(__file__).resolve().parent.parent
NS = "kubernetes:core/v1:Namespace"
SECRET = "kubernetes:core/v1:Secret"
DYN = "pulumi-python:dynamic/btp:"
GUID = "553bcbbb-e809-450f-82db-60de3ef76b1f"


def render_values(values: dict[str, Any], stack: str = "t") -> RenderResult:
    """Render with stack-file style values (converted the way the engine passes them); a stack names its
    Kubernetes context (required), ``kyma`` unless ``values`` name one."""
    return rendering.render(stack, engine_values({"btp-infra:kubeContext": "kyma", **values}), program.main)


def render_file(path: Path) -> RenderResult:
    return rendering.render(stack_name_of(path), engine_config(path), program.main)


def only(result: RenderResult, type_token: str) -> rendering.RenderedResource:
    found = result.of_type(type_token)
    assert len(found) == 1, [r.name for r in found]
    return found[0]


SHIPPED = discover_stacks(PROJECT_DIR / "examples" / "stacks")  # stacks/ belongs to the users


def test_shipped_stacks_exist() -> None:
    names = {stack_name_of(p) for p in SHIPPED}
    assert {"example", "example-x509"} <= names


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.name)
def test_shipped_stack_renders_the_tenant(path: Path) -> None:
    config = load_stack_file(path)
    result = render_file(path)
    assert result.error is None, result.error

    ns = only(result, NS)
    meta = ns.plain_inputs["metadata"]
    assert meta["name"] == config.namespace
    assert meta["labels"]["istio-injection"] == "enabled"
    assert meta["labels"]["btp-infra.io/tenant"] == config.namespace
    assert meta["labels"]["btp-infra.io/subaccount"] == config.subaccount_id
    for key, value in config.labels.items():
        assert meta["labels"][key] == value
    assert ns.protect is config.protect

    secret = only(result, SECRET)
    smeta = secret.plain_inputs["metadata"]
    assert (smeta["name"], smeta["namespace"]) == (config.secret_name, config.secret_namespace)
    for label, value in SECRET_LABELS.items():
        assert smeta["labels"][label] == value
    assert is_secret_envelope(secret.inputs["stringData"]), "stringData must be a Pulumi secret"
    data = secret.plain_inputs["stringData"]
    assert sorted(data) == sorted(REQUIRED_KEYS[config.credential_type])
    assert data["tokenurlsuffix"] == TOKEN_URL_SUFFIX
    assert not data["tokenurl"].endswith(TOKEN_URL_SUFFIX)

    ents = result.of_type(f"{DYN}SubaccountEntitlement")
    declared = {(e.service, e.plan) for e in config.all_entitlements}
    assert {(e.plain_inputs["serviceName"], e.plain_inputs["planName"]) for e in ents} == declared
    assert all(e.plain_inputs["subaccountId"] == config.subaccount_id for e in ents)

    outputs = result.outputs
    assert outputs["namespace"] == config.namespace
    assert outputs["secretName"] == config.secret_name
    assert outputs["secretNamespace"] == config.secret_namespace
    assert outputs["subaccountId"] == config.subaccount_id
    assert "credentials" not in json.dumps(outputs)


def test_secret_values_are_exactly_the_mapped_binding_credentials() -> None:
    result = render_values({"btp-infra:namespace": "incident", "btp-infra:subaccountId": GUID})
    binding = only(result, f"{DYN}ServiceBinding")
    creds = binding.outputs["credentials"]
    data = only(result, SECRET).plain_inputs["stringData"]
    assert data == {
        "clientid": creds["clientid"],
        "clientsecret": creds["clientsecret"],
        "sm_url": creds["sm_url"],
        "tokenurl": creds["url"],
        "tokenurlsuffix": "/oauth/token",
    }
    assert binding.additional_secret_outputs == ["credentials"]


def test_x509_secret_maps_certificate_key_and_certurl() -> None:
    result = render_values(
        {
            "btp-infra:namespace": "payments",
            "btp-infra:subaccountId": GUID,
            "btp-infra:credentialType": "x509",
        }
    )
    binding = only(result, f"{DYN}ServiceBinding")
    assert binding.plain_inputs["credentialType"] == "x509"
    creds = binding.outputs["credentials"]
    data = only(result, SECRET).plain_inputs["stringData"]
    assert data["tls.crt"] == creds["certificate"]
    assert data["tls.key"] == creds["key"]
    assert data["tokenurl"] == creds["certurl"]
    assert "clientsecret" not in data


@pytest.mark.parametrize(
    ("placement", "expected_name", "expected_ns"),
    [
        ("namespace", "sap-btp-service-operator", "incident"),
        ("management", "incident-sap-btp-service-operator", "kyma-system"),
    ],
)
def test_secret_placement(placement: str, expected_name: str, expected_ns: str) -> None:
    result = render_values(
        {
            "btp-infra:namespace": "incident",
            "btp-infra:subaccountId": GUID,
            "btp-infra:secretPlacement": placement,
        }
    )
    meta = only(result, SECRET).plain_inputs["metadata"]
    assert (meta["name"], meta["namespace"]) == (expected_name, expected_ns)


def test_custom_management_namespace() -> None:
    result = render_values(
        {
            "btp-infra:namespace": "incident",
            "btp-infra:subaccountId": GUID,
            "btp-infra:secretPlacement": "management",
            "btp-infra:managementNamespace": "btp-credentials",
        }
    )
    meta = only(result, SECRET).plain_inputs["metadata"]
    assert meta["namespace"] == "btp-credentials"


def test_dependencies_order_create_and_destroy() -> None:
    result = render_values({"btp-infra:namespace": "incident", "btp-infra:subaccountId": GUID})
    by_name = {r.name: r for r in result.resources}
    ns, secret = by_name["tenant-namespace"], by_name["tenant-operator-secret"]
    binding, instance = by_name["tenant-operator-access-binding"], by_name["tenant-operator-access"]
    access = by_name["tenant-sm-access"]
    operator_ent = by_name["tenant-entitlement-service-manager/service-operator-access"]
    # The Secret depends on the namespace and the binding: created after both, destroyed before both.
    assert ns.urn in secret.dependencies and binding.urn in secret.dependencies
    # The namespace waits for the credentials (no window for the silent fallback).
    assert binding.urn in ns.dependencies
    assert instance.urn in binding.dependencies
    assert operator_ent.urn in instance.dependencies and access.urn in instance.dependencies
    # Admin access (the claim on the subaccount) comes before any entitlement is written, and on destroy
    # the entitlements go while Service Manager can still tell who uses them.
    assert access.urn in operator_ent.dependencies
    assert by_name["tenant-subaccount"].urn in access.dependencies


def test_every_kubernetes_resource_uses_the_explicit_provider() -> None:
    result = render_values(
        {
            "btp-infra:namespace": "incident",
            "btp-infra:subaccountId": GUID,
            "btp-infra:kubeContext": "shoot--kyma--c-123",
            "btp-infra:kubeconfig": "/home/ci/.kube/kyma.yaml",
            "btp-infra:networkPolicy": "default-deny",
            "btp-infra:mtls": True,
            "btp-infra:quota": {"requests.cpu": "4", "limits.memory": "16Gi"},
        }
    )
    provider = only(result, "pulumi:providers:kubernetes")
    assert provider.plain_inputs["context"] == "shoot--kyma--c-123"
    assert is_secret_envelope(provider.inputs["kubeconfig"])
    k8s = [r for r in result.resources if r.type.startswith("kubernetes:")]
    assert len(k8s) > 5
    assert all(r.provider.startswith(provider.urn) for r in k8s), [r.name for r in k8s if not r.provider]


def test_guardrails_follow_the_config() -> None:
    plain = render_values({"btp-infra:namespace": "incident", "btp-infra:subaccountId": GUID})
    assert not [r for r in plain.resources if "NetworkPolicy" in r.type or "Quota" in r.type]
    guarded = render_values(
        {
            "btp-infra:namespace": "incident",
            "btp-infra:subaccountId": GUID,
            "btp-infra:networkPolicy": "default-deny",
            "btp-infra:mtls": True,
            "btp-infra:quota": {"requests.cpu": "4", "pods": "20"},
            "btp-infra:limitRange": {"default": {"cpu": "500m"}, "defaultRequest": {"cpu": "100m"}},
        }
    )
    quota = only(guarded, "kubernetes:core/v1:ResourceQuota")
    assert quota.plain_inputs["spec"]["hard"] == {"requests.cpu": "4", "pods": "20"}
    assert quota.plain_inputs["metadata"]["namespace"] == "incident"
    limits = only(guarded, "kubernetes:core/v1:LimitRange").plain_inputs["spec"]["limits"][0]
    assert limits["type"] == "Container" and limits["default"] == {"cpu": "500m"}
    policies = {
        r.plain_inputs["metadata"]["name"]: r.plain_inputs["spec"]
        for r in guarded.of_type("kubernetes:networking.k8s.io/v1:NetworkPolicy")
    }
    assert policies["default-deny"] == {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}
    assert "allow-dns-egress" in policies and "allow-istio-system" in policies
    peer = only(guarded, "kubernetes:security.istio.io/v1:PeerAuthentication")
    assert peer.plain_inputs["spec"] == {"mtls": {"mode": "STRICT"}}
    assert peer.plain_inputs["metadata"]["namespace"] == "incident"


def test_providers_pickle_without_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    secret_value = "cis-secret-value-that-must-not-be-pickled"
    monkeypatch.setenv("BTP_CIS_SERVICE_KEY", json.dumps({"uaa": {"clientsecret": secret_value}}))
    result = render_values({"btp-infra:namespace": "incident", "btp-infra:subaccountId": GUID})
    dynamic = [r for r in result.resources if r.type.startswith(DYN)]
    assert len(dynamic) == 5  # check, one entitlement, access, instance, binding
    for resource in dynamic:
        envelope = resource.inputs["__provider"]
        assert is_secret_envelope(envelope), "the serialized provider is a secret in state"
        blob = base64.b64decode(unwrap_secrets(envelope))
        assert secret_value.encode() not in blob
        provider = dill.loads(blob)
        assert type(provider).__module__.startswith("btp_infra.providers.")
        assert provider.__getstate__() == {}
        assert len(blob) < 2000, "pickled by reference, not by value"


def test_resource_types_are_distinct_tokens() -> None:
    result = render_values({"btp-infra:namespace": "incident", "btp-infra:subaccountId": GUID})
    tokens = {r.type for r in result.resources if r.type.startswith(DYN)}
    assert tokens == {
        f"{DYN}SubaccountCheck",
        f"{DYN}SubaccountEntitlement",
        f"{DYN}ServiceManagerAccess",
        f"{DYN}ServiceInstance",
        f"{DYN}ServiceBinding",
    }
    assert only(result, "btp-infra:index:TenantNamespace").custom is False
    children = [
        r
        for r in result.resources
        if r.type != "btp-infra:index:TenantNamespace" and r.type != "pulumi:providers:kubernetes"
    ]
    component = only(result, "btp-infra:index:TenantNamespace")
    assert all(r.parent == component.urn for r in children)


BAD_CONFIGS: list[tuple[str, dict[str, Any], list[str]]] = [
    ("missing namespace", {"btp-infra:subaccountId": GUID}, ["btp-infra:namespace"]),
    ("missing subaccount", {"btp-infra:namespace": "incident"}, ["btp-infra:subaccountId"]),
    ("uppercase namespace", {"btp-infra:namespace": "Incident"}, ["btp-infra:namespace", "Incident"]),
    ("kube-system", {"btp-infra:namespace": "kube-system"}, ["btp-infra:namespace", "kube-system"]),
    ("kyma-system", {"btp-infra:namespace": "kyma-system"}, ["kyma-system"]),
    ("istio-system", {"btp-infra:namespace": "istio-system"}, ["istio-system"]),
    ("default", {"btp-infra:namespace": "default"}, ["default"]),
    ("too long namespace", {"btp-infra:namespace": "a" * 64}, ["btp-infra:namespace"]),
    ("underscore namespace", {"btp-infra:namespace": "my_app"}, ["my_app"]),
    ("bad guid", {"btp-infra:subaccountId": "not-a-guid"}, ["btp-infra:subaccountId", "not-a-guid"]),
    ("short guid", {"btp-infra:subaccountId": GUID[:-1]}, ["btp-infra:subaccountId"]),
    ("credential type", {"btp-infra:credentialType": "password"}, ["btp-infra:credentialType", "password"]),
    ("placement", {"btp-infra:secretPlacement": "cluster"}, ["btp-infra:secretPlacement", "cluster"]),
    ("network policy", {"btp-infra:networkPolicy": "allow-all"}, ["btp-infra:networkPolicy", "allow-all"]),
    ("mtls not bool", {"btp-infra:mtls": "yes-please"}, ["btp-infra:mtls"]),
    ("protect not bool", {"btp-infra:protect": "sometimes"}, ["btp-infra:protect"]),
    (
        "amount on a no-quota plan",
        {"btp-infra:entitlements": [{"service": "destination", "plan": "lite", "amount": 2}]},
        ["entitlements[0].amount"],
    ),
    (
        "amount zero",
        {"btp-infra:entitlements": [{"service": "hana-cloud", "plan": "hana", "amount": 0}]},
        ["entitlements[0].amount"],
    ),
    (
        "duplicate entitlement",
        {
            "btp-infra:entitlements": [
                {"service": "hana-cloud", "plan": "hana"},
                {"service": "hana-cloud", "plan": "hana"},
            ]
        },
        ["btp-infra:entitlements"],
    ),
    ("entitlements not a list", {"btp-infra:entitlements": {"service": "x"}}, ["btp-infra:entitlements"]),
    ("bad quota quantity", {"btp-infra:quota": {"requests.cpu": "four"}}, ["btp-infra:quota", "four"]),
    (
        "reserved label",
        {"btp-infra:labels": {"istio-injection": "disabled"}},
        ["btp-infra:labels", "istio-injection"],
    ),
    ("typo key", {"btp-infra:namesapce": "incident"}, ["btp-infra:namesapce", "namespace"]),
    ("bad timeout", {"btp-infra:timeouts": {"instance": "forever"}}, ["btp-infra:timeouts", "forever"]),
    ("region format", {"btp-infra:region": "EU 10"}, ["btp-infra:region"]),
]


@pytest.mark.parametrize(("case", "override", "expected"), BAD_CONFIGS, ids=[c[0] for c in BAD_CONFIGS])
def test_invalid_config_fails_before_any_resource(
    case: str, override: dict[str, Any], expected: list[str]
) -> None:
    values: dict[str, Any] = {"btp-infra:namespace": "incident", "btp-infra:subaccountId": GUID}
    values.update(override)
    if case == "missing namespace":
        values.pop("btp-infra:namespace")
    if case == "missing subaccount":
        values.pop("btp-infra:subaccountId")
    result = render_values(values, stack="broken")
    assert isinstance(result.error, ConfigError), result.error
    message = str(result.error)
    assert "stacks/Pulumi.broken.yaml" in message
    for fragment in expected:
        assert fragment in message
    assert result.resources == [], "nothing may be registered for invalid config"


def test_cis_key_in_config_never_reaches_inputs_or_messages() -> None:
    secret_value = "super-secret-cis-value"
    values = {
        "btp-infra:namespace": "kube-system",
        "btp-infra:subaccountId": GUID,
        "btp-infra:cisServiceKey": json.dumps({"uaa": {"clientsecret": secret_value}}),
    }
    failed = render_values(values)
    assert secret_value not in str(failed.error)
    values["btp-infra:namespace"] = "incident"
    ok = render_values(values)
    assert ok.error is None
    assert secret_value not in json.dumps([r.inputs for r in ok.resources], default=str)


# ---- the explicit Kubernetes provider (pulumi-kubernetes semantics the mocks do not show) -----------------

KUBE = {"btp-infra:kubeContext": "shoot--kyma--c-123"}


def test_credential_changes_update_the_operator_secret_in_place() -> None:
    # pulumi-kubernetes replaces a Secret whose data/stringData changes unless the provider enables
    # mutable Secrets (provider/pkg/provider/diff.go, forceNewProperties); a named Secret is replaced
    # delete-first, and in that gap the operator falls back to the cluster's own subaccount.
    result = render_values({"btp-infra:namespace": "incident", "btp-infra:subaccountId": GUID, **KUBE})
    provider = only(result, "pulumi:providers:kubernetes")
    # Provider inputs reach the engine as strings (the SDK serializes a provider's inputs as JSON text).
    assert provider.plain_inputs["enableSecretMutable"] == "true"


def test_kubeconfig_path_is_stored_as_written() -> None:
    # The provider expands "~" itself where it runs (provider/pkg/provider/util.go, parseKubeconfigString);
    # expanding it here would store this machine's home directory in state.
    result = render_values(
        {
            "btp-infra:namespace": "incident",
            "btp-infra:subaccountId": GUID,
            "btp-infra:kubeconfig": "~/.kube/kyma.yaml",
            **KUBE,
        }
    )
    provider = only(result, "pulumi:providers:kubernetes")
    assert provider.plain_inputs["kubeconfig"] == "~/.kube/kyma.yaml"
    assert is_secret_envelope(provider.inputs["kubeconfig"])


def test_cluster_identifier_keeps_resources_through_a_ca_rotation() -> None:
    # Without clusterIdentifier, a change of the active cluster entry (a rotated CA) replaces the provider
    # and every resource it manages (provider/pkg/provider/provider.go, DiffConfig).
    result = render_values({"btp-infra:namespace": "incident", "btp-infra:subaccountId": GUID, **KUBE})
    provider = only(result, "pulumi:providers:kubernetes")
    assert provider.plain_inputs["clusterIdentifier"] == "shoot--kyma--c-123"


# ---- entitlement names: unique by construction, old names adopted ------------------------------------------

ENT = "pulumi-python:dynamic/btp:SubaccountEntitlement"


def test_entitlements_whose_old_names_collided_get_distinct_names() -> None:
    # f"{service}-{plan}" gave foo-bar/baz and foo/bar-baz one name: mocks accept it, the engine stops
    # with "Duplicate resource URN" (names are unique per type and parent).
    result = render_values(
        {
            "btp-infra:namespace": "incident",
            "btp-infra:subaccountId": GUID,
            "btp-infra:entitlements": [
                {"service": "foo-bar", "plan": "baz"},
                {"service": "foo", "plan": "bar-baz"},
            ],
            **KUBE,
        }
    )
    assert result.error is None, result.error
    names = [r.name for r in result.of_type(ENT)]
    assert len(names) == len(set(names)) == 3
    assert {"tenant-entitlement-foo-bar/baz", "tenant-entitlement-foo/bar-baz"} <= set(names)


class AliasMonitor(rendering.RecordingMonitor):
    """Records the alias names of each registration (what the engine matches old state by)."""

    def __init__(self) -> None:
        super().__init__(rendering.GraphMocks())
        self.aliases: dict[str, list[str]] = {}

    def RegisterResource(self, request: Any) -> Any:
        self.aliases[request.name] = [a.spec.name for a in request.aliases if a.HasField("spec")]
        return super().RegisterResource(request)


def test_entitlements_alias_their_old_name_once() -> None:
    monitor = AliasMonitor()
    values = {
        "btp-infra:namespace": "incident",
        "btp-infra:subaccountId": GUID,
        "btp-infra:entitlements": [
            {"service": "foo-bar", "plan": "baz"},
            {"service": "foo", "plan": "bar-baz"},
        ],
        **KUBE,
    }
    result = rendering.render("t", engine_values(values), program.main, monitor=monitor)
    assert result.error is None, result.error
    aliases = monitor.aliases
    old = "tenant-entitlement-service-manager-service-operator-access"
    assert aliases["tenant-entitlement-service-manager/service-operator-access"] == [old]
    # Two entitlements must not claim one old resource (the engine: "Duplicate resource alias",
    # step_generator.go getOldResource); the one declared first — the one a stack can have been made
    # with, before the second was added — keeps the old name.
    assert aliases["tenant-entitlement-foo-bar/baz"] == ["tenant-entitlement-foo-bar-baz"]
    assert aliases["tenant-entitlement-foo/bar-baz"] == []


def test_cluster_identifier_can_outlive_a_renamed_context() -> None:
    # Renaming the context would change the identifier, which replaces the provider and every Kubernetes
    # resource (DiffConfig: a changed clusterIdentifier is a replace); an explicit identifier keeps them.
    result = render_values(
        {
            "btp-infra:namespace": "incident",
            "btp-infra:subaccountId": GUID,
            "btp-infra:kubeContext": "kyma-renamed",
            "btp-infra:clusterIdentifier": "shoot--kyma--c-123",
        }
    )
    assert result.error is None, result.error
    provider = only(result, "pulumi:providers:kubernetes")
    assert provider.plain_inputs["clusterIdentifier"] == "shoot--kyma--c-123"
    assert provider.plain_inputs["context"] == "kyma-renamed"


def test_the_ambient_kubeconfig_path_is_not_stored(monkeypatch: pytest.MonkeyPatch) -> None:
    # The Python SDK defaults an unset kubeconfig to $KUBECONFIG (pulumi_kubernetes/provider.py), which would
    # store this machine's path among the provider's inputs; "" makes the provider load $KUBECONFIG /
    # ~/.kube/config itself where it runs (provider.go, Configure: an empty kubeconfig = loading rules).
    monkeypatch.setenv("KUBECONFIG", "/home/alice/.kube/config")
    result = render_values({"btp-infra:namespace": "incident", "btp-infra:subaccountId": GUID})
    provider = only(result, "pulumi:providers:kubernetes")
    assert "/home/alice" not in json.dumps(provider.plain_inputs)
