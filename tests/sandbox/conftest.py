"""Shared fixtures: one emulator per module (reset before each test) and an ``Api`` helper."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from emulator_fixtures import FAST, sandbox, sandbox_config, sandbox_seeds

from btp_infra.sandbox import SandboxConfig, SandboxServer

from .helpers import Api

__all__ = ["sandbox", "sandbox_config"]


@pytest.fixture(scope="module")
def shared() -> Iterator[SandboxServer]:
    with SandboxServer(SandboxConfig(subaccounts=sandbox_seeds(), latencies=FAST, tls=True)) as server:
        yield server


@pytest.fixture
def sb(shared: SandboxServer) -> SandboxServer:
    """The module's emulator, reset to its initial state."""
    shared.reset()
    return shared


@pytest.fixture
def api(sb: SandboxServer) -> Iterator[Api]:
    client = Api(sb)
    yield client
    client.http.close()
