"""The grammars of config values, and the words that say what is valid.

Owns: DNS-1123 labels and subdomains, Kubernetes label keys and values (and the reserved ones), Kubernetes
quantities and resource names (ResourceQuota, LimitRange), durations (through
:func:`btp_infra.conventions.parse_duration`, the one duration parser), x509 validity days, GUIDs, BTP regions
and technical names, keyring profiles, and every ``VALID_*`` text. Checks raise
:class:`~btp_infra.config.issues.Invalid` or return what is wrong; they know nothing of the models.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from fractions import Fraction
from typing import Final

from btp_infra import conventions
from btp_infra.config.issues import Invalid
from btp_infra.config.text import did_you_mean, show
from btp_infra.conventions import (
    GUID_RE,
    KEYRING_PROFILE_RE,
    LABEL_ISTIO_INJECTION,
    LABEL_MANAGED_BY,
    LABEL_SUBACCOUNT,
    LABEL_TENANT,
    SYSTEM_NAMESPACES,
)

# ---- regular expressions (use with fullmatch) ------------------------------------------------------

_DNS_LABEL_RE: Final = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
_DNS_SUBDOMAIN_RE: Final = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")
_REGION_RE: Final = re.compile(r"[a-z]{2}[0-9]{2}(-[a-z0-9]+)?")
_LABEL_NAME_RE: Final = re.compile(r"[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?")
_BTP_NAME_RE: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")
_QUANTITY_RE: Final = re.compile(
    r"(?P<sign>[+-]?)(?P<number>[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?P<suffix>[KMGTPE]i|[numkMGTPE]|[eE][+-]?[0-9]+)?"
)

_BINARY_SUFFIXES: Final = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60}
_DECIMAL_SUFFIXES: Final = {
    "n": Fraction(1, 10**9),
    "u": Fraction(1, 10**6),
    "m": Fraction(1, 10**3),
    "": Fraction(1),
    "k": Fraction(10**3),
    "M": Fraction(10**6),
    "G": Fraction(10**9),
    "T": Fraction(10**12),
    "P": Fraction(10**15),
    "E": Fraction(10**18),
}

RESERVED_LABEL_KEYS: Final = frozenset(
    {LABEL_ISTIO_INJECTION, LABEL_TENANT, LABEL_SUBACCOUNT, LABEL_MANAGED_BY}
)
"""Namespace labels btp-infra sets itself (a tenant's ``labels`` may not)."""
RESERVED_LABEL_PREFIXES: Final = ("btp-infra.io/", "kubernetes.io/", "k8s.io/")

# ---- what is valid ---------------------------------------------------------------------------------

VALID_DNS_LABEL: Final = (
    "a DNS-1123 label (lowercase letters, digits and '-', starting and ending with a letter or digit, "
    "at most 63 characters)"
)
VALID_NAMESPACE: Final = (
    VALID_DNS_LABEL
    + " that is not a system namespace ("
    + ", ".join(sorted(SYSTEM_NAMESPACES))
    + ") or kube-*"
)
VALID_GUID: Final = (
    "the subaccount GUID from the BTP cockpit: 8-4-4-4-12 hex digits, "
    "e.g. 553bcbbb-e809-450f-82db-60de3ef76b1f"
)
VALID_REGION: Final = "a BTP region ID such as eu10, us20, ap21 or eu10-canary"
VALID_LABELS: Final = (
    "a mapping of Kubernetes label keys ([prefix/]name; name ≤ 63 characters of letters, digits, '-', '_', "
    "'.', alphanumeric at both ends; prefix a DNS subdomain) to string values (≤ 63 characters, same "
    "characters, may be empty; quote numbers and booleans); not istio-injection, "
    "app.kubernetes.io/managed-by or keys under " + ", ".join(RESERVED_LABEL_PREFIXES)
)
VALID_QUANTITY: Final = (
    "a non-negative Kubernetes quantity such as 500m, 2, 1.5, 512Mi, 4Gi or 1e3 (suffixes n u m k M G T P E, "
    "Ki Mi Gi Ti Pi Ei)"
)
VALID_DURATION: Final = (
    "a number of seconds (600) or a duration such as 90s, 30m, 1h or 1h30m, between 1s and 24h"
)
VALID_X509_VALIDITY: Final = (
    "a number of days (30) or days with the d unit (30d), from 1d to 3650d (Service Manager's default: 7d)"
)
VALID_X509_KEY_LENGTH: Final = "2048, 3072 or 4096 (bits; default 2048)"
VALID_X509: Final = (
    "a mapping with validity (" + VALID_X509_VALIDITY + ") and/or keyLength (" + VALID_X509_KEY_LENGTH + "), "
    "only with credentialType: x509"
)
VALID_BTP_NAME: Final = "a BTP technical name: letters, digits, '.', '_' and '-' (e.g. hana-cloud, hana)"
VALID_AMOUNT: Final = "a whole number from 1 to 2000000000, only for plans with a numeric quota"
VALID_PROFILE: Final = "letters, digits, '.', '_' and '-', at most 64 characters"
VALID_QUOTA: Final = (
    "a mapping of ResourceQuota resource names (requests.cpu, requests.memory, limits.cpu, limits.memory, "
    "pods, services, persistentvolumeclaims, requests.storage, count/<resource>, …) to quantities, e.g. "
    "{requests.cpu: '4', limits.memory: 16Gi, pods: '50'}"
)
VALID_LIMIT_RANGE: Final = (
    "a mapping with any of default, defaultRequest, max, min, maxLimitRequestRatio, each a mapping of cpu, "
    "memory, ephemeral-storage, hugepages-<size> or an extended resource (example.com/gpu) to a quantity; "
    "for each resource min ≤ defaultRequest ≤ default ≤ max"
)

# ---- names -----------------------------------------------------------------------------------------


def dns_label_problem(value: str) -> str | None:
    """What is wrong with a DNS-1123 label, or None."""
    if not value:
        return "is empty"
    if len(value) > 63:
        return f"is {len(value)} characters long; the limit is 63"
    if value != value.lower() and _DNS_LABEL_RE.fullmatch(value.lower()):
        return "contains uppercase letters"
    if not _DNS_LABEL_RE.fullmatch(value):
        return "is not a DNS-1123 label"
    return None


def label_key_problem(key: str) -> str | None:
    """What is wrong with a Kubernetes label key (qualified name), or None."""
    prefix, sep, name = key.rpartition("/")
    if not key:
        return "label key is empty"
    if sep and not prefix:
        return "label key has an empty prefix before '/'"
    if sep and (len(prefix) > 253 or not _DNS_SUBDOMAIN_RE.fullmatch(prefix)):
        return f"label key prefix {prefix!r} is not a DNS subdomain"
    if not name:
        return "label key has an empty name"
    if len(name) > 63:
        return f"label key name is {len(name)} characters long; the limit is 63"
    if not _LABEL_NAME_RE.fullmatch(name):
        return f"label key name {name!r} has characters other than letters, digits, '-', '_' and '.'"
    return None


def label_value_problem(value: str) -> str | None:
    """What is wrong with a Kubernetes label value, or None."""
    if len(value) > 63:
        return f"label value is {len(value)} characters long; the limit is 63"
    if value and not _LABEL_NAME_RE.fullmatch(value):
        return "label value must be letters, digits, '-', '_' and '.', alphanumeric at both ends"
    return None


def is_guid(value: str) -> bool:
    """True for a BTP GUID (any case)."""
    return GUID_RE.fullmatch(value) is not None


def is_region(value: str) -> bool:
    """True for a BTP region ID (``eu10``, ``eu10-canary``)."""
    return _REGION_RE.fullmatch(value) is not None


def is_btp_name(value: str) -> bool:
    """True for a BTP technical name (a service or plan)."""
    return _BTP_NAME_RE.fullmatch(value) is not None


def is_keyring_profile(value: str) -> bool:
    """True for a keyring profile name."""
    return KEYRING_PROFILE_RE.fullmatch(value) is not None


def is_reserved_label(key: str) -> bool:
    """True for a label key btp-infra or Kubernetes sets (a tenant may not)."""
    return key in RESERVED_LABEL_KEYS or key.startswith(RESERVED_LABEL_PREFIXES)


# ---- Kubernetes quantities and resource names ------------------------------------------------------

QUOTA_INTEGER: Final = frozenset(
    {
        "pods",
        "services",
        "replicationcontrollers",
        "resourcequotas",
        "secrets",
        "configmaps",
        "persistentvolumeclaims",
        "services.nodeports",
        "services.loadbalancers",
    }
)
"""ResourceQuota resources counted in whole objects."""
_QUOTA_STANDARD: Final = QUOTA_INTEGER | frozenset(
    {
        "cpu",
        "memory",
        "ephemeral-storage",
        "requests.cpu",
        "requests.memory",
        "requests.storage",
        "requests.ephemeral-storage",
        "limits.cpu",
        "limits.memory",
        "limits.ephemeral-storage",
    }
)
_LIMIT_STANDARD: Final = frozenset({"cpu", "memory", "ephemeral-storage"})


def parse_quantity(text: str) -> Fraction:
    """The exact value of a Kubernetes quantity (``500m`` → 1/2, ``1Gi`` → 2**30); ValueError if invalid."""
    match = _QUANTITY_RE.fullmatch(text)
    if match is None:
        raise ValueError(f"{text!r} is not a Kubernetes quantity")
    number = Fraction(match["number"] if not match["number"].endswith(".") else match["number"][:-1])
    suffix = match["suffix"] or ""
    if suffix in _BINARY_SUFFIXES:
        number *= _BINARY_SUFFIXES[suffix]
    elif suffix in _DECIMAL_SUFFIXES:
        number *= _DECIMAL_SUFFIXES[suffix]
    else:
        exponent = int(suffix[1:])
        if abs(exponent) > 100:
            raise ValueError(f"{text!r} has an exponent out of range")
        number *= Fraction(10) ** exponent
    return -number if match["sign"] == "-" else number


def quantity(value: object, *, key: Sequence[str | int], integer: bool = False) -> str:
    """A quantity from YAML/JSON (string or number) as its string form; raises :class:`Invalid`."""
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise Invalid(
            "must be a Kubernetes quantity (string or number)", VALID_QUANTITY, key=key, value=value
        )
    text = value if isinstance(value, str) else repr(value)
    try:
        amount = parse_quantity(text)
    except ValueError:
        raise Invalid("is not a Kubernetes quantity", VALID_QUANTITY, key=key, value=value) from None
    if amount < 0:
        raise Invalid("is negative", VALID_QUANTITY, key=key, value=value)
    if integer and amount.denominator != 1:
        raise Invalid(
            "must be a whole number for this resource", "a whole number such as 10", key=key, value=value
        )
    return text


def _qualified_resource_problem(name: str) -> str | None:
    """What is wrong with a '/'-qualified resource name (``example.com/gpu``, ``count/deployments.apps``)."""
    prefix, _, rest = name.partition("/")
    if not prefix or not _DNS_SUBDOMAIN_RE.fullmatch(prefix) or len(prefix) > 253:
        return f"prefix {prefix!r} is not a DNS subdomain"
    if not rest or len(rest) > 63 or not _LABEL_NAME_RE.fullmatch(rest):
        return f"name {rest!r} after '/' is not a valid resource name"
    return None


def quota_resource_problem(name: str) -> str | None:
    """What is wrong with a ResourceQuota resource name, or None."""
    if "/" in name:
        return _qualified_resource_problem(name)
    if name in _QUOTA_STANDARD or name.startswith(("hugepages-", "requests.hugepages-")):
        return None
    hint = did_you_mean(name, _QUOTA_STANDARD)
    return "is not a standard ResourceQuota resource" + (f"; did you mean {hint}?" if hint else "")


def limit_resource_problem(name: str) -> str | None:
    """What is wrong with a LimitRange container resource name, or None."""
    if "/" in name:
        return _qualified_resource_problem(name)
    if name in _LIMIT_STANDARD or name.startswith("hugepages-"):
        return None
    hint = did_you_mean(name, _LIMIT_STANDARD)
    return "is not a LimitRange container resource" + (f"; did you mean {hint}?" if hint else "")


# ---- durations -------------------------------------------------------------------------------------


def to_seconds(value: object) -> int:
    """:func:`btp_infra.conventions.parse_duration`, raising :class:`Invalid` (a model validator)."""
    try:
        return conventions.parse_duration(value)
    except ValueError as exc:
        raise Invalid(str(exc), VALID_DURATION) from None


def parse_duration(value: object) -> int:
    """Seconds from a number or a duration string (``90s``, ``30m``, ``1h30m``); ValueError if invalid,
    naming the value and what is valid."""
    try:
        return to_seconds(value)
    except Invalid as exc:
        raise ValueError(f"{show(value)} {exc.message}; valid: {exc.valid}") from None


def to_days(value: object) -> int:
    """Whole days from a number or ``<n>d`` (the x509 binding validity Service Manager takes, in DAYS)."""
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise Invalid("must be a number of days or a duration such as 30d", VALID_X509_VALIDITY)
    if isinstance(value, str):
        match = re.fullmatch(r"([0-9]{1,6})d?", value.strip())
        if match is None:
            raise Invalid("is not a duration in days", VALID_X509_VALIDITY)
        value = int(match.group(1))
    if not 1 <= value <= 3650:
        raise Invalid("is out of range", VALID_X509_VALIDITY)
    return value


# ---- credential rotation (issue 13, rotate) --------------------------------------------------------

VALID_CREDENTIAL_ROTATION: Final = (
    f"a rotation key of at most {conventions.CREDENTIAL_ROTATION_MAX} characters: letters, digits, '.', "
    "'_' and '-', starting and ending with a letter or digit (e.g. 2026-12-02, r3 or 20261202T023808Z; "
    "`btp-infra rotate` sets one)"
)


def rotation_key_problem(value: str) -> str | None:
    """What is wrong with a rotation key (``btp-infra:credentialRotation``), or None."""
    if not value:
        return "is empty"
    if len(value) > conventions.CREDENTIAL_ROTATION_MAX:
        return f"is longer than {conventions.CREDENTIAL_ROTATION_MAX} characters"
    if conventions.CREDENTIAL_ROTATION_RE.fullmatch(value) is None:
        return "is not a rotation key"
    return None
