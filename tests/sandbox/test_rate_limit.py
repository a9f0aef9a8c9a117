"""SM rate limit on instance creation: 429 with Retry-After per client (btp-api.md §B.9)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from email.utils import parsedate_to_datetime

import pytest
from emulator_fixtures import FAST, SUBACCOUNT_2, sandbox_seeds

from btp_infra.sandbox import RateLimit, SandboxConfig, SandboxServer, default_rate_limits

from .helpers import OPERATOR, Api

BODY = {"name": "r", "service_offering_name": OPERATOR[0], "service_plan_name": OPERATOR[1]}


def test_default_is_sap_documented_50_per_minute() -> None:
    [rule] = default_rate_limits()
    assert (rule.method, rule.route, rule.limit, rule.window) == (
        "POST",
        "/sm/v1/service_instances",
        50,
        60.0,
    )


@pytest.fixture(scope="module", params=["http-date", "seconds"])
def limited(request: pytest.FixtureRequest) -> Iterator[SandboxServer]:
    config = SandboxConfig(
        subaccounts=sandbox_seeds(),
        latencies=FAST,
        rate_limits=[RateLimit(method="POST", route="/sm/v1/service_instances", limit=3, window=60)],
        retry_after_format=request.param,
    )
    with SandboxServer(config) as server:
        yield server


def test_fourth_create_within_the_window_is_429(limited: SandboxServer) -> None:
    limited.reset()
    api = Api(limited)
    creds = api.operator_ready()
    for _ in range(3):
        assert api.sm(creds, "POST", "/v1/service_instances", json=BODY).status_code == 202
    reply = api.sm(creds, "POST", "/v1/service_instances", json=BODY)
    assert reply.status_code == 429
    assert reply.json()["error"] == "TooManyRequests"
    value = reply.headers["Retry-After"]
    if limited.config.retry_after_format == "seconds":
        assert 55 <= int(value) <= 60
    else:
        assert 55 <= parsedate_to_datetime(value).timestamp() - time.time() <= 61
    assert api.sm(creds, "GET", "/v1/service_instances").json()["num_items"] == 4  # admin instance + 3
    # other routes and other clients are not limited
    assert api.sm(creds, "GET", "/v1/service_instances").status_code == 200
    other = api.operator_ready(SUBACCOUNT_2)
    assert api.sm(other, "POST", "/v1/service_instances", json=BODY).status_code == 202
    # the window slides
    limited.advance_clock(61)
    assert api.sm(creds, "POST", "/v1/service_instances", json=BODY).status_code == 202
    assert [c["status"] for c in limited.calls() if c["status"] == 429] == [429]
    api.http.close()
