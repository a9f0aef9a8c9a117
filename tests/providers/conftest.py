"""Fixtures of the provider tests: the suite's emulator (``emulator_fixtures``: one per module, reset before
each test, as ``sb``), the cis key in the environment, short client policies for providers run in this
process, and an operator with their own clients for setting the scene and for out-of-band changes.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from btp_infra.credentials import ENV_KEY, ENV_KEY_FILE, ENV_PROFILE
from btp_infra.providers.base import BtpProvider
from btp_infra.sandbox import SandboxServer

from .support import FAST_POLL, FAST_RETRY, Operator


@pytest.fixture
def no_cis_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """No cis key source in the environment."""
    for name in (ENV_KEY, ENV_KEY_FILE, ENV_PROFILE):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def cis_env(sb: SandboxServer, no_cis_env: None, monkeypatch: pytest.MonkeyPatch) -> str:
    """``BTP_CIS_SERVICE_KEY`` = the emulator's cis key JSON (returned)."""
    raw = json.dumps(sb.cis_service_key())
    monkeypatch.setenv(ENV_KEY, raw)
    return raw


@pytest.fixture
def fast_providers(monkeypatch: pytest.MonkeyPatch) -> None:
    """Short poll intervals and backoffs for providers run in this process (waits stay real)."""
    monkeypatch.setattr(BtpProvider, "retry_policy", FAST_RETRY)
    monkeypatch.setattr(BtpProvider, "poll_policy", FAST_POLL)


@pytest.fixture
def operator(sb: SandboxServer) -> Iterator[Operator]:
    op = Operator(sb)
    try:
        yield op
    finally:
        op.close()
