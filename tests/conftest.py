"""Fixtures shared by every test package: a fresh token cache, a plaintext keyring, and the BTP emulator
(``emulator_fixtures``: one per module, by ``emulator_config``), and the stand-in Kubernetes API
(``kube_fixtures``: one per module)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import keyring
import pytest
from emulator_fixtures import emulator_config, sandbox, sb, shared_sandbox
from keyrings.alt.file import PlaintextKeyring
from kube_fixtures import kube_api, kube_client, shared_kube_api

from btp_infra.btp.auth import clear_token_cache

__all__ = [
    "emulator_config",
    "fresh_token_cache",
    "kr",
    "kube_api",
    "kube_client",
    "sandbox",
    "sb",
    "shared_kube_api",
    "shared_sandbox",
]


@pytest.fixture(autouse=True)
def fresh_token_cache() -> Iterator[None]:
    """Each test starts as a new process would: no token cached for any credential."""
    clear_token_cache()
    yield
    clear_token_cache()


@pytest.fixture
def kr(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[PlaintextKeyring]:
    """A real keyring backend (keyrings.alt plaintext file) in tmp_path, restored afterwards; chosen
    explicitly (``PYTHON_KEYRING_BACKEND``), as btp-infra never uses a plaintext backend implicitly."""
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyrings.alt.file.PlaintextKeyring")
    previous = keyring.get_keyring()
    backend = PlaintextKeyring()
    backend.file_path = str(tmp_path / "keyring_pass.cfg")
    keyring.set_keyring(backend)
    try:
        yield backend
    finally:
        keyring.set_keyring(previous)
