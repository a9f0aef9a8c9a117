"""Fixtures of the ``btp-infra ci`` tests: the fake GitHub API, with the environment pointing at it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from .fake_github import TOKEN, State, fake_github


@pytest.fixture
def github(monkeypatch: pytest.MonkeyPatch) -> Iterator[State]:
    with fake_github() as state:
        monkeypatch.setenv("GITHUB_TOKEN", TOKEN)
        monkeypatch.setenv("GITHUB_API_URL", state.base)
        for name in ("GITHUB_STEP_SUMMARY", "GITHUB_RUN_ID", "GITHUB_REPOSITORY"):
            monkeypatch.delenv(name, raising=False)
        yield state
