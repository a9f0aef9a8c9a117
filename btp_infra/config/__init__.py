"""The one typed tenant config model, shared by the Pulumi program, the CLI and the offline plan.

One tenant = one Pulumi stack (``stacks/Pulumi.<tenant>.yaml``, keys in the ``btp-infra:`` namespace) = one
Kyma namespace mapped 1:1 to one SAP BTP subaccount.

Entry points (re-exported here; each lives in the module that owns its concern):

- :func:`load_stack_file` reads a stack file offline (``secure:`` values stay encrypted: "present, secret")
  — :mod:`.stackfile`;
- :func:`from_pulumi_config` takes the string values the Pulumi engine hands the program (objects and lists as
  JSON strings, booleans as ``"true"``/``"false"``, secrets decrypted) — :mod:`.engine`; this package never
  imports Pulumi;
- :func:`parse_config` validates an already-structured mapping of camelCase keys — :mod:`.validate`;
- :func:`validate_fleet` / :func:`load_fleet` check that no namespace or subaccount is mapped by two stacks
  — :mod:`.fleet`.

Every failure is a :class:`ConfigError` holding :class:`ConfigIssue` s that name the stack file, the key, the
bad value and what is valid (:mod:`.issues`). Secret values (``cisServiceKey``, ``kubeconfig``) are never
rendered (:mod:`.redaction`).

Inside the package the imports go one way: :mod:`.text`, :mod:`.yamltext`, :mod:`.keys` → :mod:`.redaction` →
:mod:`.issues` → :mod:`.grammar` → :mod:`.adopt`, :mod:`.subaccount` → :mod:`.models` → :mod:`.translate` →
:mod:`.validate` → :mod:`.stackfile`, :mod:`.layout` → :mod:`.engine`, :mod:`.fleet`. Names shared with the
rest of btp-infra come from :mod:`btp_infra.conventions` and are re-exported here for existing importers.
"""

from __future__ import annotations

from btp_infra.config.adopt import AdoptSpec
from btp_infra.config.engine import ENCRYPTED_PLACEHOLDER, engine_config, engine_values, from_pulumi_config
from btp_infra.config.fleet import cluster_of, load_fleet, validate_fleet
from btp_infra.config.grammar import parse_duration, parse_quantity
from btp_infra.config.issues import ConfigError, ConfigIssue
from btp_infra.config.keys import CONFIG_KEYS, IGNORED_KUBERNETES_KEYS, SECRET_KEYS
from btp_infra.config.layout import discover_stacks, stack_file_for, stack_name_of
from btp_infra.config.models import (
    EntitlementSpec,
    LimitRangeSpec,
    QuotaSpec,
    TenantConfig,
    Timeouts,
    X509Settings,
)
from btp_infra.config.redaction import EncryptedSecret, is_secret_key
from btp_infra.config.stackfile import load_stack_file
from btp_infra.config.validate import parse_config
from btp_infra.config.yamltext import MAX_STACK_FILE_BYTES, MAX_YAML_TEXT, MAX_YAML_VALUES, load_yaml_text
from btp_infra.conventions import (
    CONFIG_NAMESPACE,
    DEFAULT_MANAGEMENT_NAMESPACE,
    PROJECT,
    SM_MANAGED_BY_LABEL,
    SM_TENANT_LABEL,
    SYSTEM_NAMESPACES,
    TENANT_RESOURCE,
)

NAMESPACE = CONFIG_NAMESPACE
"""Alias of :data:`btp_infra.conventions.CONFIG_NAMESPACE` (the Pulumi *config* namespace, not a Kubernetes
namespace), for existing importers."""

__all__ = [
    "CONFIG_KEYS",
    "DEFAULT_MANAGEMENT_NAMESPACE",
    "ENCRYPTED_PLACEHOLDER",
    "IGNORED_KUBERNETES_KEYS",
    "MAX_STACK_FILE_BYTES",
    "MAX_YAML_TEXT",
    "MAX_YAML_VALUES",
    "NAMESPACE",
    "PROJECT",
    "SECRET_KEYS",
    "SM_MANAGED_BY_LABEL",
    "SM_TENANT_LABEL",
    "SYSTEM_NAMESPACES",
    "TENANT_RESOURCE",
    "AdoptSpec",
    "ConfigError",
    "ConfigIssue",
    "EncryptedSecret",
    "EntitlementSpec",
    "LimitRangeSpec",
    "QuotaSpec",
    "TenantConfig",
    "Timeouts",
    "X509Settings",
    "cluster_of",
    "discover_stacks",
    "engine_config",
    "engine_values",
    "from_pulumi_config",
    "is_secret_key",
    "load_fleet",
    "load_stack_file",
    "load_yaml_text",
    "parse_config",
    "parse_duration",
    "parse_quantity",
    "stack_file_for",
    "stack_name_of",
    "validate_fleet",
]
