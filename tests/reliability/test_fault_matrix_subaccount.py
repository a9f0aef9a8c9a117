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

import functools
import json
from typing import Any

import pytest

from btp_infra.conventions import config_key
from btp_infra.sandbox import SandboxServer
from btp_infra.testing import tenants
from btp_infra.testing.local_engine import LocalEngine

from .matrix import Step, discover_steps, fail_for_good, parametrize_cases, run_faulted
from .support import ONE_OF_EACH, is_empty, leftovers

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


@functools.cache
def steps() -> list[Step]:
    return discover_steps(engine, "subaccount fault matrix", keep=new_step, require_empty=False)


def asynchronous(step: Step) -> bool:
    """A subaccount create or delete starts an operation (201/200 with a state to wait for)."""
    return (step.route == ACCOUNTS and step.method == "POST") or step.asynchronous


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    parametrize_cases(metafunc, steps(), asynchronous)


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
    run = run_faulted(engine, sandbox, step, fault)
    if step.phase == "create":
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
    run = fail_for_good(engine, sandbox, step, fault)
    run.destroy()
    assert is_empty(sandbox), leftovers(sandbox)
    assert gone(sandbox), ours(sandbox)
