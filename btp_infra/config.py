"""The one typed tenant config model, shared by the Pulumi program, the CLI and the offline plan.

One tenant = one Pulumi stack (``stacks/Pulumi.<tenant>.yaml``, keys in the ``btp-infra:`` namespace) = one
Kyma namespace mapped 1:1 to one SAP BTP subaccount.

Entry points:

- :func:`load_stack_file` reads a stack file offline (``secure:`` values stay encrypted: "present, secret");
- :func:`from_pulumi_config` takes the string values the Pulumi engine hands the program (objects and lists as
  JSON strings, booleans as ``"true"``/``"false"``, secrets decrypted); this module never imports Pulumi;
- :func:`parse_config` validates an already-structured mapping of camelCase keys;
- :func:`validate_fleet` / :func:`load_fleet` check that no namespace or subaccount is mapped by two stacks.

Every failure is a :class:`ConfigError` holding :class:`ConfigIssue` s that name the stack file, the key, the
bad value and what is valid. Secret values (``cisServiceKey``, ``kubeconfig``) are never rendered.
"""

from __future__ import annotations

import difflib
import json
import math
import re
import types
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Annotated, Any, Final, Literal, Union, get_args, get_origin

import yaml
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PrivateAttr,
    RootModel,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic.fields import FieldInfo

from btp_infra import names, operator_secret
from btp_infra.catalog import OPERATOR_ACCESS, known_plan
from btp_infra.limits import (
    MAX_INT_DIGITS,
    MAX_NESTING,
    MIB,
    InputLimitError,
    bounded_repr,
    format_size,
    int_too_large,
    loads_json,
    read_regular_file,
)

__all__ = [
    "CONFIG_KEYS",
    "DEFAULT_MANAGEMENT_NAMESPACE",
    "MAX_STACK_FILE_BYTES",
    "MAX_YAML_TEXT",
    "MAX_YAML_VALUES",
    "NAMESPACE",
    "PROJECT",
    "SECRET_KEYS",
    "SYSTEM_NAMESPACES",
    "ConfigError",
    "ConfigIssue",
    "EncryptedSecret",
    "EntitlementSpec",
    "LimitRangeSpec",
    "QuotaSpec",
    "TenantConfig",
    "Timeouts",
    "discover_stacks",
    "from_pulumi_config",
    "is_secret_key",
    "load_fleet",
    "load_stack_file",
    "parse_config",
    "parse_duration",
    "parse_quantity",
    "stack_file_for",
    "stack_name_of",
    "validate_fleet",
]

PROJECT: Final = "btp-infra"
"""The Pulumi project name = the config namespace of every key (``btp-infra:<key>``)."""
NAMESPACE: Final = PROJECT
"""Alias of :data:`PROJECT`: the Pulumi *config* namespace (not a Kubernetes namespace)."""

SYSTEM_NAMESPACES: Final = names.SYSTEM_NAMESPACES
"""One definition, shared with the policy pack (:mod:`btp_infra.names`)."""
DEFAULT_MANAGEMENT_NAMESPACE: Final = names.DEFAULT_MANAGEMENT_NAMESPACE
#: Labels on every SM instance and binding btp-infra creates (SM label keys allow ``[A-Za-z0-9._-]`` only).
SM_MANAGED_BY_LABEL: Final = "btp-infra.managed-by"
SM_TENANT_LABEL: Final = "btp-infra.tenant"
TENANT_RESOURCE: Final = "tenant"
"""The Pulumi name of a stack's ``TenantNamespace`` component (children: ``tenant-<role>``). Constant, so
that no config value (the namespace) is part of any URN: a changed value is a diff, never a new resource."""
"""The operator's credential secret name in the tenant namespace (btp-api.md §A.1 step 1)."""

SECRET_KEYS: Final = frozenset({"cisServiceKey", "kubeconfig"})
"""Keys whose values are secrets: never rendered; the only keys that may be ``secure:`` in a stack file."""

RESERVED_LABEL_KEYS: Final = frozenset(
    {names.LABEL_ISTIO_INJECTION, names.LABEL_TENANT, names.LABEL_SUBACCOUNT, names.LABEL_MANAGED_BY}
)
RESERVED_LABEL_PREFIXES: Final = ("btp-infra.io/", "kubernetes.io/", "k8s.io/")

#: Config namespaces other than ``btp-infra`` that may appear in a stack file (left to their owners).
PASSTHROUGH_NAMESPACES: Final = frozenset({"kubernetes", "pulumi"})
#: Top-level keys of a Pulumi stack file.
STACK_FILE_KEYS: Final = ("config", "secretsprovider", "encryptedkey", "encryptionsalt", "environment")

IGNORED_KUBERNETES_KEYS: Final = {
    "kubernetes:context": "kubeContext",
    "kubernetes:kubeconfig": "kubeconfig",
    "kubernetes:cluster": "kubeContext",
}
"""``kubernetes:*`` keys that choose the cluster, and the ``btp-infra:`` key to use instead. They configure
only pulumi-kubernetes' *default* provider; btp-infra's explicit provider reads its own inputs, so they would
be silently ignored (``provider.go``, ``Configure``). A stack that sets one is refused."""

_BOOL_KEYS: Final = frozenset({"mtls", "protect", "takeOwnership"})
_JSON_KEYS: Final = frozenset({"entitlements", "labels", "quota", "limitRange", "timeouts", "x509"})
_DEFAULT_SOURCE: Final = "<config>"
_VALUE_WIDTH: Final = 60
_KEY_WIDTH: Final = 100

MAX_STACK_FILE_BYTES: Final = 1 * MIB
"""The largest stack file read. Real ones are a few KiB (an encrypted kubeconfig included); YAML is parsed in
pure Python at well under 1 MiB/s for dense input, so bigger files are refused before parsing."""
MAX_YAML_VALUES: Final = 10_000
"""The most values (scalars, mappings, lists) a stack file may hold, counting every alias (``*name``) as the
whole value it stands for: a few hundred bytes of nested aliases (a "billion laughs") expand to billions of
values for every reader that walks them. Real stack files hold fewer than 200. Anchors and aliases are
allowed within that budget."""
MAX_YAML_TEXT: Final = 2 * MAX_STACK_FILE_BYTES
"""The most scalar text a stack file may hold with aliases expanded: aliases of one long string must not make
every reader of the values (validation, redaction, rendering) read it thousands of times."""


# ----------------------------------------------------------------------------------------------------
# Issues and errors
# ----------------------------------------------------------------------------------------------------


class _Marker:
    """A named placeholder value (renders as its name)."""

    def __init__(self, text: str) -> None:
        self._text = text

    def __repr__(self) -> str:
        return self._text


NO_VALUE: Final = _Marker("(no value)")
"""The issue is about the file or a key, not about a value."""
MISSING: Final = _Marker("(missing)")
"""The key is required but absent."""
SECRET: Final = _Marker("[secret]")
"""Stands in for a secret value; the real value is never stored in an issue."""


@dataclass(frozen=True)
class ConfigIssue:
    """One problem in one stack's config.

    ``key`` is the path below the ``btp-infra:`` namespace (``entitlements[1].amount``); a key that already
    carries a namespace (``btp-infr:namespace``) is shown as is; ``""`` means the file as a whole.
    With ``secret=True`` the value is replaced by ``[secret]`` on construction and never kept.
    """

    source: str
    key: str
    value: object = NO_VALUE
    message: str = ""
    valid: str = ""
    secret: bool = False

    def __post_init__(self) -> None:
        # Before anything renders (or truncates) the value: a secret is never kept, whole or in part.
        hidden: object
        if self.secret or isinstance(self.value, SecretStr | EncryptedSecret) or is_secret_key(self.key):
            hidden, removed = SECRET, _strings_in(self.value)
            object.__setattr__(self, "secret", True)
        else:
            hidden, removed = _redact_value(self.value)
        if removed:
            object.__setattr__(self, "message", _without(self.message, removed))
            object.__setattr__(self, "valid", _without(self.valid, removed))
        object.__setattr__(self, "value", hidden)

    @property
    def qualified_key(self) -> str:
        """``btp-infra:<key>``, or the key as given when it already names a namespace."""
        if not self.key:
            return ""
        head = re.split(r"[.\[]", self.key, maxsplit=1)[0]
        return self.key if ":" in head else f"{PROJECT}:{self.key}"

    def render(self) -> str:
        """``<file>: btp-infra:<key>: <value> — <what is wrong>; valid: <what is valid>``."""
        parts = [self.source]
        if self.key:
            parts.append(_clip(self.qualified_key, _KEY_WIDTH))
        head = ": ".join(parts)
        text = self.message if self.value is NO_VALUE else f"{_show(self.value)} — {self.message}"
        line = f"{head}: {text}"
        return f"{line}; valid: {self.valid}" if self.valid else line

    def __str__(self) -> str:
        return self.render()


def _show(value: object) -> str:
    """A value's repr, truncated, for messages (:class:`ConfigIssue` has already replaced secrets)."""
    return bounded_repr(value, _VALUE_WIDTH)


def _clip(text: str, width: int = _VALUE_WIDTH) -> str:
    """Plain text (a key, a name) cut to ``width`` characters, ending in ``…`` when cut."""
    return text if len(text) <= width else text[: width - 1] + "…"


_SECRET_WORDS: Final = (
    "secret",
    "password",
    "passwd",
    "passphrase",
    "token",
    "credential",
    "kubeconfig",
    "privatekey",
    "apikey",
    "servicekey",
    "accesskey",
)
_SECRET_TEXT: Final = re.compile(
    r"secret|passw|token|credential|private.?key|BEGIN [A-Z ]*PRIVATE", re.IGNORECASE
)
_STRUCTURED_TEXT: Final = re.compile(r"[{\[\n=:]")


def is_secret_key(key: str) -> bool:
    """True for a key whose value is (or holds) a secret, under any namespace and in any case.

    :data:`SECRET_KEYS` and every other name that looks secret: ``*key`` (``cisServiceKey``, ``tls.key``,
    ``apiKey``), ``*secret*``, ``*password*``, ``*token*``, ``*credential*``, ``*kubeconfig*``. Known
    non-secret config keys (``secretPlacement``, ``credentialType``, ``keyringProfile``) are not. ``key`` may
    be qualified (``btp-infa:cisServiceKey``) or a path (``entitlements[0].clientsecret``): its last name
    counts.
    """
    names = [part for part in re.split(r"[:.\[\]\"'/]+", key) if part]
    if not names:
        return False
    name = re.sub(r"[^a-z0-9]", "", names[-1].lower())
    if not name:
        return False
    if name in {k.lower() for k in SECRET_KEYS}:
        return True
    if name in {k.lower() for k in CONFIG_KEYS}:
        return False
    return name.endswith("key") or any(word in name for word in _SECRET_WORDS)


def _strings_in(value: object) -> set[str]:
    """The string leaves of ``value`` (a secret's parts, to remove from messages too)."""
    if isinstance(value, str):
        return {value}
    if isinstance(value, Mapping):
        return {s for v in value.values() for s in _strings_in(v)}
    if isinstance(value, list | tuple):
        return {s for v in value for s in _strings_in(v)}
    return set()


def _parse_text(text: str) -> object:
    # Bounded parsers (nesting, integers, aliases): the text is untrusted input inside a value.
    try:
        return loads_json(text)
    except ValueError:
        pass
    try:
        return load_yaml_text(text)
    except yaml.YAMLError:
        return None


def _redact_value(value: object) -> tuple[object, set[str]]:
    """``value`` with the values of secret-looking keys (at any depth) as ``[secret]``, and what was removed.

    A string is ``[secret]`` as a whole if it is JSON or YAML text holding such a key, a private key, or
    text that looks structured, cannot be parsed and mentions a secret (a broken JSON key).
    """
    if isinstance(value, Mapping):
        shown: dict[object, object] = {}
        removed: set[str] = set()
        for key, item in value.items():
            if isinstance(key, str) and is_secret_key(key):
                shown[key] = SECRET
                removed |= _strings_in(item)
            else:
                shown[key], inner = _redact_value(item)
                removed |= inner
        return shown, removed
    if isinstance(value, list | tuple):
        parts = [_redact_value(item) for item in value]
        return [p for p, _ in parts], {s for _, inner in parts for s in inner}
    if isinstance(value, str) and _STRUCTURED_TEXT.search(value):
        parsed = _parse_text(value)
        if isinstance(parsed, dict | list):
            hidden = _redact_value(parsed)[1]
        else:
            hidden = _strings_in(value) if _SECRET_TEXT.search(value) else set()
        if hidden:
            return SECRET, {value, *hidden}
    return value, set()


def _without(text: str, secrets: Collection[str]) -> str:
    """``text`` with each secret (and its repr) replaced by ``[secret]``; very short strings are left."""
    for secret in sorted(secrets, key=len, reverse=True):
        if len(secret) >= 4:
            text = text.replace(repr(secret), repr(SECRET)).replace(secret, repr(SECRET))
    return text


class ConfigError(Exception):
    """Invalid tenant config; ``str()`` renders one line per issue."""

    def __init__(self, issues: Sequence[ConfigIssue]) -> None:
        self.issues: list[ConfigIssue] = list(issues)
        super().__init__(self.render())

    def render(self) -> str:
        return "\n".join(issue.render() for issue in self.issues)

    def __str__(self) -> str:
        return self.render()


class _Invalid(ValueError):
    """Raised by validators: what is wrong and what is valid, optionally for a sub-key and with its value."""

    def __init__(
        self, message: str, valid: str, *, key: Sequence[str | int] = (), value: object = NO_VALUE
    ) -> None:
        super().__init__(message)
        self.message = message
        self.valid = valid
        self.key = tuple(key)
        self.value = value


class _InvalidMany(ValueError):
    """Several :class:`_Invalid` from one validator."""

    def __init__(self, problems: Sequence[_Invalid]) -> None:
        super().__init__("; ".join(p.message for p in problems))
        self.problems = list(problems)


def _raise_all(problems: Sequence[_Invalid]) -> None:
    if len(problems) == 1:
        raise problems[0]
    if problems:
        raise _InvalidMany(problems)


def _did_you_mean(word: str, candidates: Iterable[str]) -> str | None:
    """The closest candidate to a misspelt key (case, snake_case and typos), or None."""
    options = list(candidates)
    lowered = {c.lower(): c for c in options}
    if word.lower() in lowered:
        return lowered[word.lower()]
    camel = re.sub(r"[_-]([a-z])", lambda m: m.group(1).upper(), word)
    if camel in options:
        return camel
    close = difflib.get_close_matches(word.lower(), list(lowered), n=1, cutoff=0.6)
    return lowered[close[0]] if close else None


# ----------------------------------------------------------------------------------------------------
# Value grammars: DNS labels, GUIDs, labels, quantities, durations
# ----------------------------------------------------------------------------------------------------

_DNS_LABEL_RE: Final = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
_DNS_SUBDOMAIN_RE: Final = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")
_GUID_RE: Final = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.IGNORECASE)
_REGION_RE: Final = re.compile(r"[a-z]{2}[0-9]{2}(-[a-z0-9]+)?")
_LABEL_NAME_RE: Final = re.compile(r"[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?")
_BTP_NAME_RE: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")
_PROFILE_RE: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
_QUANTITY_RE: Final = re.compile(
    r"(?P<sign>[+-]?)(?P<number>[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?P<suffix>[KMGTPE]i|[numkMGTPE]|[eE][+-]?[0-9]+)?"
)
_DURATION_RE: Final = re.compile(r"(?:[0-9]+(?:\.[0-9]+)?[hms])+")
_DURATION_PART_RE: Final = re.compile(r"([0-9]+(?:\.[0-9]+)?)([hms])")

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


def _dns_label_problem(value: str) -> str | None:
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


def _label_key_problem(key: str) -> str | None:
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


def _label_value_problem(value: str) -> str | None:
    """What is wrong with a Kubernetes label value, or None."""
    if len(value) > 63:
        return f"label value is {len(value)} characters long; the limit is 63"
    if value and not _LABEL_NAME_RE.fullmatch(value):
        return "label value must be letters, digits, '-', '_' and '.', alphanumeric at both ends"
    return None


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


def _quantity(value: object, *, key: Sequence[str | int], integer: bool = False) -> str:
    """A quantity from YAML/JSON (string or number) as its string form; raises _Invalid."""
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise _Invalid(
            "must be a Kubernetes quantity (string or number)", VALID_QUANTITY, key=key, value=value
        )
    text = value if isinstance(value, str) else repr(value)
    try:
        amount = parse_quantity(text)
    except ValueError:
        raise _Invalid("is not a Kubernetes quantity", VALID_QUANTITY, key=key, value=value) from None
    if amount < 0:
        raise _Invalid("is negative", VALID_QUANTITY, key=key, value=value)
    if integer and amount.denominator != 1:
        raise _Invalid(
            "must be a whole number for this resource", "a whole number such as 10", key=key, value=value
        )
    return text


def parse_duration(value: object) -> int:
    """Seconds from a number or a duration string (``90s``, ``30m``, ``1h30m``); ValueError if invalid."""
    try:
        return _to_seconds(value)
    except _Invalid as exc:
        raise ValueError(f"{_show(value)} {exc.message}; valid: {exc.valid}") from None


def _to_seconds(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise _Invalid("must be a number of seconds or a duration string", VALID_DURATION)
    if isinstance(value, str):
        text = value.strip()
        if re.fullmatch(r"[0-9]+(?:\.[0-9]+)?", text):
            seconds = float(text)
        elif _DURATION_RE.fullmatch(text):
            factor = {"h": 3600.0, "m": 60.0, "s": 1.0}
            seconds = sum(float(n) * factor[unit] for n, unit in _DURATION_PART_RE.findall(text))
        else:
            raise _Invalid("is not a duration", VALID_DURATION)
    elif isinstance(value, int) and abs(value) > 86400:
        seconds = math.inf if value > 0 else -math.inf  # float() of a huge int raises OverflowError
    else:
        seconds = float(value)
    if math.isnan(seconds) or seconds < 1:
        raise _Invalid("is shorter than 1 second", VALID_DURATION)
    if seconds > 86400:
        raise _Invalid("is longer than 24h", VALID_DURATION)
    return math.ceil(seconds)


# ----------------------------------------------------------------------------------------------------
# Models
# ----------------------------------------------------------------------------------------------------

_MODEL_CONFIG: Final = ConfigDict(strict=True, extra="forbid", frozen=True, hide_input_in_errors=True)


class EncryptedSecret(BaseModel):
    """A ``secure:`` value read from a stack file: present, but not decryptable offline."""

    model_config = ConfigDict(frozen=True, extra="forbid")


def _secret_input(value: object) -> object:
    """Secret keys accept a string (plaintext from the engine) or an :class:`EncryptedSecret` marker."""
    if value is None or isinstance(value, SecretStr | EncryptedSecret):
        return value
    if isinstance(value, str):
        if not value.strip():
            raise _Invalid("is empty", "a non-empty string (a Pulumi secret)", value=SECRET)
        return SecretStr(value)
    raise _Invalid("must be a string", "a non-empty string (a Pulumi secret)", value=SECRET)


class EntitlementSpec(BaseModel):
    """One subaccount entitlement: ``service/plan``, with ``amount`` only for plans with a numeric quota."""

    model_config = _MODEL_CONFIG

    service: str = Field(description=VALID_BTP_NAME)
    plan: str = Field(description=VALID_BTP_NAME)
    amount: int | None = Field(default=None, description=VALID_AMOUNT)

    @field_validator("service", "plan")
    @classmethod
    def _check_name(cls, value: str) -> str:
        if not _BTP_NAME_RE.fullmatch(value):
            raise _Invalid("is not a BTP technical name", VALID_BTP_NAME)
        return value

    @field_validator("amount")
    @classmethod
    def _check_amount(cls, value: int | None) -> int | None:
        if value is not None and value < 1:
            raise _Invalid("must be at least 1 (to remove an entitlement, delete the entry)", VALID_AMOUNT)
        if value is not None and value > 2_000_000_000:
            raise _Invalid("is larger than 2000000000", VALID_AMOUNT)
        return value

    @model_validator(mode="after")
    def _check_catalog(self) -> EntitlementSpec:
        info = known_plan(self.service, self.plan)
        if self.amount is not None and info is not None and not info.takes_amount:
            raise _Invalid(
                f"{self.service}/{self.plan} has no numeric quota, so it is entitled with enable, "
                f"not an amount ({info.reason})",
                "omit amount for this plan",
                key=("amount",),
                value=self.amount,
            )
        return self

    @property
    def key(self) -> tuple[str, str]:
        """``(service, plan)``."""
        return (self.service, self.plan)

    def __str__(self) -> str:
        base = f"{self.service}/{self.plan}"
        return base if self.amount is None else f"{base} (amount {self.amount})"


_Seconds = Annotated[int, BeforeValidator(_to_seconds)]


def _to_days(value: object) -> int:
    """Whole days from a number or ``<n>d`` (the x509 binding validity Service Manager takes, in DAYS)."""
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise _Invalid("must be a number of days or a duration such as 30d", VALID_X509_VALIDITY)
    if isinstance(value, str):
        match = re.fullmatch(r"([0-9]{1,6})d?", value.strip())
        if match is None:
            raise _Invalid("is not a duration in days", VALID_X509_VALIDITY)
        value = int(match.group(1))
    if not 1 <= value <= 3650:
        raise _Invalid("is out of range", VALID_X509_VALIDITY)
    return value


_Days = Annotated[int, BeforeValidator(_to_days)]


class X509Settings(BaseModel):
    """The x509 binding's certificate: validity in days and RSA key length (Service Manager's parameters)."""

    model_config = _MODEL_CONFIG

    validity: _Days = Field(default=7, description=VALID_X509_VALIDITY)
    key_length: int = Field(default=2048, alias="keyLength", description=VALID_X509_KEY_LENGTH)

    @field_validator("key_length")
    @classmethod
    def _check_key_length(cls, value: int) -> int:
        if value not in (2048, 3072, 4096):
            raise _Invalid("is not a supported key length", VALID_X509_KEY_LENGTH)
        return value

    @property
    def parameters(self) -> dict[str, Any]:
        """Service Manager's binding parameters (btp-api.md §B.1)."""
        return {"x509": {"key-length": self.key_length, "validity": self.validity, "validity-type": "DAYS"}}


class Timeouts(BaseModel):
    """Per-resource timeouts in seconds (input: seconds or durations like ``30m``, ``1h``, ``90s``)."""

    model_config = _MODEL_CONFIG

    entitlement: _Seconds = Field(default=1200, description=VALID_DURATION)
    admin_access: _Seconds = Field(default=600, alias="adminAccess", description=VALID_DURATION)
    instance: _Seconds = Field(default=1800, description=VALID_DURATION)
    binding: _Seconds = Field(default=600, description=VALID_DURATION)


_QUOTA_STANDARD: Final = frozenset(
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
_QUOTA_INTEGER: Final = frozenset(
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
_LIMIT_STANDARD: Final = frozenset({"cpu", "memory", "ephemeral-storage"})

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


def _qualified_resource_problem(name: str) -> str | None:
    """What is wrong with a '/'-qualified resource name (``example.com/gpu``, ``count/deployments.apps``)."""
    prefix, _, rest = name.partition("/")
    if not prefix or not _DNS_SUBDOMAIN_RE.fullmatch(prefix) or len(prefix) > 253:
        return f"prefix {prefix!r} is not a DNS subdomain"
    if not rest or len(rest) > 63 or not _LABEL_NAME_RE.fullmatch(rest):
        return f"name {rest!r} after '/' is not a valid resource name"
    return None


def _quota_resource_problem(name: str) -> str | None:
    if "/" in name:
        return _qualified_resource_problem(name)
    if name in _QUOTA_STANDARD or name.startswith(("hugepages-", "requests.hugepages-")):
        return None
    hint = _did_you_mean(name, _QUOTA_STANDARD)
    return "is not a standard ResourceQuota resource" + (f"; did you mean {hint}?" if hint else "")


def _limit_resource_problem(name: str) -> str | None:
    if "/" in name:
        return _qualified_resource_problem(name)
    if name in _LIMIT_STANDARD or name.startswith("hugepages-"):
        return None
    hint = _did_you_mean(name, _LIMIT_STANDARD)
    return "is not a LimitRange container resource" + (f"; did you mean {hint}?" if hint else "")


class QuotaSpec(RootModel[dict[str, str]]):
    """The ``spec.hard`` of the tenant's ResourceQuota ``tenant-quota``: resource name → quantity."""

    model_config = ConfigDict(strict=True, frozen=True, hide_input_in_errors=True)

    @model_validator(mode="before")
    @classmethod
    def _check(cls, value: object) -> object:
        if not isinstance(value, Mapping):
            raise _Invalid("must be a mapping", VALID_QUOTA)
        if not value:
            raise _Invalid("is empty; set at least one resource or remove quota", VALID_QUOTA)
        problems: list[_Invalid] = []
        hard: dict[str, str] = {}
        for name, amount in value.items():
            if not isinstance(name, str):
                problems.append(_Invalid("resource name must be a string", VALID_QUOTA, value=name))
                continue
            problem = _quota_resource_problem(name)
            if problem:
                problems.append(_Invalid(f"resource name {problem}", VALID_QUOTA, key=(name,), value=name))
                continue
            integer = name in _QUOTA_INTEGER or name.startswith("count/")
            try:
                hard[name] = _quantity(amount, key=(name,), integer=integer)
            except _Invalid as exc:
                problems.append(exc)
        _raise_all(problems)
        return hard

    def hard(self) -> dict[str, str]:
        """A copy of the ``spec.hard`` mapping."""
        return dict(self.root)


def _limit_section(value: object, section: str) -> dict[str, str] | None:
    """Validate one LimitRange section (``default``, ``max``, …)."""
    if value is None:
        return None
    if not isinstance(value, Mapping):
        raise _Invalid("must be a mapping of resource name to quantity", VALID_LIMIT_RANGE)
    problems: list[_Invalid] = []
    result: dict[str, str] = {}
    for name, amount in value.items():
        if not isinstance(name, str):
            problems.append(_Invalid("resource name must be a string", VALID_LIMIT_RANGE, value=name))
            continue
        problem = _limit_resource_problem(name)
        if problem:
            problems.append(_Invalid(f"resource name {problem}", VALID_LIMIT_RANGE, key=(name,), value=name))
            continue
        try:
            result[name] = _quantity(amount, key=(name,))
        except _Invalid as exc:
            problems.append(exc)
    if section == "maxLimitRequestRatio":
        for name, text in result.items():
            if parse_quantity(text) < 1:
                problems.append(
                    _Invalid("ratio must be at least 1", "a quantity ≥ 1, e.g. '2'", key=(name,), value=text)
                )
    _raise_all(problems)
    return result


class LimitRangeSpec(BaseModel):
    """The ``type: Container`` item of the tenant's LimitRange ``tenant-limits``."""

    model_config = _MODEL_CONFIG

    default: dict[str, str] | None = Field(default=None, description=VALID_LIMIT_RANGE)
    default_request: dict[str, str] | None = Field(
        default=None, alias="defaultRequest", description=VALID_LIMIT_RANGE
    )
    max: dict[str, str] | None = Field(default=None, description=VALID_LIMIT_RANGE)
    min: dict[str, str] | None = Field(default=None, description=VALID_LIMIT_RANGE)
    max_limit_request_ratio: dict[str, str] | None = Field(
        default=None, alias="maxLimitRequestRatio", description=VALID_LIMIT_RANGE
    )

    @field_validator("default", "max", "min", mode="before")
    @classmethod
    def _check_section(cls, value: object) -> object:
        return _limit_section(value, "section")

    @field_validator("default_request", mode="before")
    @classmethod
    def _check_default_request(cls, value: object) -> object:
        return _limit_section(value, "defaultRequest")

    @field_validator("max_limit_request_ratio", mode="before")
    @classmethod
    def _check_ratio(cls, value: object) -> object:
        return _limit_section(value, "maxLimitRequestRatio")

    @model_validator(mode="after")
    def _check_order(self) -> LimitRangeSpec:
        sections = {
            "min": self.min or {},
            "defaultRequest": self.default_request or {},
            "default": self.default or {},
            "max": self.max or {},
        }
        if not any(sections.values()) and not self.max_limit_request_ratio:
            raise _Invalid(
                "is empty; set at least one of default, defaultRequest, max, min", VALID_LIMIT_RANGE
            )
        order = list(sections)
        problems: list[_Invalid] = []
        for low_i, low in enumerate(order):
            for high in order[low_i + 1 :]:
                for name in sorted(set(sections[low]) & set(sections[high])):
                    lo, hi = sections[low][name], sections[high][name]
                    if parse_quantity(lo) > parse_quantity(hi):
                        problems.append(
                            _Invalid(
                                f"{low} {lo} is greater than {high} {hi} (limitRange.{high}.{name})",
                                "min ≤ defaultRequest ≤ default ≤ max for each resource",
                                key=(low, name),
                                value=lo,
                            )
                        )
        _raise_all(problems)
        return self

    def container_limits(self) -> dict[str, object]:
        """The LimitRange ``spec.limits`` item: ``{"type": "Container", "default": {...}, ...}``."""
        dumped: dict[str, dict[str, str]] = self.model_dump(by_alias=True, exclude_none=True)
        item: dict[str, object] = {"type": "Container"}
        item.update({section: dict(values) for section, values in dumped.items() if values})
        return item


class TenantConfig(BaseModel):
    """One tenant stack's config. Attributes are snake_case; stack-file keys are the camelCase aliases."""

    model_config = _MODEL_CONFIG

    namespace: str = Field(description=VALID_NAMESPACE)
    subaccount_id: str = Field(alias="subaccountId", description=VALID_GUID)
    region: str | None = Field(default=None, description=VALID_REGION)
    credential_type: Literal["client-secret", "x509"] = Field(
        default="client-secret", alias="credentialType", description="client-secret (default) or x509"
    )
    secret_placement: Literal["namespace", "management"] = Field(
        default="namespace",
        alias="secretPlacement",
        description="namespace (default: Secret sap-btp-service-operator in the tenant namespace) or "
        "management (Secret <namespace>-sap-btp-service-operator in managementNamespace)",
    )
    management_namespace: str = Field(
        default=DEFAULT_MANAGEMENT_NAMESPACE,
        alias="managementNamespace",
        description=f"{VALID_DNS_LABEL}; the operator's management namespace (default kyma-system)",
    )
    entitlements: list[EntitlementSpec] = Field(
        default_factory=list,
        description="a list of {service, plan, amount?} mappings; amount only for plans with a numeric quota",
    )
    labels: dict[str, str] = Field(default_factory=dict, description=VALID_LABELS)
    quota: QuotaSpec | None = Field(default=None, description=VALID_QUOTA)
    limit_range: LimitRangeSpec | None = Field(
        default=None, alias="limitRange", description=VALID_LIMIT_RANGE
    )
    network_policy: Literal["none", "default-deny"] = Field(
        default="none",
        alias="networkPolicy",
        description="none (default) or default-deny (deny all, then allow same namespace, istio-system, DNS "
        "and the Kubernetes API)",
    )
    mtls: bool = Field(default=False, description="true or false (Istio PeerAuthentication STRICT)")
    protect: bool = Field(
        default=False,
        description="true or false (protect the whole tenant: namespace, Secret, guardrails and BTP objects)",
    )
    take_ownership: bool = Field(
        default=False,
        alias="takeOwnership",
        description="true or false (delete adopted BTP objects — an admin access or entitlements that "
        "existed before the stack — with the stack; default: keep them)",
    )
    kubeconfig: SecretStr | EncryptedSecret | None = Field(
        default=None, description="a kubeconfig path or content (may be a Pulumi secret)"
    )
    kube_context: str | None = Field(
        default=None,
        alias="kubeContext",
        description="the name of a context in the kubeconfig (required by the stack loaders)",
    )
    cluster_identifier: str | None = Field(
        default=None,
        alias="clusterIdentifier",
        description="a stable name of the cluster (default: kubeContext); a change replaces every Kubernetes "
        "resource of the tenant",
    )
    cis_service_key: SecretStr | EncryptedSecret | None = Field(
        default=None,
        alias="cisServiceKey",
        description="the cis service key JSON as a Pulumi secret: "
        "pulumi config set --secret btp-infra:cisServiceKey < key.json",
    )
    keyring_profile: str | None = Field(
        default=None,
        alias="keyringProfile",
        description="a keyring profile name: letters, digits, '.', '_' and '-', at most 64 characters",
    )
    timeouts: Timeouts = Field(
        default_factory=Timeouts,
        description="a mapping with any of entitlement, adminAccess, instance, binding: " + VALID_DURATION,
    )
    x509: X509Settings | None = Field(default=None, description=VALID_X509)

    _source: str = PrivateAttr(default=_DEFAULT_SOURCE)

    # ---- field rules -------------------------------------------------------------------------------

    @field_validator("namespace")
    @classmethod
    def _check_namespace(cls, value: str) -> str:
        problem = _dns_label_problem(value)
        if problem:
            raise _Invalid(problem, VALID_NAMESPACE)
        if value in SYSTEM_NAMESPACES:
            raise _Invalid("is a system namespace", VALID_NAMESPACE)
        if value.startswith(names.RESERVED_PREFIX):
            raise _Invalid("uses the kube- prefix reserved for Kubernetes", VALID_NAMESPACE)
        return value

    @field_validator("management_namespace")
    @classmethod
    def _check_management_namespace(cls, value: str) -> str:
        problem = _dns_label_problem(value)
        if problem:
            raise _Invalid(problem, VALID_DNS_LABEL)
        return value

    @field_validator("subaccount_id")
    @classmethod
    def _check_guid(cls, value: str) -> str:
        if not _GUID_RE.fullmatch(value):
            raise _Invalid("is not a GUID", VALID_GUID)
        return value.lower()

    @field_validator("region")
    @classmethod
    def _check_region(cls, value: str | None) -> str | None:
        if value is not None and not _REGION_RE.fullmatch(value):
            raise _Invalid("is not a BTP region ID", VALID_REGION)
        return value

    @field_validator("labels", mode="before")
    @classmethod
    def _check_labels(cls, value: object) -> object:
        if not isinstance(value, Mapping):
            raise _Invalid("must be a mapping", VALID_LABELS)
        problems: list[_Invalid] = []
        for key, text in value.items():
            if not isinstance(key, str):
                problems.append(_Invalid("label key must be a string", VALID_LABELS, value=key))
                continue
            problem = _label_key_problem(key)
            if problem:
                problems.append(_Invalid(problem, VALID_LABELS, key=(key,), value=key))
            elif key in RESERVED_LABEL_KEYS or key.startswith(RESERVED_LABEL_PREFIXES):
                message = f"label {key} is reserved (set by btp-infra or Kubernetes)"
                problems.append(_Invalid(message, VALID_LABELS, key=(key,), value=text))
            elif not isinstance(text, str):
                message = f"label value must be a string, not a {_kind(text)}"
                problems.append(_Invalid(message, VALID_LABELS, key=(key,), value=text))
            else:
                problem = _label_value_problem(text)
                if problem:
                    problems.append(_Invalid(problem, VALID_LABELS, key=(key,), value=text))
        _raise_all(problems)
        return value

    @field_validator("kubeconfig", "cis_service_key", mode="before")
    @classmethod
    def _check_secret(cls, value: object) -> object:
        return _secret_input(value)

    @field_validator("kube_context")
    @classmethod
    def _check_context(cls, value: str | None) -> str | None:
        if value is not None and not value.strip():
            raise _Invalid("is empty", "the name of a context in the kubeconfig")
        return value

    @field_validator("cluster_identifier")
    @classmethod
    def _check_cluster_identifier(cls, value: str | None) -> str | None:
        if value is not None and not value.strip():
            raise _Invalid("is empty", "a stable name of the cluster (default: kubeContext)")
        return value

    @field_validator("keyring_profile")
    @classmethod
    def _check_profile(cls, value: str | None) -> str | None:
        if value is not None and not _PROFILE_RE.fullmatch(value):
            raise _Invalid(
                "is not a keyring profile name", "letters, digits, '.', '_' and '-', at most 64 characters"
            )
        return value

    # ---- cross-field rules -------------------------------------------------------------------------

    @model_validator(mode="after")
    def _check_cross_fields(self) -> TenantConfig:
        problems: list[_Invalid] = []
        if self.management_namespace == self.namespace:
            problems.append(
                _Invalid(
                    "is the tenant namespace itself",
                    "a management namespace other than the tenant namespace (default kyma-system)",
                    key=("managementNamespace",),
                    value=self.management_namespace,
                )
            )
        if not self.uses_management_namespace and self.management_namespace != DEFAULT_MANAGEMENT_NAMESPACE:
            problems.append(
                _Invalid(
                    "is only used with secretPlacement: management (here secretPlacement is namespace)",
                    "remove managementNamespace, or set secretPlacement: management",
                    key=("managementNamespace",),
                    value=self.management_namespace,
                )
            )
        if self.x509 is not None and self.credential_type != "x509":
            problems.append(
                _Invalid(
                    f"is only used with credentialType: x509 (here credentialType is {self.credential_type})",
                    "remove x509, or set credentialType: x509",
                    key=("x509",),
                    value=self.x509.model_dump(by_alias=True),
                )
            )
        seen: dict[tuple[str, str], int] = {}
        for index, entry in enumerate(self.entitlements):
            if entry.key in seen:
                problems.append(
                    _Invalid(
                        f"duplicates entitlements[{seen[entry.key]}]",
                        "each service/plan at most once",
                        key=("entitlements", index),
                        value=f"{entry.service}/{entry.plan}",
                    )
                )
            else:
                seen[entry.key] = index
        _raise_all(problems)
        return self

    # ---- derived values ----------------------------------------------------------------------------

    @property
    def source(self) -> str:
        """Where this config came from (the stack file path, for messages)."""
        return self._source

    @property
    def uses_management_namespace(self) -> bool:
        """True with ``secretPlacement: management`` (the Secret lives in the management namespace)."""
        return self.secret_placement == "management"

    @property
    def secret_name(self) -> str:
        """Name of the operator credential Secret (btp-api.md §A.1)."""
        return operator_secret.secret_name(self.namespace, self.secret_placement)

    @property
    def secret_namespace(self) -> str:
        """Namespace of the operator credential Secret: the tenant or the management namespace."""
        return operator_secret.secret_namespace(
            self.namespace, self.secret_placement, self.management_namespace
        )

    @property
    def instance_name(self) -> str:
        """Service Manager name of the ``service-operator-access`` instance."""
        return f"btp-infra-{self.namespace}-operator-access"

    @property
    def binding_name(self) -> str:
        """Service Manager name of the binding on that instance (one per credential type)."""
        return f"{self.instance_name}-{self.credential_type}"

    @property
    def binding_parameters(self) -> dict[str, Any]:
        """Extra Service Manager parameters of the operator binding: the x509 settings when configured
        (else none: Service Manager's defaults apply, 7 days and 2048 bits, and existing bindings stay)."""
        return self.x509.parameters if self.x509 is not None else {}

    @property
    def namespace_labels(self) -> dict[str, str]:
        """All labels of the tenant Namespace: btp-infra's own first, then the user's."""
        labels = {
            names.LABEL_ISTIO_INJECTION: "enabled",
            names.LABEL_TENANT: self.namespace,
            names.LABEL_SUBACCOUNT: self.subaccount_id,
            "app.kubernetes.io/managed-by": "btp-infra",
        }
        labels.update(self.labels)
        return labels

    @property
    def sm_labels(self) -> dict[str, list[str]]:
        """Labels put on the Service Manager instance and binding (SM label keys allow ``[A-Za-z0-9._-]``)."""
        return {SM_MANAGED_BY_LABEL: [PROJECT], SM_TENANT_LABEL: [self.namespace]}

    @property
    def all_entitlements(self) -> list[EntitlementSpec]:
        """``service-manager/service-operator-access`` first (merged with a user entry), then the rest."""
        service, plan = OPERATOR_ACCESS
        own = next((e for e in self.entitlements if e.key == OPERATOR_ACCESS), None)
        first = own or EntitlementSpec(service=service, plan=plan)
        return [first, *(e for e in self.entitlements if e.key != OPERATOR_ACCESS)]

    @property
    def has_cis_service_key(self) -> bool:
        """True when ``cisServiceKey`` is set (decrypted or still encrypted)."""
        return self.cis_service_key is not None

    @property
    def cis_service_key_value(self) -> str | None:
        """The cis key JSON when known in plaintext (from the engine); None if unset or still encrypted."""
        key = self.cis_service_key
        return key.get_secret_value() if isinstance(key, SecretStr) else None

    @property
    def kube_cluster_identifier(self) -> str | None:
        """The provider's ``clusterIdentifier``: ``clusterIdentifier``, else ``kubeContext``.

        pulumi-kubernetes replaces the provider (and every resource it manages) when this changes, and only
        then; without it, any change of the kubeconfig's active cluster entry (a rotated CA) does
        (``provider.go``, ``DiffConfig``)."""
        return self.cluster_identifier or self.kube_context

    @property
    def kubeconfig_value(self) -> str | None:
        """The kubeconfig (path or content) when available in plaintext; None if unset or still encrypted."""
        value = self.kubeconfig
        return value.get_secret_value() if isinstance(value, SecretStr) else None

    def redacted(self) -> dict[str, object]:
        """The config with camelCase keys, JSON-compatible, secrets shown as ``[secret]`` (for display)."""
        data: dict[str, object] = self.model_dump(mode="json", by_alias=True)
        for key in SECRET_KEYS:
            if data.get(key) is not None:
                data[key] = "[secret]"
        return data


CONFIG_KEYS: Final[tuple[str, ...]] = tuple(
    info.alias or name for name, info in TenantConfig.model_fields.items()
)
"""Every key of the ``btp-infra:`` namespace, camelCase, in declaration order."""


# ----------------------------------------------------------------------------------------------------
# Translating pydantic errors into ConfigIssues
# ----------------------------------------------------------------------------------------------------

_TYPE_MESSAGES: Final = {
    "string_type": "must be a string",
    "int_type": "must be a whole number",
    "int_from_float": "must be a whole number",
    "int_parsing": "must be a whole number",
    "bool_type": "must be true or false",
    "dict_type": "must be a mapping",
    "model_type": "must be a mapping",
    "model_attributes_type": "must be a mapping",
    "list_type": "must be a list",
    "literal_error": "is not one of the allowed values",
    "missing": "is required",
    "none_required": "must be empty",
}


def _unwrap(annotation: Any) -> Any:
    """Strip ``X | None``."""
    if get_origin(annotation) in (Union, types.UnionType):
        args = [a for a in get_args(annotation) if a is not type(None)]
        if len(args) == 1:
            return args[0]
    return annotation


def _field_at(loc: Sequence[str | int]) -> tuple[type[BaseModel] | None, FieldInfo | None]:
    """The model owning the last named key of ``loc`` and that key's field (None if unknown)."""
    current: Any = TenantConfig
    owner: type[BaseModel] | None = None
    info: FieldInfo | None = None
    for item in loc:
        current = _unwrap(current)
        if get_origin(current) is None and isinstance(current, type) and issubclass(current, RootModel):
            current = _unwrap(current.model_fields["root"].annotation)
        if get_origin(current) is list:
            current = get_args(current)[0]
        elif get_origin(current) is dict:
            current = get_args(current)[1]
        elif isinstance(current, type) and issubclass(current, BaseModel):
            if not isinstance(item, str):
                break
            owner = current
            by_alias = {(f.alias or n): f for n, f in current.model_fields.items()}
            info = by_alias.get(item)
            if info is None:
                return owner, None
            current = info.annotation
        else:
            break
    return owner, info


def _format_loc(loc: Sequence[str | int]) -> str:
    """``('entitlements', 1, 'amount')`` → ``entitlements[1].amount``; odd keys are quoted."""
    text = ""
    for item in loc:
        if isinstance(item, int):
            text += f"[{item}]"
        elif not text:
            text = item
        elif re.fullmatch(r"[A-Za-z0-9_-]+", item):
            text += f".{item}"
        else:
            text += f"[{json.dumps(item)}]"
    return text


def _is_secret_loc(loc: Sequence[str | int], hidden: Collection[str]) -> bool:
    head = loc[0] if loc else ""
    return isinstance(head, str) and (head in SECRET_KEYS or head in hidden)


def _translate(exc: ValidationError, *, source: str, hidden: Collection[str]) -> list[ConfigIssue]:
    """ConfigIssues for a pydantic ValidationError (messages in our words, never its input dump)."""
    issues: list[ConfigIssue] = []
    for err in exc.errors(include_url=False):
        loc: tuple[str | int, ...] = tuple(err["loc"])
        kind = err["type"]
        raw: object = err.get("input", NO_VALUE)
        error = (err.get("ctx") or {}).get("error")
        if isinstance(error, _Invalid | _InvalidMany):
            problems = error.problems if isinstance(error, _InvalidMany) else [error]
            for problem in problems:
                where = loc + problem.key
                value = raw if problem.value is NO_VALUE else problem.value
                issues.append(
                    ConfigIssue(
                        source,
                        _format_loc(where),
                        value,
                        problem.message,
                        problem.valid,
                        secret=_is_secret_loc(where, hidden) or value is SECRET,
                    )
                )
            continue
        owner, info = _field_at(loc)
        if kind == "extra_forbidden":
            known = [(f.alias or n) for n, f in owner.model_fields.items()] if owner else []
            word = str(loc[-1]) if loc else ""
            hint = _did_you_mean(word, known)
            message = "is not a known key" + (f"; did you mean {hint}?" if hint else "")
            secret = _is_secret_loc(loc, hidden) or (hint in SECRET_KEYS and len(loc) == 1)
            issues.append(
                ConfigIssue(
                    source, _format_loc(loc), raw, message, "one of: " + ", ".join(known), secret=secret
                )
            )
            continue
        valid = info.description if info is not None and info.description else ""
        if kind == "literal_error" and not valid:
            valid = str((err.get("ctx") or {}).get("expected", ""))
        message = _TYPE_MESSAGES.get(kind, err["msg"])
        value = MISSING if kind == "missing" else raw
        issues.append(
            ConfigIssue(source, _format_loc(loc), value, message, valid, secret=_is_secret_loc(loc, hidden))
        )
    return issues


# ----------------------------------------------------------------------------------------------------
# Loaders
# ----------------------------------------------------------------------------------------------------


def _coerce(key: str, value: object, *, source: str) -> tuple[object, ConfigIssue | None]:
    """Engine-style strings to structured values: ``"true"`` → True, JSON text → objects/lists."""
    if key in _BOOL_KEYS and isinstance(value, str):
        mapping = {"true": True, "True": True, "false": False, "False": False}
        return mapping.get(value, value), None
    if key in _JSON_KEYS and isinstance(value, str):
        _, info = _field_at((key,))
        valid = (info.description or "") if info else ""
        try:
            return loads_json(value), None
        except json.JSONDecodeError as exc:
            message = f"is not valid JSON ({exc.msg} at line {exc.lineno} column {exc.colno})"
        except InputLimitError as exc:  # nesting or integers beyond the limits
            message = f"is JSON that {exc}"
            valid = f"JSON nested at most {MAX_NESTING} levels, integers of at most {MAX_INT_DIGITS} digits"
        return value, ConfigIssue(source, key, value, message, valid)
    return value, None


def _validate(
    data: Mapping[str, object],
    *,
    source: str,
    hidden: Collection[str] = (),
    issues: Sequence[ConfigIssue] = (),
    reported: Collection[str] = (),
) -> TenantConfig:
    """Coerce and validate ``data``; raise ConfigError with ``issues`` plus everything found here."""
    found = list(issues)
    reported_keys = set(reported)
    values: dict[str, object] = {}
    for key, value in data.items():
        coerced, issue = _coerce(key, value, source=source)
        if issue is not None:
            found.append(issue)
            reported_keys.add(key)
        else:
            values[key] = coerced
    config: TenantConfig | None = None
    try:
        config = TenantConfig.model_validate(values)
    except ValidationError as exc:
        for issue in _translate(exc, source=source, hidden=hidden):
            head = re.split(r"[.\[]", issue.key, maxsplit=1)[0]
            if head not in reported_keys:
                found.append(issue)
    if found or config is None:
        raise ConfigError(found)
    config._source = source
    return config


def parse_config(
    data: Mapping[str, object], *, source: str = _DEFAULT_SOURCE, secret_keys: Collection[str] = ()
) -> TenantConfig:
    """Validate a mapping of camelCase ``btp-infra`` keys (structured values) into a TenantConfig.

    ``secret_keys`` names extra keys whose values must never be rendered. Raises :class:`ConfigError`.
    """
    return _validate(data, source=source, hidden=set(secret_keys))


def _kubernetes_key_issue(source: str, key: str, value: object) -> ConfigIssue:
    instead = IGNORED_KUBERNETES_KEYS[key]
    return ConfigIssue(
        source,
        key,
        _secure_safe(value, key),
        "is not read: btp-infra configures its own Kubernetes provider, which ignores kubernetes:* config",
        f"set {PROJECT}:{instead} instead (and remove {key})",
    )


def _kube_context_issue(source: str) -> ConfigIssue:
    return ConfigIssue(
        source,
        "kubeContext",
        NO_VALUE,
        "is required: without it the ambient kubeconfig's current context decides which cluster the tenant "
        "lands on",
        "the name of a context in the kubeconfig: pulumi config set btp-infra:kubeContext <context>",
    )


def _validate_target(
    data: Mapping[str, object],
    *,
    source: str,
    hidden: Collection[str] = (),
    issues: Sequence[ConfigIssue] = (),
    reported: Collection[str] = (),
) -> TenantConfig:
    """:func:`_validate` for a whole stack (the loaders): also requires ``kubeContext``, reported last."""
    missing = data.get("kubeContext") is None and "kubeContext" not in reported
    try:
        config = _validate(data, source=source, hidden=hidden, issues=issues, reported=reported)
    except ConfigError as err:
        if missing:
            raise ConfigError([*err.issues, _kube_context_issue(source)]) from None
        raise
    if missing:
        raise ConfigError([_kube_context_issue(source)])
    return config


def _is_kubeconfig_content(value: object) -> bool:
    """True for a kubeconfig's content (YAML/JSON text, or a mapping), False for a path.

    pulumi-kubernetes takes either (``util.go``, ``parseKubeconfigString``: a path if it names a file, else
    content); a path is one line that is not a YAML/JSON mapping.
    """
    if not isinstance(value, str):
        return isinstance(value, dict | list)
    text = value.strip()
    if "\n" in text or text.startswith(("{", "[")):
        return True
    try:
        parsed = load_yaml_text(text)
    except (ValueError, yaml.YAMLError):
        return False
    return isinstance(parsed, dict)


def from_pulumi_config(
    values: Mapping[str, str | None], *, source: str, secret_keys: Collection[str] = ()
) -> TenantConfig:
    """Validate config as the Pulumi engine hands it to the program.

    ``values`` maps ``btp-infra:<key>`` (or bare ``<key>``) to the engine's string value: objects and lists as
    JSON text, booleans as ``"true"``/``"false"``, secrets decrypted. None values are skipped; keys of other
    namespaces (``kubernetes:``, ``pulumi:``, …) are ignored here (the offline stack-file check reports
    unexpected ones). ``secret_keys`` (bare or qualified) are never rendered, like ``cisServiceKey``.
    The program can pass ``{k: cfg.get(k) for k in CONFIG_KEYS}`` from ``pulumi.Config("btp-infra")``, or the
    engine's whole config map to also catch misspelt keys. ``source`` is the stack file path for messages.
    """
    data: dict[str, object] = {}
    issues: list[ConfigIssue] = []
    for key, value in values.items():
        if value is None:
            continue
        namespace, sep, name = key.partition(":")
        if not sep:
            name = key
        elif key in IGNORED_KUBERNETES_KEYS:
            issues.append(_kubernetes_key_issue(source, key, value))
            continue
        elif namespace != PROJECT:
            continue
        data[name] = value
    hidden = {k.partition(":")[2] if ":" in k else k for k in secret_keys}
    return _validate_target(data, source=source, hidden=hidden, issues=issues)


class _YamlLimitError(yaml.composer.ComposerError):
    """A YAML document beyond the loader's limits (or with a scalar that cannot be converted).

    ``path`` leads from the document root to the offending node (mapping keys as text, list positions)."""

    def __init__(self, problem: str, mark: Any, path: Sequence[str | int], valid: str) -> None:
        super().__init__(None, None, problem, mark)
        self.path = tuple(path)
        self.valid = valid


_VALID_YAML_VALUES: Final = (
    f"at most {MAX_YAML_VALUES} values in a stack file, counting each alias (*name) as the whole value it "
    "stands for"
)
_VALID_YAML_TEXT: Final = (
    f"at most {format_size(MAX_YAML_TEXT)} of text in a stack file, counting each alias (*name) as the whole "
    "value it stands for"
)
_VALID_YAML_NESTING: Final = f"mappings and lists nested at most {MAX_NESTING} levels deep"
_INT_TAG: Final = "tag:yaml.org,2002:int"
_TIMESTAMP_TAG: Final = "tag:yaml.org,2002:timestamp"


class _UniqueKeyLoader(yaml.SafeLoader):
    """SafeLoader that rejects duplicate mapping keys instead of keeping the last one, and that bounds the
    work any reader of the document can be made to do: at most :data:`MAX_YAML_VALUES` values with aliases
    expanded, at most :data:`MAX_NESTING` levels of mappings and lists, integers of at most
    :data:`~btp_infra.limits.MAX_INT_DIGITS` digits, and timestamps that are real dates. Limits are checked
    while composing, before anything is constructed; violations are :class:`_YamlLimitError`.
    """

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        # Values and scalar characters composed so far, each alias counted as its anchor's whole value.
        self._values = 0
        self._chars = 0
        self._sizes: dict[int, tuple[int, int]] = {}  # id(anchored node) -> its (values, characters)
        self._path: list[str | int] = []

    def _fail(self, problem: str, mark: Any, valid: str) -> _YamlLimitError:
        return _YamlLimitError(problem, mark, self._path, valid)

    def _count(self, values: int, chars: int, mark: Any) -> None:
        self._values += values
        self._chars += chars
        aliased = "once its aliases (*name) are expanded" if self._sizes else "in all"
        if self._values > MAX_YAML_VALUES:
            raise self._fail(f"has more than {MAX_YAML_VALUES} values {aliased}", mark, _VALID_YAML_VALUES)
        if self._chars > MAX_YAML_TEXT:  # only reachable through aliases: the file itself is smaller
            text = format_size(MAX_YAML_TEXT)
            raise self._fail(f"has more than {text} of text {aliased}", mark, _VALID_YAML_TEXT)

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node | None:
        if isinstance(index, yaml.ScalarNode):
            self._path.append(_clip(str(index.value)))
        elif isinstance(index, int):
            self._path.append(index)
        elif parent is not None:
            self._path.append("(a key)")
        try:
            return self._compose_bounded(parent, index)
        finally:
            if parent is not None:
                self._path.pop()

    def _compose_bounded(self, parent: yaml.Node | None, index: Any) -> yaml.Node | None:
        event = self.peek_event()  # type: ignore[no-untyped-call]
        if isinstance(event, yaml.AliasEvent):
            node = super().compose_node(parent, index)
            # An alias of an unfinished anchor (a recursive node) counts 1; the constructor rejects it.
            self._count(*self._sizes.get(id(node), (1, 0)), event.start_mark)
            return node
        if isinstance(event, yaml.CollectionStartEvent) and len(self._path) >= MAX_NESTING:
            problem = f"is nested more than {MAX_NESTING} levels deep"
            raise self._fail(problem, event.start_mark, _VALID_YAML_NESTING)
        before = (self._values, self._chars)
        self._count(1, len(event.value) if isinstance(event, yaml.ScalarEvent) else 0, event.start_mark)
        node = super().compose_node(parent, index)
        if isinstance(event, yaml.NodeEvent) and event.anchor is not None and node is not None:
            self._sizes[id(node)] = (self._values - before[0], self._chars - before[1])
        if isinstance(node, yaml.ScalarNode) and node.tag in (_INT_TAG, _TIMESTAMP_TAG):
            self._check_scalar(node)
        return node

    def _check_scalar(self, node: yaml.ScalarNode) -> None:
        """Integers Python cannot convert or show (beyond 4300 digits, also hex and base 60) and impossible
        dates (``2001-13-45``) fail here, with their place, instead of as a ValueError while constructing."""
        if node.tag == _TIMESTAMP_TAG:
            try:
                self.construct_yaml_timestamp(node)
            except (ValueError, OverflowError):
                valid = "a real date (2024-02-29) or a quoted string"
                raise self._fail("is not a real date or time", node.start_mark, valid) from None
            return
        too_long = self._fail(
            f"is an integer of more than {MAX_INT_DIGITS} digits",
            node.start_mark,
            f"an integer of at most {MAX_INT_DIGITS} digits (quote it to make it a string)",
        )
        if len(node.value) > 4 * MAX_INT_DIGITS:  # beyond any in-limit form (binary, base 60): not converted
            raise too_long
        try:
            value = self.construct_yaml_int(node)
        except ValueError:
            raise too_long from None
        if int_too_large(value):
            raise too_long


def _construct_unique_mapping(loader: _UniqueKeyLoader, node: yaml.MappingNode) -> dict[Any, Any]:
    seen: set[object] = set()
    for key_node, _ in node.value:
        if key_node.tag == "tag:yaml.org,2002:merge":
            continue
        key = loader.construct_object(key_node, deep=True)
        try:
            duplicate = key in seen
        except TypeError:
            continue  # unhashable: SafeLoader reports it
        if duplicate:
            raise yaml.constructor.ConstructorError(
                "while constructing a mapping",
                node.start_mark,
                f"found duplicate key {_show(key)}",
                key_node.start_mark,
            )
        seen.add(key)
    return loader.construct_mapping(node, deep=True)


_UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_unique_mapping)

_VALID_STACK_FILE: Final = (
    "a YAML mapping with a config: mapping of btp-infra:<key> entries, "
    "like examples/stacks/Pulumi.example.yaml"
)


def _file_issue(source: str, message: str, valid: str = _VALID_STACK_FILE) -> ConfigError:
    return ConfigError([ConfigIssue(source, "", NO_VALUE, message, valid)])


def load_yaml_text(text: str) -> object:
    """``text`` parsed like a stack file: safe tags only, each mapping key once, and within the limits of
    :class:`_UniqueKeyLoader` (values with aliases expanded, nesting, integers, dates).

    Raises ``yaml.YAMLError`` (limits included), never RecursionError or ValueError: also for YAML found
    inside values (a kubeconfig), which must not hang or crash whoever looks into it.
    """
    try:
        return yaml.load(text, Loader=_UniqueKeyLoader)  # noqa: S506 - a SafeLoader subclass
    except RecursionError:  # not expected within the nesting limit; never a traceback either way
        raise yaml.YAMLError(f"is nested more than {MAX_NESTING} levels deep") from None


def _config_key_at(path: Sequence[str | int]) -> str:
    """The key of an issue at ``path`` in a stack file: ``config``'s namespaced key, else the file."""
    if len(path) >= 2 and path[0] == "config" and isinstance(path[1], str) and ":" in path[1]:
        return path[1]
    return ""


def _read_yaml(path: Path, source: str) -> object:
    try:
        data = read_regular_file(path, limit=MAX_STACK_FILE_BYTES)
    except FileNotFoundError:
        raise _file_issue(
            source,
            "stack file not found",
            "an existing stacks/Pulumi.<stack>.yaml (copy examples/stacks/Pulumi.example.yaml)",
        ) from None
    except InputLimitError as exc:
        raise _file_issue(
            source,
            str(exc),
            f"a regular file of at most {format_size(MAX_STACK_FILE_BYTES)}, "
            "like examples/stacks/Pulumi.example.yaml",
        ) from None
    except OSError as exc:
        raise _file_issue(source, f"cannot be read ({exc.strerror or type(exc).__name__})") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise _file_issue(source, "is not UTF-8 text") from None
    try:
        return load_yaml_text(text)
    except _YamlLimitError as exc:
        mark = exc.problem_mark
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark is not None else ""
        key = _config_key_at(exc.path)
        if not key and exc.path:
            where += f" under {_show(exc.path[0])}"
        issue = ConfigIssue(source, key, NO_VALUE, f"{exc.problem}{where}", exc.valid)
        raise ConfigError([issue]) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problem = getattr(exc, "problem", None) or str(exc) or type(exc).__name__
        context = getattr(exc, "context", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        detail = f"{context}: {problem}" if context and "duplicate" not in problem else problem
        raise _file_issue(
            source, f"invalid YAML{where}: {_clip(detail, 200)}", "valid YAML, each mapping key once"
        ) from None


def load_stack_file(path: str | Path) -> TenantConfig:
    """Read and validate ``stacks/Pulumi.<stack>.yaml`` offline. Raises :class:`ConfigError`.

    ``secure:`` values are kept as :class:`EncryptedSecret` ("present, secret"); only :data:`SECRET_KEYS` may
    be secure, and ``cisServiceKey`` must be. ``kubernetes:*`` and ``pulumi:*`` keys are ignored.
    """
    source = str(path)
    document = _read_yaml(Path(path), source)
    if document is None:
        raise _file_issue(source, "is empty")
    if not isinstance(document, dict):
        raise _file_issue(source, f"top level is a {_kind(document)}, not a mapping")
    issues: list[ConfigIssue] = []
    for key in document:
        if key not in STACK_FILE_KEYS:
            hint = _did_you_mean(str(key), STACK_FILE_KEYS)
            message = f"unknown top-level key {_show(key)}" + (f"; did you mean {hint}?" if hint else "")
            issues.append(
                ConfigIssue(source, "", NO_VALUE, message, "top-level keys " + ", ".join(STACK_FILE_KEYS))
            )
    if "config" not in document:
        issues.append(ConfigIssue(source, "", NO_VALUE, "has no config: mapping", _VALID_STACK_FILE))
        raise ConfigError(issues)
    config = document["config"]
    if config is None:
        config = {}
    if not isinstance(config, dict):
        issues.append(
            ConfigIssue(
                source, "", NO_VALUE, f"config: is a {_kind(config)}, not a mapping", _VALID_STACK_FILE
            )
        )
        raise ConfigError(issues)

    data: dict[str, object] = {}
    reported: set[str] = set()
    secure_valid = "a plain value; only " + ", ".join(sorted(SECRET_KEYS)) + " may be secure:"
    for full_key, value in config.items():
        if not isinstance(full_key, str):
            issues.append(
                ConfigIssue(
                    source, "", NO_VALUE, f"config key {_show(full_key)} is not a string", f"{PROJECT}:<key>"
                )
            )
            continue
        namespace, sep, name = full_key.partition(":")
        if not sep:
            hint = f"; did you mean {PROJECT}:{full_key}?" if full_key in CONFIG_KEYS else ""
            issues.append(
                ConfigIssue(
                    source,
                    "",
                    _secure_safe(value, full_key),
                    f"config key {_show(full_key)} has no namespace{hint}",
                    f"namespaced keys: {PROJECT}:<key>",
                )
            )
            continue
        if full_key in IGNORED_KUBERNETES_KEYS:
            issues.append(_kubernetes_key_issue(source, full_key, value))
            continue
        if namespace in PASSTHROUGH_NAMESPACES:
            continue
        if namespace != PROJECT:
            hint = _did_you_mean(namespace, [PROJECT, *PASSTHROUGH_NAMESPACES])
            suggestion = f"{hint}:{_clip(name)}" if hint else None
            issues.append(
                ConfigIssue(
                    source,
                    full_key,
                    _secure_safe(value),
                    f"unknown config namespace {_show(namespace)}"
                    + (f"; did you mean {suggestion}?" if suggestion else ""),
                    f"{PROJECT}:<key> (kubernetes:* and pulumi:* keys are passed through)",
                )
            )
            continue
        if _is_secure(value):
            if name in SECRET_KEYS or name not in CONFIG_KEYS:
                data[name] = EncryptedSecret()
            else:
                issues.append(
                    ConfigIssue(
                        source, name, SECRET, "is encrypted (secure:) but is not secret", secure_valid
                    )
                )
                reported.add(name)
            continue
        if name == "cisServiceKey" and value is not None:
            issues.append(
                ConfigIssue(
                    source,
                    name,
                    SECRET,
                    "is in plain text in the stack file",
                    "an encrypted value: pulumi config set --secret btp-infra:cisServiceKey < key.json",
                )
            )
            reported.add(name)
            continue
        if name == "kubeconfig" and value is not None and _is_kubeconfig_content(value):
            issues.append(
                ConfigIssue(
                    source,
                    name,
                    SECRET,
                    "is a kubeconfig's content in plain text in the stack file",
                    "a path (plain text is fine), or the content encrypted: "
                    "pulumi config set --secret btp-infra:kubeconfig < kubeconfig.yaml",
                )
            )
            reported.add(name)
            continue
        data[name] = value
    return _validate_target(data, source=source, issues=issues, reported=reported)


def _is_secure(value: object) -> bool:
    return isinstance(value, dict) and set(value) == {"secure"} and isinstance(value["secure"], str)


def _secure_safe(value: object, key: str = "") -> object:
    """``value`` for an issue: ``[secret]`` if encrypted or ``key`` looks secret (bare ``cisServiceKey``)."""
    return SECRET if _is_secure(value) or is_secret_key(key) else value


def _kind(value: object) -> str:
    if isinstance(value, list):
        return "list"
    if isinstance(value, str):
        return "string"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    return type(value).__name__


# ----------------------------------------------------------------------------------------------------
# Stack files and the fleet
# ----------------------------------------------------------------------------------------------------


def _stack_config_dir(project_dir: Path) -> Path:
    """``stackConfigDir`` from ``Pulumi.yaml`` (the project directory when unset or unreadable)."""
    for name in ("Pulumi.yaml", "Pulumi.yml"):
        project_file = project_dir / name
        if project_file.is_file():
            try:  # bounded like a stack file: in a pull request, Pulumi.yaml is untrusted input too
                data = read_regular_file(project_file, limit=MAX_STACK_FILE_BYTES)
                project = load_yaml_text(data.decode("utf-8"))
            except (OSError, ValueError, yaml.YAMLError):  # ValueError: not UTF-8, a FIFO, too large
                return project_dir
            stack_dir = project.get("stackConfigDir") if isinstance(project, dict) else None
            if isinstance(stack_dir, str):
                return project_dir / stack_dir
            return project_dir
    return project_dir


def stack_file_for(stack: str, project_dir: str | Path = ".") -> Path:
    """The stack file of ``stack`` (``org/project/name`` uses ``name``), honouring ``stackConfigDir``."""
    name = stack.rsplit("/", 1)[-1]
    return _stack_config_dir(Path(project_dir)) / f"Pulumi.{name}.yaml"


def stack_name_of(path: str | Path) -> str:
    """``stacks/Pulumi.incident.yaml`` → ``incident``."""
    name = Path(path).name
    for suffix in (".yaml", ".yml"):
        if name.startswith("Pulumi.") and name.endswith(suffix):
            return name[len("Pulumi.") : -len(suffix)]
    raise ValueError(f"{path} is not a Pulumi.<stack>.yaml file")


def discover_stacks(project_dir: str | Path = ".") -> list[Path]:
    """Every ``Pulumi.<stack>.yaml`` in the stack config directory, sorted by path."""
    directory = _stack_config_dir(Path(project_dir))
    found = [
        p
        for pattern in ("Pulumi.*.yaml", "Pulumi.*.yml")
        for p in directory.glob(pattern)
        if p.is_file() and p.name not in ("Pulumi.yaml", "Pulumi.yml")
    ]
    return sorted(found)


def cluster_of(config: TenantConfig) -> tuple[str | None, str | None]:
    """The cluster a stack deploys to, as far as its config tells: its ``kubeconfig`` (plaintext) and
    ``kubeContext``. Stacks with neither share the ambient cluster; an encrypted kubeconfig counts by its
    context only (it cannot be read offline), so two such stacks on one context are taken as one cluster."""
    return config.kubeconfig_value, config.kube_context


def _cluster_text(cluster: tuple[str | None, str | None]) -> str:
    """The cluster in a message: the context name only (a kubeconfig is a secret and never shown)."""
    kubeconfig, context = cluster
    if context is not None:
        return f"on the same cluster (kubeContext {context!r})"
    return (
        "on the same cluster (the same kubeconfig)"
        if kubeconfig
        else "on the same cluster (ambient kubeconfig)"
    )


def validate_fleet(configs: Mapping[str, TenantConfig]) -> list[ConfigIssue]:
    """Issues for mappings that two stacks claim (each names both files).

    A namespace is unique per cluster (:func:`cluster_of`): ``orders`` may be mapped on two clusters. A
    subaccount is mapped by one namespace fleet-wide (one subaccount = one tenant, whatever the cluster). A
    tenant namespace may not be another stack's management namespace on the same cluster.
    Keys of ``configs`` name the stacks (used when a config has no source file).
    """
    issues: list[ConfigIssue] = []
    namespaces: dict[tuple[tuple[str | None, str | None], str], str] = {}
    subaccounts: dict[str, str] = {}
    management: dict[tuple[tuple[str | None, str | None], str], str] = {}
    for name, config in configs.items():
        if config.uses_management_namespace:
            management.setdefault((cluster_of(config), config.management_namespace), _where(name, config))
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
        if config.subaccount_id in subaccounts:
            issues.append(
                ConfigIssue(
                    where,
                    "subaccountId",
                    config.subaccount_id,
                    f"is also mapped by {subaccounts[config.subaccount_id]}",
                    "a subaccount that no other stack maps, on any cluster (one subaccount = one stack = one "
                    "namespace)",
                )
            )
        else:
            subaccounts[config.subaccount_id] = where
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


def _where(name: str, config: TenantConfig) -> str:
    return config.source if config.source != _DEFAULT_SOURCE else name


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


# ----------------------------------------------------------------------------------------------------
# Engine form (for rendering a stack under mocks, as ``btp-infra plan`` does)
# ----------------------------------------------------------------------------------------------------

ENCRYPTED_PLACEHOLDER: Final = "[encrypted]"
"""Stands in for a ``secure:`` value in :func:`engine_config`: it cannot be decrypted offline."""


def engine_values(config: Mapping[str, Any]) -> dict[str, str]:
    """Stack-file config values in the form the Pulumi engine hands the program: ``<ns>:<key>`` → string.

    Mappings and lists become JSON text, booleans ``"true"``/``"false"``, numbers their JSON text, ``null`` is
    dropped. ``secure:`` values cannot be decrypted offline and become :data:`ENCRYPTED_PLACEHOLDER`.
    """
    values: dict[str, str] = {}
    for key, value in config.items():
        if value is None:
            continue
        if _is_secure(value):
            values[str(key)] = ENCRYPTED_PLACEHOLDER
        elif isinstance(value, bool):
            values[str(key)] = "true" if value else "false"
        elif isinstance(value, str):
            values[str(key)] = value
        else:
            values[str(key)] = json.dumps(value, default=str)
    return values


def engine_config(path: str | Path) -> dict[str, str]:
    """:func:`engine_values` of a stack file (every namespace kept, as the engine passes them all).

    Meant for a file :func:`load_stack_file` accepted; raises :class:`ConfigError` if it cannot be read.
    """
    document = _read_yaml(Path(path), str(path))
    config = document.get("config") if isinstance(document, dict) else None
    return engine_values(config if isinstance(config, dict) else {})
