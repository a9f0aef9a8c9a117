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

import functools
from dataclasses import replace

import pytest

from btp_infra.providers.base import BtpProvider
from btp_infra.sandbox import SandboxServer

from .matrix import Step, discover_steps, fail_for_good, parametrize_cases, run_faulted
from .support import (
    FAST_RETRY,
    ONE_OF_EACH,
    engine,
    exactly_one_of_each,
    is_empty,
    leftovers,
)


@functools.cache
def steps() -> list[Step]:
    return discover_steps(engine, "fault matrix")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    parametrize_cases(metafunc, steps())


def test_the_matrix_covers_both_phases_and_every_fault() -> None:
    found = steps()
    assert {s.phase for s in found} == {"create", "destroy"}
    assert any(s.asynchronous for s in found if s.phase == "create")
    assert any(s.asynchronous for s in found if s.phase == "destroy")
    assert len(found) >= 20


def test_fault(case: tuple[Step, str], sandbox: SandboxServer) -> None:
    step, fault = case
    run = run_faulted(engine, sandbox, step, fault)
    if step.phase == "create":
        assert exactly_one_of_each(sandbox) == ONE_OF_EACH
        assert len(run.state) == 5
    run.destroy()
    assert is_empty(sandbox), leftovers(sandbox)


def test_destroy_after_a_partial_create(partial: tuple[Step, str], sandbox: SandboxServer) -> None:
    """The create fails for good at ``step``; then, with the outage over, destroy (no re-run) empties BTP."""
    step, fault = partial
    run = fail_for_good(engine, sandbox, step, fault)
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
