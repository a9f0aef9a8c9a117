"""Tenant guardrail rules as plain, typed functions over plain data.

Shared by the policy pack (``policies/``, through :mod:`btp_infra.policy.policies`) and ``btp-infra plan``.
Nothing here starts the analyzer server or touches Pulumi's runtime.

Inputs are what a policy sees: resource properties as mappings with camelCase wire keys (``metadata.labels``,
``stringData``, ``serviceName``...). They may be

- the SDK's unknown-checking proxies (``Mapping``/``Sequence``, not ``dict``/``list``): reading a value that
  is unknown during preview raises ``pulumi_policy``'s ``UnknownValueError``. These functions never catch it,
  so the SDK reports its advisory "can't run policy ... during preview" instead of a wrong verdict;
- secret-wrapped: a ``pulumi_policy.Secret`` or the wire envelope ``{"4dabf1...": "1b4706...", "value": v}``
  (what :class:`~btp_infra.offline.graph.RenderedResource` inputs hold). Values are unwrapped on access.

Every function returns violation messages: what is wrong, on which resource, and how to fix it. Messages name
keys, never the values of the operator Secret (not even its URLs).
"""

from __future__ import annotations

import base64
import binascii
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from pulumi_policy import Secret

from btp_infra.catalog import OPERATOR_ACCESS
from btp_infra.conventions import (
    DEFAULT_MANAGEMENT_NAMESPACE,
    GUID_RE,
    IDENTITY_CHANGE_KEY,
    RESERVED_NAMESPACE_PREFIX,
    SECRET_SIG_KEY,
    SECRET_SIG_VALUE,
)

# Re-exported: the policies, the plan and the tests read these as ``rules.<NAME>``.
from btp_infra.conventions import LABEL_ISTIO_INJECTION as LABEL_ISTIO_INJECTION
from btp_infra.conventions import LABEL_MANAGED_BY as LABEL_MANAGED_BY
from btp_infra.conventions import LABEL_SUBACCOUNT as LABEL_SUBACCOUNT
from btp_infra.conventions import LABEL_TENANT as LABEL_TENANT
from btp_infra.conventions import MANAGED_BY_VALUE as MANAGED_BY_VALUE
from btp_infra.conventions import SYSTEM_NAMESPACES as SYSTEM_NAMESPACES
from btp_infra.conventions import TYPE_ENTITLEMENT as TYPE_ENTITLEMENT
from btp_infra.conventions import TYPE_LIMIT_RANGE as TYPE_LIMIT_RANGE
from btp_infra.conventions import TYPE_NAMESPACE as TYPE_NAMESPACE
from btp_infra.conventions import TYPE_RESOURCE_QUOTA as TYPE_RESOURCE_QUOTA
from btp_infra.conventions import TYPE_SECRET as TYPE_SECRET
from btp_infra.conventions import TYPE_SERVICE_BINDING as TYPE_SERVICE_BINDING
from btp_infra.conventions import TYPE_SERVICE_INSTANCE as TYPE_SERVICE_INSTANCE
from btp_infra.conventions import TYPE_SM_ACCESS as TYPE_SM_ACCESS
from btp_infra.conventions import TYPE_SUBACCOUNT as TYPE_SUBACCOUNT
from btp_infra.conventions import TYPE_SUBACCOUNT_LIFECYCLE as TYPE_SUBACCOUNT_LIFECYCLE
from btp_infra.operator_secret import (
    LABEL_MANAGED_BY_OPERATOR,
    REQUIRED_KEYS,
    SECRET_BASE_NAME,
    SECRET_LABELS,
    TOKEN_URL_SUFFIX,
    secret_name,
)

#: Where the SAP BTP service operator looks for ``<ns>-sap-btp-service-operator`` on Kyma (btp-api.md §A.1).
DEFAULT_MANAGEMENT_NAMESPACES: tuple[str, ...] = (DEFAULT_MANAGEMENT_NAMESPACE,)
PLACEMENTS: tuple[str, ...] = ("namespace", "management")

#: The prefix Kubernetes reserves (:data:`btp_infra.conventions.RESERVED_NAMESPACE_PREFIX`).
RESERVED_PREFIX = RESERVED_NAMESPACE_PREFIX

#: Hosts for which plain http is accepted (the local sandbox; the same rule as for cis service keys).
LOOPBACK_HOSTS: frozenset[str] = frozenset({"127.0.0.1", "localhost", "::1"})


# --------------------------------------------------------------------------------------------------
# Reading values (secret-aware; unknown values raise through)
# --------------------------------------------------------------------------------------------------


def plain(value: Any) -> Any:
    """``value`` with secret wrapping removed (``pulumi_policy.Secret`` or the wire envelope), one level."""
    while True:
        if isinstance(value, Secret):
            value = value.value
        elif (
            isinstance(value, Mapping)
            and SECRET_SIG_KEY in value
            and value[SECRET_SIG_KEY] == SECRET_SIG_VALUE
        ):
            value = value["value"]
        else:
            return value


def _is_secret_envelope(value: Any) -> bool:
    """Whether ``value`` is the wire form of a secret: ``{SECRET_SIG_KEY: SECRET_SIG_VALUE, "value": v}``."""
    return (
        isinstance(value, Mapping) and SECRET_SIG_KEY in value and value[SECRET_SIG_KEY] == SECRET_SIG_VALUE
    )


def get(props: Any, *path: str) -> Any:
    """The plain value at ``path`` (e.g. ``"metadata", "name"``), or None when any step is missing."""
    value = plain(props)
    for key in path:
        if not isinstance(value, Mapping):
            return None
        value = plain(value.get(key))
    return value


def get_str(props: Any, *path: str) -> str | None:
    """The string at ``path``, or None when missing or not a string."""
    value = get(props, *path)
    return value if isinstance(value, str) else None


def label(props: Any, key: str) -> str | None:
    """One ``metadata.labels`` value (only this label is read, so unrelated unknown labels don't matter)."""
    return get_str(props, "metadata", "labels", key)


def as_mapping(value: Any) -> Mapping[str, Any]:
    """``value`` unwrapped if it is a mapping, else an empty mapping."""
    value = plain(value)
    return value if isinstance(value, Mapping) else {}


def string_list(value: Any) -> list[str]:
    """A list of strings out of a sequence (non-strings dropped); a bare string is not a list."""
    value = plain(value)
    if isinstance(value, str) or not isinstance(value, Sequence):
        return []
    return [v for v in (plain(item) for item in value) if isinstance(v, str)]


# --------------------------------------------------------------------------------------------------
# Tenant namespaces
# --------------------------------------------------------------------------------------------------


def is_tenant_namespace(props: Any) -> bool:
    """True for a namespace registered by btp-infra (managed-by or tenant label); others are not ours."""
    return label(props, LABEL_MANAGED_BY) == MANAGED_BY_VALUE or label(props, LABEL_TENANT) is not None


def namespace_name(name: str, props: Any) -> str:
    """``metadata.name``, falling back to the Pulumi resource name."""
    return get_str(props, "metadata", "name") or name


def check_namespace_labels(name: str, props: Any, *, required_labels: Iterable[str] = ()) -> list[str]:
    """A tenant namespace carries ``istio-injection: enabled`` and its tenant/subaccount/managed-by labels."""
    ns = namespace_name(name, props)
    where = f"Namespace '{ns}'"
    problems: list[str] = []
    istio = label(props, LABEL_ISTIO_INJECTION)
    if istio != "enabled":
        found = "is missing" if istio is None else f"is {istio!r}"
        problems.append(
            f"{where}: label {LABEL_ISTIO_INJECTION} {found}. Kyma injects Istio sidecars only into "
            f"namespaces labelled {LABEL_ISTIO_INJECTION}=enabled while the mesh enforces STRICT mTLS, so "
            f"the tenant's pods could not talk to the mesh. Fix: label it {LABEL_ISTIO_INJECTION}: enabled "
            "(btp-infra sets it; remove any override of it from the stack's namespace labels)."
        )
    tenant = label(props, LABEL_TENANT)
    if tenant != ns:
        found = "is missing" if tenant is None else f"is {tenant!r}"
        problems.append(
            f"{where}: label {LABEL_TENANT} {found}; it must name the namespace itself ({ns!r}) so the "
            "tenant's resources, its operator Secret and cost reports can be traced to it. Fix: label it "
            f"{LABEL_TENANT}: {ns} (btp-infra sets it; do not override it in the namespace labels)."
        )
    subaccount = label(props, LABEL_SUBACCOUNT)
    if subaccount is None or not GUID_RE.fullmatch(subaccount):
        found = "is missing" if subaccount is None else f"is {subaccount!r}, not a subaccount GUID"
        problems.append(
            f"{where}: label {LABEL_SUBACCOUNT} {found}; it records which BTP subaccount the namespace is "
            f"mapped to. Fix: label it {LABEL_SUBACCOUNT}: <subaccount GUID> (btp-infra sets it from "
            "btp-infra:subaccountId)."
        )
    managed_by = label(props, LABEL_MANAGED_BY)
    if managed_by != MANAGED_BY_VALUE:
        found = "is missing" if managed_by is None else f"is {managed_by!r}"
        problems.append(
            f"{where}: label {LABEL_MANAGED_BY} {found}. Fix: label it {LABEL_MANAGED_BY}: "
            f"{MANAGED_BY_VALUE} so tools (and these policies) recognise it as a btp-infra tenant namespace."
        )
    for key in required_labels:
        value = label(props, key)
        if value is None or not value.strip():
            problems.append(
                f"{where}: label {key} is required by the policy configuration (requiredLabels) but is "
                "missing or empty. Fix: add it to the stack's namespace labels."
            )
    return problems


def check_namespace_not_system(
    name: str, props: Any, *, extra_system_namespaces: Iterable[str] = ()
) -> list[str]:
    """A tenant namespace is never a Kubernetes, Kyma or Istio system namespace."""
    ns = namespace_name(name, props)
    system = SYSTEM_NAMESPACES | frozenset(extra_system_namespaces)
    if ns not in system and not ns.startswith(RESERVED_PREFIX):
        return []
    why = "is reserved by Kubernetes (kube-*)" if ns.startswith(RESERVED_PREFIX) else "is a system namespace"
    return [
        f"Namespace '{ns}' {why}. Mapping it to a tenant subaccount would send the platform's own service "
        "instances to the tenant's subaccount (or the tenant's to the cluster's), and destroying the "
        "tenant would delete it. Fix: give the tenant a namespace of its own (btp-infra:namespace)."
    ]


def check_namespace_protected(name: str, props: Any, *, protect: bool) -> list[str]:
    """A tenant namespace should be ``protect``ed: deleting it deletes every workload and service in it."""
    if protect:
        return []
    ns = namespace_name(name, props)
    return [
        f"Namespace '{ns}' is not protected: a destroy or an accidental rename would delete it with every "
        "workload, ServiceInstance and ServiceBinding in it. Fix: set btp-infra:protect: true in the stack "
        "file (offboarding then removes it deliberately)."
    ]


# --------------------------------------------------------------------------------------------------
# The operator Secret
# --------------------------------------------------------------------------------------------------


def is_operator_secret(props: Any) -> bool:
    """True for a Secret the SAP BTP service operator resolves credentials from (by name, btp-api.md §A.1).

    ``sap-btp-service-operator``, ``<ns>-sap-btp-service-operator``, or any Secret carrying both the tenant
    label and the operator's ``managed-by-sap-btp-operator`` label.
    """
    name = get_str(props, "metadata", "name") or ""
    if name == SECRET_BASE_NAME or name.endswith(f"-{SECRET_BASE_NAME}"):
        return True
    return label(props, LABEL_TENANT) is not None and label(props, LABEL_MANAGED_BY_OPERATOR) is not None


def secret_entries(props: Any) -> tuple[dict[str, str | None], list[str]]:
    """The Secret's keys with their plain string values (``stringData`` over base64 ``data``), plus problems.

    A value is None when it cannot be read as text; the problem names the key, never the value.
    """
    entries: dict[str, str | None] = {}
    problems: list[str] = []
    data = as_mapping(get(props, "data"))
    for key in data:
        raw = plain(data[key])
        if not isinstance(raw, str):
            entries[key] = None
            problems.append(f"data.{key} is not a base64 string")
            continue
        try:
            entries[key] = base64.b64decode(raw, validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            entries[key] = None
            problems.append(f"data.{key} is not valid base64-encoded UTF-8")
    string_data = as_mapping(get(props, "stringData"))
    for key in string_data:
        value = plain(string_data[key])
        entries[key] = value if isinstance(value, str) else None
        if not isinstance(value, str):
            problems.append(f"stringData.{key} is not a string")
    return entries, problems


def secret_credential_type(keys: Iterable[str]) -> str:
    """``x509`` when the Secret carries TLS keys, else ``client-secret`` (the operator's own choice, §A.2)."""
    present = set(keys)
    return "x509" if {"tls.crt", "tls.key"} & present else "client-secret"


def check_operator_secret(
    name: str,
    props: Any,
    *,
    management_namespaces: Iterable[str] = DEFAULT_MANAGEMENT_NAMESPACES,
    allowed_placements: Iterable[str] = PLACEMENTS,
) -> list[str]:
    """The operator Secret: name for its placement, labels, keys of its credential type, token URL, https."""
    secret = get_str(props, "metadata", "name") or name
    ns = get_str(props, "metadata", "namespace")
    tenant = label(props, LABEL_TENANT)
    where = f"Secret '{ns or '?'}/{secret}'"
    placements = tuple(allowed_placements)
    problems = _secret_placement_problems(where, secret, ns, tenant, tuple(management_namespaces), placements)
    problems += _secret_label_problems(where, props, tenant)
    entries, decode_problems = secret_entries(props)
    problems += [f"{where}: {p}. Fix: write the key as text under stringData." for p in decode_problems]
    problems += _secret_key_problems(where, entries)
    problems += _secret_url_problems(where, entries)
    return problems


def _secret_placement_problems(
    where: str,
    secret: str,
    ns: str | None,
    tenant: str | None,
    management: tuple[str, ...],
    placements: tuple[str, ...],
) -> list[str]:
    """Placement and name: the operator looks its Secret up by name, in the tenant or management namespace."""
    if ns is None:
        return [
            f"{where}: metadata.namespace is not set, so the Secret lands in the provider's default "
            "namespace where the operator never looks. Fix: place it in the tenant namespace or the "
            "management namespace (btp-infra:secretPlacement)."
        ]
    if ns in management:
        return _management_placement_problems(where, secret, ns, tenant, placements)
    if tenant is not None and ns == tenant:
        return _namespace_placement_problems(where, secret, tenant, placements)
    return [
        f"{where}: namespace '{ns}' is neither the tenant namespace "
        f"({tenant or 'unknown: no tenant label'}) nor a management namespace "
        f"({', '.join(management) or 'none configured'}); the operator never looks there. Fix: use "
        "btp-infra:secretPlacement namespace or management, or add the namespace to the policy's "
        "managementNamespaces if the operator's MANAGEMENT_NAMESPACE was moved."
    ]


def _management_placement_problems(
    where: str, secret: str, ns: str, tenant: str | None, placements: tuple[str, ...]
) -> list[str]:
    """A Secret in a management namespace: ``<tenant>-sap-btp-service-operator``, never the cluster's own."""
    problems: list[str] = []
    owner = tenant or (
        secret[: -len(SECRET_BASE_NAME) - 1] if secret.endswith(f"-{SECRET_BASE_NAME}") else ""
    )
    if secret == SECRET_BASE_NAME:
        problems.append(
            f"{where} is the cluster-wide default credentials Secret, owned and rewritten by Kyma's "
            "btp-manager; a tenant must never replace it. Fix: name the tenant's Secret "
            f"'<namespace>-{SECRET_BASE_NAME}' in {ns}."
        )
    elif owner and secret != secret_name(owner, "management"):
        problems.append(
            f"{where}: in the management namespace the operator looks for "
            f"'{secret_name(owner, 'management')}' (prefix, not suffix), so this Secret is never used "
            "and the tenant silently falls back to the cluster's own subaccount. Fix: rename it to "
            f"'{secret_name(owner, 'management')}'."
        )
    if "management" not in placements:
        problems.append(
            f"{where}: placement 'management' is not allowed by the policy configuration "
            f"(allowedPlacements: {', '.join(placements)}). Fix: set btp-infra:secretPlacement "
            "accordingly."
        )
    return problems


def _namespace_placement_problems(
    where: str, secret: str, tenant: str, placements: tuple[str, ...]
) -> list[str]:
    """A Secret in the tenant namespace: named ``sap-btp-service-operator``."""
    problems: list[str] = []
    if secret != secret_name(tenant, "namespace"):
        problems.append(
            f"{where}: inside the tenant namespace the operator looks for '{SECRET_BASE_NAME}' only, so "
            "this Secret is never used and the tenant silently falls back to the cluster's own "
            f"subaccount. Fix: rename it to '{SECRET_BASE_NAME}'."
        )
    if "namespace" not in placements:
        problems.append(
            f"{where}: placement 'namespace' is not allowed by the policy configuration "
            f"(allowedPlacements: {', '.join(placements)}); Kyma documents the management namespace "
            "variant. Fix: set btp-infra:secretPlacement: management."
        )
    return problems


def _secret_label_problems(where: str, props: Any, tenant: str | None) -> list[str]:
    """The operator's labels with their values, and a non-empty tenant label."""
    problems: list[str] = []
    for key, value in SECRET_LABELS.items():
        if key == LABEL_TENANT:
            continue  # checked below: any non-empty value (the namespace is checked by placement)
        found = label(props, key)
        if found != value:
            state = "is missing" if found is None else f"is {found!r}"
            problems.append(f"{where}: label {key} {state}. Fix: label it {key}: {value!r}.")
    if tenant is None or not tenant.strip():
        problems.append(
            f"{where}: label {LABEL_TENANT} is missing; it ties the Secret to its tenant namespace. "
            f"Fix: label it {LABEL_TENANT}: <namespace>."
        )
    return problems


def _secret_key_problems(where: str, entries: Mapping[str, str | None]) -> list[str]:
    """The keys of one credential type, complete (btp-api.md §A.2), and the token URL split as the operator
    joins it (``tokenurl + tokenurlsuffix``)."""
    problems: list[str] = []
    keys = {k for k, v in entries.items() if v is not None and v.strip()}
    if "clientsecret" in keys and {"tls.crt", "tls.key"} & keys:
        problems.append(
            f"{where}: carries both clientsecret and tls.crt/tls.key; the operator then ignores the "
            "certificate. Fix: keep the keys of one credential type only (btp-infra:credentialType)."
        )
    ctype = secret_credential_type(keys)
    missing = [k for k in REQUIRED_KEYS[ctype] if k not in keys]
    if missing:
        problems.append(
            f"{where}: missing or empty key(s) {', '.join(missing)} required for {ctype} credentials; the "
            "operator rejects the Secret as 'invalid Service-Manager credentials'. Fix: map the "
            "service-operator-access binding's credentials completely (clientid, sm_url, "
            "tokenurl=url/certurl, tokenurlsuffix, and clientsecret or tls.crt+tls.key)."
        )
    suffix = entries.get("tokenurlsuffix")
    if "tokenurlsuffix" in keys and suffix != TOKEN_URL_SUFFIX:
        problems.append(
            f"{where}: tokenurlsuffix is not {TOKEN_URL_SUFFIX!r}; the operator requests tokens from "
            f"tokenurl + tokenurlsuffix. Fix: set tokenurlsuffix: {TOKEN_URL_SUFFIX}."
        )
    token_url = entries.get("tokenurl")
    if token_url and token_url.rstrip("/").endswith(TOKEN_URL_SUFFIX):
        problems.append(
            f"{where}: tokenurl already ends with {TOKEN_URL_SUFFIX}; the operator appends tokenurlsuffix "
            f"verbatim and would call .../oauth/token{TOKEN_URL_SUFFIX}. Fix: set tokenurl to the bare auth "
            "URL (the binding's url, or certurl for x509)."
        )
    return problems


def _secret_url_problems(where: str, entries: Mapping[str, str | None]) -> list[str]:
    """``sm_url`` and ``tokenurl`` over https (plain http only to the loopback address: the sandbox)."""
    problems: list[str] = []
    for key in ("sm_url", "tokenurl"):
        url = entries.get(key)
        if not url:
            continue
        parts = urlsplit(url.strip())
        if parts.scheme == "http" and parts.hostname in LOOPBACK_HOSTS:
            continue  # never leaves the machine: the local sandbox (btp-infra sandbox serve)
        if parts.scheme != "https" or not parts.hostname:
            scheme = f"scheme {parts.scheme!r}" if parts.scheme else "no scheme"
            problems.append(
                f"{where}: {key} is not an https URL ({scheme}); credentials must only travel over TLS "
                "(plain http only to the loopback address). "
                f"Fix: use the https URL from the binding for {key}."
            )
    return problems


# --------------------------------------------------------------------------------------------------
# Entitlements
# --------------------------------------------------------------------------------------------------


def plan_allowed(service: str, plan: str, allowed_plans: Iterable[str]) -> bool:
    """``service/plan`` is on the allow-list (``service/plan`` or ``service/*``); an empty list allows all.

    The operator's own plan (``service-manager/service-operator-access``) is always allowed: btp-infra needs
    it for every tenant.
    """
    allowed = set(allowed_plans)
    if not allowed or (service, plan) == OPERATOR_ACCESS:
        return True
    return f"{service}/{plan}" in allowed or f"{service}/*" in allowed


def check_entitlement_allowed(name: str, props: Any, *, allowed_plans: Iterable[str] = ()) -> list[str]:
    """A ``SubaccountEntitlement`` entitles only plans on the allow-list (empty list = allow all)."""
    allowed = list(allowed_plans)
    service = get_str(props, "serviceName")
    plan = get_str(props, "planName")
    if not service or not plan:
        return [
            f"SubaccountEntitlement '{name}': serviceName and planName must be non-empty strings. Fix: "
            "write each entitlement as service/plan in btp-infra:entitlements."
        ]
    if plan_allowed(service, plan, allowed):
        return []
    return [
        f"SubaccountEntitlement '{name}': plan {service}/{plan} is not on the allow-list "
        f"({', '.join(sorted(allowed))}). Fix: remove it from btp-infra:entitlements, or add "
        f"'{service}/{plan}' (or '{service}/*') to the policy's allowedPlans after review."
    ]


def check_subaccount_exclusive(name: str, props: Any) -> list[str]:
    """A ``ServiceManagerAccess`` finds only its own tenant's btp-infra objects in the subaccount.

    ``tenants`` is an output (what the provider found at create and at every refresh); unknown in a preview
    of a new stack, where ``pulumi up`` itself refuses a claimed subaccount before writing anything.
    """
    tenant = get_str(props, "tenant")
    found = plain(get(props, "tenants"))
    if not tenant or not isinstance(found, list):
        return []
    others = sorted(str(t) for t in found if isinstance(t, str) and t != tenant)
    if not others:
        return []
    subaccount = get_str(props, "subaccountId") or "?"
    return [
        f"ServiceManagerAccess '{name}': subaccount {subaccount} also serves tenant namespace(s) "
        f"{', '.join(others)} besides '{tenant}': one subaccount must serve exactly one tenant namespace, or "
        "one tenant's operator provisions into another's subaccount. Fix: give one of the stacks a "
        "subaccount of its own (btp-infra:subaccountId) and offboard it from this one."
    ]


#: Both kinds of a tenant's subaccount resource: read-only (``SubaccountCheck``) and created (``Subaccount``).
SUBACCOUNT_TYPES: tuple[str, ...] = (TYPE_SUBACCOUNT, TYPE_SUBACCOUNT_LIFECYCLE)


def check_subaccount_replacement(name: str, props: Any) -> list[str]:
    """A ``Subaccount`` the stack created is not replaced (subdomain or region changed) unless allowed.

    Replacing deletes the tenant's subaccount with everything in it and creates an empty one: the provider's
    ``check`` records the change under ``identityChange`` in the checked inputs, which are what the engine
    hands the analyzers (``step_generator.go``: ``generateSteps``, ``analyzeAll``); ``allowReplacement`` is
    ``btp-infra:allowSubaccountReplacement``.
    """
    change = get(props, IDENTITY_CHANGE_KEY)
    if not isinstance(change, Mapping) or not change or get(props, "allowReplacement") is True:
        return []
    parts = []
    for key in sorted(change):
        entry = as_mapping(plain(change[key]))
        parts.append(f"{key} {plain(entry.get('from'))!r} → {plain(entry.get('to'))!r}")
    return [
        f"Subaccount '{name}': {', '.join(parts)} replaces the tenant's subaccount — the old one is deleted "
        "with its Service Manager instances, bindings and entitlements, and an empty one is created "
        "(subdomain and region cannot change in place). Fix: restore btp-infra:subaccount's subdomain and "
        "region, or, if the tenant is meant to move, set btp-infra:allowSubaccountReplacement: true."
    ]


#: Service Manager's default x509 binding validity (btp-api.md §B.1), in days.
X509_DEFAULT_VALIDITY_DAYS = 7
_VALIDITY_DAYS: dict[str, float] = {
    "MINUTES": 1 / 1440,
    "HOURS": 1 / 24,
    "DAYS": 1,
    "MONTHS": 30,
    "YEARS": 365,
}


def check_x509_validity(name: str, props: Any, *, min_days: int = X509_DEFAULT_VALIDITY_DAYS) -> list[str]:
    """An x509 ``ServiceBinding``'s certificate lives at least ``min_days`` (its ``parameters.x509``; unset =
    Service Manager's 7 days). A shorter one expires before most rotations, and the operator stops working."""
    if get_str(props, "credentialType") != "x509":
        return []
    x509 = get(props, "parameters", "x509")
    if not isinstance(x509, Mapping):
        days: float = X509_DEFAULT_VALIDITY_DAYS
    else:
        validity = plain(x509.get("validity", X509_DEFAULT_VALIDITY_DAYS))
        unit = plain(x509.get("validity-type", "DAYS"))
        if isinstance(validity, bool) or not isinstance(validity, int | float) or unit not in _VALIDITY_DAYS:
            return []  # Service Manager refuses it; not this rule's business
        days = validity * _VALIDITY_DAYS[str(unit)]
    if days >= min_days:
        return []
    return [
        f"ServiceBinding '{name}': the x509 certificate is valid for {days:g} day(s), less than {min_days}: "
        "the operator's credentials expire before a weekly rotation and the tenant stops provisioning. "
        "Fix: set "
        f"btp-infra:x509: {{validity: {min_days}d}} or more, and rotate the binding before it expires."
    ]


# --------------------------------------------------------------------------------------------------
# Stack rules: over every resource of one stack
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class StackResource:
    """One resource as a stack rule sees it (props are the resource's outputs)."""

    type: str
    name: str
    urn: str
    props: Any
    parent: str | None = None
    dependencies: tuple[str, ...] = ()
    protect: bool = False


@dataclass(frozen=True)
class StackViolation:
    """A stack rule's finding, attached to a resource URN when one is to blame."""

    message: str
    urn: str | None = None


def _tenant_namespaces(resources: Sequence[StackResource]) -> list[tuple[str, StackResource]]:
    return [
        (namespace_name(r.name, r.props), r)
        for r in resources
        if r.type == TYPE_NAMESPACE and is_tenant_namespace(r.props)
    ]


def check_mapping_unique(resources: Sequence[StackResource]) -> list[StackViolation]:
    """One namespace ↔ one subaccount, each mapped exactly once, and both sides of a tenant agree."""
    found: list[StackViolation] = []
    namespaces = _tenant_namespaces(resources)
    by_name: dict[str, list[StackResource]] = defaultdict(list)
    by_subaccount: dict[str, list[str]] = defaultdict(list)
    for ns, r in namespaces:
        by_name[ns].append(r)
        subaccount = label(r.props, LABEL_SUBACCOUNT)
        if subaccount:
            by_subaccount[subaccount].append(ns)
    for ns, regs in by_name.items():
        if len(regs) > 1:
            found.append(
                StackViolation(
                    f"Namespace '{ns}' is registered {len(regs)} times in this stack "
                    f"({', '.join(r.name for r in regs)}); one namespace maps to exactly one subaccount. "
                    "Fix: keep one TenantNamespace per stack.",
                    regs[1].urn,
                )
            )
    for subaccount, names in by_subaccount.items():
        if len(set(names)) > 1:
            found.append(
                StackViolation(
                    f"Subaccount {subaccount} is mapped to {len(set(names))} namespaces "
                    f"({', '.join(sorted(set(names)))}); the operator would provision all of them into one "
                    "subaccount. Fix: give each namespace its own subaccount (btp-infra:subaccountId)."
                )
            )
    checks: dict[str, list[StackResource]] = defaultdict(list)
    for r in resources:
        if r.type in SUBACCOUNT_TYPES:
            sid = get_str(r.props, "subaccountId")
            if sid:
                checks[sid].append(r)
    for sid, regs in checks.items():
        if len(regs) > 1:
            found.append(
                StackViolation(
                    f"Subaccount {sid} is checked by {len(regs)} "
                    f"{'SubaccountCheck' if all(r.type == TYPE_SUBACCOUNT for r in regs) else 'subaccount'} "
                    "resources "
                    f"({', '.join(r.name for r in regs)}); a subaccount belongs to exactly one tenant. Fix: "
                    "keep one TenantNamespace per stack.",
                    regs[1].urn,
                )
            )
    # Within one TenantNamespace, the namespace label and the BTP side name the same subaccount.
    check_by_parent = {r.parent: r for r in resources if r.type in SUBACCOUNT_TYPES and r.parent}
    for ns, r in namespaces:
        sibling = check_by_parent.get(r.parent) if r.parent else None
        if sibling is None:
            continue
        sid = get_str(sibling.props, "subaccountId")
        labelled = label(r.props, LABEL_SUBACCOUNT)
        if sid and labelled and sid != labelled:
            found.append(
                StackViolation(
                    f"Namespace '{ns}' is labelled {LABEL_SUBACCOUNT}: {labelled} but its BTP resources use "
                    f"subaccount {sid}. Fix: label and provision the same subaccount "
                    "(btp-infra:subaccountId).",
                    r.urn,
                )
            )
    return found


def operator_secret_for(ns: str, props: Any, management_namespaces: Iterable[str]) -> bool:
    """True when ``props`` describe the operator Secret of tenant namespace ``ns`` (name and placement)."""
    secret_ns = get_str(props, "metadata", "namespace")
    secret = get_str(props, "metadata", "name")
    if secret_ns == ns and secret == secret_name(ns, "namespace"):
        return True
    return secret_ns in set(management_namespaces) and secret == secret_name(ns, "management")


def check_operator_secret_present(
    resources: Sequence[StackResource],
    *,
    management_namespaces: Iterable[str] = DEFAULT_MANAGEMENT_NAMESPACES,
) -> list[StackViolation]:
    """Every tenant namespace has exactly one operator Secret where the operator will find it."""
    management = tuple(management_namespaces)
    secrets = [r for r in resources if r.type == TYPE_SECRET]
    found: list[StackViolation] = []
    for ns, r in _tenant_namespaces(resources):
        mine = [s for s in secrets if operator_secret_for(ns, s.props, management)]
        if not mine:
            found.append(
                StackViolation(
                    f"Namespace '{ns}' has no operator Secret ('{secret_name(ns, 'namespace')}' in {ns}, or "
                    f"'{secret_name(ns, 'management')}' in "
                    f"{' or '.join(management) or 'a management namespace'}). Without it the operator "
                    "silently uses the cluster's default credentials, i.e. the Kyma runtime's own "
                    "subaccount. Fix: let the TenantNamespace create it (btp-infra:secretPlacement), and "
                    "list a moved management namespace in the policy's managementNamespaces.",
                    r.urn,
                )
            )
        elif len(mine) > 1:
            found.append(
                StackViolation(
                    f"Namespace '{ns}' has {len(mine)} operator Secrets "
                    f"({', '.join(s.name for s in mine)}); the in-namespace one silently wins over the "
                    "management one. Fix: keep exactly one.",
                    mine[1].urn,
                )
            )
    return found


def _closure(start: str, graph: Mapping[str, Sequence[str]]) -> set[str]:
    """Every URN reachable from ``start`` through dependencies (not including ``start``)."""
    seen: set[str] = set()
    todo = list(graph.get(start, ()))
    while todo:
        urn = todo.pop()
        if urn not in seen:
            seen.add(urn)
            todo.extend(graph.get(urn, ()))
    return seen


def check_entitlement_dependencies(resources: Sequence[StackResource]) -> list[StackViolation]:
    """Service instances and bindings are created only after their plan's entitlement (a dependency path)."""
    graph = {r.urn: r.dependencies for r in resources}
    by_urn = {r.urn: r for r in resources}

    def plan_of(instance: StackResource) -> tuple[str, str]:
        return (
            get_str(instance.props, "serviceOfferingName") or "?",
            get_str(instance.props, "servicePlanName") or "?",
        )

    entitlements: dict[tuple[str, str], list[str]] = defaultdict(list)
    for r in resources:
        if r.type == TYPE_ENTITLEMENT:
            entitlements[
                (get_str(r.props, "serviceName") or "?", get_str(r.props, "planName") or "?")
            ].append(r.urn)

    found: list[StackViolation] = []
    for r in resources:
        if r.type == TYPE_SERVICE_INSTANCE:
            offering, plan = plan_of(r)
            candidates = entitlements.get((offering, plan), [])
            if not candidates:
                found.append(
                    StackViolation(
                        f"ServiceInstance '{r.name}' ({offering}/{plan}) has no SubaccountEntitlement for "
                        f"{offering}/{plan} in this stack; creating it fails with 'plan not found' or uses "
                        f"quota nobody manages. Fix: add {offering}/{plan} to btp-infra:entitlements.",
                        r.urn,
                    )
                )
            elif not set(candidates) & _closure(r.urn, graph):
                found.append(
                    StackViolation(
                        f"ServiceInstance '{r.name}' ({offering}/{plan}) does not depend on the entitlement "
                        f"of {offering}/{plan}, so Pulumi may create it before the plan is entitled. Fix: "
                        "add the SubaccountEntitlement to the instance's depends_on.",
                        r.urn,
                    )
                )
        elif r.type == TYPE_SERVICE_BINDING:
            upstream = _closure(r.urn, graph)
            instances = [
                by_urn[u] for u in upstream if u in by_urn and by_urn[u].type == TYPE_SERVICE_INSTANCE
            ]
            if not instances:
                found.append(
                    StackViolation(
                        f"ServiceBinding '{r.name}' does not depend on a ServiceInstance of this stack, so "
                        "its entitlement cannot be verified. Fix: bind to an instance managed in the same "
                        "stack (pass its id as serviceInstanceId).",
                        r.urn,
                    )
                )
            elif not any(set(entitlements.get(plan_of(i), [])) & upstream for i in instances):
                found.append(
                    StackViolation(
                        f"ServiceBinding '{r.name}' has no dependency path to the entitlement of its "
                        "instance's plan. Fix: make the instance depend on its SubaccountEntitlement.",
                        r.urn,
                    )
                )
    return found


def check_guardrail_present(
    resources: Sequence[StackResource], *, resource_type: str, kind: str, config_key: str
) -> list[StackViolation]:
    """Every tenant namespace has a resource of ``resource_type`` (e.g. a ResourceQuota) in it."""
    present = {get_str(r.props, "metadata", "namespace") for r in resources if r.type == resource_type}
    return [
        StackViolation(
            f"Namespace '{ns}' has no {kind}: one tenant can starve the others on the shared cluster. Fix: "
            f"set btp-infra:{config_key} in the stack file.",
            r.urn,
        )
        for ns, r in _tenant_namespaces(resources)
        if ns not in present
    ]
