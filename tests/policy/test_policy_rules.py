"""Each rule with passing and failing inputs, unknown values (preview) and secret-wrapped values.

Two levels: the plain rule functions, and the same rules through the SDK's analyzer servicer (what the
Pulumi CLI runs), via :class:`btp_infra.offline.analyzer.PackAnalyzer`.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest
from policy_helpers import (
    CLIENT_SECRET,
    NS,
    SUBACCOUNT,
    T_NAMESPACE,
    T_SECRET,
    TLS_KEY,
    TOKEN_HOST,
    UNKNOWN,
    analyze_request,
    as_base64_data,
    client_secret_data,
    envelope,
    messages,
    namespace_props,
    secret_props,
    stack_resource,
    urn,
    x509_data,
)
from pulumi.runtime import proto
from pulumi_policy import Secret
from pulumi_policy.proxy import UnknownValueError, unknown_checking_proxy

from btp_infra.offline.analyzer import PackAnalyzer
from btp_infra.policy import rules
from btp_infra.policy.policies import (
    POLICY_ENTITLEMENT_ALLOWED,
    POLICY_ENTITLEMENT_DEPENDENCY,
    POLICY_LIMIT_RANGE,
    POLICY_MAPPING_UNIQUE,
    POLICY_NAMESPACE_LABELS,
    POLICY_NAMESPACE_NOT_SYSTEM,
    POLICY_NAMESPACE_PROTECTED,
    POLICY_OPERATOR_SECRET,
    POLICY_OPERATOR_SECRET_PRESENT,
    POLICY_RESOURCE_QUOTA,
)

NAMESPACE_POLICIES = {POLICY_NAMESPACE_LABELS, POLICY_NAMESPACE_NOT_SYSTEM, POLICY_NAMESPACE_PROTECTED}


def _names(diags: list[Any]) -> set[str]:
    return {d.policy for d in diags}


def _drop_label(props: dict[str, Any], key: str) -> dict[str, Any]:
    out = copy.deepcopy(props)
    del out["metadata"]["labels"][key]
    return out


# ------------------------------------------------------------------------------------------------------------
# Tenant namespace labels
# ------------------------------------------------------------------------------------------------------------


def test_namespace_with_all_labels_passes() -> None:
    assert rules.check_namespace_labels("ns", namespace_props()) == []


@pytest.mark.parametrize(
    ("label", "needle"),
    [
        ("istio-injection", "istio-injection is missing"),
        ("btp-infra.io/tenant", "btp-infra.io/tenant is missing"),
        ("btp-infra.io/subaccount", "btp-infra.io/subaccount is missing"),
        ("app.kubernetes.io/managed-by", "app.kubernetes.io/managed-by is missing"),
    ],
)
def test_namespace_missing_label_is_named_with_a_fix(label: str, needle: str) -> None:
    found = rules.check_namespace_labels("ns", _drop_label(namespace_props(), label))
    assert len(found) == 1
    assert needle in found[0]
    assert f"Namespace '{NS}'" in found[0]
    assert "Fix:" in found[0]


def test_namespace_label_values_are_checked() -> None:
    props = namespace_props(**{"istio-injection": "disabled", "btp-infra.io/tenant": "other"})
    props["metadata"]["labels"]["btp-infra.io/subaccount"] = "not-a-guid"
    found = "\n".join(rules.check_namespace_labels("ns", props))
    assert "istio-injection is 'disabled'" in found
    assert "btp-infra.io/tenant is 'other'" in found
    assert "not a subaccount GUID" in found


def test_required_labels_from_config() -> None:
    assert (
        "cost-center"
        in rules.check_namespace_labels("ns", namespace_props(), required_labels=["cost-center"])[0]
    )
    assert (
        rules.check_namespace_labels(
            "ns", namespace_props(**{"cost-center": "4711"}), required_labels=["cost-center"]
        )
        == []
    )


def test_unrelated_namespaces_are_not_tenant_namespaces() -> None:
    plain = {"metadata": {"name": "monitoring", "labels": {"team": "ops"}}}
    assert not rules.is_tenant_namespace(plain)
    assert not rules.is_tenant_namespace({"metadata": {"name": "x"}})
    assert rules.is_tenant_namespace(namespace_props())
    assert rules.is_tenant_namespace({"metadata": {"labels": {"btp-infra.io/tenant": "x"}}})
    # Through the analyzer: no policy flags a namespace btp-infra does not own, not even kube-system.
    diags = PackAnalyzer().analyze(analyze_request(T_NAMESPACE, "sys", {"metadata": {"name": "kube-system"}}))
    assert diags == []


def test_namespace_labels_through_the_analyzer() -> None:
    analyzer = PackAnalyzer()
    good = analyzer.analyze(analyze_request(T_NAMESPACE, "ns", namespace_props(), protect=True))
    assert good == []
    bad = analyzer.analyze(
        analyze_request(T_NAMESPACE, "ns", _drop_label(namespace_props(), "istio-injection"), protect=True)
    )
    assert _names(bad) == {POLICY_NAMESPACE_LABELS}
    assert bad[0].mandatory and bad[0].severity == "high"
    assert bad[0].urn == urn(T_NAMESPACE, "ns")
    assert "istio-injection is missing" in bad[0].message


def test_required_labels_through_policy_config() -> None:
    analyzer = PackAnalyzer({POLICY_NAMESPACE_LABELS: {"requiredLabels": ["cost-center"]}})
    diags = analyzer.analyze(analyze_request(T_NAMESPACE, "ns", namespace_props(), protect=True))
    assert _names(diags) == {POLICY_NAMESPACE_LABELS}
    assert "cost-center" in diags[0].message


# ------------------------------------------------------------------------------------------------------------
# No system namespaces
# ------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["kyma-system", "kube-system", "kube-anything", "istio-system", "default"])
def test_system_namespaces_are_rejected(name: str) -> None:
    found = rules.check_namespace_not_system("ns", namespace_props(name))
    assert len(found) == 1 and f"Namespace '{name}'" in found[0] and "Fix:" in found[0]


def test_tenant_namespace_is_not_system_and_extra_system_namespaces_apply() -> None:
    assert rules.check_namespace_not_system("ns", namespace_props("tenant-a")) == []
    assert (
        rules.check_namespace_not_system("ns", namespace_props("ops"), extra_system_namespaces=["ops"]) != []
    )


def test_system_namespace_through_the_analyzer() -> None:
    diags = PackAnalyzer().analyze(
        analyze_request(T_NAMESPACE, "ns", namespace_props("kyma-system"), protect=True)
    )
    assert _names(diags) == {POLICY_NAMESPACE_NOT_SYSTEM}
    assert diags[0].mandatory and diags[0].severity == "critical"


# ------------------------------------------------------------------------------------------------------------
# Protect (advisory)
# ------------------------------------------------------------------------------------------------------------


def test_unprotected_namespace_is_an_advisory() -> None:
    assert rules.check_namespace_protected("ns", namespace_props(), protect=True) == []
    diags = PackAnalyzer().analyze(analyze_request(T_NAMESPACE, "ns", namespace_props(), protect=False))
    assert _names(diags) == {POLICY_NAMESPACE_PROTECTED}
    assert not diags[0].mandatory
    assert "btp-infra:protect" in diags[0].message


# ------------------------------------------------------------------------------------------------------------
# The operator Secret
# ------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "props",
    [
        secret_props(),
        secret_props(placement="management"),
        secret_props(data=x509_data()),
        secret_props(placement="management", data=x509_data()),
        as_base64_data(secret_props()),
        secret_props(wrap=True),
    ],
    ids=["namespace", "management", "x509", "x509-management", "base64-data", "secret-wrapped"],
)
def test_valid_operator_secrets_pass(props: dict[str, Any]) -> None:
    assert rules.is_operator_secret(props)
    assert rules.check_operator_secret("s", props) == []


def _secret_problems(props: dict[str, Any], **kwargs: Any) -> str:
    found = rules.check_operator_secret("s", props, **kwargs)
    text = "\n".join(found)
    for value in (CLIENT_SECRET, TLS_KEY, TOKEN_HOST):
        assert value not in text, "a violation message must never carry a Secret value"
    return text


def test_wrong_name_for_placement() -> None:
    suffix = secret_props(placement="management")
    suffix["metadata"]["name"] = f"sap-btp-service-operator-{NS}"  # suffix instead of prefix (pain point A1)
    assert f"'{NS}-sap-btp-service-operator'" in _secret_problems(suffix)
    in_namespace = secret_props()
    in_namespace["metadata"]["name"] = f"{NS}-sap-btp-service-operator"
    assert "looks for 'sap-btp-service-operator' only" in _secret_problems(in_namespace)


def test_cluster_default_secret_is_never_a_tenant_secret() -> None:
    props = secret_props(placement="management")
    props["metadata"]["name"] = "sap-btp-service-operator"
    assert "cluster-wide default credentials Secret" in _secret_problems(props)


def test_secret_outside_tenant_and_management_namespaces() -> None:
    moved = secret_props(placement="management", management="btp-operator")
    assert "neither the tenant namespace" in _secret_problems(moved)
    assert _secret_problems(moved, management_namespaces=["btp-operator"]) == ""
    missing_ns = secret_props()
    del missing_ns["metadata"]["namespace"]
    assert "metadata.namespace is not set" in _secret_problems(missing_ns)


def test_placement_allow_list() -> None:
    text = _secret_problems(secret_props(), allowed_placements=["management"])
    assert "placement 'namespace' is not allowed" in text
    assert _secret_problems(secret_props(placement="management"), allowed_placements=["management"]) == ""


def test_labels_are_required() -> None:
    props = secret_props()
    props["metadata"]["labels"] = {}
    text = _secret_problems(props)
    assert "services.cloud.sap.com/config is missing" in text
    assert "services.cloud.sap.com/managed-by-sap-btp-operator is missing" in text
    assert "btp-infra.io/tenant is missing" in text


@pytest.mark.parametrize(
    ("data", "needle"),
    [
        (
            {k: v for k, v in client_secret_data().items() if k != "clientsecret"},
            "missing or empty key(s) clientsecret",
        ),
        ({k: v for k, v in client_secret_data().items() if k != "sm_url"}, "sm_url"),
        ({k: v for k, v in x509_data().items() if k != "tls.key"}, "tls.key required for x509"),
        ({**client_secret_data(), "clientsecret": ""}, "missing or empty key(s) clientsecret"),
        (
            {**client_secret_data(), "tls.crt": "c", "tls.key": TLS_KEY},
            "both clientsecret and tls.crt/tls.key",
        ),
        ({**client_secret_data(), "tokenurlsuffix": "/token"}, "tokenurlsuffix is not '/oauth/token'"),
        (
            {**client_secret_data(), "tokenurl": TOKEN_HOST + "/oauth/token"},
            "tokenurl already ends with /oauth/token",
        ),
        (
            {**client_secret_data(), "sm_url": "http://sm.example.com"},
            "sm_url is not an https URL (scheme 'http')",
        ),
        (
            {**client_secret_data(), "tokenurl": "tenant-a.authentication"},
            "tokenurl is not an https URL (no scheme)",
        ),
    ],
    ids=[
        "no-clientsecret",
        "no-sm_url",
        "x509-no-key",
        "empty",
        "both",
        "suffix",
        "suffixed-url",
        "http",
        "bare",
    ],
)
def test_secret_data_problems(data: dict[str, str], needle: str) -> None:
    assert needle in _secret_problems(secret_props(data=data))
    # The same problem is found in base64 ``data`` and in secret-wrapped ``stringData``.
    assert needle in _secret_problems(as_base64_data(secret_props(data=data)))
    assert needle in _secret_problems(secret_props(data=data, wrap=True))


def test_invalid_base64_names_the_key_only() -> None:
    props = as_base64_data(secret_props())
    props["data"]["clientsecret"] = "%%% not base64 " + CLIENT_SECRET
    assert "data.clientsecret is not valid base64" in _secret_problems(props)


def test_secret_values_wrapped_as_policy_secrets_are_unwrapped() -> None:
    props = secret_props()
    props["stringData"] = Secret({k: Secret(v) for k, v in client_secret_data().items()})
    assert rules.check_operator_secret("s", props) == []
    props["stringData"] = Secret({**client_secret_data(), "tokenurl": Secret(TOKEN_HOST + "/oauth/token")})
    assert "tokenurl already ends" in _secret_problems(props)


def test_operator_secret_through_the_analyzer_unwraps_secrets_and_hides_values() -> None:
    analyzer = PackAnalyzer()
    good = secret_props(wrap=True)  # the wire envelope, as the engine sends a secret input
    assert analyzer.analyze(analyze_request(T_SECRET, "s", good)) == []
    bad = secret_props(data={**client_secret_data(), "tokenurl": TOKEN_HOST + "/oauth/token"}, wrap=True)
    diags = analyzer.analyze(analyze_request(T_SECRET, "s", bad))
    assert _names(diags) == {POLICY_OPERATOR_SECRET}
    assert diags[0].mandatory and diags[0].severity == "critical"
    text = messages(diags)
    assert CLIENT_SECRET not in text and TOKEN_HOST not in text


def test_unrelated_secrets_are_ignored() -> None:
    other = {
        "metadata": {"name": "app-db", "namespace": NS, "labels": {"app": "db"}},
        "stringData": {"pw": "x"},
    }
    assert not rules.is_operator_secret(other)
    assert PackAnalyzer().analyze(analyze_request(T_SECRET, "db", other)) == []


def test_management_namespaces_come_from_policy_config() -> None:
    props = secret_props(placement="management", management="btp-operator")
    assert _names(PackAnalyzer().analyze(analyze_request(T_SECRET, "s", props))) == {POLICY_OPERATOR_SECRET}
    configured = PackAnalyzer({POLICY_OPERATOR_SECRET: {"managementNamespaces": ["btp-operator"]}})
    assert configured.analyze(analyze_request(T_SECRET, "s", props)) == []


# ------------------------------------------------------------------------------------------------------------
# Entitlement allow-list
# ------------------------------------------------------------------------------------------------------------

T_ENTITLEMENT = "pulumi-python:dynamic/btp:SubaccountEntitlement"


def _entitlement(service: str, plan: str) -> dict[str, Any]:
    return {"subaccountId": SUBACCOUNT, "serviceName": service, "planName": plan, "timeoutSeconds": 600}


def test_empty_allow_list_allows_every_plan() -> None:
    assert rules.check_entitlement_allowed("e", _entitlement("hana-cloud", "hana")) == []


def test_allow_list_entries_and_wildcards() -> None:
    allowed = ["destination/lite", "hana-cloud/*"]
    assert (
        rules.check_entitlement_allowed("e", _entitlement("hana-cloud", "hana"), allowed_plans=allowed) == []
    )
    assert (
        rules.check_entitlement_allowed("e", _entitlement("destination", "lite"), allowed_plans=allowed) == []
    )
    found = rules.check_entitlement_allowed("e", _entitlement("xsuaa", "broker"), allowed_plans=allowed)
    assert len(found) == 1 and "xsuaa/broker is not on the allow-list" in found[0] and "Fix:" in found[0]
    # The operator's own plan is always allowed.
    operator = _entitlement("service-manager", "service-operator-access")
    assert rules.check_entitlement_allowed("e", operator, allowed_plans=allowed) == []


def test_allow_list_through_policy_config() -> None:
    analyzer = PackAnalyzer({POLICY_ENTITLEMENT_ALLOWED: {"allowedPlans": ["destination/lite"]}})
    diags = analyzer.analyze(analyze_request(T_ENTITLEMENT, "e", _entitlement("hana-cloud", "hana")))
    assert _names(diags) == {POLICY_ENTITLEMENT_ALLOWED} and diags[0].mandatory
    assert (
        PackAnalyzer().analyze(analyze_request(T_ENTITLEMENT, "e", _entitlement("hana-cloud", "hana"))) == []
    )


# ------------------------------------------------------------------------------------------------------------
# Unknown values during preview
# ------------------------------------------------------------------------------------------------------------


def test_rules_let_unknown_values_through() -> None:
    props = namespace_props()
    props["metadata"]["labels"]["istio-injection"] = UNKNOWN
    with pytest.raises(UnknownValueError):
        rules.check_namespace_labels("ns", unknown_checking_proxy(props))
    secret = secret_props()
    secret["stringData"] = UNKNOWN  # the binding's credentials are not known before it exists
    with pytest.raises(UnknownValueError):
        rules.check_operator_secret("s", unknown_checking_proxy(secret))
    # Known parts are still readable through the proxy.
    assert rules.check_namespace_labels("ns", unknown_checking_proxy(namespace_props())) == []


def test_unknown_values_become_an_advisory_preview_diagnostic() -> None:
    secret = secret_props()
    secret["stringData"] = UNKNOWN
    diags = PackAnalyzer().analyze(analyze_request(T_SECRET, "s", secret))
    assert _names(diags) == {POLICY_OPERATOR_SECRET}
    assert not diags[0].mandatory
    assert "during preview" in diags[0].message and ".stringData" in diags[0].message


# ------------------------------------------------------------------------------------------------------------
# Stack rules
# ------------------------------------------------------------------------------------------------------------

T_SUBACCOUNT = "pulumi-python:dynamic/btp:SubaccountCheck"
T_INSTANCE = "pulumi-python:dynamic/btp:ServiceInstance"
T_BINDING = "pulumi-python:dynamic/btp:ServiceBinding"
PARENT = f"urn:pulumi:dev::btp-infra::btp-infra:index:TenantNamespace::{NS}"


def _record(
    type_: str, name: str, props: Any, deps: tuple[str, ...] = (), parent: str | None = PARENT
) -> Any:
    return rules.StackResource(
        type=type_, name=name, urn=urn(type_, name), props=props, parent=parent, dependencies=deps
    )


def _tenant_graph(**overrides: Any) -> list[rules.StackResource]:
    """A complete, valid tenant: subaccount, entitlement, instance, binding, namespace, Secret, guardrails."""
    ent = _record(T_ENTITLEMENT, "ent", _entitlement("service-manager", "service-operator-access"))
    inst = _record(
        T_INSTANCE,
        "inst",
        {"name": "i", "serviceOfferingName": "service-manager", "servicePlanName": "service-operator-access"},
        deps=(ent.urn,),
    )
    graph = {
        "subaccount": _record(T_SUBACCOUNT, "sub", {"subaccountId": SUBACCOUNT}),
        "entitlement": ent,
        "instance": inst,
        "binding": _record(
            T_BINDING, "bind", {"name": "b", "credentialType": "client-secret"}, deps=(inst.urn,)
        ),
        "namespace": _record(T_NAMESPACE, "ns", namespace_props()),
        "secret": _record(T_SECRET, "sec", secret_props()),
        "quota": _record(
            "kubernetes:core/v1:ResourceQuota", "q", {"metadata": {"name": "tenant-quota", "namespace": NS}}
        ),
        "limits": _record(
            "kubernetes:core/v1:LimitRange", "l", {"metadata": {"name": "tenant-limits", "namespace": NS}}
        ),
    }
    graph.update(overrides)
    return [r for r in graph.values() if r is not None]


def test_complete_tenant_passes_every_stack_rule() -> None:
    graph = _tenant_graph()
    assert rules.check_mapping_unique(graph) == []
    assert rules.check_operator_secret_present(graph) == []
    assert rules.check_entitlement_dependencies(graph) == []
    assert (
        rules.check_guardrail_present(
            graph, resource_type=rules.TYPE_RESOURCE_QUOTA, kind="ResourceQuota", config_key="quota"
        )
        == []
    )


def test_namespace_and_subaccount_mapped_once() -> None:
    second_ns = _record(T_NAMESPACE, "ns2", namespace_props())
    found = rules.check_mapping_unique([*_tenant_graph(), second_ns])
    assert any(f"Namespace '{NS}' is registered 2 times" in v.message for v in found)
    other = _record(T_NAMESPACE, "ns3", namespace_props("tenant-b"))
    found = rules.check_mapping_unique([*_tenant_graph(), other])
    assert any(
        f"Subaccount {SUBACCOUNT} is mapped to 2 namespaces (tenant-a, tenant-b)" in v.message for v in found
    )
    dup_check = _record(T_SUBACCOUNT, "sub2", {"subaccountId": SUBACCOUNT}, parent=None)
    assert any(
        "checked by 2 SubaccountCheck" in v.message
        for v in rules.check_mapping_unique([*_tenant_graph(), dup_check])
    )


def test_namespace_label_and_btp_side_name_the_same_subaccount() -> None:
    other = "0b6f1a52-3c4d-4e8f-9a7b-2c1d5e6f7a8b"
    found = rules.check_mapping_unique(
        _tenant_graph(subaccount=_record(T_SUBACCOUNT, "sub", {"subaccountId": other}))
    )
    assert len(found) == 1 and f"its BTP resources use subaccount {other}" in found[0].message
    assert found[0].urn == urn(T_NAMESPACE, "ns")


def test_every_namespace_has_its_operator_secret() -> None:
    found = rules.check_operator_secret_present(_tenant_graph(secret=None))
    assert len(found) == 1 and f"Namespace '{NS}' has no operator Secret" in found[0].message
    management = _tenant_graph(secret=_record(T_SECRET, "sec", secret_props(placement="management")))
    assert rules.check_operator_secret_present(management) == []
    moved = _tenant_graph(
        secret=_record(T_SECRET, "sec", secret_props(placement="management", management="mgmt"))
    )
    assert len(rules.check_operator_secret_present(moved)) == 1
    assert rules.check_operator_secret_present(moved, management_namespaces=["mgmt"]) == []
    both = [*management, _record(T_SECRET, "sec2", secret_props())]
    assert "has 2 operator Secrets" in rules.check_operator_secret_present(both)[0].message


def test_unrelated_namespaces_need_no_secret_or_quota() -> None:
    plain = _record(T_NAMESPACE, "monitoring", {"metadata": {"name": "monitoring"}})
    graph = [*_tenant_graph(), plain]
    assert rules.check_operator_secret_present(graph) == []
    assert (
        rules.check_guardrail_present(
            graph, resource_type=rules.TYPE_LIMIT_RANGE, kind="LimitRange", config_key="limitRange"
        )
        == []
    )


def test_instances_and_bindings_depend_on_their_entitlement() -> None:
    no_entitlement = rules.check_entitlement_dependencies(_tenant_graph(entitlement=None))
    assert any(
        "has no SubaccountEntitlement for service-manager/service-operator-access" in v.message
        for v in no_entitlement
    )
    inst = _record(
        T_INSTANCE,
        "inst",
        {"serviceOfferingName": "service-manager", "servicePlanName": "service-operator-access"},
    )
    no_dep = rules.check_entitlement_dependencies(_tenant_graph(instance=inst))
    assert len(no_dep) == 2  # the instance, and the binding that reaches no entitlement through it
    assert "does not depend on the entitlement" in no_dep[0].message and no_dep[0].urn == inst.urn
    orphan = _record(T_BINDING, "bind", {"name": "b", "serviceInstanceId": "external"})
    found = rules.check_entitlement_dependencies(_tenant_graph(binding=orphan))
    assert len(found) == 1 and "does not depend on a ServiceInstance" in found[0].message


def test_stack_rules_through_the_analyzer() -> None:
    resources = [
        stack_resource(T_SUBACCOUNT, "sub", {"subaccountId": SUBACCOUNT}),
        stack_resource(T_NAMESPACE, "ns", namespace_props()),
        stack_resource(T_INSTANCE, "inst", {"serviceOfferingName": "hana-cloud", "servicePlanName": "hana"}),
    ]
    diags = PackAnalyzer().analyze_stack(proto.AnalyzeStackRequest(resources=resources))
    by_policy = {d.policy: d for d in diags}
    assert set(by_policy) == {
        POLICY_OPERATOR_SECRET_PRESENT,
        POLICY_ENTITLEMENT_DEPENDENCY,
        POLICY_RESOURCE_QUOTA,
        POLICY_LIMIT_RANGE,
    }
    assert by_policy[POLICY_OPERATOR_SECRET_PRESENT].mandatory
    assert by_policy[POLICY_ENTITLEMENT_DEPENDENCY].urn == urn(T_INSTANCE, "inst")
    assert not by_policy[POLICY_RESOURCE_QUOTA].mandatory and not by_policy[POLICY_LIMIT_RANGE].mandatory
    assert POLICY_MAPPING_UNIQUE not in by_policy


def test_stack_rules_dependencies_come_from_the_request() -> None:
    ent_urn = urn(T_ENTITLEMENT, "ent")
    resources = [
        stack_resource(T_ENTITLEMENT, "ent", _entitlement("hana-cloud", "hana")),
        stack_resource(
            T_INSTANCE,
            "inst",
            {"serviceOfferingName": "hana-cloud", "servicePlanName": "hana"},
            dependencies=[ent_urn],
        ),
    ]
    assert PackAnalyzer().analyze_stack(proto.AnalyzeStackRequest(resources=resources)) == []
    resources[1] = stack_resource(
        T_INSTANCE, "inst", {"serviceOfferingName": "hana-cloud", "servicePlanName": "hana"}
    )
    diags = PackAnalyzer().analyze_stack(proto.AnalyzeStackRequest(resources=resources))
    assert _names(diags) == {POLICY_ENTITLEMENT_DEPENDENCY}


def test_unknown_stack_values_become_an_advisory_preview_diagnostic() -> None:
    secret = secret_props()
    secret["metadata"]["namespace"] = UNKNOWN
    resources = [
        stack_resource(T_NAMESPACE, "ns", namespace_props()),
        stack_resource(T_SECRET, "sec", secret),
    ]
    diags = PackAnalyzer().analyze_stack(proto.AnalyzeStackRequest(resources=resources))
    preview = [d for d in diags if d.policy == POLICY_OPERATOR_SECRET_PRESENT]
    assert len(preview) == 1 and "during preview" in preview[0].message and not preview[0].mandatory


def test_secret_envelopes_in_stack_outputs_are_unwrapped() -> None:
    resources = [
        stack_resource(T_NAMESPACE, "ns", {"metadata": envelope(namespace_props()["metadata"])}),
        stack_resource(T_SECRET, "sec", secret_props(wrap=True)),
    ]
    diags = PackAnalyzer().analyze_stack(proto.AnalyzeStackRequest(resources=resources))
    assert POLICY_OPERATOR_SECRET_PRESENT not in _names(diags)
    assert _names(diags) == {POLICY_RESOURCE_QUOTA, POLICY_LIMIT_RANGE}  # the namespace was recognised


# ---- btp-tenant-subaccount-exclusive ------------------------------------------------------------------


def test_subaccount_serving_another_tenant_is_named_with_a_fix() -> None:
    props = {"subaccountId": "sub-1", "tenant": "incident", "tenants": ["incident", "orders"]}
    [message] = rules.check_subaccount_exclusive("tenant-sm-access", props)
    assert "also serves tenant namespace(s) orders besides 'incident'" in message and "Fix:" in message


@pytest.mark.parametrize(
    "tenants",
    [["incident"], [], None, "(unknown)"],
    ids=["only-own", "none-yet", "absent", "not-a-list"],
)
def test_subaccount_serving_only_its_tenant_passes(tenants: Any) -> None:
    props = {"subaccountId": "sub-1", "tenant": "incident", "tenants": tenants}
    assert rules.check_subaccount_exclusive("tenant-sm-access", props) == []


@pytest.mark.parametrize(
    ("url", "accepted"),
    [
        ("http://127.0.0.1:8080/sm", True),
        ("http://localhost:8080/sm", True),
        ("http://[::1]:8080/sm", True),
        ("http://127.0.0.2:8080/sm", False),
        ("http://sm.example.com", False),
        ("ftp://127.0.0.1/sm", False),
    ],
)
def test_plain_http_only_to_the_loopback_address(url: str, accepted: bool) -> None:
    """The local sandbox (``btp-infra sandbox serve``) serves http on 127.0.0.1: it never leaves the host."""
    problems = _secret_problems(secret_props(data={**client_secret_data(), "sm_url": url}))
    assert ("sm_url is not an https URL" not in problems) is accepted


@pytest.mark.parametrize(
    ("parameters", "credential_type", "warned"),
    [
        ({}, "x509", False),
        ({"x509": {"validity": 7, "validity-type": "DAYS"}}, "x509", False),
        ({"x509": {"validity": 6}}, "x509", True),
        ({"x509": {"validity": 12, "validity-type": "HOURS"}}, "x509", True),
        ({"x509": {"validity": 1, "validity-type": "MONTHS"}}, "x509", False),
        ({"x509": {"validity": 1}}, "client-secret", False),
    ],
)
def test_x509_validity_rule(parameters: dict[str, Any], credential_type: str, warned: bool) -> None:
    props = {"credentialType": credential_type, "parameters": parameters}
    assert bool(rules.check_x509_validity("b", props)) is warned
    assert rules.check_x509_validity("b", props, min_days=60) != [] or credential_type != "x509"
