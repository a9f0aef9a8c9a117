"""Every name and default that more than one module of btp-infra needs, defined once.

Owns: the Pulumi project and config namespace with its keys, the stable Pulumi resource names, the type tokens
in state, Kubernetes labels and system namespaces, Service Manager labels and object names, the operator
plan and credential types, the operator Secret's names, labels and keys, the secret-envelope signature,
default timeouts, and the grammars two modules check (GUID, keyring profile, duration).

Stdlib only, so that every layer can import it — the BTP clients, the config model, the providers, the
policy pack (which must start without the rest of btp-infra's dependencies) and the offline tools. A name
used by one module only stays in that module.
"""

from __future__ import annotations

import hashlib
import math
import re
from typing import Final

__all__ = [
    "BEHAVIOUR_KEYS",
    "CONFIG_CIS_KEY",
    "CONFIG_CREDENTIAL_ROTATION",
    "CONFIG_KEYRING_PROFILE",
    "CONFIG_NAMESPACE",
    "CREDENTIAL_ROTATION_MAX",
    "CREDENTIAL_ROTATION_RE",
    "CREDENTIAL_TYPES",
    "DEFAULT_CREDENTIAL_TYPE",
    "DEFAULT_MANAGEMENT_NAMESPACE",
    "DEFAULT_TIMEOUTS",
    "DYNAMIC_TYPE_PREFIX",
    "GUID_RE",
    "IDENTITY_CHANGE_KEY",
    "KEYRING_PROFILE_RE",
    "LABEL_ENVIRONMENT",
    "LABEL_ISTIO_INJECTION",
    "LABEL_MANAGED_BY",
    "LABEL_OPERATOR_CONFIG",
    "LABEL_OPERATOR_MANAGED",
    "LABEL_SUBACCOUNT",
    "LABEL_TENANT",
    "MANAGED_BY_VALUE",
    "MAX_DURATION_SECONDS",
    "OPERATOR_API_GROUP",
    "OPERATOR_API_VERSION",
    "OPERATOR_BINDING_PLURAL",
    "OPERATOR_FINALIZER",
    "OPERATOR_INSTANCE_PLURAL",
    "OPERATOR_OFFERING",
    "OPERATOR_PLAN",
    "OPERATOR_SECRET_BASE_NAME",
    "OPERATOR_SECRET_CERT_KEY",
    "OPERATOR_SECRET_VALUE_KEYS",
    "PRODUCTION_ENVIRONMENT",
    "PROJECT",
    "PROVIDER_KEY",
    "RESERVED_NAMESPACE_PREFIX",
    "ROLLBACK_TIMEOUT",
    "SECRET_SIG_KEY",
    "SECRET_SIG_VALUE",
    "SM_ADMIN_BINDING_NAME",
    "SM_ADMIN_INSTANCE_NAME",
    "SM_MANAGED_BY_LABEL",
    "SM_TENANT_LABEL",
    "SUBACCOUNT_TIMEOUT",
    "SUBDOMAIN_MAX_LENGTH",
    "SUBDOMAIN_RE",
    "SYSTEM_NAMESPACES",
    "TEMPORARY_ACCESS_TIMEOUT",
    "TENANT_RESOURCE",
    "TOKEN_URL_SUFFIX",
    "TYPE_ENTITLEMENT",
    "TYPE_KUBERNETES_PROVIDER",
    "TYPE_LIMIT_RANGE",
    "TYPE_NAMESPACE",
    "TYPE_RESOURCE_QUOTA",
    "TYPE_SECRET",
    "TYPE_SERVICE_BINDING",
    "TYPE_SERVICE_INSTANCE",
    "TYPE_SM_ACCESS",
    "TYPE_SUBACCOUNT",
    "TYPE_SUBACCOUNT_LIFECYCLE",
    "TYPE_TENANT_NAMESPACE",
    "binding_name",
    "config_key",
    "default_subdomain",
    "instance_name",
    "is_system_namespace",
    "parse_duration",
]

# ---- Pulumi project, config and state --------------------------------------------------------------

PROJECT: Final = "btp-infra"
"""The Pulumi project name (``Pulumi.yaml``)."""
CONFIG_NAMESPACE: Final = PROJECT
"""The Pulumi *config* namespace of every btp-infra key (``btp-infra:<key>``; not a Kubernetes namespace)."""


def config_key(key: str) -> str:
    """The namespaced config key: ``config_key("namespace") == "btp-infra:namespace"``."""
    return f"{CONFIG_NAMESPACE}:{key}"


CONFIG_CIS_KEY: Final = config_key("cisServiceKey")
CONFIG_KEYRING_PROFILE: Final = config_key("keyringProfile")

TENANT_RESOURCE: Final = "tenant"
"""The Pulumi name of a stack's ``TenantNamespace`` component (children: ``tenant-<role>``). Constant, so
that no config value (the namespace) is part of any URN: a changed value is a diff, never a new resource."""

PROVIDER_KEY: Final = "__provider"
"""The input under which a dynamic resource stores its pickled provider (``pulumi.dynamic.Resource``)."""
DYNAMIC_TYPE_PREFIX: Final = "pulumi-python:dynamic/"
"""Type tokens of Python dynamic resources: ``pulumi-python:dynamic/<module>:<name>``."""

# Type tokens in state (the dynamic ones come from ``Resource(module="btp", name=...)``).
TYPE_TENANT_NAMESPACE: Final = f"{PROJECT}:index:TenantNamespace"
TYPE_SUBACCOUNT: Final = DYNAMIC_TYPE_PREFIX + "btp:SubaccountCheck"
TYPE_ENTITLEMENT: Final = DYNAMIC_TYPE_PREFIX + "btp:SubaccountEntitlement"
TYPE_SM_ACCESS: Final = DYNAMIC_TYPE_PREFIX + "btp:ServiceManagerAccess"
TYPE_SERVICE_INSTANCE: Final = DYNAMIC_TYPE_PREFIX + "btp:ServiceInstance"
TYPE_SERVICE_BINDING: Final = DYNAMIC_TYPE_PREFIX + "btp:ServiceBinding"
TYPE_KUBERNETES_PROVIDER: Final = "pulumi:providers:kubernetes"
TYPE_NAMESPACE: Final = "kubernetes:core/v1:Namespace"
TYPE_SECRET: Final = "kubernetes:core/v1:Secret"
TYPE_RESOURCE_QUOTA: Final = "kubernetes:core/v1:ResourceQuota"
TYPE_LIMIT_RANGE: Final = "kubernetes:core/v1:LimitRange"

SECRET_SIG_KEY: Final = "4dabf18193072939515e22adb298388d"
"""The key that marks a special value on the Pulumi wire (``pulumi.runtime.rpc._special_sig_key``)."""
SECRET_SIG_VALUE: Final = "1b47061264138c4ac30d75fd1eb44270"
"""Its value for a secret (``rpc._special_secret_sig``); a secret on the wire is
``{SECRET_SIG_KEY: SECRET_SIG_VALUE, "value": …}``."""

# ---- Kubernetes ------------------------------------------------------------------------------------

SYSTEM_NAMESPACES: Final[frozenset[str]] = frozenset(
    {
        "default",
        "kube-system",
        "kube-public",
        "kube-node-lease",
        "kyma-system",
        "kyma-integration",
        "istio-system",
        "compass-system",
    }
)
"""Namespaces owned by Kubernetes, Kyma, Compass or Istio. Any ``kube-*`` name is reserved as well."""
RESERVED_NAMESPACE_PREFIX: Final = "kube-"
"""The prefix Kubernetes reserves for its own namespaces."""
DEFAULT_MANAGEMENT_NAMESPACE: Final = "kyma-system"
"""The SAP BTP service operator's management namespace on Kyma (btp-api.md §A.1)."""


def is_system_namespace(name: str, additional: frozenset[str] | set[str] = frozenset()) -> bool:
    """Whether ``name`` is a system namespace (or one of ``additional``) or has the reserved prefix."""
    return name in SYSTEM_NAMESPACES or name in additional or name.startswith(RESERVED_NAMESPACE_PREFIX)


# Labels btp-infra puts on every tenant namespace.
LABEL_ISTIO_INJECTION: Final = "istio-injection"
LABEL_TENANT: Final = "btp-infra.io/tenant"
LABEL_SUBACCOUNT: Final = "btp-infra.io/subaccount"
LABEL_MANAGED_BY: Final = "app.kubernetes.io/managed-by"
MANAGED_BY_VALUE: Final = PROJECT
LABEL_ENVIRONMENT: Final = "environment"
"""The tenant label (``btp-infra:labels``) that marks a tenant's environment; ``production`` gates deploys."""
PRODUCTION_ENVIRONMENT: Final = "production"

# The operator credentials Secret (btp-api.md §A.1).
OPERATOR_SECRET_BASE_NAME: Final = "sap-btp-service-operator"
LABEL_OPERATOR_CONFIG: Final = "services.cloud.sap.com/config"
LABEL_OPERATOR_MANAGED: Final = "services.cloud.sap.com/managed-by-sap-btp-operator"
TOKEN_URL_SUFFIX: Final = "/oauth/token"
OPERATOR_SECRET_VALUE_KEYS: Final = frozenset({"clientsecret", "tls.key", "tls.crt"})
"""Keys of the operator Secret whose values are credentials."""

# ---- BTP and Service Manager -----------------------------------------------------------------------

OPERATOR_OFFERING: Final = "service-manager"
OPERATOR_PLAN: Final = "service-operator-access"
CREDENTIAL_TYPES: Final = ("client-secret", "x509")
"""Credential types of the operator-access binding (btp-api.md §B.1)."""
DEFAULT_CREDENTIAL_TYPE: Final = "client-secret"

SM_MANAGED_BY_LABEL: Final = "btp-infra.managed-by"
"""Label on every SM instance and binding btp-infra creates (SM label keys allow ``[A-Za-z0-9._-]`` only)."""
SM_TENANT_LABEL: Final = "btp-infra.tenant"


def instance_name(namespace: str) -> str:
    """Service Manager name of a tenant's ``service-operator-access`` instance."""
    return f"{PROJECT}-{namespace}-operator-access"


def binding_name(namespace: str, credential_type: str, rotation: str | None = None) -> str:
    """Service Manager name of the operator binding on that instance (one per credential type), and per
    rotation key (``btp-infra:credentialRotation``, :data:`CREDENTIAL_ROTATION_RE`) when one is set. Without a
    key the name is the one stacks made before rotation existed have, so they see no replacement."""
    base = f"{instance_name(namespace)}-{credential_type}"
    return f"{base}-{rotation}" if rotation else base


GUID_RE: Final = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.IGNORECASE)
"""A BTP GUID (subaccount IDs); use with ``fullmatch``."""

# ---- Behaviour -------------------------------------------------------------------------------------

DEFAULT_TIMEOUTS: Final[dict[str, int]] = {
    "entitlement": 1200,
    "adminAccess": 600,
    "instance": 1800,
    "binding": 600,
}
"""Seconds each operation may take (stack config ``timeouts``; the providers' defaults for state without
``timeoutSeconds``)."""
TEMPORARY_ACCESS_TIMEOUT: Final = 300.0
"""How long a borrowed (temporary) admin access may take to appear and to go again."""
ROLLBACK_TIMEOUT: Final = 300.0
"""How long undoing a failed create may take (best effort)."""
BEHAVIOUR_KEYS: Final = ("timeoutSeconds", "takeOwnership", "tenant", "adopt")
"""Dynamic-resource inputs that change how btp-infra acts, not what exists: changing one calls no API."""

KEYRING_PROFILE_RE: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
"""A keyring profile name (``btp-infra:keyringProfile``); use with ``fullmatch``."""

MAX_DURATION_SECONDS: Final = 86400
_NUMBER_RE: Final = re.compile(r"[0-9]+(?:\.[0-9]+)?")
_DURATION_RE: Final = re.compile(r"(?:[0-9]+(?:\.[0-9]+)?[hms])+")
_DURATION_PART_RE: Final = re.compile(r"([0-9]+(?:\.[0-9]+)?)([hms])")
_UNIT_SECONDS: Final = {"h": 3600.0, "m": 60.0, "s": 1.0}


def parse_duration(value: object) -> int:
    """Whole seconds (rounded up) from a number of seconds or a duration string (``90s``, ``30m``, ``1h30m``),
    from 1 second to 24 hours. :class:`ValueError` with the reason otherwise (the value is not repeated)."""
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise ValueError("must be a number of seconds or a duration string")
    if isinstance(value, str):
        text = value.strip()
        if _NUMBER_RE.fullmatch(text):
            seconds = float(text)
        elif _DURATION_RE.fullmatch(text):
            seconds = sum(float(n) * _UNIT_SECONDS[unit] for n, unit in _DURATION_PART_RE.findall(text))
        else:
            raise ValueError("is not a duration")
    elif isinstance(value, int) and abs(value) > MAX_DURATION_SECONDS:
        seconds = math.inf if value > 0 else -math.inf  # float() of a huge int raises OverflowError
    else:
        seconds = float(value)
    if math.isnan(seconds) or seconds < 1:
        raise ValueError("is shorter than 1 second")
    if seconds > MAX_DURATION_SECONDS:
        raise ValueError("is longer than 24h")
    return math.ceil(seconds)


# ---- Kubernetes access for the day-2 operations (issue 13: kube + verify) ----------------------------

OPERATOR_API_GROUP: Final = "services.cloud.sap.com"
"""The API group of the SAP BTP service operator's custom resources (ServiceInstance, ServiceBinding)."""
OPERATOR_API_VERSION: Final = "v1"
OPERATOR_INSTANCE_PLURAL: Final = "serviceinstances"
OPERATOR_BINDING_PLURAL: Final = "servicebindings"
OPERATOR_FINALIZER: Final = "services.cloud.sap.com/sap-btp-finalizer"
"""The finalizer the operator puts on its objects and removes once the BTP object is gone
(sap-btp-service-operator ``api/common``: ``FinalizerName``)."""


# ---- Credential rotation (issue 13, rotate) -------------------------------------------------------

CONFIG_CREDENTIAL_ROTATION: Final = config_key("credentialRotation")
"""The rotation key of the operator-access binding: part of the binding's name, so a new key replaces the
binding create-before-delete (``btp-infra rotate`` sets it)."""
CREDENTIAL_ROTATION_MAX: Final = 20
"""At most this many characters: the longest binding name (a 63-character namespace, x509 or client-secret)
stays within 124 characters."""
CREDENTIAL_ROTATION_RE: Final = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9._-]{0,18}[A-Za-z0-9])?")
"""A rotation key (``2026-12-02``, ``r3``, ``20261202T023808Z``): letters, digits, ``.``, ``_``, ``-``,
starting and ending with a letter or digit, at most :data:`CREDENTIAL_ROTATION_MAX` characters; use with
``fullmatch``."""
OPERATOR_SECRET_CERT_KEY: Final = "tls.crt"
"""The x509 operator Secret's key holding the certificate (whose expiry scheduled rotation checks)."""


# ---- Subaccount lifecycle (issue 14: a tenant stack creates its own subaccount) ---------------------

TYPE_SUBACCOUNT_LIFECYCLE: Final = DYNAMIC_TYPE_PREFIX + "btp:Subaccount"
"""The type token of a subaccount the tenant stack creates and owns (``SubaccountCheck`` only reads one)."""
IDENTITY_CHANGE_KEY: Final = "identityChange"
"""The checked input in which ``Subaccount.check`` records a changed subdomain or region (``{key: {"from":
old, "to": new}}``), which the policy pack's replacement rule reads."""
SUBACCOUNT_TIMEOUT: Final = 3600
"""Seconds a subaccount create or delete may take: deletion can outlive Terraform's 10 minutes
(user-pain-points.md B4), so an hour."""
SM_ADMIN_INSTANCE_NAME: Final = "ServiceManagementAccessInstance"
"""The SM instance the Accounts API's ``serviceManagementBinding`` creates in the subaccount (btp-api.md
§C.3); not a leftover of a tenant when a subaccount is about to be deleted."""
SM_ADMIN_BINDING_NAME: Final = "ServiceManagementAccessBinding"
"""Its binding (btp-api.md §C.3)."""
SUBDOMAIN_MAX_LENGTH: Final = 63
SUBDOMAIN_RE: Final = re.compile(r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?")
"""A subaccount subdomain (btp-api.md §C.3a): lower-case letters, digits and hyphens, at most 63, no hyphen at
either end; use with ``fullmatch``."""


def default_subdomain(namespace: str, prefix: str | None) -> str:
    """The subaccount subdomain of a tenant that names none: ``<prefix>-<namespace>`` (``<namespace>`` without
    a prefix), deterministic so that a re-run finds what a crashed one created. Longer than 63 characters, it
    is cut and ends in 8 hex digits of the full name's SHA-256, so two long names stay distinct."""
    full = f"{prefix}-{namespace}" if prefix else namespace
    if len(full) <= SUBDOMAIN_MAX_LENGTH:
        return full
    digest = hashlib.sha256(full.encode()).hexdigest()[:8]
    head = full[: SUBDOMAIN_MAX_LENGTH - len(digest) - 1].rstrip("-")
    return f"{head}-{digest}"
