"""A stub ``pulumi`` executable for the fleet-runner tests (run as ``python stub_pulumi.py ARGS``).

It implements just what the Automation API calls for a local program — ``version``, ``install``, ``stack
select|init|history|output|export``, ``up|preview|refresh|destroy --event-log FILE`` — and:

- records every invocation (argv, working directory, start/end time, the environment) as one JSON line in
  the scenario's ``record`` file. Environment values are stored as SHA-256 digests (a few non-secret keys in
  plain text), so the record itself never holds a secret and tests can still check which secret arrived;
- replays the scenario's engine events for ``(stack, operation)`` into the ``--event-log`` file, one JSON
  line each (the wire format of ``pulumi/automation/events.py``), ending with a ``cancelEvent`` as the real
  engine does, then exits with the scenario's code;
- keeps stacks as files in a DIY-backend-like layout under ``PULUMI_BACKEND_URL`` (``file://`` only) and
  refuses, like Pulumi, to touch a passphrase stack without ``PULUMI_CONFIG_PASSPHRASE[_FILE]``;
- reporting a version after 3.205.0, streams the events to the Automation API's gRPC server
  (``--event-log tcp://127.0.0.1:PORT``) instead, as those CLIs do.

The scenario is the JSON file named by env ``STUB_PULUMI_SCENARIO``::

    {"version": "3.190.0", "record": "/tmp/.../calls.jsonl", "install_exit": 0,
     "stacks": {"orders": {"exists": true, "protected": [], "ops": {"up": {"events": [...], "exit": 0,
                "sleep": 0.2, "stdout": ["..."], "stderr": ["..."]}}}}}
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

PLAIN_ENV = ("PULUMI_BACKEND_URL", "PULUMI_AUTOMATION_API", "PULUMI_CONFIG_PASSPHRASE_FILE", "PULUMI_HOME")
OPERATIONS = ("up", "preview", "refresh", "destroy")


def digest(value: str) -> str:
    return "sha256:" + hashlib.sha256(value.encode()).hexdigest()


def load_scenario() -> dict[str, Any]:
    with open(os.environ["STUB_PULUMI_SCENARIO"], encoding="utf-8") as handle:
        scenario: dict[str, Any] = json.load(handle)
    return scenario


def record(scenario: dict[str, Any], argv: list[str], start: float, code: int) -> None:
    entry = {
        "argv": argv,
        "cwd": os.getcwd(),
        "start": start,
        "end": time.time(),
        "exit": code,
        "env": {k: (v if k in PLAIN_ENV else digest(v)) for k, v in os.environ.items()},
    }
    with open(scenario["record"], "a", encoding="utf-8") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        handle.write(json.dumps(entry) + "\n")
        handle.flush()
        fcntl.flock(handle, fcntl.LOCK_UN)


def option(argv: list[str], name: str) -> str | None:
    return argv[argv.index(name) + 1] if name in argv and argv.index(name) + 1 < len(argv) else None


def stacks_dir() -> Path:
    url = os.environ.get("PULUMI_BACKEND_URL", "")
    if not url.startswith("file://"):
        raise SystemExit(f"stub: only file:// backends, got {url!r}")
    return Path(url[len("file://") :]) / ".pulumi" / "stacks" / "btp-infra"


def stack_file(stack: str) -> Path:
    return stacks_dir() / f"{stack}.json"


def fail(message: str, code: int = 255) -> int:
    print(f"error: {message}", file=sys.stderr)
    return code


def needs_passphrase(stack: str) -> int | None:
    data = json.loads(stack_file(stack).read_text(encoding="utf-8"))
    if data.get("secretsProvider") == "passphrase" and not (
        "PULUMI_CONFIG_PASSPHRASE" in os.environ or os.environ.get("PULUMI_CONFIG_PASSPHRASE_FILE")
    ):
        return fail(
            'constructing secrets manager of type "passphrase": unable to find either '
            "`PULUMI_CONFIG_PASSPHRASE` or `PULUMI_CONFIG_PASSPHRASE_FILE` when loading source stack"
        )
    return None


def history_entry(stack: str) -> dict[str, Any]:
    data = json.loads(stack_file(stack).read_text(encoding="utf-8"))
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return {
        "version": 1,
        "kind": data.get("lastKind", "update"),
        "startTime": now,
        "endTime": now,
        "message": "",
        "environment": {"exec.kind": "auto.local"},
        "config": {},
        "result": data.get("lastResult", "succeeded"),
        "resourceChanges": data.get("lastChanges", {}),
    }


def stream_events(address: str, events: list[dict[str, Any]], pause: float) -> None:
    """CLIs after 3.205.0 stream events to the Automation API's gRPC server (``pulumirpc.Events``)."""
    import site

    site.main()  # the wrapper runs Python with -S (fast start); gRPC and the protos live in site-packages
    import grpc
    from pulumi.runtime.proto import events_pb2, events_pb2_grpc

    def requests() -> Any:
        for sequence, event in enumerate(events, start=1):
            time.sleep(pause)
            payload = {"sequence": sequence, "timestamp": int(time.time()), **event}
            yield events_pb2.EventRequest(event=json.dumps(payload))

    with grpc.insecure_channel(address) as channel:
        events_pb2_grpc.EventsStub(channel).StreamEvents(requests(), timeout=30)


def run_operation(scenario: dict[str, Any], operation: str, argv: list[str]) -> int:
    stack = option(argv, "--stack")
    if stack is None or not stack_file(stack).exists():
        return fail(f"no stack named '{stack}' found")
    problem = needs_passphrase(stack)
    if problem is not None:
        return problem
    spec = scenario["stacks"].get(stack, {}).get("ops", {}).get(operation, {})
    events: list[dict[str, Any]] = spec.get("events", [])
    log = option(argv, "--event-log")
    pause = float(spec.get("sleep", 0.0)) / max(len(events), 1)
    for line in spec.get("stdout", []):
        print(line, flush=True)
    if log is not None and log.startswith("tcp://"):
        stream_events(log[len("tcp://") :], events, pause)
    elif log is not None:
        with open(log, "a", encoding="utf-8") as handle:
            for sequence, event in enumerate(events, start=1):
                time.sleep(pause)
                handle.write(
                    json.dumps({"sequence": sequence, "timestamp": int(time.time()), **event}) + "\n"
                )
                handle.flush()
    elif pause:
        time.sleep(pause * max(len(events), 1))
    for line in spec.get("stderr", []):
        print(line, file=sys.stderr, flush=True)
    code = int(spec.get("exit", 0))
    if operation != "preview":
        data = json.loads(stack_file(stack).read_text(encoding="utf-8"))
        summary: dict[str, Any] = next((e["summaryEvent"] for e in events if "summaryEvent" in e), {})
        data.update(
            lastKind={"up": "update"}.get(operation, operation),
            lastResult="succeeded" if code == 0 else "failed",
            lastChanges=summary.get("resourceChanges", {}),
        )
        stack_file(stack).write_text(json.dumps(data), encoding="utf-8")
    return code


def main(argv: list[str]) -> int:
    scenario = load_scenario()
    args = [a for a in argv if a != "--non-interactive"]
    command = args[:2]
    if args == ["version"]:
        print(scenario.get("version", "3.190.0"))
        return 0
    if args[:1] == ["install"]:
        print("Installing dependencies...")
        code = int(scenario.get("install_exit", 0))
        if code:
            print("error: installing dependencies failed: pip exited with status 1", file=sys.stderr)
        return code
    if command == ["stack", "select"]:
        stack = option(args, "--stack")
        return 0 if stack and stack_file(stack).exists() else fail(f"no stack named '{stack}' found")
    if command == ["stack", "init"]:
        stack = args[2]
        if stack_file(stack).exists():
            return fail(f"stack '{stack}' already exists")
        provider = option(args, "--secrets-provider") or "passphrase"
        stacks_dir().mkdir(parents=True, exist_ok=True)
        protected = scenario["stacks"].get(stack, {}).get("protected", [])
        stack_file(stack).write_text(json.dumps({"secretsProvider": provider, "protected": protected}))
        problem = needs_passphrase(stack)
        if problem is not None:
            stack_file(stack).unlink()
            return problem
        print(f"Created stack '{stack}'")
        return 0
    if command == ["stack", "history"]:
        stack = option(args, "--stack") or ""
        print(json.dumps([history_entry(stack)]))
        return 0
    if command == ["stack", "output"]:
        print("{}")
        return 0
    if command == ["stack", "export"]:
        stack = option(args, "--stack") or ""
        if not stack_file(stack).exists():
            return fail(f"no stack named '{stack}' found")
        data = json.loads(stack_file(stack).read_text(encoding="utf-8"))
        resources = [
            {"urn": urn, "type": "kubernetes:core/v1:Namespace", "protect": True} for urn in data["protected"]
        ]
        print(json.dumps({"version": 3, "deployment": {"manifest": {}, "resources": resources}}))
        return 0
    if args and args[0] in OPERATIONS:
        return run_operation(scenario, args[0], args)
    return fail(f"stub: unsupported invocation {args}", 3)


if __name__ == "__main__":
    started = time.time()
    exit_code = 3
    try:
        exit_code = main(sys.argv[1:])
    finally:
        record(load_scenario(), sys.argv[1:], started, exit_code)
    sys.exit(exit_code)
