"""Reusable pytest fixtures for tests that need the BTP emulator (``btp_infra.sandbox``).

Import them into a conftest (``tests/`` must be on ``sys.path``, which pytest arranges when the test directory
has an ``__init__.py``, as ``tests/sandbox`` does)::

    from emulator_fixtures import sandbox, sandbox_config  # noqa: F401  (fixtures)

Override ``sandbox_config`` in a conftest or module to change latencies, catalog, faults, TLS, ...
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from btp_infra.sandbox import Latencies, SandboxConfig, SandboxServer, SubaccountSeed

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


@pytest.fixture
def sandbox_config() -> SandboxConfig:
    """The configuration the ``sandbox`` fixture starts with (two subaccounts, TLS on, fast latencies)."""
    return SandboxConfig(subaccounts=sandbox_seeds(), latencies=FAST, tls=True)


@pytest.fixture
def sandbox(sandbox_config: SandboxConfig) -> Iterator[SandboxServer]:
    """A running emulator on 127.0.0.1 (ephemeral ports), stopped at teardown."""
    with SandboxServer(sandbox_config) as server:
        yield server
