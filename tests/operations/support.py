"""Staging for the day-2 operation tests: a tenant deployed as ``btp-infra up`` leaves it — the BTP objects
in the emulator (created through the BTP clients), the namespace and operator Secret in the stand-in
Kubernetes API — and a check that a report or output holds none of the secrets of either.

``from operations.support import deploy, tenant, ...`` (``tests/`` is on ``sys.path``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from emulator_fixtures import SUBACCOUNT_1, secrets_of
from kube_fixtures import config_map_object, namespace_object, secret_object

from btp_infra.btp.accounts import AccountsClient
from btp_infra.btp.entitlements import EntitlementsClient
from btp_infra.btp.http import PollPolicy, RetryPolicy
from btp_infra.btp.keys import CisServiceKey
from btp_infra.btp.service_manager import ServiceManagerClient
from btp_infra.btp.sm_models import ServiceBinding, ServiceInstance, binding_parameters
from btp_infra.config import TenantConfig, parse_config
from btp_infra.conventions import LABEL_TENANT, OPERATOR_OFFERING, OPERATOR_PLAN
from btp_infra.operator_secret import SECRET_LABELS, secret_data
from btp_infra.sandbox import SandboxServer
from btp_infra.testing.kube_api import KubeApiStandIn

__all__ = [
    "FAST",
    "KYMA_OPERATOR_CONFIG",
    "OPERATOR_CONFIG",
    "POLL",
    "STACK",
    "UNKNOWN_GUID",
    "Deployed",
    "admin_sm",
    "deploy",
    "leaked_in",
    "tenant",
]

STACK = "orders"
"""The stack (and namespace) of the staged tenant."""
FAST = RetryPolicy(max_attempts=2, backoff_base=0.01, backoff_cap=0.02, read_timeout=10.0, call_deadline=10.0)
OPERATOR_CONFIG = "sap-btp-operator-config"
KYMA_OPERATOR_CONFIG = {
    "CLUSTER_ID": "5f1c5e9a-cluster",
    "MANAGEMENT_NAMESPACE": "kyma-system",
    "RELEASE_NAMESPACE": "kyma-system",
    "ALLOW_CLUSTER_ACCESS": "true",
}
"""The operator's ConfigMap as the SAP BTP Operator module writes it on Kyma (btp-manager
``module-resources/apply/configmap.yml``)."""
POLL = PollPolicy(initial=0.01, ratio=0.1, cap=0.05)
UNKNOWN_GUID = "99999999-9999-4999-8999-999999999999"


def tenant(**extra: Any) -> TenantConfig:
    """The staged tenant's config (namespace ``orders`` on ``SUBACCOUNT_1``, context ``stand-in``), plus
    ``extra``."""
    return parse_config(
        {"namespace": "orders", "subaccountId": SUBACCOUNT_1, "kubeContext": "stand-in", **extra}
    )


@dataclass
class Deployed:
    config: TenantConfig
    instance: ServiceInstance
    binding: ServiceBinding
    credentials: dict[str, Any]

    def secret_data(self) -> dict[str, str]:
        return secret_data(self.credentials, self.config.credential_type)


def admin_sm(sb: SandboxServer, cis: CisServiceKey) -> ServiceManagerClient:
    with AccountsClient(cis, retry_policy=FAST, poll_policy=POLL) as accounts:
        creds, _ = accounts.ensure_service_management_binding(SUBACCOUNT_1, timeout=30)
    return ServiceManagerClient(creds, retry_policy=FAST, poll_policy=POLL)


def deploy(sb: SandboxServer, kube_api: KubeApiStandIn, cis: CisServiceKey, config: TenantConfig) -> Deployed:
    """What ``btp-infra up`` leaves: entitlements OK, admin access, instance + binding, namespace + Secret."""
    assert config.subaccount_id is not None  # the staged tenant maps SUBACCOUNT_1
    with EntitlementsClient(cis, retry_policy=FAST, poll_policy=POLL) as entitlements:
        for spec in config.all_entitlements:
            entitlements.assign(config.subaccount_id, spec.service, spec.plan, spec.amount, timeout=30)
    with admin_sm(sb, cis) as sm:
        instance = sm.create_instance(
            config.instance_name,
            offering=OPERATOR_OFFERING,
            plan=OPERATOR_PLAN,
            labels=config.sm_labels,
            timeout=30,
        )
        params = binding_parameters(config.credential_type, config.binding_parameters)
        binding = sm.create_binding(
            config.binding_name, instance.id, parameters=params, labels=config.sm_labels, timeout=30
        )
        full = sm.get_binding(binding.id)
        assert full is not None
    credentials = dict(full.credentials.get_secret_value())
    kube_api.seed(namespace_object(config.namespace, config.namespace_labels))
    kube_api.seed(namespace_object(config.management_namespace))
    if not kube_api.get("configmaps", OPERATOR_CONFIG, config.management_namespace):
        kube_api.seed(config_map_object(config.management_namespace, OPERATOR_CONFIG, KYMA_OPERATOR_CONFIG))
    labels = {**SECRET_LABELS, LABEL_TENANT: config.namespace}
    data = secret_data(credentials, config.credential_type)
    kube_api.seed(secret_object(config.secret_namespace, config.secret_name, data, labels))
    return Deployed(config, instance, full, credentials)


def leaked_in(texts: list[str], sb: SandboxServer, kube_api: KubeApiStandIn) -> list[str]:
    """Secret strings (emulator-issued, the credential values of the stand-in's Secrets, its token) found in
    any of ``texts`` (shown cut short)."""
    values = {*secrets_of(sb), kube_api.token}
    for secret in kube_api.objects("secrets"):
        meta = secret["metadata"]
        data = kube_api.secret_data(meta["namespace"], meta["name"]) or {}
        values |= {v for k, v in data.items() if k in ("clientsecret", "tls.key")}
    return sorted(v[:6] + "…" for v in values if len(v) >= 8 and any(v in t for t in texts))
