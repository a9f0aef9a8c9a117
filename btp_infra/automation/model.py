"""The outcome of a fleet run: :class:`ProgressUpdate`, :class:`StackOutcome`, :class:`FleetResult`.

The JSON summary (:func:`fleet_json`, ``btp-infra <op> --json``), version 1; keys are never removed or
renamed within a version::

    {
      "version": 1,
      "operation": "up",                 # preview | up | refresh | destroy
      "exitCode": 1,                     # 0 all succeeded, 1 some stack failed/refused, 2 nothing attempted
      "error": null,                     # the one-line reason when the run as a whole failed, else null
      "backend": "file:///repo/.pulumi-state",   # credentials in the URL are redacted; null if not resolved
      "pulumiVersion": "3.190.0",        # null if not resolved
      "stacks": [                        # in the order requested
        {
          "stack": "orders",
          "result": "succeeded",         # succeeded | failed | refused
          "changes": {"create": 5, "update": 0, "replace": 0, "delete": 0, "same": 1},
          "durationSeconds": 12.345,
          "error": null                  # the first error line (secrets redacted) when not succeeded
        }
      ],
      "totals": {"stacks": 1, "succeeded": 1, "failed": 0, "refused": 0}
    }

``changes`` always holds ``create``, ``update``, ``replace`` and ``delete``; other step kinds the engine
reports (``same``, ``read``, ``refresh``...) appear under their engine names.
Hooks (:mod:`btp_infra.automation.hooks`) add their report to a stack's object under their key — ``destroy``:
``offboard`` (docs/fleet-json.md).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final, Literal

__all__ = [
    "CHANGE_KINDS",
    "JSON_VERSION",
    "FleetResult",
    "Phase",
    "ProgressUpdate",
    "StackOutcome",
    "StackResultKind",
    "StackTarget",
    "fleet_json",
]

StackResultKind = Literal["succeeded", "failed", "refused"]
Phase = Literal["queued", "starting", "running", "succeeded", "failed", "refused"]
CHANGE_KINDS: Final = ("create", "update", "replace", "delete")
"""The change counts every outcome reports (``same`` and other kinds are kept in ``changes`` too)."""
JSON_VERSION: Final = 1
_USERINFO_RE: Final = re.compile(r"(?<=//)[^/@\s]*@")


@dataclass(frozen=True)
class ProgressUpdate:
    """One change of one stack's progress, as ``on_progress`` receives it (from a worker thread).

    ``phase``: queued → starting (workspace, stack select) → running (engine events) → succeeded | failed
    | refused. ``step`` is the engine's current step (``create tenant-namespace``) or what is being done;
    ``elapsed`` seconds since the stack started (0 while queued)."""

    stack: str
    phase: Phase
    step: str | None
    elapsed: float


@dataclass(frozen=True)
class StackOutcome:
    """The result of one stack. ``changes`` counts steps by kind (``create``, ``update``, ``replace``,
    ``delete``, ``same``, ...) from the engine's summary event (else from the completed steps); ``error``
    is the first error line (secrets redacted), None on success."""

    stack: str
    result: StackResultKind
    changes: dict[str, int]
    duration_seconds: float
    error: str | None = None
    #: What the run's hooks (:mod:`btp_infra.automation.hooks`) reported, under their key in the JSON
    #: (e.g. ``offboard``), and their lines for the report under the table.
    details: dict[str, object] = field(default_factory=dict)
    notes: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return self.result == "succeeded"

    def count(self, kind: str) -> int:
        return self.changes.get(kind, 0)


@dataclass(frozen=True)
class FleetResult:
    """The outcome of :func:`run_fleet`: one :class:`StackOutcome` per stack in the order given, or
    ``error`` (a one-line reason) when nothing or not every stack could be attempted."""

    operation: str
    stacks: tuple[StackOutcome, ...]
    exit_code: int
    error: str | None = None
    backend: str | None = None
    pulumi_version: str | None = None

    @property
    def failed(self) -> tuple[StackOutcome, ...]:
        return tuple(s for s in self.stacks if not s.ok)

    def to_json(self) -> dict[str, object]:
        """The stable JSON shape (version 1) in the module docstring."""
        return fleet_json(self)

    def json_text(self) -> str:
        return json.dumps(self.to_json(), indent=2, sort_keys=False)


@dataclass(frozen=True)
class StackTarget:
    """A selected stack: its name, its file, the secrets provider a new stack gets, and its ``protect``
    setting (None with ``config_problem`` when the file does not validate)."""

    name: str
    stack_file: Path
    secrets_provider: str
    protect: bool | None
    config_problem: str | None = None


def _redact_url(url: str | None) -> str | None:
    return None if url is None else _USERINFO_RE.sub("[redacted]@", url)


def fleet_json(result: FleetResult) -> dict[str, object]:
    """The JSON summary of a fleet run (shape in the module docstring)."""
    stacks = [
        {
            "stack": s.stack,
            "result": s.result,
            "changes": dict(s.changes),
            "durationSeconds": s.duration_seconds,
            "error": s.error,
            **s.details,
        }
        for s in result.stacks
    ]
    return {
        "version": JSON_VERSION,
        "operation": result.operation,
        "exitCode": result.exit_code,
        "error": result.error,
        "backend": _redact_url(result.backend),
        "pulumiVersion": result.pulumi_version,
        "stacks": stacks,
        "totals": {
            "stacks": len(result.stacks),
            "succeeded": sum(s.result == "succeeded" for s in result.stacks),
            "failed": sum(s.result == "failed" for s in result.stacks),
            "refused": sum(s.result == "refused" for s in result.stacks),
        },
    }
