"""The fleet: every stack of a project together, and the mappings no two stacks may share.

Owns: which cluster a stack deploys to (:func:`cluster_of`), the fleet rules (:func:`validate_fleet`: a
namespace once per cluster, a subaccount once anywhere, a created subaccount's subdomain once per region, no
tenant namespace that is another stack's management namespace) and :func:`load_fleet`.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from btp_infra.config.issues import ConfigError, ConfigIssue
from btp_infra.config.layout import discover_stacks, stack_name_of
from btp_infra.config.models import DEFAULT_SOURCE, TenantConfig
from btp_infra.config.stackfile import load_stack_file

_Cluster = tuple[str | None, str | None]


def cluster_of(config: TenantConfig) -> _Cluster:
    """The cluster a stack deploys to, as far as its config tells: its ``kubeconfig`` (plaintext) and
    ``kubeContext``. Stacks with neither share the ambient cluster; an encrypted kubeconfig counts by its
    context only (it cannot be read offline), so two such stacks on one context are taken as one cluster."""
    return config.kubeconfig_value, config.kube_context


def _cluster_text(cluster: _Cluster) -> str:
    """The cluster in a message: the context name only (a kubeconfig is a secret and never shown)."""
    kubeconfig, context = cluster
    if context is not None:
        return f"on the same cluster (kubeContext {context!r})"
    return (
        "on the same cluster (the same kubeconfig)"
        if kubeconfig
        else "on the same cluster (ambient kubeconfig)"
    )


def _where(name: str, config: TenantConfig) -> str:
    return config.source if config.source != DEFAULT_SOURCE else name


def _management_namespaces(configs: Mapping[str, TenantConfig]) -> dict[tuple[_Cluster, str], str]:
    """Each cluster's management namespaces in use, with the first stack that uses one."""
    management: dict[tuple[_Cluster, str], str] = {}
    for name, config in configs.items():
        if config.uses_management_namespace:
            management.setdefault((cluster_of(config), config.management_namespace), _where(name, config))
    return management


def validate_fleet(configs: Mapping[str, TenantConfig]) -> list[ConfigIssue]:
    """Issues for mappings that two stacks claim (each names both files).

    A namespace is unique per cluster (:func:`cluster_of`): ``orders`` may be mapped on two clusters. A
    subaccount is mapped by one namespace fleet-wide (one subaccount = one tenant, whatever the cluster). A
    tenant namespace may not be another stack's management namespace on the same cluster.
    Keys of ``configs`` name the stacks (used when a config has no source file).
    """
    issues: list[ConfigIssue] = []
    namespaces: dict[tuple[_Cluster, str], str] = {}
    subaccounts: dict[str, str] = {}
    subdomains: dict[tuple[str, str], str] = {}
    management = _management_namespaces(configs)
    for name, config in configs.items():
        where = _where(name, config)
        cluster = cluster_of(config)
        if (cluster, config.namespace) in namespaces:
            issues.append(
                ConfigIssue(
                    where,
                    "namespace",
                    config.namespace,
                    f"is also mapped by {namespaces[cluster, config.namespace]} {_cluster_text(cluster)}",
                    "a namespace that no other stack maps on this cluster (one namespace = one stack = one "
                    "subaccount)",
                )
            )
        else:
            namespaces[cluster, config.namespace] = where
        issues.extend(_subdomain_issues(where, config, subdomains))
        guid = config.subaccount_id  # None: the stack creates its own (checked by subdomain above)
        if guid is not None and guid in subaccounts:
            issues.append(
                ConfigIssue(
                    where,
                    "subaccountId",
                    guid,
                    f"is also mapped by {subaccounts[guid]}",
                    "a subaccount that no other stack maps, on any cluster (one subaccount = one stack = one "
                    "namespace)",
                )
            )
        elif guid is not None:
            subaccounts[guid] = where
        if (cluster, config.namespace) in management:
            issues.append(
                ConfigIssue(
                    where,
                    "namespace",
                    config.namespace,
                    f"is the management namespace of {management[cluster, config.namespace]}",
                    "a tenant namespace that is not any stack's managementNamespace on this cluster",
                )
            )
    return issues


def _subdomain_issues(
    where: str, config: TenantConfig, subdomains: dict[tuple[str, str], str]
) -> list[ConfigIssue]:
    """A subdomain is unique per region (btp-api.md §C.3a): two stacks that create one subaccount each with
    the same subdomain in one region would fight over it (the second is refused, or adopts the first's)."""
    subdomain, region = config.subaccount_subdomain, config.subaccount_region
    if subdomain is None or region is None:
        return []
    if (subdomain, region) not in subdomains:
        subdomains[subdomain, region] = where
        return []
    key = "subaccount.subdomain" if config.subaccount and config.subaccount.subdomain else "subdomainPrefix"
    return [
        ConfigIssue(
            where,
            key,
            subdomain if key == "subaccount.subdomain" else config.subdomain_prefix,
            f"gives subdomain {subdomain!r} in region {region}, which {subdomains[subdomain, region]} "
            "creates as well",
            "a subdomain that no other stack creates in this region (subdomains are unique per region)",
        )
    ]


def load_fleet(project_dir: str | Path = ".") -> dict[str, TenantConfig]:
    """Load every stack of the project and check the fleet; one ConfigError lists every problem found."""
    configs: dict[str, TenantConfig] = {}
    issues: list[ConfigIssue] = []
    for path in discover_stacks(project_dir):
        try:
            configs[stack_name_of(path)] = load_stack_file(path)
        except ConfigError as exc:
            issues.extend(exc.issues)
    issues.extend(validate_fleet(configs))
    if issues:
        raise ConfigError(issues)
    return configs
