"""The fault matrix's machinery, shared by ``test_fault_matrix.py`` and ``test_fault_matrix_subaccount.py``:
the faults, the steps found in a clean run's call log (``discover_steps``), the test cases they make
(``parametrize_cases``) and the faulted run whose error must be clear (``run_faulted``, ``fail_for_good``).
What each matrix checks after the fault (which objects must exist once, what must be gone) stays in its file.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from btp_infra.sandbox import SandboxServer
from btp_infra.testing.local_engine import LocalEngine

from .support import READ_TIMEOUT, clarity_problems, emulator_secrets, is_empty, sandbox_config

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


def _every_step(_phase: str, _method: str, _route: str) -> bool:
    return True


def discover_steps(
    engine: Callable[[], LocalEngine],
    matrix: str,
    *,
    keep: Callable[[str, str, str], bool] = _every_step,
    require_empty: bool = True,
) -> list[Step]:
    """Every distinct (method, route) of a clean create and a clean destroy by ``engine()``'s tenant, in call
    order, that ``keep(phase, method, route)`` accepts. ``matrix`` names the matrix in the error of a clean
    run that fails; with ``require_empty`` the clean destroy must leave the emulator empty."""
    saved = {k: os.environ.get(k) for k in ("BTP_CIS_SERVICE_KEY", "BTP_CIS_SERVICE_KEY_FILE")}
    steps: list[Step] = []
    try:
        with SandboxServer(sandbox_config()) as server:
            os.environ["BTP_CIS_SERVICE_KEY"] = json.dumps(server.cis_service_key())
            os.environ.pop("BTP_CIS_SERVICE_KEY_FILE", None)
            run = engine()
            if not run.up().ok:
                raise RuntimeError(f"the clean create of the {matrix} failed")
            created = server.calls()
            run.destroy()
            destroyed = server.calls()[len(created) :]
            if require_empty and not is_empty(server):
                raise RuntimeError(f"the clean destroy of the {matrix} left objects behind")
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
            if keep(phase, *where):
                seen[where] = seen.get(where, False) or call["status"] == 202
        steps += [Step(phase, method, route, asynchronous) for (method, route), asynchronous in seen.items()]
    return steps


def _answered_202(step: Step) -> bool:
    return step.asynchronous


def parametrize_cases(
    metafunc: pytest.Metafunc, steps: list[Step], asynchronous: Callable[[Step], bool] = _answered_202
) -> None:
    """``case``: every step x every fault; ``partial``: every create step x every persistent fault. An
    ``operation_failed`` fault only where ``asynchronous(step)`` (the step starts an operation)."""
    if "case" in metafunc.fixturenames:
        cases = [
            (step, fault)
            for step in steps
            for fault in FAULTS
            if fault != "operation_failed" or asynchronous(step)
        ]
        metafunc.parametrize("case", cases, ids=[f"{s.id}-{f}" for s, f in cases])
    if "partial" in metafunc.fixturenames:
        partial = [
            (step, fault)
            for step in steps
            if step.phase == "create"
            for fault in PERSISTENT
            if fault != "operation_failed" or asynchronous(step)
        ]
        metafunc.parametrize("partial", partial, ids=[f"{s.id}-{f}" for s, f in partial])


def run_faulted(
    engine: Callable[[], LocalEngine], sandbox: SandboxServer, step: Step, fault: str
) -> LocalEngine:
    """A run of ``engine()`` through the phase of ``step`` with ``FAULTS[fault]`` injected once into it (a
    destroy step after a clean create): the fault fires and the run succeeds or fails with a clear error;
    the faults are cleared and, for a create step, a re-run succeeds. The run, for what else must hold."""
    run = engine()
    if step.phase == "destroy":
        assert run.up().ok
    sandbox.inject_fault(step.method, step.route, **FAULTS[fault])
    error: BaseException | None = None
    if step.phase == "create":
        error = run.up().render.error
    else:
        try:
            run.destroy()
        except Exception as exc:
            error = exc
    assert not sandbox.runtime.faults.pending(), f"the {fault} fault on {step.id} never fired"
    if error is not None:
        assert not clarity_problems(error, emulator_secrets(sandbox))
    sandbox.clear_faults()
    if step.phase == "create":
        again = run.up()
        assert again.ok, again.render.error
    return run


def fail_for_good(
    engine: Callable[[], LocalEngine], sandbox: SandboxServer, step: Step, fault: str
) -> LocalEngine:
    """A create by ``engine()`` that ``PERSISTENT[fault]`` at ``step`` makes fail, clearly; the faults are
    cleared. The run, to destroy."""
    run = engine()
    sandbox.inject_fault(step.method, step.route, **PERSISTENT[fault])
    result = run.up()
    assert not result.ok, f"{fault} on {step.id} did not make the create fail"
    assert result.render.error is not None
    assert not clarity_problems(result.render.error, emulator_secrets(sandbox))
    sandbox.clear_faults()
    return run
