"""The suite's BTP emulator fixtures (``btp_infra.sandbox``), registered for every test by tests/conftest.py.

One emulator per test module, started from ``emulator_config`` and reset before each test that asks for it:

- ``emulator_config`` (module scope): what the module's emulator starts with — two subaccounts, TLS on, fast
  latencies. A package conftest or a module overrides it to change TLS, latencies, catalog, rate limits, ...
- ``shared_sandbox`` (module scope): the module's running emulator, stopped after the module.
- ``sb``: that emulator, reset to its initial state (objects, tokens, faults, latencies, call log).
- ``sandbox``: a fresh emulator of its own (same config), stopped after the test — for tests that watch the
  server itself (threads, ports); packages whose tests share one emulator override it with ``sb``.

Plain names too (``SUBACCOUNT_1``, ``FAST``, ``sandbox_seeds``, ``secrets_of``, ``wait_until``): ``tests/``
is on ``sys.path`` (pytest puts the root conftest's directory there), so ``from emulator_fixtures import
SUBACCOUNT_1`` works in every package.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import TypeVar

import pytest

from btp_infra.sandbox import Latencies, SandboxConfig, SandboxServer, SubaccountSeed

__all__ = [
    "FAST",
    "SUBACCOUNT_1",
    "SUBACCOUNT_2",
    "emulator_config",
    "sandbox",
    "sandbox_seeds",
    "sb",
    "secrets_of",
    "shared_sandbox",
    "wait_until",
]

T = TypeVar("T")

SUBACCOUNT_1 = "11111111-1111-4111-8111-111111111111"
SUBACCOUNT_2 = "22222222-2222-4222-8222-222222222222"
FAST = Latencies(
    entitlement=0.05,
    entitlement_delete=0.03,
    admin_binding=0.01,
    instance=0.05,
    instance_delete=0.03,
    binding=0.03,
    binding_delete=0.03,
)


def sandbox_seeds() -> list[SubaccountSeed]:
    """Two subaccounts in state OK: ``SUBACCOUNT_1`` (``tenant-a``) and ``SUBACCOUNT_2`` (``tenant-b``)."""
    return [
        SubaccountSeed(guid=SUBACCOUNT_1, subdomain="tenant-a", display_name="Tenant A"),
        SubaccountSeed(guid=SUBACCOUNT_2, subdomain="tenant-b", display_name="Tenant B"),
    ]


@pytest.fixture(scope="module")
def emulator_config() -> SandboxConfig:
    """The configuration of the module's emulator (two subaccounts, TLS on, fast latencies)."""
    return SandboxConfig(subaccounts=sandbox_seeds(), latencies=FAST, tls=True)


@pytest.fixture(scope="module")
def shared_sandbox(emulator_config: SandboxConfig) -> Iterator[SandboxServer]:
    """The module's emulator on 127.0.0.1 (ephemeral ports), stopped after the module."""
    with SandboxServer(emulator_config) as server:
        yield server


@pytest.fixture
def sb(shared_sandbox: SandboxServer) -> SandboxServer:
    """The module's emulator, reset to its initial state (objects, tokens, faults, latencies, call log)."""
    shared_sandbox.reset()
    return shared_sandbox


@pytest.fixture
def sandbox(emulator_config: SandboxConfig) -> Iterator[SandboxServer]:
    """An emulator of the test's own (the module's config), stopped at teardown."""
    with SandboxServer(emulator_config) as server:
        yield server


def secrets_of(sandbox: SandboxServer) -> list[str]:
    """Every secret the emulator has issued so far: the cis secret, binding secrets and keys, tokens."""
    found = [str(sandbox.cis_service_key()["uaa"]["clientsecret"])]
    with sandbox.runtime.store.lock:
        for binding in sandbox.runtime.store.bindings.values():
            for name in ("clientsecret", "key"):
                if binding.credentials.get(name):
                    found.append(str(binding.credentials[name]))
        found.extend(sandbox.runtime.store.tokens)
    return found


def wait_until(probe: Callable[[], T | None], timeout: float = 5.0, interval: float = 0.01) -> T:
    """Poll ``probe`` until it returns something truthy (returned); fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        time.sleep(interval)
