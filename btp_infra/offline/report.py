"""The offline plan's report: the model (per stack and for the run) and its text and JSON output.

Owns :class:`ResourceEntry`, :class:`Violation`, :class:`StackReport`, :class:`PlanReport`, the exit codes and
the two output forms (JSON schema: ``docs/plan-json.md``). Plain data: the runner fills it in (in worker
processes too: everything here pickles), the CLI prints it through the run's scrubber.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from pulumi_policy import StackValidationPolicy

from btp_infra import __version__
from btp_infra.conventions import PROJECT
from btp_infra.policy.policies import ALL_POLICIES, PACK_NAME, PACK_VERSION

SCHEMA_VERSION = 1

Status = Literal["passed", "advisory", "failed", "invalid-config", "error"]
Source = Literal["resource", "stack", "fleet"]
ErrorKind = Literal["invalid-config", "render-error", "policy-error"]
EXIT_OK = 0
EXIT_FAILED = 1


@dataclass(frozen=True)
class ResourceEntry:
    """One rendered resource: type, name and key properties (secrets redacted)."""

    urn: str
    type: str
    name: str
    protect: bool
    properties: dict[str, Any]
    #: Adoption (``btp-infra:adopt``): the id the engine imports instead of creating, and whether destroy
    #: leaves the object in place.
    import_id: str | None = None
    retain_on_delete: bool = False


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
    error_kind: ErrorKind | None = None
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
        "tool": {"name": PROJECT, "version": __version__},
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
                        **({"importId": r.import_id} if r.import_id else {}),
                        **({"retainOnDelete": True} if r.retain_on_delete else {}),
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
                flags = [f"import={r.import_id}"] if r.import_id else []
                flags += ["retainOnDelete=true"] if r.retain_on_delete else []
                flags += ["protect=true"] if r.protect else []
                props = ", ".join([*flags, props]) if props else ", ".join(flags)
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
