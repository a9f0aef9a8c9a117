"""Fixtures of the emulator tests: the suite's emulator (``emulator_fixtures``: one per module, reset before
each test, as ``sb``; ``sandbox`` is a fresh one) and an ``Api`` helper on it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from btp_infra.sandbox import SandboxServer

from .helpers import Api


@pytest.fixture
def api(sb: SandboxServer) -> Iterator[Api]:
    client = Api(sb)
    yield client
    client.http.close()
