"""The Pulumi program: read the stack config once, build the tenant, export its outputs.

Run by ``__main__.py`` at the project root (``pulumi up -s <tenant>``) and, under mocks, by the tests and
``btp-infra plan``. Invalid config raises :class:`~btp_infra.config.ConfigError` before any resource exists.
"""

from __future__ import annotations

import os
from typing import Any

import pulumi
import pulumi_kubernetes as k8s
from pulumi.runtime.config import CONFIG, get_config_env

from btp_infra.components import TenantNamespace
from btp_infra.config import NAMESPACE as CONFIG_NAMESPACE
from btp_infra.config import TENANT_RESOURCE, TenantConfig, from_pulumi_config


def raw_stack_config() -> dict[str, Any]:
    """Every ``btp-infra:*`` value the engine passed to this program (strings, as the CLI supplies them)."""
    merged = {**get_config_env(), **CONFIG.get()}
    prefix = f"{CONFIG_NAMESPACE}:"
    return {k: v for k, v in merged.items() if k.startswith(prefix)}


def load_config() -> TenantConfig:
    """The validated tenant config of the current stack."""
    source = f"stacks/Pulumi.{pulumi.get_stack()}.yaml"
    return from_pulumi_config(raw_stack_config(), source=source)


def kubernetes_provider(config: TenantConfig) -> k8s.Provider:
    """The explicit Kubernetes provider: the stack's kubeconfig/context when it names them."""
    kubeconfig = config.kubeconfig_value
    if kubeconfig and "\n" not in kubeconfig:
        kubeconfig = os.path.expanduser(kubeconfig)  # a path: resolve "~" here, where the user wrote it
    return k8s.Provider(
        "kubernetes",
        kubeconfig=pulumi.Output.secret(kubeconfig) if kubeconfig else None,
        context=config.kube_context,
    )


def main() -> TenantNamespace:
    """Build the tenant stack and export its (non-secret) outputs."""
    config = load_config()
    # Stacks made before the component had a constant name named it (and every child) after the
    # namespace; the alias adopts them in place (the engine derives the children's aliases from it:
    # step_generator.go, inheritedChildAlias).
    tenant = TenantNamespace(
        TENANT_RESOURCE,
        config,
        k8s_provider=kubernetes_provider(config),
        opts=pulumi.ResourceOptions(aliases=[pulumi.Alias(name=config.namespace)]),
    )
    pulumi.export("namespace", tenant.namespace_name)
    pulumi.export("subaccountId", tenant.subaccount_id)
    pulumi.export("secretName", tenant.secret_name)
    pulumi.export("secretNamespace", tenant.secret_namespace)
    pulumi.export("instanceId", tenant.instance_id)
    pulumi.export("bindingId", tenant.binding_id)
    pulumi.export("adopted", tenant.adopted)
    return tenant
