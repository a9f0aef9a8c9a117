"""Fixtures of the BTP client tests: the emulator (one per module, reset before each test) and clients with
small poll/backoff values, so the suite is fast while every wait stays real.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from emulator_fixtures import FAST, SUBACCOUNT_1, sandbox, sandbox_config, sandbox_seeds

from btp_infra.btp.accounts import AccountsClient
from btp_infra.btp.entitlements import EntitlementsClient
from btp_infra.btp.keys import CisServiceKey, ServiceManagerCredentials
from btp_infra.btp.service_manager import ServiceManagerClient
from btp_infra.sandbox import SandboxConfig, SandboxServer

from .support import FAST_POLL, fast_retry

__all__ = ["sandbox", "sandbox_config"]  # the shared fixtures, for the end-to-end test


@pytest.fixture(scope="module")
def shared_sandbox() -> Iterator[SandboxServer]:
    with SandboxServer(SandboxConfig(subaccounts=sandbox_seeds(), latencies=FAST, tls=True)) as server:
        yield server


@pytest.fixture
def btp_sandbox(shared_sandbox: SandboxServer) -> SandboxServer:
    """The module's emulator, reset to its initial state (tokens, faults, latencies, objects, call log)."""
    shared_sandbox.reset()
    return shared_sandbox


@pytest.fixture
def cis_key(btp_sandbox: SandboxServer) -> CisServiceKey:
    return CisServiceKey.parse(btp_sandbox.cis_service_key(), source="sandbox cis key")


@pytest.fixture
def subaccount(btp_sandbox: SandboxServer) -> str:
    return SUBACCOUNT_1


@pytest.fixture
def accounts(cis_key: CisServiceKey) -> Iterator[AccountsClient]:
    with AccountsClient(cis_key, retry_policy=fast_retry(), poll_policy=FAST_POLL) as client:
        yield client


@pytest.fixture
def entitlements(cis_key: CisServiceKey) -> Iterator[EntitlementsClient]:
    with EntitlementsClient(cis_key, retry_policy=fast_retry(), poll_policy=FAST_POLL) as client:
        yield client


@pytest.fixture
def admin_creds(accounts: AccountsClient, subaccount: str) -> ServiceManagerCredentials:
    creds, _ = accounts.ensure_service_management_binding(subaccount)
    return creds


@pytest.fixture
def sm(admin_creds: ServiceManagerCredentials) -> Iterator[ServiceManagerClient]:
    with ServiceManagerClient(admin_creds, retry_policy=fast_retry(), poll_policy=FAST_POLL) as client:
        yield client
