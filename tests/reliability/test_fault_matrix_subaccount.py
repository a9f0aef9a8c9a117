"""The fault matrix (``test_fault_matrix.py``) extended to a tenant that creates its subaccount (issue 14).

The steps are discovered the same way — one clean create and destroy of such a tenant, every distinct
(method, route template) in the emulator's call log — and kept when they are new to this kind of tenant: the
Accounts API's subaccount routes (create, find by label, read, wait, delete) and, on destroy, the emptiness
check (borrowed admin access, the Entitlements API's list). Every fault of the matrix is injected once into a
whole ``LocalEngine`` run; the faulted run succeeds or fails clearly, a re-run converges on exactly one
subaccount with one of each object in it, and a destroy leaves nothing, subaccount included. A create that
fails for good at a step, followed directly by a destroy, leaves nothing either.
"""

from __future__ import annotations

import json
import os
from typing import Any

import pytest

from btp_infra.conventions import config_key
from btp_infra.sandbox import SandboxServer
from btp_infra.testing import tenants
from btp_infra.testing.local_engine import LocalEngine

from .support import ONE_OF_EACH, clarity_problems, emulator_secrets, is_empty, leftovers, sandbox_config
from .test_fault_matrix import FAULTS, PERSISTENT, Step

NAMESPACE = "orders"
SUBDOMAIN = "acme-orders"
ACCOUNTS = "/accounts-service/accounts/v1/subaccounts"
ASSIGNMENTS = "/entitlements/v1/assignments"


def assignments_route(route: str) -> bool:
    return route.endswith(ASSIGNMENTS)


def stack() -> dict[str, str]:
    return {
        config_key("namespace"): NAMESPACE,
        config_key("kubeContext"): tenants.KUBE_CONTEXT,
        config_key("subaccount"): json.dumps({"displayName": "Orders", "region": "eu10"}),
        config_key("subdomainPrefix"): "acme",
    }


def engine() -> LocalEngine:
    return LocalEngine(NAMESPACE, stack())


def new_step(phase: str, method: str, route: str) -> bool:
    """A step this tenant has and a tenant of a cockpit-made subaccount does not."""
    if route.startswith(ACCOUNTS):
        return "serviceManagementBinding" not in route or phase == "destroy"
    return phase == "destroy" and method == "GET" and assignments_route(route)


def discover_steps() -> list[Step]:
    saved = {k: os.environ.get(k) for k in ("BTP_CIS_SERVICE_KEY", "BTP_CIS_SERVICE_KEY_FILE")}
    steps: list[Step] = []
    try:
        with SandboxServer(sandbox_config()) as server:
            os.environ["BTP_CIS_SERVICE_KEY"] = json.dumps(server.cis_service_key())
            os.environ.pop("BTP_CIS_SERVICE_KEY_FILE", None)
            run = engine()
            if not run.up().ok:
                raise RuntimeError("the clean create of the subaccount fault matrix failed")
            created = server.calls()
            run.destroy()
            destroyed = server.calls()[len(created) :]
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
            if new_step(phase, *where):
                seen[where] = seen.get(where, False) or call["status"] == 202
        steps += [Step(phase, method, route, asynchronous) for (method, route), asynchronous in seen.items()]
    return steps


_STEPS: list[Step] | None = None


def steps() -> list[Step]:
    global _STEPS
    if _STEPS is None:
        _STEPS = discover_steps()
    return _STEPS


def asynchronous(step: Step) -> bool:
    """A subaccount create or delete starts an operation (201/200 with a state to wait for)."""
    return (step.route == ACCOUNTS and step.method == "POST") or step.asynchronous


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "case" in metafunc.fixturenames:
        cases = [
            (step, fault)
            for step in steps()
            for fault in FAULTS
            if fault != "operation_failed" or asynchronous(step)
        ]
        metafunc.parametrize("case", cases, ids=[f"{s.id}-{f}" for s, f in cases])
    if "partial" in metafunc.fixturenames:
        partial = [
            (step, fault)
            for step in steps()
            if step.phase == "create"
            for fault in PERSISTENT
            if fault != "operation_failed" or asynchronous(step)
        ]
        metafunc.parametrize("partial", partial, ids=[f"{s.id}-{f}" for s, f in partial])


def ours(sandbox: SandboxServer) -> list[dict[str, Any]]:
    return [s for s in sandbox.state()["subaccounts"] if s["subdomain"] == SUBDOMAIN]


def test_the_new_steps_are_found() -> None:
    found = {(s.phase, s.method, s.route) for s in steps()}
    assert ("create", "POST", ACCOUNTS) in found
    assert ("create", "GET", ACCOUNTS) in found  # the label lookup before writing
    assert ("destroy", "DELETE", ACCOUNTS + "/{guid}") in found
    assert any(p == "destroy" and m == "GET" and assignments_route(r) for p, m, r in found)


def test_fault(case: tuple[Step, str], sandbox: SandboxServer) -> None:
    step, fault = case
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
        [sub] = ours(sandbox)
        assert tenants.exactly_one_of_each(sandbox, NAMESPACE, sub["guid"]) == ONE_OF_EACH
    run.destroy()
    assert is_empty(sandbox), leftovers(sandbox)
    assert not ours(sandbox)


def gone(sandbox: SandboxServer) -> bool:
    """No subaccount of the tenant, or only one on its way out (a rolled-back create's delete runs on)."""
    return all(s["state"] == "DELETING" for s in ours(sandbox))


def test_destroy_after_a_partial_create(partial: tuple[Step, str], sandbox: SandboxServer) -> None:
    step, fault = partial
    run = engine()
    sandbox.inject_fault(step.method, step.route, **PERSISTENT[fault])
    result = run.up()
    assert not result.ok, f"{fault} on {step.id} did not make the create fail"
    assert result.render.error is not None
    assert not clarity_problems(result.render.error, emulator_secrets(sandbox))
    sandbox.clear_faults()
    run.destroy()
    assert is_empty(sandbox), leftovers(sandbox)
    assert gone(sandbox), ours(sandbox)
