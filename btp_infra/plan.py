"""``btp-infra plan``: every tenant stack checked offline — no Pulumi CLI, no cloud, no credentials.

Per stack: load the stack file with the config model (invalid → an ``invalid-config`` verdict), check
the fleet (no namespace or subaccount mapped by two stacks), render the resource graph under Pulumi mocks
with the real program (:func:`btp_infra.rendering.render`), then run the policy pack over it exactly as the
analyzer would — resource policies on each resource's inputs, stack policies on the whole graph — through
the SDK's own analyzer servicer (:class:`btp_infra.policy.analyzer.PackAnalyzer`). One stack's failure never
hides the others. Output: a human report or JSON (schema: ``docs/plan-json.md``).

Secrets never reach the output: properties are shown from a per-type allow-list with secret values as
``[secret]``, the operator Secret's data only as key names, and every text is scrubbed of the stacks' secret
config values as a last line of defence.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml
from pulumi_policy import EnforcementLevel, StackValidationPolicy

from btp_infra import __version__
from btp_infra.btp.errors import Redactor
from btp_infra.config import (
    ENCRYPTED_PLACEHOLDER,
    ConfigError,
    TenantConfig,
    discover_stacks,
    engine_config,
    is_secret_key,
    load_stack_file,
    load_yaml_text,
    stack_file_for,
    stack_name_of,
    validate_fleet,
)
from btp_infra.limits import loads_json
from btp_infra.policy import rules
from btp_infra.policy.analyzer import Diagnostic, PackAnalyzer, PolicyConfigError, load_policy_config
from btp_infra.policy.policies import ALL_POLICIES, PACK_NAME, PACK_VERSION, POLICY_FLEET_UNIQUE
from btp_infra.program import main as tenant_program
from btp_infra.rendering import RenderedResource, render

SCHEMA_VERSION = 1
REDACTED = "[secret]"
#: The plan's own cross-stack check (not part of the pack: the pack sees one stack at a time).
FLEET_POLICY = POLICY_FLEET_UNIQUE

Status = Literal["passed", "advisory", "failed", "invalid-config", "error"]
Source = Literal["resource", "stack", "fleet"]
EXIT_OK = 0
EXIT_FAILED = 1


class UsageError(Exception):
    """Bad command-line use (unknown stack, conflicting options, unreadable policy config): exit code 2."""


# --------------------------------------------------------------------------------------------------
# The report
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ResourceEntry:
    """One rendered resource: type, name and key properties (secrets redacted)."""

    urn: str
    type: str
    name: str
    protect: bool
    properties: dict[str, Any]


@dataclass(frozen=True)
class Violation:
    """One policy verdict against a stack (or one of its resources)."""

    policy: str
    enforcement_level: str
    severity: str | None
    message: str
    source: Source
    urn: str | None = None
    resource_type: str | None = None
    resource_name: str | None = None

    @property
    def mandatory(self) -> bool:
        return self.enforcement_level == "mandatory"


@dataclass
class StackReport:
    """The plan of one stack."""

    stack: str
    file: str
    resources: list[ResourceEntry] = field(default_factory=list)
    violations: list[Violation] = field(default_factory=list)
    error_kind: Literal["invalid-config", "render-error", "policy-error"] | None = None
    error: str | None = None

    @property
    def status(self) -> Status:
        if self.error_kind == "invalid-config":
            return "invalid-config"
        if self.error_kind is not None:
            return "error"
        if any(v.mandatory for v in self.violations):
            return "failed"
        return "advisory" if self.violations else "passed"


@dataclass
class PlanReport:
    """The plan of every selected stack."""

    stacks: list[StackReport]
    policy_levels: dict[str, str]

    @property
    def exit_code(self) -> int:
        ok = all(s.status in ("passed", "advisory") for s in self.stacks)
        return EXIT_OK if ok else EXIT_FAILED

    def summary(self) -> dict[str, int]:
        statuses = [s.status for s in self.stacks]
        violations = [v for s in self.stacks for v in s.violations]
        return {
            "stacks": len(self.stacks),
            "passed": statuses.count("passed"),
            "advisory": statuses.count("advisory"),
            "failed": statuses.count("failed"),
            "invalidConfig": statuses.count("invalid-config"),
            "errors": statuses.count("error"),
            "mandatoryViolations": sum(v.mandatory for v in violations),
            "advisoryViolations": sum(not v.mandatory for v in violations),
            "exitCode": self.exit_code,
        }


# --------------------------------------------------------------------------------------------------
# Selecting stacks
# --------------------------------------------------------------------------------------------------


def default_stacks_dir(project_dir: Path = Path()) -> Path:
    """The project's stack directory (``stackConfigDir`` of ``Pulumi.yaml``)."""
    return stack_file_for("_", project_dir).parent


def select_stacks(stacks_dir: Path, names: Sequence[str] = (), *, all_stacks: bool = False) -> list[Path]:
    """The stack files to plan: the named ones, or every ``Pulumi.<stack>.yaml`` of ``stacks_dir``.

    ``names`` are stack names (``incident``) or paths to stack files. An existing directory without stack
    files is no error (a fresh checkout has no tenants yet: nothing to plan); a missing one is. Raises
    :class:`UsageError`.
    """
    if names and all_stacks:
        raise UsageError("use either --stack or --all, not both")
    available = discover_stacks(stacks_dir)
    if not names:
        if not available and not stacks_dir.is_dir():
            raise UsageError(f"no stack files (Pulumi.<stack>.yaml) in {stacks_dir}: no such directory")
        return available
    by_name = {stack_name_of(p): p for p in available}
    chosen: list[Path] = []
    for name in names:
        path = Path(name)
        if name.endswith((".yaml", ".yml")) and path.is_file():
            try:
                stack_name_of(path)
            except ValueError as err:
                raise UsageError(str(err)) from None
            chosen.append(path)
        elif name in by_name:
            chosen.append(by_name[name])
        else:
            known = ", ".join(sorted(by_name)) or "none"
            raise UsageError(f"unknown stack {name!r} in {stacks_dir} (known: {known})")
    return list(dict.fromkeys(chosen))


def read_policy_config(path: Path | None) -> dict[str, Any] | None:
    """The ``--policy-config`` file, validated against the pack; problems are usage errors."""
    if path is None:
        return None
    try:
        raw = load_policy_config(path)
        PackAnalyzer(raw)  # validates names, levels and properties exactly as the plan will use them
    except PolicyConfigError as err:
        raise UsageError(str(err)) from None
    return raw


# --------------------------------------------------------------------------------------------------
# Secrets: what to scrub, what to show
# --------------------------------------------------------------------------------------------------


def _leaves(value: Any) -> Iterable[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for v in value.values():
            yield from _leaves(v)
    elif isinstance(value, list):
        for v in value:
            yield from _leaves(v)


def _secret_leaves(value: Any) -> Iterable[str]:
    """The string leaves under secret-looking keys (``clientsecret``, ``token``, ``client-key-data``…)."""
    if isinstance(value, dict):
        for k, v in value.items():
            if isinstance(k, str) and is_secret_key(k):
                yield from _leaves(v)
            else:
                yield from _secret_leaves(v)
    elif isinstance(value, list):
        for v in value:
            yield from _secret_leaves(v)


def _structured(value: str) -> tuple[Any, int] | None:
    """``value`` parsed as JSON (leaves of 8+ characters count) or YAML (16+), if it is a mapping or list."""
    # Bounded parsers: a secret value is untrusted input too (no alias bomb, nesting or huge integer).
    try:
        parsed, shortest = loads_json(value), Scrubber.JSON_LEAF_LENGTH
    except ValueError:
        try:
            parsed, shortest = load_yaml_text(value), Scrubber.YAML_LEAF_LENGTH
        except yaml.YAMLError:
            return None
    return (parsed, shortest) if isinstance(parsed, dict | list) else None


class Scrubber:
    """Replaces known secret values with ``[secret]`` in any text: a last line of defence.

    The values of secret-looking keys (:func:`btp_infra.config.is_secret_key`: any namespace, any case) are
    secrets. A secret value is added whole, and so are the string leaves of a JSON secret (the cis key's
    ``clientsecret``) and the long string leaves of a YAML one (a kubeconfig's token). Secrets through and
    through — a plain secret string, the leaves under secret-looking keys at any depth (also of other keys'
    JSON/YAML values) — are removed even in part: no 8-character piece of them is shown (a value truncated
    for display is not missed).
    """

    MIN_LENGTH = 6
    JSON_LEAF_LENGTH = 8
    YAML_LEAF_LENGTH = 16

    def __init__(self) -> None:
        self._secrets: set[str] = set()
        self._pieces = Redactor()

    def add(self, value: str, *, plain_is_secret: bool = True) -> None:
        """A secret value; ``plain_is_secret=False``: a plain (not JSON/YAML) value is only hidden whole."""
        if value == ENCRYPTED_PLACEHOLDER:
            return
        if len(value) >= self.MIN_LENGTH:
            self._secrets.add(value)
        found = _structured(value)
        if found is None:
            if plain_is_secret:
                self._pieces.add(value)
            return
        parsed, shortest = found
        self._secrets.update(leaf for leaf in _leaves(parsed) if len(leaf) >= shortest)
        for leaf in _secret_leaves(parsed):
            self._pieces.add(leaf)

    def add_nested(self, value: str) -> None:
        """The leaves under secret-looking keys inside the JSON/YAML value of a key that is not secret."""
        found = _structured(value)
        if found is not None:
            for leaf in _secret_leaves(found[0]):
                if len(leaf) >= self.MIN_LENGTH:
                    self._secrets.add(leaf)
                self._pieces.add(leaf)

    def add_config(self, values: Mapping[str, str]) -> None:
        """The plaintext values of secret-looking keys (any namespace, any case) in an engine-form config."""
        for key, value in values.items():
            if is_secret_key(key):
                # A kubeconfig that is not YAML text is a file path: not secret in part.
                self.add(value, plain_is_secret=key.rpartition(":")[2].lower() != "kubeconfig")
            else:
                self.add_nested(value)

    def add_stack_file(self, path: Path) -> None:
        """The plaintext values of secret keys in a stack file (also one the config model rejected)."""
        try:
            self.add_config(engine_config(path))
        except ConfigError:
            return

    def __call__(self, text: str) -> str:
        for secret in sorted(self._secrets, key=len, reverse=True):
            text = text.replace(secret, REDACTED)
        return self._pieces(text) if self._pieces else text


def _pick(values: Mapping[str, Any], *keys: str) -> dict[str, Any]:
    return {k: values[k] for k in keys if values.get(k) is not None}


def _tidy(value: Any) -> Any:
    """Stable display form: mapping keys sorted, whole floats (the wire's numbers) as ints."""
    if isinstance(value, dict):
        return {k: _tidy(value[k]) for k in sorted(value)}
    if isinstance(value, list):
        return [_tidy(v) for v in value]
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def key_properties(resource: RenderedResource) -> dict[str, Any]:
    """The properties worth showing for a resource, from an allow-list per type; secrets as ``[secret]``."""
    return {k: _tidy(v) for k, v in _key_properties(resource).items()}


def _key_properties(resource: RenderedResource) -> dict[str, Any]:
    shown = resource.redacted_inputs
    meta: dict[str, Any] = shown["metadata"] if isinstance(shown.get("metadata"), dict) else {}
    kind = resource.type
    if kind == rules.TYPE_NAMESPACE:
        return _pick(meta, "name", "labels")
    if kind == rules.TYPE_SECRET:
        plain = resource.plain_inputs
        keys = sorted({*rules.as_mapping(plain.get("data")), *rules.as_mapping(plain.get("stringData"))})
        return {
            **_pick(meta, "namespace", "name", "labels"),
            **_pick(shown, "type"),
            "keys": keys,
            "values": REDACTED,
        }
    if kind == rules.TYPE_RESOURCE_QUOTA:
        return {**_pick(meta, "namespace", "name"), "hard": (shown.get("spec") or {}).get("hard")}
    if kind == rules.TYPE_LIMIT_RANGE:
        return {**_pick(meta, "namespace", "name"), "limits": (shown.get("spec") or {}).get("limits")}
    if kind.startswith("kubernetes:") and not kind.startswith("kubernetes:core/v1:"):
        spec: dict[str, Any] = shown["spec"] if isinstance(shown.get("spec"), dict) else {}
        return {**_pick(meta, "namespace", "name"), **_pick(spec, "policyTypes", "mtls")}
    if kind == "pulumi:providers:kubernetes":
        return {
            **_pick(shown, "context", "namespace"),
            **({"kubeconfig": REDACTED} if "kubeconfig" in shown else {}),
        }
    if kind == rules.TYPE_SUBACCOUNT:
        return _pick(shown, "subaccountId", "region")
    if kind == rules.TYPE_ENTITLEMENT:
        return _pick(shown, "subaccountId", "serviceName", "planName", "amount")
    if kind == rules.TYPE_SM_ACCESS:
        return _pick(shown, "subaccountId")
    if kind == rules.TYPE_SERVICE_INSTANCE:
        return _pick(shown, "subaccountId", "name", "serviceOfferingName", "servicePlanName")
    if kind == rules.TYPE_SERVICE_BINDING:
        return _pick(shown, "subaccountId", "name", "credentialType")
    return {}


# --------------------------------------------------------------------------------------------------
# Running the plan
# --------------------------------------------------------------------------------------------------


def _violation(d: Diagnostic, by_urn: Mapping[str, RenderedResource]) -> Violation:
    resource = by_urn.get(d.urn) if d.urn else None
    return Violation(
        policy=d.policy,
        enforcement_level=d.enforcement_level,
        severity=d.severity,
        message=d.message,
        source="stack" if d.source == "stack" else "resource",
        urn=d.urn,
        resource_type=resource.type if resource else None,
        resource_name=resource.name if resource else None,
    )


def _fleet_violations(
    configs: Mapping[str, TenantConfig], level: EnforcementLevel = EnforcementLevel.MANDATORY
) -> dict[str, list[Violation]]:
    """Fleet issues (a namespace twice on one cluster, a subaccount twice anywhere) per stack file, each
    naming both files, at the configured enforcement level of :data:`FLEET_POLICY` (``disabled``: none)."""
    found: dict[str, list[Violation]] = {}
    if level == EnforcementLevel.DISABLED:
        return found
    shown = "mandatory" if level == EnforcementLevel.MANDATORY else "advisory"
    for issue in validate_fleet(configs):
        found.setdefault(issue.source, []).append(
            Violation(FLEET_POLICY, shown, "critical", issue.render(), "fleet")
        )
    return found


def plan_stack(
    stack: str,
    path: Path,
    analyzer: PackAnalyzer,
    *,
    program: Callable[[], Any],
    extra_violations: Sequence[Violation] = (),
    values: Mapping[str, str] | None = None,
) -> StackReport:
    """Render one (valid) stack and run the pack over it; never raises for a stack's own problems.

    ``values`` is the stack's engine-form config (read from ``path`` when not given).
    """
    report = StackReport(stack=stack, file=str(path), violations=list(extra_violations))
    result = render(stack, engine_config(path) if values is None else values, program)
    by_urn = {r.urn: r for r in result.resources}
    report.resources = [
        ResourceEntry(r.urn, r.type, r.name, r.protect, key_properties(r))
        for r in sorted(result.resources, key=_display_order)
    ]
    if result.error is not None:
        report.error_kind = "render-error"
        report.error = _failure(result.error)
        return report
    try:
        diagnostics = analyzer.analyze_resources(result.resources)
    except Exception as err:  # a policy crashed (the CLI would fail the update): report it, go on
        report.error_kind = "policy-error"
        report.error = _failure(err)
        return report
    found = [_violation(d, by_urn) for d in diagnostics]
    report.violations.extend(sorted(found, key=lambda v: (not v.mandatory, v.policy, v.urn or "", v.message)))
    return report


#: Display order of resource types (registration order under mocks is not deterministic).
_TYPE_ORDER = [
    "pulumi:providers:kubernetes",
    "btp-infra:index:TenantNamespace",
    rules.TYPE_SUBACCOUNT,
    rules.TYPE_ENTITLEMENT,
    rules.TYPE_SM_ACCESS,
    rules.TYPE_SERVICE_INSTANCE,
    rules.TYPE_SERVICE_BINDING,
    rules.TYPE_NAMESPACE,
    rules.TYPE_SECRET,
    rules.TYPE_RESOURCE_QUOTA,
    rules.TYPE_LIMIT_RANGE,
]


def _display_order(r: RenderedResource) -> tuple[int, str, str]:
    rank = _TYPE_ORDER.index(r.type) if r.type in _TYPE_ORDER else len(_TYPE_ORDER)
    return (rank, r.type, r.name)


def _stack_name(path: Path) -> str:
    try:
        return stack_name_of(path)
    except ValueError:
        return path.name


def _failure(err: BaseException) -> str:
    """``Type: message`` of an unexpected exception, bounded (the message may quote input)."""
    try:
        text = str(err)
    except Exception:  # a message that cannot even be rendered
        text = ""
    text = " ".join(text[:1000].split())  # one line
    shown = text if len(text) <= 200 else text[:199] + "…"
    return f"{type(err).__name__}: {shown}" if shown else type(err).__name__


def _load_failed(stack: str, key: str, err: Exception) -> StackReport:
    valid = "a stack file like examples/stacks/Pulumi.example.yaml"
    message = f"{key}: cannot be loaded ({_failure(err)}); valid: {valid}"
    return StackReport(stack, key, error_kind="invalid-config", error=message)


def run_plan(
    paths: Sequence[Path],
    *,
    policy_config: Mapping[str, Any] | None = None,
    program: Callable[[], Any] = tenant_program,
) -> tuple[PlanReport, Scrubber]:
    """Plan every stack file in ``paths``; returns the report and the scrubber for its text output.

    Every stack gets its report whatever happens to it: a stack that cannot be loaded is ``invalid-config``,
    one whose rendering or checking fails in any way is an ``error`` (``render-error``); the run goes on.
    """
    try:
        analyzer = PackAnalyzer(policy_config)
    except PolicyConfigError as err:
        raise UsageError(str(err)) from None
    scrubber = Scrubber()
    # Keyed by the stack file (config.source): two directories may hold stacks of the same name.
    configs: dict[str, TenantConfig] = {}
    values: dict[str, dict[str, str]] = {}
    reports: dict[str, StackReport] = {}
    unique = list(dict.fromkeys(paths))
    for path in unique:
        key, stack = str(path), _stack_name(path)
        try:
            config = load_stack_file(path)
        except ConfigError as err:
            reports[key] = StackReport(stack, key, error_kind="invalid-config", error=str(err))
            with contextlib.suppress(Exception):  # its message shows no secret; scrubbing is a last defence
                scrubber.add_stack_file(path)
            continue
        except Exception as err:  # a bug on some input: this stack's report, not the end of the run
            reports[key] = _load_failed(stack, key, err)
            continue
        try:
            values[key] = engine_config(path)
            scrubber.add_config(values[key])  # before anything of this stack is rendered
        except Exception as err:
            values.pop(key, None)
            reports[key] = _load_failed(stack, key, err)
            continue
        configs[key] = config
    fleet = _fleet_violations(configs, analyzer.plan_settings[FLEET_POLICY].enforcement_level)
    for path in unique:
        key, stack = str(path), _stack_name(path)
        if key not in configs:
            continue
        try:
            reports[key] = plan_stack(
                stack,
                path,
                analyzer,
                program=program,
                extra_violations=fleet.get(key, []),
                values=values[key],
            )
        except Exception as err:  # plan_stack reports a stack's own problems; this is anything else
            violations = list(fleet.get(key, []))
            reports[key] = StackReport(
                stack, key, violations=violations, error_kind="render-error", error=_failure(err)
            )
    settings = {**analyzer.settings, **analyzer.plan_settings}
    levels = {name: s.enforcement_level.value for name, s in settings.items()}
    return PlanReport([reports[str(path)] for path in unique], levels), scrubber


# --------------------------------------------------------------------------------------------------
# Formatting
# --------------------------------------------------------------------------------------------------


def to_json_data(report: PlanReport) -> dict[str, Any]:
    """The JSON document (schema: ``docs/plan-json.md``, ``schemaVersion`` 1)."""
    policies = [
        {
            "name": p.name,
            "type": "stack" if isinstance(p, StackValidationPolicy) else "resource",
            "enforcementLevel": report.policy_levels.get(p.name, "advisory"),
            "severity": p.severity.value if p.severity else None,
            "description": p.description,
        }
        for p in ALL_POLICIES
    ]
    return {
        "schemaVersion": SCHEMA_VERSION,
        "tool": {"name": "btp-infra", "version": __version__},
        "policyPack": {"name": PACK_NAME, "version": PACK_VERSION, "policies": policies},
        "stacks": [
            {
                "stack": s.stack,
                "file": s.file,
                "status": s.status,
                "error": {"kind": s.error_kind, "message": s.error} if s.error_kind else None,
                "resources": [
                    {
                        "urn": r.urn,
                        "type": r.type,
                        "name": r.name,
                        "protect": r.protect,
                        "properties": r.properties,
                    }
                    for r in s.resources
                ],
                "violations": [
                    {
                        "policy": v.policy,
                        "enforcementLevel": v.enforcement_level,
                        "severity": v.severity,
                        "source": v.source,
                        "message": v.message,
                        "resource": (
                            {"urn": v.urn, "type": v.resource_type, "name": v.resource_name}
                            if v.urn
                            else None
                        ),
                    }
                    for v in s.violations
                ],
            }
            for s in report.stacks
        ],
        "summary": report.summary(),
    }


def format_json(report: PlanReport, scrub: Callable[[str], str] = str) -> str:
    """The report as JSON text (stable key order, 2-space indent)."""
    return scrub(json.dumps(to_json_data(report), indent=2, ensure_ascii=False)) + "\n"


def _compact(value: Any) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


_STATUS_TEXT: dict[str, str] = {
    "passed": "PASSED",
    "advisory": "PASSED with advisories",
    "failed": "FAILED",
    "invalid-config": "INVALID CONFIG",
    "error": "ERROR",
}


def summary_line(report: PlanReport) -> str:
    s = report.summary()
    return (
        f"Plan: {s['stacks']} stack(s): {s['passed']} passed, {s['advisory']} passed with advisories, "
        f"{s['failed']} failed, {s['invalidConfig']} invalid config, {s['errors']} error(s); "
        f"{s['mandatoryViolations']} mandatory and {s['advisoryViolations']} advisory violation(s)."
    )


def format_text(report: PlanReport, scrub: Callable[[str], str] = str) -> str:
    """The human report: per stack its resources and verdicts, then a one-line summary."""
    lines: list[str] = []
    for s in report.stacks:
        lines.append(f"== {s.stack} ({s.file}): {_STATUS_TEXT[s.status]}")
        if s.error_kind == "invalid-config":
            lines.append("  Invalid config:")
            lines.extend(f"    {line}" for line in (s.error or "").splitlines())
        elif s.error_kind is not None:
            lines.append(f"  Render error: {s.error}")
        if s.resources:
            lines.append(f"  Resources ({len(s.resources)}):")
            type_width = max(len(r.type) for r in s.resources)
            name_width = max(len(r.name) for r in s.resources)
            for r in s.resources:
                props = ", ".join(f"{k}={_compact(v)}" for k, v in r.properties.items())
                if r.protect:
                    props = f"protect=true, {props}" if props else "protect=true"
                lines.append(f"    {r.type:<{type_width}}  {r.name:<{name_width}}  {props}".rstrip())
        if s.error_kind is None:
            if s.violations:
                lines.append(f"  Policy verdicts ({len(s.violations)}):")
                for v in s.violations:
                    where = f" [{v.resource_type} {v.resource_name}]" if v.resource_name else ""
                    lines.append(f"    {v.enforcement_level.upper():<9} {v.policy}{where}")
                    lines.extend(f"              {line}" for line in v.message.splitlines())
            else:
                lines.append(f"  Policy verdicts: all {len(ALL_POLICIES)} policies passed.")
        lines.append("")
    lines.append(summary_line(report))
    return scrub("\n".join(lines)) + "\n"
