"""Fixtures of the day-2 operation tests: the module's emulator (``sb``, reset per test) with its cis key in
the environment, and short client policies for the providers run in this process."""

from __future__ import annotations

import json

import pytest

from btp_infra.btp.http import PollPolicy, RetryPolicy
from btp_infra.credentials import ENV_KEY, ENV_KEY_FILE, ENV_PROFILE
from btp_infra.providers.base import BtpProvider
from btp_infra.sandbox import SandboxServer


@pytest.fixture
def btp(sb: SandboxServer, monkeypatch: pytest.MonkeyPatch) -> SandboxServer:
    """The emulator, its cis key in ``BTP_CIS_SERVICE_KEY``, fast provider policies (waits stay real)."""
    for name in (ENV_KEY_FILE, ENV_PROFILE):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv(ENV_KEY, json.dumps(sb.cis_service_key()))
    monkeypatch.setattr(BtpProvider, "retry_policy", RetryPolicy(backoff_base=0.02, backoff_cap=0.1))
    monkeypatch.setattr(BtpProvider, "poll_policy", PollPolicy(initial=0.02, ratio=0.1, cap=0.2))
    return sb
