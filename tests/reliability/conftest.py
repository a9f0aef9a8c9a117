"""Fixtures of the reliability suite: one emulator per module (reset before each test), the providers' clients
with small waits and a 0.5 s read timeout, and the emulator's cis key in the environment."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from btp_infra.providers.base import BtpProvider
from btp_infra.sandbox import SandboxServer

from .support import FAST_POLL, FAST_RETRY, sandbox_config


@pytest.fixture(scope="module")
def shared_sandbox() -> Iterator[SandboxServer]:
    with SandboxServer(sandbox_config()) as server:
        yield server


@pytest.fixture
def sandbox(shared_sandbox: SandboxServer, monkeypatch: pytest.MonkeyPatch) -> SandboxServer:
    """The module's emulator, reset; its cis key is the only credential source the providers see."""
    shared_sandbox.reset()
    monkeypatch.setenv("BTP_CIS_SERVICE_KEY", json.dumps(shared_sandbox.cis_service_key()))
    monkeypatch.delenv("BTP_CIS_SERVICE_KEY_FILE", raising=False)
    monkeypatch.delenv("BTP_INFRA_KEYRING_PROFILE", raising=False)
    return shared_sandbox


@pytest.fixture(autouse=True)
def fast_clients(monkeypatch: pytest.MonkeyPatch) -> None:
    """Providers build their clients with short backoffs, short polls and a 0.5 s read timeout."""
    monkeypatch.setattr(BtpProvider, "retry_policy", FAST_RETRY)
    monkeypatch.setattr(BtpProvider, "poll_policy", FAST_POLL)
