"""Fixtures of the tenant catalog tests: an empty stacks directory and a snapshot of what is in it."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest


@pytest.fixture
def stacks(tmp_path: Path) -> Path:
    """An empty stacks directory (no Pulumi.yaml: the directory holds the stack files itself)."""
    directory = tmp_path / "stacks"
    directory.mkdir()
    return directory


@pytest.fixture
def listing() -> Callable[[Path], dict[str, bytes]]:
    """Every file below a directory (hidden and temporary ones included) with its content."""

    def snapshot(directory: Path) -> dict[str, bytes]:
        return {
            str(path.relative_to(directory)): path.read_bytes()
            for path in sorted(directory.rglob("*"))
            if path.is_file()
        }

    return snapshot
