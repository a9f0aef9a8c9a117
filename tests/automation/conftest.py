"""Fixtures of the fleet-runner tests: a project with stack files, the stub ``pulumi`` first on ``PATH``
(``stub_pulumi.py``), a clean Pulumi environment and a real (plaintext, chosen explicitly) keyring."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from .support import PULUMI_YAML, Fleet, write_stub_cli

PULUMI_ENV = (
    "PULUMI_BACKEND_URL",
    "PULUMI_CONFIG_PASSPHRASE",
    "PULUMI_CONFIG_PASSPHRASE_FILE",
    "PULUMI_ACCESS_TOKEN",
    "PULUMI_AUTOMATION_API_SKIP_VERSION_CHECK",
    "BTP_CIS_SERVICE_KEY",
    "BTP_CIS_SERVICE_KEY_FILE",
    "BTP_INFRA_KEYRING_PROFILE",
)


@pytest.fixture
def clean_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name in PULUMI_ENV:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("PULUMI_HOME", str(tmp_path / "pulumi-home"))
    yield


@pytest.fixture
def fleet(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, clean_env: None) -> Fleet:
    project = tmp_path / "repo"
    (project / "stacks").mkdir(parents=True)
    (project / "Pulumi.yaml").write_text(PULUMI_YAML, encoding="utf-8")
    bin_dir = tmp_path / "bin"
    write_stub_cli(bin_dir)
    monkeypatch.setenv("PATH", str(bin_dir))  # the stub only: no real pulumi, whatever this machine has
    scenario = tmp_path / "scenario.json"
    monkeypatch.setenv("STUB_PULUMI_SCENARIO", str(scenario))
    result = Fleet(tmp_path, project, scenario, tmp_path / "calls.jsonl")
    result.save()
    return result
