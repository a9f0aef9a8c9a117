"""Fault matrix: every API step of a tenant's create and destroy x every kind of fault.

The steps are not hand-maintained: at collection, one clean create and destroy run against an emulator, and
every distinct (method, route template) in its call log is a step (``discover_steps``). Faults, each injected
once into a whole ``LocalEngine`` run:

- ``429``: Too Many Requests with ``Retry-After: 1`` (before the request is processed);
- ``500``: after the request was processed (the response is lost behind an error: the duplicate trap);
- ``502``: before the request is processed (a gateway error);
- ``reset``: the connection is dropped after the request was processed;
- ``timeout``: the response comes after the clients' read timeout (0.5 s here), after processing;
- ``operation_failed``: the asynchronous operation the step starts ends ``failed`` / ``PROCESSING_FAILED``
  (only for steps that answered 202 in the clean run).

Each case: the faulted run succeeds or fails with a clear error (names the operation and what failed, reveals
no secret); the fault fired; a re-run converges (create: exactly one entitlement, admin binding, instance and
binding; destroy: the emulator is empty); a destroy after that leaves the emulator empty. Separately, a create
that fails part-way for good (the fault persists through all retries) followed directly by a destroy, with
no re-run, must leave the emulator empty too.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, replace
from typing import Any

import pytest

from btp_infra.providers.base import BtpProvider
from btp_infra.sandbox import SandboxServer
from btp_infra.testing.local_engine import LocalEngine

from .support import (
    FAST_RETRY,
    ONE_OF_EACH,
    READ_TIMEOUT,
    clarity_problems,
    emulator_secrets,
    engine,
    exactly_one_of_each,
    is_empty,
    leftovers,
    sandbox_config,
)

FAULTS: dict[str, dict[str, Any]] = {
    "429": {"kind": "http", "status": 429, "retry_after": 1, "when": "before"},
    "500": {"kind": "http", "status": 500, "when": "after"},
    "502": {"kind": "http", "status": 502, "when": "before"},
    "reset": {"kind": "reset", "when": "after"},
    "timeout": {"kind": "timeout", "read_timeout": READ_TIMEOUT, "when": "after"},
    "operation_failed": {"kind": "operation_failed"},
}
#: Faults that make a create fail for good (they outlast every retry), for the partial-create cases.
PERSISTENT: dict[str, dict[str, Any]] = {
    "500": {"kind": "http", "status": 500, "when": "before", "count": 1000},
    "operation_failed": {"kind": "operation_failed", "count": 1},  # a failed operation is final
}


@dataclass(frozen=True)
class Step:
    phase: str  # "create" | "destroy"
    method: str
    route: str
    asynchronous: bool  # answered 202 in the clean run: starts an operation

    @property
    def id(self) -> str:
        return f"{self.phase}:{self.method} {self.route}"


def discover_steps() -> list[Step]:
    """Every distinct (method, route) of a clean create and a clean destroy, in call order."""
    saved = {k: os.environ.get(k) for k in ("BTP_CIS_SERVICE_KEY", "BTP_CIS_SERVICE_KEY_FILE")}
    steps: list[Step] = []
    try:
        with SandboxServer(sandbox_config()) as server:
            os.environ["BTP_CIS_SERVICE_KEY"] = json.dumps(server.cis_service_key())
            os.environ.pop("BTP_CIS_SERVICE_KEY_FILE", None)
            run = engine()
            if not run.up().ok:
                raise RuntimeError("the clean create of the fault matrix failed")
            created = server.calls()
            run.destroy()
            destroyed = server.calls()[len(created) :]
            if not is_empty(server):
                raise RuntimeError("the clean destroy of the fault matrix left objects behind")
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    for phase, calls in (("create", created), ("destroy", destroyed)):
        seen: dict[tuple[str, str], bool] = {}
        for call in calls:
            where = (call["method"], call["route"] or call["path"])
            seen[where] = seen.get(where, False) or call["status"] == 202
        steps += [Step(phase, method, route, asynchronous) for (method, route), asynchronous in seen.items()]
    return steps


_STEPS: list[Step] | None = None


def steps() -> list[Step]:
    global _STEPS
    if _STEPS is None:
        _STEPS = discover_steps()
    return _STEPS


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "case" in metafunc.fixturenames:
        cases = [
            (step, fault)
            for step in steps()
            for fault in FAULTS
            if fault != "operation_failed" or step.asynchronous
        ]
        metafunc.parametrize("case", cases, ids=[f"{s.id}-{f}" for s, f in cases])
    if "partial" in metafunc.fixturenames:
        partial = [
            (step, fault)
            for step in steps()
            if step.phase == "create"
            for fault in PERSISTENT
            if fault != "operation_failed" or step.asynchronous
        ]
        metafunc.parametrize("partial", partial, ids=[f"{s.id}-{f}" for s, f in partial])


def test_the_matrix_covers_both_phases_and_every_fault() -> None:
    found = steps()
    assert {s.phase for s in found} == {"create", "destroy"}
    assert any(s.asynchronous for s in found if s.phase == "create")
    assert any(s.asynchronous for s in found if s.phase == "destroy")
    assert len(found) >= 20


def _fired(sandbox: SandboxServer) -> bool:
    return not sandbox.runtime.faults.pending()


def test_fault(case: tuple[Step, str], sandbox: SandboxServer) -> None:
    step, fault = case
    run = engine()
    if step.phase == "destroy":
        assert run.up().ok
    sandbox.inject_fault(step.method, step.route, **FAULTS[fault])
    error: BaseException | None = None
    if step.phase == "create":
        result = run.up()
        error = result.render.error
    else:
        try:
            run.destroy()
        except Exception as exc:
            error = exc
    assert _fired(sandbox), f"the {fault} fault on {step.id} never fired"
    if error is not None:
        assert not clarity_problems(error, emulator_secrets(sandbox))
    sandbox.clear_faults()

    if step.phase == "create":
        again = run.up()
        assert again.ok, again.render.error
        assert exactly_one_of_each(sandbox) == ONE_OF_EACH
        assert len(run.state) == 5
    run.destroy()
    assert is_empty(sandbox), leftovers(sandbox)


def test_destroy_after_a_partial_create(partial: tuple[Step, str], sandbox: SandboxServer) -> None:
    """The create fails for good at ``step``; then, with the outage over, destroy (no re-run) empties BTP."""
    step, fault = partial
    run: LocalEngine = engine()
    sandbox.inject_fault(step.method, step.route, **PERSISTENT[fault])
    result = run.up()
    assert not result.ok, f"{fault} on {step.id} did not make the create fail"
    assert result.render.error is not None
    assert not clarity_problems(result.render.error, emulator_secrets(sandbox))
    sandbox.clear_faults()
    run.destroy()
    assert is_empty(sandbox), leftovers(sandbox)


def test_throttling_is_waited_out_beyond_max_attempts(
    sandbox: SandboxServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A 429 that says when to come back is retried until the deadline, not given up after ``max_attempts``:
    a fleet behind SM's 50 creates per minute can be throttled for many windows (benchmarks/fleet.py)."""
    monkeypatch.setattr(BtpProvider, "retry_policy", replace(FAST_RETRY, max_attempts=2))
    sandbox.inject_fault("POST", "/sm/v1/service_instances", status=429, retry_after=1, count=3)
    run = engine()
    result = run.up()
    assert result.ok, result.render.error
    statuses = [
        c["status"]
        for c in sandbox.calls()
        if (c["method"], c["route"]) == ("POST", "/sm/v1/service_instances")
    ]
    assert statuses == [429, 429, 429, 201]  # synchronous SM (async=false)
    assert exactly_one_of_each(sandbox) == ONE_OF_EACH
    run.destroy()
    assert is_empty(sandbox)
