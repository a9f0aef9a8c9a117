"""Fixtures of the BTP client tests: the suite's emulator (``emulator_fixtures``: one per module, reset
before each test) and clients with small poll/backoff values, so the suite is fast while every wait stays
real.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from emulator_fixtures import SUBACCOUNT_1

from btp_infra.btp.accounts import AccountsClient
from btp_infra.btp.entitlements import EntitlementsClient
from btp_infra.btp.keys import CisServiceKey, ServiceManagerCredentials
from btp_infra.btp.service_manager import ServiceManagerClient
from btp_infra.sandbox import SandboxServer

from .support import FAST_POLL, fast_retry


@pytest.fixture
def btp_sandbox(sb: SandboxServer) -> SandboxServer:
    """The module's emulator, reset to its initial state (tokens, faults, latencies, objects, call log)."""
    return sb


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
