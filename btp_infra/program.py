"""The Pulumi program: read the stack config once, build the tenant, export its outputs.

Run by ``__main__.py`` at the project root (``pulumi up -s <tenant>``) and, under mocks, by the tests and
``btp-infra plan``. Invalid config raises :class:`~btp_infra.config.ConfigError` before any resource exists.
"""

from __future__ import annotations

from typing import Any

import pulumi
import pulumi_kubernetes as k8s
from pulumi.runtime.config import CONFIG, get_config_env

from btp_infra.components import TenantNamespace
from btp_infra.components.args import (
    AdoptArgs,
    EntitlementArgs,
    GuardrailArgs,
    OperatorSecretArgs,
    SubaccountArgs,
    TenantNamespaceArgs,
    TimeoutArgs,
)
from btp_infra.config import IGNORED_KUBERNETES_KEYS, TenantConfig, from_pulumi_config
from btp_infra.conventions import (
    CONFIG_NAMESPACE,
    LABEL_MANAGED_BY,
    LABEL_TENANT,
    MANAGED_BY_VALUE,
    TENANT_RESOURCE,
)
from btp_infra.operator_secret import SECRET_LABELS


def raw_stack_config() -> dict[str, Any]:
    """Every ``btp-infra:*`` value the engine passed to this program (strings, as the CLI supplies them), and
    the ``kubernetes:*`` keys that choose a cluster, which the config model refuses (the explicit provider
    would ignore them)."""
    merged = {**get_config_env(), **CONFIG.get()}
    prefix = f"{CONFIG_NAMESPACE}:"
    return {k: v for k, v in merged.items() if k.startswith(prefix) or k in IGNORED_KUBERNETES_KEYS}


def load_config() -> TenantConfig:
    """The validated tenant config of the current stack."""
    source = f"stacks/Pulumi.{pulumi.get_stack()}.yaml"
    return from_pulumi_config(raw_stack_config(), source=source)


def tenant_args(config: TenantConfig) -> TenantNamespaceArgs:
    """What the component builds, from the validated stack config (no credentials, no cluster access)."""
    timeouts = config.timeouts
    return TenantNamespaceArgs(
        namespace=config.namespace,
        subaccount_id=config.subaccount_id,
        region=config.region,
        namespace_labels=config.namespace_labels,
        instance_name=config.instance_name,
        binding_name=config.binding_name,
        sm_labels=config.sm_labels,
        operator_secret=OperatorSecretArgs(
            name=config.secret_name,
            namespace=config.secret_namespace,
            placement=config.secret_placement,
            credential_type=config.credential_type,
            labels={**SECRET_LABELS, LABEL_TENANT: config.namespace},
        ),
        guardrails=GuardrailArgs(
            labels={LABEL_MANAGED_BY: MANAGED_BY_VALUE, LABEL_TENANT: config.namespace},
            quota=config.quota.hard() if config.quota is not None else None,
            container_limits=(
                config.limit_range.container_limits() if config.limit_range is not None else None
            ),
            network_policy="default-deny" if config.network_policy == "default-deny" else None,
            mtls=config.mtls,
        ),
        entitlements=tuple(
            EntitlementArgs(spec.service, spec.plan, spec.amount) for spec in config.all_entitlements
        ),
        binding_parameters=config.binding_parameters,
        timeouts=TimeoutArgs(
            entitlement=timeouts.entitlement,
            admin_access=timeouts.admin_access,
            instance=timeouts.instance,
            binding=timeouts.binding,
        ),
        take_ownership=config.take_ownership,
        protect=config.effective_protect,
        subaccount=_subaccount_args(config),
        adopt=adopt_args(config),
    )


def adopt_args(config: TenantConfig) -> AdoptArgs:
    """What ``btp-infra:adopt`` names, as the component takes it (nothing adopted when unset)."""
    adopt = config.adopt
    if adopt is None:
        return AdoptArgs()
    return AdoptArgs(
        instance=adopt.instance_lookup,
        # A rotation key moves the tenant to a binding of its own (the hand-made one is kept, as adopted).
        binding=None if config.credential_rotation is not None else adopt.binding_lookup,
        namespace=adopt.namespace,
        secret=adopt.secret,
    )


def _subaccount_args(config: TenantConfig) -> SubaccountArgs | None:
    """The subaccount the stack creates (``btp-infra:subaccount``), or ``None`` when it maps one."""
    spec, subdomain = config.subaccount, config.subaccount_subdomain
    if spec is None or subdomain is None:
        return None
    return SubaccountArgs(
        display_name=spec.display_name,
        subdomain=subdomain,
        region=spec.region,
        parent_directory=spec.parent_directory,
        labels=spec.labels,
        used_for_production=spec.used_for_production,
        allow_replacement=config.allow_subaccount_replacement,
    )


def kubernetes_provider(config: TenantConfig) -> k8s.Provider:
    """The explicit Kubernetes provider of the stack, configured for what pulumi-kubernetes really does.

    - ``enable_secret_mutable``: otherwise a change of the operator Secret's ``stringData`` (rotated binding
      credentials) replaces the Secret, and a named object is replaced delete-first — in that gap the operator
      falls back to the cluster's own subaccount (pulumi-kubernetes ``diff.go``, ``forceNewProperties``).
    - ``cluster_identifier`` (``clusterIdentifier``, default the kube context): otherwise any change of the
      kubeconfig's active cluster entry (a rotated cluster CA, a new API server address) replaces the
      provider and with it every Kubernetes resource of the tenant (``provider.go``, ``DiffConfig``).
    - the kubeconfig as written: a path stays a path (``~`` included); the provider expands ``~`` itself on
      the machine that runs it (``util.go``, ``parseKubeconfigString``), so no home directory lands in state;
      likewise an unset kubeconfig is not replaced by this machine's ``$KUBECONFIG``.
    """
    kubeconfig = config.kubeconfig_value
    return k8s.Provider(
        "kubernetes",
        # Unset: "" rather than None, which the SDK would replace with $KUBECONFIG (this machine's path, then
        # stored in state); with "" the provider loads $KUBECONFIG / ~/.kube/config where it runs.
        kubeconfig=pulumi.Output.secret(kubeconfig) if kubeconfig else "",
        context=config.kube_context,
        cluster_identifier=config.kube_cluster_identifier,
        enable_secret_mutable=True,
        # Set: write the objects as YAML files there instead of applying them (no cluster is contacted:
        # pulumi-kubernetes provider.go, yamlRenderMode) — the local try-out, `btp-infra try`.
        render_yaml_to_directory=config.render_yaml_to_directory,
    )


def main() -> TenantNamespace:
    """Build the tenant stack and export its (non-secret) outputs."""
    config = load_config()
    # Stacks made before the component had a constant name named it (and every child) after the
    # namespace; the alias adopts them in place (the engine derives the children's aliases from it:
    # step_generator.go, inheritedChildAlias).
    tenant = TenantNamespace(
        TENANT_RESOURCE,
        tenant_args(config),
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
