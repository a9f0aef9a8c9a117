"""Engine event streams for the stub ``pulumi`` (``stub_pulumi.py``) and a harness that drives it.

The events follow the event-log wire format that ``pulumi/automation/events.py`` parses (camelCase keys,
one JSON object per line): a prelude, ``resourcePreEvent`` / ``resOutputsEvent`` per step, diagnostics,
``resOpFailedEvent`` on a failed step, the ``summaryEvent``; the stub appends ``sequence``/``timestamp``.
"""

from __future__ import annotations

import json
import os
import stat
import sys
import textwrap
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

STUB = Path(__file__).with_name("stub_pulumi.py")
PROJECT = "btp-infra"
GUIDS = [f"7e5a3c1b-2d4f-4a6b-8c9d-0e1f2a3b4c{n:02x}" for n in range(64)]

#: (op, type, name) steps of a realistic first ``up`` of a tenant.
TENANT_STEPS: list[tuple[str, str, str]] = [
    ("create", "btp-infra:index:TenantNamespace", "tenant"),
    ("create", "pulumi:providers:kubernetes", "kube"),
    ("create", "pulumi-python:dynamic/btp:SubaccountCheck", "tenant-subaccount"),
    ("create", "kubernetes:core/v1:Namespace", "tenant-namespace"),
    ("create", "kubernetes:core/v1:Secret", "tenant-operator-secret"),
]


def urn(stack: str, type_: str, name: str) -> str:
    return f"urn:pulumi:{stack}::{PROJECT}::{type_}::{name}"


def step_metadata(stack: str, op: str, type_: str, name: str) -> dict[str, Any]:
    return {
        "op": op,
        "urn": urn(stack, type_, name),
        "type": type_,
        "provider": "",
        "new": {"type": type_, "urn": urn(stack, type_, name), "custom": True, "protect": False},
    }


def engine_events(
    stack: str,
    steps: list[tuple[str, str, str]] | None = None,
    *,
    preview: bool = False,
    fail_at: str | None = None,
    error: str = "",
) -> list[dict[str, Any]]:
    """The event stream of one operation: every step (or up to ``fail_at``, which fails with ``error``)."""
    steps = TENANT_STEPS if steps is None else steps
    events: list[dict[str, Any]] = [
        {"preludeEvent": {"config": {"btp-infra:namespace": stack, "btp-infra:cisServiceKey": "[secret]"}}},
        {
            "resourcePreEvent": {
                "metadata": step_metadata(stack, "same", "pulumi:pulumi:Stack", f"{PROJECT}-{stack}"),
                "planning": preview,
            }
        },
    ]
    changes: dict[str, int] = {}
    for op, type_, name in steps:
        meta = step_metadata(stack, op, type_, name)
        events.append({"resourcePreEvent": {"metadata": meta, "planning": preview}})
        if name == fail_at:
            events.append(
                {
                    "diagnosticEvent": {
                        "urn": meta["urn"],
                        "prefix": "error: ",
                        "message": f"<{{%reset%}}>{error}<{{%reset%}}>\n",
                        "color": "raw",
                        "severity": "error",
                    }
                }
            )
            events.append({"resOpFailedEvent": {"metadata": meta, "status": 1, "steps": 0}})
            break
        events.append({"resOutputsEvent": {"metadata": meta, "planning": preview}})
        changes[op] = changes.get(op, 0) + 1
    changes["same"] = changes.get("same", 0) + 1
    if fail_at is not None:
        events.append(
            {
                "diagnosticEvent": {
                    "urn": urn(stack, "pulumi:pulumi:Stack", f"{PROJECT}-{stack}"),
                    "message": "update failed\n",
                    "color": "raw",
                    "severity": "error",
                }
            }
        )
    events.append(
        {
            "summaryEvent": {
                "maybeCorrupt": False,
                "durationSeconds": 1,
                "resourceChanges": changes,
                "PolicyPacks": {},
            }
        }
    )
    events.append({"cancelEvent": {}})
    return events


def write_stub_cli(bin_dir: Path) -> Path:
    """``bin_dir/pulumi``: runs the stub with this interpreter."""
    bin_dir.mkdir(parents=True, exist_ok=True)
    target = bin_dir / "pulumi"
    target.write_text(f'#!/bin/sh\nexec "{sys.executable}" -S "{STUB}" "$@"\n', encoding="utf-8")
    target.chmod(target.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return target


PULUMI_YAML = textwrap.dedent(
    """\
    name: btp-infra
    description: stub project
    runtime:
      name: python
      options:
        toolchain: pip
        virtualenv: venv
    stackConfigDir: stacks
    requiredPulumiVersion: ">=3.139.0"
    """
)


@dataclass
class Fleet:
    """A project directory with stack files, a scenario for the stub and its record of invocations."""

    root: Path
    project: Path
    scenario_path: Path
    record_path: Path
    version: str = "3.190.0"
    install_exit: int = 0
    stacks: dict[str, dict[str, Any]] = field(default_factory=dict)

    def add_stack(
        self,
        name: str,
        *,
        exists: bool = False,
        protect: bool = False,
        protected_state: list[str] | None = None,
        secretsprovider: str | None = None,
        ops: dict[str, dict[str, Any]] | None = None,
        extra_config: str = "",
    ) -> None:
        index = len(self.stacks)
        lines = []
        if secretsprovider:
            lines.append(f"secretsprovider: {secretsprovider}")
        lines += [
            "config:",
            f"  btp-infra:namespace: {name}",
            f"  btp-infra:subaccountId: {GUIDS[index]}",
            "  btp-infra:kubeContext: kyma-test",
        ]
        if protect:
            lines.append("  btp-infra:protect: true")
        stack_file = self.project / "stacks" / f"Pulumi.{name}.yaml"
        stack_file.write_text("\n".join(lines) + "\n" + extra_config, encoding="utf-8")
        self.stacks[name] = {"ops": ops or {}, "protected": protected_state or []}
        if exists:
            backend = self.project / ".pulumi-state" / ".pulumi" / "stacks" / PROJECT
            backend.mkdir(parents=True, exist_ok=True)
            (backend / f"{name}.json").write_text(
                json.dumps(
                    {"secretsProvider": secretsprovider or "passphrase", "protected": protected_state or []}
                )
            )
        self.save()

    def save(self) -> None:
        scenario = {
            "version": self.version,
            "record": str(self.record_path),
            "install_exit": self.install_exit,
            "stacks": self.stacks,
        }
        self.scenario_path.write_text(json.dumps(scenario), encoding="utf-8")

    def calls(self) -> list[dict[str, Any]]:
        if not self.record_path.exists():
            return []
        return [json.loads(line) for line in self.record_path.read_text(encoding="utf-8").splitlines()]

    def argvs(self) -> list[list[str]]:
        return [c["argv"] for c in self.calls()]

    def calls_for(self, stack: str) -> list[dict[str, Any]]:
        return [c for c in self.calls() if stack_of(c["argv"]) == stack]


def stack_of(argv: list[str]) -> str | None:
    if "--stack" in argv:
        return argv[argv.index("--stack") + 1]
    if argv[:3] == ["--non-interactive", "stack", "init"]:
        return argv[3]
    return None


def max_overlap(intervals: list[tuple[float, float]]) -> int:
    """The largest number of intervals open at one instant."""
    points = sorted([(start, 1) for start, _ in intervals] + [(end, -1) for _, end in intervals])
    best = current = 0
    for _, delta in points:
        current += delta
        best = max(best, current)
    return best


def files_under(*roots: Path) -> list[Path]:
    found: list[Path] = []
    for root in roots:
        for dirpath, _dirs, names in os.walk(root):
            found.extend(Path(dirpath) / n for n in names)
    return found
