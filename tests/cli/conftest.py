"""Fixtures of the CLI tests: a project directory as the current directory, and the fleet-runner harness of
``tests/automation`` (the stub ``pulumi`` first on ``PATH``, a clean Pulumi environment) reused as is."""

from __future__ import annotations

from pathlib import Path

import pytest
from automation.conftest import clean_env, fleet  # the stub pulumi harness (fixtures re-exported)
from automation.support import PULUMI_YAML

__all__ = ["clean_env", "fleet", "no_pulumi", "project"]


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, clean_env: None) -> Path:
    """A project (Pulumi.yaml with ``stackConfigDir: stacks``) as the current directory, no stack file."""
    root = tmp_path / "repo"
    (root / "stacks").mkdir(parents=True)
    (root / "Pulumi.yaml").write_text(PULUMI_YAML, encoding="utf-8")
    monkeypatch.chdir(root)
    return root


@pytest.fixture
def no_pulumi(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No ``pulumi`` on ``PATH`` (an empty directory only)."""
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
