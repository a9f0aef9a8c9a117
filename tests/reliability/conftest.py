"""Fixtures of the reliability suite: the suite's emulator (``emulator_fixtures``: one per module, reset
before each test) with this suite's config (plain HTTP, ``Retry-After`` in seconds), the providers' clients
with small waits and a 0.5 s read timeout, and the emulator's cis key in the environment."""

from __future__ import annotations

import json

import pytest

from btp_infra.credentials import ENV_KEY, ENV_KEY_FILE, ENV_PROFILE
from btp_infra.providers.base import BtpProvider
from btp_infra.sandbox import SandboxConfig, SandboxServer

from .support import FAST_POLL, FAST_RETRY, sandbox_config


@pytest.fixture(scope="module")
def emulator_config() -> SandboxConfig:
    """This suite's emulator: see :func:`.support.sandbox_config`."""
    return sandbox_config()


@pytest.fixture
def sandbox(sb: SandboxServer, monkeypatch: pytest.MonkeyPatch) -> SandboxServer:
    """The module's emulator, reset; its cis key is the only credential source the providers see."""
    monkeypatch.setenv(ENV_KEY, json.dumps(sb.cis_service_key()))
    monkeypatch.delenv(ENV_KEY_FILE, raising=False)
    monkeypatch.delenv(ENV_PROFILE, raising=False)
    return sb


@pytest.fixture(autouse=True)
def fast_clients(monkeypatch: pytest.MonkeyPatch) -> None:
    """Providers build their clients with short backoffs, short polls and a 0.5 s read timeout."""
    monkeypatch.setattr(BtpProvider, "retry_policy", FAST_RETRY)
    monkeypatch.setattr(BtpProvider, "poll_policy", FAST_POLL)
