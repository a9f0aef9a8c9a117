"""The analyzer bridge: run the pack the way the Pulumi CLI does, without the CLI, through the SDK's own
analyzer servicer.

Owns the policy-config handling (read, validate, resolve: :class:`PolicySettings`,
:class:`PolicyConfigError`), the engine's requests built from rendered resources, and :class:`PackAnalyzer`
with its :class:`Diagnostic` records. The servicer (``pulumi_policy.policy._PolicyAnalyzerServicer``, private
API reached through :func:`btp_infra.offline._sdk.policy_servicer`; pulumi-policy is pinned ``>=1.21,<1.22``)
is exactly what ``PolicyPack(...)`` serves over gRPC. Driving it in-process keeps enforcement levels,
``not_applicable``, config handling, secret unwrapping and the unknown-value proxy the SDK's own. What the CLI
does before the servicer — reading and validating the policy config file, filling in schema defaults and
enforcement levels — is done here (:func:`load_policy_config`, :func:`configure_request`).

Resource policies get each resource's *inputs* (``Analyze``); stack policies get every resource with its
*outputs*, parent and dependencies (``AnalyzeStack``) — the same split as the engine.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from google.protobuf import struct_pb2
from pulumi.runtime import proto
from pulumi_policy import EnforcementLevel, Policy

from btp_infra.conventions import PROVIDER_KEY
from btp_infra.limits import (
    MAX_POLICY_CONFIG_BYTES,
    InputLimitError,
    bounded_repr,
    format_size,
    loads_json,
    read_regular_file,
)
from btp_infra.offline import _sdk
from btp_infra.offline.graph import RenderedResource
from btp_infra.policy.policies import ALL_POLICIES, PACK_NAME, PACK_VERSION, PLAN_POLICIES

#: Policy-config key that sets the enforcement level of every policy (as in ``pulumi --policy-pack-config``).
ALL_KEY = "all"
ENFORCEMENT_KEY = "enforcementLevel"

_LEVELS: dict[str, EnforcementLevel] = {level.value: level for level in EnforcementLevel}
_PROTO_LEVEL: dict[EnforcementLevel, int] = {
    EnforcementLevel.ADVISORY: proto.ADVISORY,
    EnforcementLevel.MANDATORY: proto.MANDATORY,
    EnforcementLevel.REMEDIATE: proto.REMEDIATE,
    EnforcementLevel.DISABLED: proto.DISABLED,
}
_LEVEL_NAME: dict[int, str] = {v: k.value for k, v in _PROTO_LEVEL.items()}
_SEVERITY_NAME: dict[int, str | None] = {
    proto.POLICY_SEVERITY_UNSPECIFIED: None,
    proto.POLICY_SEVERITY_LOW: "low",
    proto.POLICY_SEVERITY_MEDIUM: "medium",
    proto.POLICY_SEVERITY_HIGH: "high",
    proto.POLICY_SEVERITY_CRITICAL: "critical",
}


class PolicyConfigError(ValueError):
    """The policy config file is unreadable or does not match the pack's policies and schemas."""


# --------------------------------------------------------------------------------------------------
# Policy config (the part the CLI does: read, validate against the schemas, fill in defaults)
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PolicySettings:
    """One policy's effective enforcement level and config properties."""

    enforcement_level: EnforcementLevel
    properties: dict[str, Any] = field(default_factory=dict)


def load_policy_config(path: Path) -> dict[str, Any]:
    """The raw JSON object of a ``--policy-config`` file (same format as ``pulumi --policy-pack-config``).

    A regular file of at most :data:`MAX_POLICY_CONFIG_BYTES`, UTF-8, nested at most 32 levels, integers of
    at most 4300 digits (:mod:`btp_infra.limits`): anything else is one :class:`PolicyConfigError` line.
    """
    try:
        data = read_regular_file(path, limit=MAX_POLICY_CONFIG_BYTES)
    except InputLimitError as err:
        raise PolicyConfigError(
            f"cannot read policy config {path}: it {err}; valid: a regular JSON file of at most "
            f"{format_size(MAX_POLICY_CONFIG_BYTES)}"
        ) from None
    except OSError as err:
        raise PolicyConfigError(f"cannot read policy config {path}: {err.strerror or err}") from None
    try:
        raw = loads_json(data.decode("utf-8"))
    except UnicodeDecodeError as err:
        raise PolicyConfigError(f"policy config {path} is not UTF-8 text (byte {err.start})") from None
    except json.JSONDecodeError as err:
        raise PolicyConfigError(
            f"policy config {path} is not valid JSON: {err.msg} (line {err.lineno})"
        ) from None
    except InputLimitError as err:
        raise PolicyConfigError(f"policy config {path} is JSON that {err}") from None
    if not isinstance(raw, dict):
        raise PolicyConfigError(f"policy config {path} must be a JSON object keyed by policy name")
    return raw


def _check_schema(value: Any, schema: Mapping[str, Any], where: str) -> None:
    """Check ``value`` against the JSON-schema subset the pack uses (type, items, enum, pattern, min*)."""
    kind = schema.get("type")
    checks = {
        "array": lambda v: isinstance(v, list),
        "string": lambda v: isinstance(v, str),
        "boolean": lambda v: isinstance(v, bool),
        "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
        "number": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
        "object": lambda v: isinstance(v, dict),
    }
    if kind in checks and not checks[kind](value):
        raise PolicyConfigError(f"{where} must be of type {kind}")
    if "enum" in schema and value not in schema["enum"]:
        raise PolicyConfigError(f"{where} must be one of {', '.join(map(str, schema['enum']))}")
    minimum = schema.get("minimum")
    if (
        isinstance(value, int | float)
        and not isinstance(value, bool)
        and minimum is not None
        and value < minimum
    ):
        raise PolicyConfigError(f"{where} must be at least {minimum}")
    if isinstance(value, str):
        if len(value) < int(schema.get("minLength", 0)):
            raise PolicyConfigError(f"{where} must not be empty")
        if "pattern" in schema and not re.search(schema["pattern"], value):
            raise PolicyConfigError(f"{where} {bounded_repr(value)} does not match {schema['pattern']}")
    if isinstance(value, list):
        if len(value) < int(schema.get("minItems", 0)):
            raise PolicyConfigError(f"{where} needs at least {schema['minItems']} item(s)")
        for i, item in enumerate(value):
            _check_schema(item, schema.get("items", {}), f"{where}[{i}]")


def _level(value: Any, where: str) -> EnforcementLevel:
    if not isinstance(value, str) or value not in _LEVELS:
        raise PolicyConfigError(f"{where} must be one of {', '.join(_LEVELS)}")
    return _LEVELS[value]


def resolve_policy_config(
    raw: Mapping[str, Any] | None, policies: Sequence[Policy] = ALL_POLICIES
) -> dict[str, PolicySettings]:
    """Every policy's effective settings: defaults, then ``all``, then the policy's own entry.

    Unknown policy names, unknown properties and values that don't match a schema are errors.
    """
    raw = dict(raw or {})
    by_name = {p.name: p for p in policies}
    unknown = sorted(set(raw) - set(by_name) - set(PLAN_POLICIES) - {ALL_KEY})
    if unknown:
        raise PolicyConfigError(
            f"policy config names unknown policies: {', '.join(unknown)} (known: {', '.join(by_name)})"
        )
    all_level: EnforcementLevel | None = None
    if ALL_KEY in raw:
        entry = raw[ALL_KEY]
        if isinstance(entry, dict):
            if set(entry) - {ENFORCEMENT_KEY}:
                raise PolicyConfigError(f"policy config '{ALL_KEY}' takes only {ENFORCEMENT_KEY}")
            entry = entry.get(ENFORCEMENT_KEY)
        all_level = _level(entry, f"policy config '{ALL_KEY}'")
    settings: dict[str, PolicySettings] = {}
    for name, policy in by_name.items():
        schema = policy.config_schema.properties if policy.config_schema else {}
        level = policy.enforcement_level or EnforcementLevel.ADVISORY
        if all_level is not None:
            level = all_level
        props = {k: v["default"] for k, v in schema.items() if "default" in v}
        entry = raw.get(name)
        if isinstance(entry, str):
            level = _level(entry, f"policy config '{name}'")
        elif isinstance(entry, dict):
            for key, value in entry.items():
                if key == ENFORCEMENT_KEY:
                    level = _level(value, f"policy config '{name}'.{ENFORCEMENT_KEY}")
                elif key not in schema:
                    known = ", ".join([ENFORCEMENT_KEY, *schema])
                    raise PolicyConfigError(
                        f"policy config '{name}' has no property '{key}' (known: {known})"
                    )
                else:
                    _check_schema(value, schema[key], f"policy config '{name}'.{key}")
                    props[key] = value
        elif entry is not None:
            raise PolicyConfigError(f"policy config '{name}' must be an enforcement level or an object")
        settings[name] = PolicySettings(level, props)
    return settings


def resolve_plan_policies(
    raw: Mapping[str, Any] | None, plan_policies: Mapping[str, EnforcementLevel] = PLAN_POLICIES
) -> dict[str, PolicySettings]:
    """The effective levels of ``btp-infra plan``'s own policies (:data:`PLAN_POLICIES`): default, ``all``,
    then the policy's entry (a level or ``{"enforcementLevel": level}``; they take no other property)."""
    raw = dict(raw or {})
    all_level: EnforcementLevel | None = None
    if ALL_KEY in raw:
        entry = raw[ALL_KEY]
        all_level = _level(
            entry.get(ENFORCEMENT_KEY) if isinstance(entry, dict) else entry, f"policy config '{ALL_KEY}'"
        )
    settings: dict[str, PolicySettings] = {}
    for name, default in plan_policies.items():
        level = all_level or default
        entry = raw.get(name)
        if isinstance(entry, str):
            level = _level(entry, f"policy config '{name}'")
        elif isinstance(entry, dict):
            extra = sorted(set(entry) - {ENFORCEMENT_KEY})
            if extra:
                raise PolicyConfigError(
                    f"policy config '{name}' has no property '{extra[0]}' (known: {ENFORCEMENT_KEY})"
                )
            if ENFORCEMENT_KEY in entry:
                level = _level(entry[ENFORCEMENT_KEY], f"policy config '{name}'.{ENFORCEMENT_KEY}")
        elif entry is not None:
            raise PolicyConfigError(f"policy config '{name}' must be an enforcement level or an object")
        settings[name] = PolicySettings(level)
    return settings


def configure_request(settings: Mapping[str, PolicySettings]) -> Any:
    """The ``ConfigureAnalyzerRequest`` the CLI would send for these settings."""
    request = proto.ConfigureAnalyzerRequest()
    for name, setting in settings.items():
        entry = request.policyConfig[name]
        entry.enforcementLevel = _PROTO_LEVEL[setting.enforcement_level]
        entry.properties.update(setting.properties)
    return request


# --------------------------------------------------------------------------------------------------
# Requests from rendered resources
# --------------------------------------------------------------------------------------------------


def _struct(values: Mapping[str, Any]) -> struct_pb2.Struct:
    struct = struct_pb2.Struct()
    struct.update(values)
    return struct


def _timeout_seconds(text: str | None) -> float:
    """Pulumi's custom-timeout strings (``600s``, ``10m``, ``1h``) in seconds."""
    if not text:
        return 0.0
    units = {"s": 1.0, "m": 60.0, "h": 3600.0}
    total = 0.0
    for amount, unit in re.findall(r"(\d+(?:\.\d+)?)([smh])", text):
        total += float(amount) * units[unit]
    return total


def _options(r: RenderedResource) -> Any:
    timeouts = r.custom_timeouts
    options = proto.AnalyzerResourceOptions(
        protect=r.protect,
        deleteBeforeReplace=r.delete_before_replace,
        deleteBeforeReplaceDefined=r.delete_before_replace,
        additionalSecretOutputs=r.additional_secret_outputs,
        parent=r.parent or "",
    )
    if timeouts:
        options.customTimeouts.CopyFrom(
            proto.AnalyzerResourceOptions.CustomTimeouts(
                create=_timeout_seconds(timeouts.get("create")),
                update=_timeout_seconds(timeouts.get("update")),
                delete=_timeout_seconds(timeouts.get("delete")),
            )
        )
    return options


def _provider_urn(reference: str) -> str:
    """``<provider URN>::<provider id>`` → the URN."""
    return reference.rsplit("::", 1)[0] if reference.count("::") > 3 else reference


def _provider(r: RenderedResource, by_urn: Mapping[str, RenderedResource]) -> Any | None:
    target = by_urn.get(_provider_urn(r.provider)) if r.provider else None
    if target is None:
        return None
    return proto.AnalyzerProviderResource(
        type=target.type, urn=target.urn, name=target.name, properties=_struct(target.inputs)
    )


def analyze_request(r: RenderedResource, by_urn: Mapping[str, RenderedResource]) -> Any:
    """The engine's ``AnalyzeRequest`` for one resource: its inputs, options and provider.

    The dynamic providers' ``__provider`` (a pickled provider, read by no policy) is left out.
    """
    inputs = {k: v for k, v in r.inputs.items() if k != PROVIDER_KEY}
    return proto.AnalyzeRequest(
        type=r.type,
        urn=r.urn,
        name=r.name,
        properties=_struct(inputs),
        options=_options(r),
        provider=_provider(r, by_urn),
    )


def analyze_stack_request(resources: Sequence[RenderedResource]) -> Any:
    """The engine's ``AnalyzeStackRequest``: every resource with its outputs, parent and dependencies."""
    by_urn = {r.urn: r for r in resources}
    return proto.AnalyzeStackRequest(
        resources=[
            proto.AnalyzerResource(
                type=r.type,
                urn=r.urn,
                name=r.name,
                properties=_struct({k: v for k, v in r.outputs.items() if k != PROVIDER_KEY}),
                options=_options(r),
                provider=_provider(r, by_urn),
                parent=r.parent or "",
                dependencies=r.dependencies,
                propertyDependencies={
                    k: proto.AnalyzerPropertyDependencies(urns=v) for k, v in r.property_dependencies.items()
                },
            )
            for r in resources
        ]
    )


# --------------------------------------------------------------------------------------------------
# Running
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Diagnostic:
    """One policy finding, as the CLI would print it."""

    policy: str
    enforcement_level: str
    """``mandatory`` or ``advisory`` (what the servicer reported)."""
    severity: str | None
    message: str
    """The violation text (without the policy description the SDK prefixes it with)."""
    description: str
    urn: str | None
    """The resource to blame, if any."""
    source: str = "resource"
    """``resource`` (from ``Analyze``, on one resource's inputs) or ``stack`` (from ``AnalyzeStack``)."""

    @property
    def mandatory(self) -> bool:
        return self.enforcement_level == EnforcementLevel.MANDATORY.value


def diagnostics(response: Any, *, urn: str | None = None, source: str = "resource") -> list[Diagnostic]:
    """An ``AnalyzeResponse`` as :class:`Diagnostic` records (``urn`` fills in for resource analyses)."""
    found: list[Diagnostic] = []
    for d in response.diagnostics:
        prefix = f"{d.description}\n"
        message = d.message[len(prefix) :] if d.message.startswith(prefix) else d.message
        found.append(
            Diagnostic(
                policy=d.policyName,
                enforcement_level=_LEVEL_NAME.get(d.enforcementLevel, "advisory"),
                severity=_SEVERITY_NAME.get(d.severity),
                message=message,
                description=d.description,
                urn=d.urn or urn,
                source=source,
            )
        )
    return found


class PackAnalyzer:
    """The policy pack behind the SDK's analyzer servicer, configured like the CLI would configure it."""

    def __init__(
        self,
        config: Mapping[str, Any] | None = None,
        *,
        policies: Sequence[Policy] = ALL_POLICIES,
    ) -> None:
        self.settings = resolve_policy_config(config, policies)
        #: ``btp-infra plan``'s own (cross-stack) policies, configured from the same file.
        self.plan_settings = resolve_plan_policies(config)
        #: The SDK's servicer (untyped private API, hence ``Any``).
        self.servicer = _sdk.policy_servicer(
            name=PACK_NAME,
            version=PACK_VERSION,
            policies=policies,
            enforcement_level=EnforcementLevel.ADVISORY,
        )
        self.servicer.Configure(configure_request(self.settings), None)

    def analyze(self, request: Any) -> list[Diagnostic]:
        """Resource policies over one ``AnalyzeRequest``."""
        return diagnostics(self.servicer.Analyze(request, None), urn=request.urn or None)

    def analyze_stack(self, request: Any) -> list[Diagnostic]:
        """Stack policies over one ``AnalyzeStackRequest``."""
        return diagnostics(self.servicer.AnalyzeStack(request, None), source="stack")

    def analyze_resources(self, resources: Iterable[RenderedResource]) -> list[Diagnostic]:
        """Resource policies over every resource (on inputs), then stack policies (on outputs)."""
        listed = list(resources)
        by_urn = {r.urn: r for r in listed}
        found: list[Diagnostic] = []
        with _sdk.converting_once():
            for r in listed:
                found.extend(self.analyze(analyze_request(r, by_urn)))
            found.extend(self.analyze_stack(analyze_stack_request(listed)))
        return found
