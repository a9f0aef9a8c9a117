"""``verify`` against a tenant deployed for real: BTP objects in the emulator (created through the BTP
clients), namespace and operator Secret in the stand-in Kubernetes API (read through the official client).

Every pass, warn and fail path of every check; after each, the report — text, JSON and Markdown — holds
none of the secrets the emulator issued or the stand-in stores, and verify wrote nothing to the cluster.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from emulator_fixtures import SUBACCOUNT_1
from kube_fixtures import namespace_object, operator_object, pod_object, secret_object

from btp_infra.btp.accounts import AccountsClient
from btp_infra.btp.entitlements import EntitlementsClient
from btp_infra.btp.errors import BtpError
from btp_infra.btp.keys import CisServiceKey
from btp_infra.btp.sm_models import ServiceInstance
from btp_infra.config import TenantConfig
from btp_infra.conventions import LABEL_TENANT
from btp_infra.kube import KubeClient
from btp_infra.operations.verify import (
    Check,
    StackReport,
    VerifyOptions,
    VerifyReport,
    _entity_state,
    parse_expiry_window,
    verify_tenant,
)
from btp_infra.sandbox import SandboxServer
from btp_infra.testing.kube_api import KubeApiStandIn
from operations.support import (
    FAST,
    OPERATOR_CONFIG,
    POLL,
    STACK,
    UNKNOWN_GUID,
    Deployed,
    admin_sm,
    deploy,
    leaked_in,
    tenant,
)


@pytest.fixture
def cis(sb: SandboxServer) -> CisServiceKey:
    return CisServiceKey.parse(sb.cis_service_key(), source="sandbox")


@pytest.fixture(autouse=True)
def emulator_ca(sb: SandboxServer, monkeypatch: pytest.MonkeyPatch) -> None:
    """x509 tokens come from the emulator's mTLS endpoint, signed by its own CA."""
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", sb.ca_path)


@pytest.fixture
def deployed(sb: SandboxServer, kube_api: KubeApiStandIn, cis: CisServiceKey) -> Deployed:
    return deploy(sb, kube_api, cis, tenant())


def leaked(report: StackReport | VerifyReport, sb: SandboxServer, kube_api: KubeApiStandIn) -> list[str]:
    full = report if isinstance(report, VerifyReport) else VerifyReport([report])
    return leaked_in([full.text(), full.json_text(), full.markdown()], sb, kube_api)


def run(
    kube_client: KubeClient | None,
    config: TenantConfig,
    cis: CisServiceKey | None,
    *,
    now: datetime | None = None,
    window: timedelta = timedelta(days=30),
    **kwargs: Any,
) -> StackReport:
    options = VerifyOptions(
        expiry_window=window, retry_policy=FAST, now=(lambda: now) if now else VerifyOptions().now
    )
    return verify_tenant(STACK, config, kube=kube_client, cis_key=cis, options=options, **kwargs)


def by_name(report: StackReport) -> dict[str, Check]:
    names = [c.name for c in report.checks]
    assert len(names) == len(set(names)), names
    return {c.name: c for c in report.checks}


def status_of(report: StackReport) -> dict[str, str]:
    return {c.name: c.status for c in report.checks}


@pytest.fixture
def check(
    sb: SandboxServer, kube_api: KubeApiStandIn, kube_client: KubeClient, cis: CisServiceKey
) -> Iterator[Any]:
    """``check(config=..., **run_kwargs)`` → the report; asserts it leaks nothing and verify wrote nothing."""

    def go(
        config: TenantConfig | None = None, *, kube: KubeClient | str | None = "default", **kw: Any
    ) -> StackReport:
        kube_api.clear_log()
        client = kube_client if kube == "default" else kube
        assert client is None or isinstance(client, KubeClient)
        report = run(client, config or tenant(), kw.pop("cis", cis), **kw)
        assert leaked(report, sb, kube_api) == []
        assert kube_api.requests(writes=True) == []  # read-only
        return report

    yield go


ALL_PASS = [
    "namespace",
    "namespace.pods",
    "operator.config",
    "secret",
    "secret.precedence",
    "credentials.token",
    "credentials.service-manager",
    "btp.subaccount",
    "btp.entitlement service-manager/service-operator-access",
    "btp.admin-access",
    "btp.instance",
    "btp.binding",
    "btp.binding.current",
]


# ---- the whole tenant ------------------------------------------------------------------------------------


def test_a_deployed_client_secret_tenant_passes_everything(
    deployed: Deployed, check: Any, sb: SandboxServer
) -> None:
    calls = len(sb.calls())
    report = check()
    assert status_of(report) == {name: "pass" for name in ALL_PASS}
    assert report.status == "pass" and VerifyReport([report]).exit_code == 0
    # BTP was only read
    assert {c["method"] for c in sb.calls()[calls:]} <= {"GET", "POST"}
    posts = [c for c in sb.calls()[calls:] if c["method"] == "POST"]
    assert all("/oauth/token" in c["path"] for c in posts), posts


def test_a_deployed_x509_management_tenant_passes_with_expiry(
    sb: SandboxServer, kube_api: KubeApiStandIn, cis: CisServiceKey, check: Any
) -> None:
    config = tenant(credentialType="x509", secretPlacement="management", x509={"validity": 60})
    deploy(sb, kube_api, cis, config)
    report = check(config)
    statuses = status_of(report)
    assert statuses.pop("credentials.expiry") == "pass"
    assert statuses == {name: "pass" for name in ALL_PASS}
    assert "valid until" in by_name(report)["credentials.expiry"].reason
    assert "kyma-system/orders-sap-btp-service-operator" in by_name(report)["secret"].reason


# ---- namespace ---------------------------------------------------------------------------------------


def test_a_missing_namespace_fails(deployed: Deployed, kube_api: KubeApiStandIn, check: Any) -> None:
    with kube_api.lock:
        del kube_api.store[("", "namespaces", "", "orders")]
    found = by_name(check())["namespace"]
    assert (
        found.status == "fail"
        and "does not exist" in found.reason
        and "btp-infra up --stack orders" in str(found.fix)
    )


def test_a_terminating_namespace_fails(deployed: Deployed, kube_api: KubeApiStandIn, check: Any) -> None:
    with kube_api.lock:
        kube_api.store[("", "namespaces", "", "orders")]["metadata"]["deletionTimestamp"] = (
            "2026-01-01T00:00:00Z"
        )
    report = check()
    assert (
        by_name(report)["namespace"].status == "fail" and "terminating" in by_name(report)["namespace"].reason
    )
    assert "namespace.pods" not in by_name(report)


def test_drifted_namespace_labels_fail(deployed: Deployed, kube_api: KubeApiStandIn, check: Any) -> None:
    with kube_api.lock:
        labels = kube_api.store[("", "namespaces", "", "orders")]["metadata"]["labels"]
        del labels["istio-injection"]
        labels[LABEL_TENANT] = "someone-else"
    found = by_name(check())["namespace"]
    assert found.status == "fail"
    assert "istio-injection is missing (want 'enabled')" in found.reason
    assert f"{LABEL_TENANT} is 'someone-else' (want 'orders')" in found.reason


def test_the_stacks_own_labels_are_checked_too(
    sb: SandboxServer, kube_api: KubeApiStandIn, cis: CisServiceKey, check: Any
) -> None:
    config = tenant(labels={"team": "payments"})
    deploy(sb, kube_api, cis, config)
    assert by_name(check(config))["namespace"].status == "pass"
    assert by_name(check(tenant(labels={"team": "orders"})))["namespace"].status == "fail"


# ---- pods and istio ------------------------------------------------------------------------------------


def test_pods_with_sidecars_opt_outs_and_finished_jobs_pass(
    deployed: Deployed, kube_api: KubeApiStandIn, check: Any
) -> None:
    kube_api.seed(pod_object("orders", "web", ("app", "istio-proxy"), {"sidecar.istio.io/status": "{}"}))
    kube_api.seed(pod_object("orders", "native", ("app",), {"sidecar.istio.io/status": "{}"}))
    kube_api.seed(pod_object("orders", "batch", ("job",), {"sidecar.istio.io/inject": "false"}))
    done = pod_object("orders", "migrate", ("job",))
    done["status"]["phase"] = "Succeeded"
    kube_api.seed(done)
    found = by_name(check())["namespace.pods"]
    assert found.status == "pass" and "3 running pod(s)" in found.reason


def test_pods_started_before_injection_are_a_warning_with_the_restart(
    deployed: Deployed, kube_api: KubeApiStandIn, check: Any
) -> None:
    kube_api.seed(pod_object("orders", "web", ("app", "istio-proxy")))
    kube_api.seed(pod_object("orders", "legacy-1", ("app",), created="2025-01-01T00:00:00Z"))
    kube_api.seed(pod_object("orders", "legacy-2", ("app",)))
    report = check()
    found = by_name(report)["namespace.pods"]
    assert found.status == "warn" and "2 pod(s)" in found.reason and "legacy-1, legacy-2" in found.reason
    assert "rollout restart" in str(found.fix)
    assert report.status == "warn" and VerifyReport([report]).exit_code == 0


# ---- the operator's configuration ------------------------------------------------------------------------


def set_operator_config(kube_api: KubeApiStandIn, **data: str) -> None:
    with kube_api.lock:
        kube_api.store[("", "configmaps", "kyma-system", OPERATOR_CONFIG)]["data"].update(data)


def test_an_operator_looking_elsewhere_for_management_secrets_fails(
    sb: SandboxServer, kube_api: KubeApiStandIn, cis: CisServiceKey, check: Any
) -> None:
    config = tenant(secretPlacement="management")
    deploy(sb, kube_api, cis, config)
    set_operator_config(kube_api, MANAGEMENT_NAMESPACE="btp-credentials")
    found = by_name(check(config))["operator.config"]
    assert (
        found.status == "fail"
        and "looks for orders-sap-btp-service-operator in btp-credentials" in found.reason
    )


def test_namespace_secrets_switched_off_fail(
    deployed: Deployed, kube_api: KubeApiStandIn, check: Any
) -> None:
    set_operator_config(kube_api, ENABLE_NAMESPACE_SECRETS="false")
    found = by_name(check())["operator.config"]
    assert found.status == "fail" and "ignores Secrets in tenant namespaces" in found.reason


def test_a_namespace_the_operator_does_not_serve_fails(
    deployed: Deployed, kube_api: KubeApiStandIn, check: Any
) -> None:
    set_operator_config(kube_api, ALLOW_CLUSTER_ACCESS="false", ALLOWED_NAMESPACES="billing, shop")
    found = by_name(check())["operator.config"]
    assert found.status == "fail" and "(billing, shop) lacks orders" in found.reason
    set_operator_config(kube_api, ALLOWED_NAMESPACES="billing,orders")
    assert by_name(check())["operator.config"].status == "pass"


def test_no_operator_config_or_no_right_to_read_it_warns(
    deployed: Deployed, kube_api: KubeApiStandIn, check: Any
) -> None:
    kube_api.fail("GET", f"/api/v1/namespaces/kyma-system/configmaps/{OPERATOR_CONFIG}", 403)
    forbidden = by_name(check())["operator.config"]
    assert forbidden.status == "warn" and "forbidden" in forbidden.reason
    with kube_api.lock:
        del kube_api.store[("", "configmaps", "kyma-system", OPERATOR_CONFIG)]
    missing = by_name(check())["operator.config"]
    assert missing.status == "warn" and "is the operator installed?" in missing.reason


# ---- the operator Secret --------------------------------------------------------------------------------


def test_a_missing_secret_fails_and_skips_the_credential_checks(
    deployed: Deployed, kube_api: KubeApiStandIn, check: Any
) -> None:
    with kube_api.lock:
        del kube_api.store[("", "secrets", "orders", "sap-btp-service-operator")]
    report = check()
    found = by_name(report)["secret"]
    assert (
        found.status == "fail"
        and "does not exist" in found.reason
        and "cluster's own subaccount" in found.reason
    )
    assert "credentials.token" not in by_name(report) and "btp.binding.current" not in by_name(report)
    assert by_name(report)["btp.binding"].status == "pass"  # the BTP side is still checked


def edit_secret(kube_api: KubeApiStandIn, deployed: Deployed, **data: str | None) -> None:
    import base64

    config = deployed.config
    with kube_api.lock:
        stored = kube_api.store[("", "secrets", config.secret_namespace, config.secret_name)]
        for key, value in data.items():
            key = key.replace("_", ".") if key.startswith("tls_") else key
            if value is None:
                stored["data"].pop(key, None)
            else:
                stored["data"][key] = base64.b64encode(value.encode()).decode()


def test_missing_keys_fail(deployed: Deployed, kube_api: KubeApiStandIn, check: Any) -> None:
    edit_secret(kube_api, deployed, sm_url=None, clientid="")
    report = check()
    found = by_name(report)["secret"]
    assert found.status == "fail" and "clientid, sm_url" in found.reason
    assert "credentials.token" not in by_name(report)


def test_mixed_credential_types_fail(deployed: Deployed, kube_api: KubeApiStandIn, check: Any) -> None:
    edit_secret(kube_api, deployed, tls_crt="-----BEGIN CERTIFICATE-----", tls_key="k" * 20)
    found = by_name(check())["secret"]
    assert found.status == "fail" and "both clientsecret and tls.crt/tls.key" in found.reason


def test_a_token_url_with_the_suffix_fails(deployed: Deployed, kube_api: KubeApiStandIn, check: Any) -> None:
    data = deployed.secret_data()
    edit_secret(kube_api, deployed, tokenurl=data["tokenurl"] + "/oauth/token", tokenurlsuffix="/token")
    found = by_name(check())["secret"]
    assert found.status == "fail"
    assert "tokenurl ends with /oauth/token" in found.reason and "tokenurlsuffix is '/token'" in found.reason


def test_drifted_secret_labels_warn(deployed: Deployed, kube_api: KubeApiStandIn, check: Any) -> None:
    with kube_api.lock:
        kube_api.store[("", "secrets", "orders", "sap-btp-service-operator")]["metadata"]["labels"] = {}
    report = check()
    found = by_name(report)["secret"]
    assert found.status == "warn" and "managed-by-sap-btp-operator is missing" in found.reason
    assert by_name(report)["credentials.token"].status == "pass"


# ---- precedence -----------------------------------------------------------------------------------------


def test_a_namespace_secret_shadowing_the_management_secret_fails(
    sb: SandboxServer, kube_api: KubeApiStandIn, cis: CisServiceKey, check: Any
) -> None:
    config = tenant(secretPlacement="management")
    deploy(sb, kube_api, cis, config)
    kube_api.seed(
        secret_object(
            "orders", "sap-btp-service-operator", {"clientid": "x", "clientsecret": "shadow-secret-1"}
        )
    )
    found = by_name(check(config))["secret.precedence"]
    assert found.status == "fail" and "orders/sap-btp-service-operator shadows" in found.reason
    assert "kubectl -n orders delete secret sap-btp-service-operator" in str(found.fix)


def test_a_stale_management_fallback_warns(deployed: Deployed, kube_api: KubeApiStandIn, check: Any) -> None:
    kube_api.seed(
        secret_object("kyma-system", "orders-sap-btp-service-operator", {"clientsecret": "old-secret-22"})
    )
    found = by_name(check())["secret.precedence"]
    assert found.status == "warn" and "falls back to it" in found.reason


def test_the_same_credentials_in_the_fallback_pass(
    deployed: Deployed, kube_api: KubeApiStandIn, check: Any
) -> None:
    kube_api.seed(secret_object("kyma-system", "orders-sap-btp-service-operator", deployed.secret_data()))
    assert by_name(check())["secret.precedence"].status == "pass"


def test_instances_with_explicit_credentials_warn(
    deployed: Deployed, kube_api: KubeApiStandIn, check: Any
) -> None:
    explicit = operator_object("ServiceInstance", "orders", "db")
    explicit["spec"]["btpAccessCredentialsSecret"] = "other-subaccount"
    kube_api.seed(explicit)
    kube_api.seed(operator_object("ServiceInstance", "orders", "cache"))
    found = by_name(check())["secret.precedence"]
    assert (
        found.status == "warn"
        and "db → kyma-system/other-subaccount" in found.reason
        and "cache" not in found.reason
    )


# ---- the Secret's credentials ---------------------------------------------------------------------------


def test_credentials_without_a_token_fail(deployed: Deployed, kube_api: KubeApiStandIn, check: Any) -> None:
    edit_secret(kube_api, deployed, clientsecret="not-the-secret-at-all")
    report = check()
    found = by_name(report)["credentials.token"]
    assert found.status == "fail" and "obtain no token" in found.reason and "401" in found.reason
    assert "credentials.service-manager" not in by_name(report)
    assert by_name(report)["btp.binding.current"].status == "fail"
    assert "clientsecret" in by_name(report)["btp.binding.current"].reason


def test_service_manager_refusing_the_token_fails(deployed: Deployed, sb: SandboxServer, check: Any) -> None:
    sb.inject_fault("GET", "/sm/v1/service_offerings", status=403, count=5)
    found = by_name(check())["credentials.service-manager"]
    assert found.status == "fail" and "refuses the Secret's token" in found.reason


@pytest.fixture
def x509_tenant(sb: SandboxServer, kube_api: KubeApiStandIn, cis: CisServiceKey) -> Deployed:
    return deploy(sb, kube_api, cis, tenant(credentialType="x509"))  # SM's default: 7 days


def test_an_x509_certificate_inside_the_window_warns(x509_tenant: Deployed, check: Any) -> None:
    report = check(x509_tenant.config)
    found = by_name(report)["credentials.expiry"]
    assert found.status == "warn" and "inside the 30d window" in found.reason
    assert "btp-infra rotate --stack orders" in str(found.fix)
    assert by_name(report)["credentials.token"].status == "pass"


def test_an_x509_certificate_outside_the_window_passes(x509_tenant: Deployed, check: Any) -> None:
    assert by_name(check(x509_tenant.config, window=timedelta(days=1)))["credentials.expiry"].status == "pass"


def test_an_expired_x509_certificate_fails(x509_tenant: Deployed, check: Any) -> None:
    later = datetime.now(UTC) + timedelta(days=8)
    report = check(x509_tenant.config, now=later)
    found = by_name(report)["credentials.expiry"]
    assert found.status == "fail" and "expired at" in found.reason
    assert VerifyReport([report]).exit_code == 1


def test_a_tls_crt_that_is_no_certificate_fails(
    x509_tenant: Deployed, kube_api: KubeApiStandIn, check: Any
) -> None:
    edit_secret(
        kube_api, x509_tenant, tls_crt="-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n"
    )
    report = check(x509_tenant.config)
    assert by_name(report)["credentials.expiry"].status == "fail"
    assert by_name(report)["credentials.token"].status == "fail"


# ---- BTP -------------------------------------------------------------------------------------------------


def test_an_unknown_subaccount_fails_and_skips_btp(
    deployed: Deployed, check: Any, kube_api: KubeApiStandIn, sb: SandboxServer
) -> None:
    config = tenant(subaccountId=UNKNOWN_GUID)
    kube_api.seed(namespace_object("orders", config.namespace_labels))
    report = check(config)
    assert by_name(report)["btp.subaccount"].status == "fail"
    assert not [n for n in by_name(report) if n.startswith("btp.") and n != "btp.subaccount"]


def test_a_subaccount_not_ok_warns(deployed: Deployed, sb: SandboxServer, check: Any) -> None:
    sb.set_subaccount_state(SUBACCOUNT_1, "UPDATING", "being moved")
    found = by_name(check())["btp.subaccount"]
    assert found.status == "warn" and "UPDATING: being moved" in found.reason


def test_entitlements_missing_in_progress_failed_and_off_amount(
    deployed: Deployed, sb: SandboxServer, cis: CisServiceKey, check: Any
) -> None:
    config = tenant(
        entitlements=[
            {"service": "hana-cloud", "plan": "hana", "amount": 2},
            {"service": "destination", "plan": "lite"},
            {"service": "xsuaa", "plan": "application"},
            {"service": "objectstore", "plan": "standard"},
        ]
    )
    with EntitlementsClient(cis, retry_policy=FAST, poll_policy=POLL) as entitlements:
        entitlements.assign(SUBACCOUNT_1, "hana-cloud", "hana", 1, timeout=30)
        sb.inject_fault(
            "PUT", "/entitlements-service/entitlements/v1/subaccountServicePlans", kind="operation_failed"
        )
        with pytest.raises(BtpError):
            entitlements.assign(SUBACCOUNT_1, "destination", "lite", timeout=30)
        sb.set_latencies(entitlement=30)
        with pytest.raises(BtpError):
            entitlements.assign(SUBACCOUNT_1, "xsuaa", "application", timeout=0.3)
    report = check(config)
    found = by_name(report)
    assert found["btp.entitlement service-manager/service-operator-access"].status == "pass"
    assert found["btp.entitlement hana-cloud/hana"].status == "warn"
    assert "amount is 1 (stack: 2)" in found["btp.entitlement hana-cloud/hana"].reason
    assert found["btp.entitlement destination/lite"].status == "fail"
    assert "PROCESSING_FAILED" in found["btp.entitlement destination/lite"].reason
    assert found["btp.entitlement xsuaa/application"].status == "warn"
    assert found["btp.entitlement objectstore/standard"].status == "fail"
    assert "not assigned" in found["btp.entitlement objectstore/standard"].reason


def test_missing_admin_access_fails_and_verify_creates_none(
    deployed: Deployed, sb: SandboxServer, cis: CisServiceKey, check: Any
) -> None:
    with AccountsClient(cis, retry_policy=FAST, poll_policy=POLL) as accounts:
        accounts.delete_service_management_binding(SUBACCOUNT_1, timeout=30)
    report = check()
    assert by_name(report)["btp.admin-access"].status == "fail"
    assert "btp.instance" not in by_name(report)
    assert sb.state()["admin_bindings"] == []  # verify did not create one


def test_a_missing_instance_and_a_missing_binding_fail(
    deployed: Deployed, sb: SandboxServer, cis: CisServiceKey, check: Any
) -> None:
    with admin_sm(sb, cis) as sm:
        sm.delete_binding(deployed.binding.id, timeout=30)
    report = check()
    assert by_name(report)["btp.instance"].status == "pass"
    assert by_name(report)["btp.binding"].status == "fail" and "btp.binding.current" not in by_name(report)
    with admin_sm(sb, cis) as sm:
        sm.delete_instance(deployed.instance.id, timeout=30)
    report = check()
    assert by_name(report)["btp.instance"].status == "fail" and "btp.binding" not in by_name(report)


def test_an_instance_without_btp_infra_labels_warns(
    sb: SandboxServer, kube_api: KubeApiStandIn, cis: CisServiceKey, check: Any
) -> None:
    config = tenant()
    deployed = deploy(sb, kube_api, cis, config)
    with admin_sm(sb, cis) as sm:
        sm.update_instance(deployed.instance.id, labels_remove=["btp-infra.tenant"], timeout=30)
    found = by_name(check())["btp.instance"]
    assert found.status == "warn" and "lacks btp-infra's labels" in found.reason


@pytest.mark.parametrize(
    ("entity", "status", "text"),
    [
        ({"ready": True}, "pass", "ready"),
        ({"ready": False}, "fail", "not ready"),
        (
            {"ready": True, "last_operation": {"type": "update", "state": "in progress"}},
            "warn",
            "in progress",
        ),
        (
            {"ready": False, "last_operation": {"type": "create", "state": "failed", "description": "quota"}},
            "fail",
            "create failed: quota",
        ),
    ],
)
def test_instance_and_binding_states(entity: dict[str, Any], status: str, text: str) -> None:
    found = _entity_state(ServiceInstance.model_validate({"id": "i", "name": "n", **entity}))
    assert found[0] == status and text in found[1]


def test_a_stale_secret_after_the_binding_was_replaced_fails(
    deployed: Deployed, sb: SandboxServer, cis: CisServiceKey, check: Any
) -> None:
    with admin_sm(sb, cis) as sm:
        sm.delete_binding(deployed.binding.id, timeout=30)
        sm.create_binding(
            deployed.config.binding_name, deployed.instance.id, labels=deployed.config.sm_labels, timeout=30
        )
    report = check()
    found = by_name(report)["btp.binding.current"]
    assert (
        found.status == "fail"
        and "clientid, clientsecret differ" in found.reason
        and "values not shown" in found.reason
    )
    assert by_name(report)["credentials.token"].status == "fail"  # the old binding's secret is gone too


# ---- no access ------------------------------------------------------------------------------------------


def test_no_cluster_and_no_cis_key_fail_in_one_line_each(check: Any) -> None:
    report = check(
        kube=None, kube_problem="kubeconfig: no context 'x' (contexts: 'y')", cis=None, cis_problem="no key"
    )
    assert status_of(report) == {"kubernetes": "fail", "btp": "fail"}
    assert by_name(report)["kubernetes"].reason == "kubeconfig: no context 'x' (contexts: 'y')"


def test_a_failing_cluster_api_and_a_failing_btp_api_are_reported(
    deployed: Deployed, kube_api: KubeApiStandIn, sb: SandboxServer, check: Any
) -> None:
    kube_api.fail("GET", "/api/v1/namespaces/orders", 500, count=5, message="etcd unavailable")
    sb.inject_fault("GET", "/accounts-service/accounts/v1/subaccounts/{id}", status=500, count=10)
    report = check()
    assert (
        by_name(report)["kubernetes"].status == "fail"
        and "etcd unavailable" in by_name(report)["kubernetes"].reason
    )
    assert by_name(report)["btp"].status == "fail"


def test_a_secret_echoed_by_a_server_before_it_was_read_is_redacted(
    deployed: Deployed, kube_api: KubeApiStandIn, check: Any
) -> None:
    echoed = deployed.credentials["clientsecret"]
    kube_api.fail("GET", "/api/v1/namespaces/orders/pods", 500, count=5, message=f"cannot list: {echoed}")
    found = by_name(check())["kubernetes"]  # `check` asserts that no rendering holds the secret
    assert found.status == "fail" and "cannot list: [secret]" in found.reason


# ---- rendering -----------------------------------------------------------------------------------------


def test_json_is_stable_and_markdown_escapes(
    deployed: Deployed, kube_api: KubeApiStandIn, check: Any
) -> None:
    kube_api.seed(pod_object("orders", "a|b", ("app",)))
    report = VerifyReport([check()])
    document = json.loads(report.json_text())
    assert document["version"] == 1 and document["status"] == "warn"
    assert set(document) == {"version", "status", "counts", "stacks"}
    [stack] = document["stacks"]
    assert set(stack) == {"stack", "namespace", "subaccount", "status", "counts", "checks"}
    assert all(set(c) == {"name", "status", "reason", "fix"} for c in stack["checks"])
    assert stack["counts"] == {"pass": 12, "warn": 1, "fail": 0}
    markdown = report.markdown()
    assert "a\\|b" in markdown and markdown.index("namespace.pods") < markdown.index("`secret`")
    assert "1 warning(s)" in report.text()


def test_a_json_report_reads_back(deployed: Deployed, kube_api: KubeApiStandIn, check: Any) -> None:
    kube_api.seed(pod_object("orders", "legacy", ("app",)))
    report = VerifyReport([check()])
    again = VerifyReport.from_dict(json.loads(report.json_text()))
    assert again == report and again.markdown() == report.markdown() and again.exit_code == 0


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ({"version": 2, "stacks": []}, "version 1"),
        ({"version": 1}, "list 'stacks'"),
        ({"version": 1, "stacks": [{"stack": "a", "checks": [{"name": "x", "status": "ok"}]}]}, "checks[0]"),
    ],
)
def test_anything_else_is_no_report(document: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message.replace("[", "\\[").replace("]", "\\]")):
        VerifyReport.from_dict(document)


@pytest.mark.parametrize(("text", "days"), [("30d", 30), ("2w", 14), ("1d12h", 1.5), ("0d", 0), ("36h", 1.5)])
def test_expiry_windows(text: str, days: float) -> None:
    assert parse_expiry_window(text) == timedelta(days=days)


@pytest.mark.parametrize("text", ["30", "", "1y", "-1d", "3651d", "d"])
def test_expiry_windows_out_of_grammar(text: str) -> None:
    with pytest.raises(ValueError):
        parse_expiry_window(text)
