"""Transport mechanics over real loopback HTTP (a scripted server, not the emulator)."""

from __future__ import annotations

import email.utils
import logging
import time
from collections.abc import Iterator

import pytest

from btp_infra.btp.auth import ClientCredentialsTokenSource
from btp_infra.btp.errors import (
    BadRequestError,
    BtpError,
    ConflictError,
    DeadlineExceededError,
    NotFoundError,
    RateLimitedError,
    ServerError,
    TransportError,
    UnauthorizedError,
)
from btp_infra.btp.http import Deadline, PollPolicy, RetryPolicy, Transport, parse_retry_after, poll

from .http_server import CLIENT_ID, CLIENT_SECRET, Reply, ScriptedServer, scripted_server


class Sleeps:
    """An injectable ``sleep`` that records instead of waiting."""

    def __init__(self) -> None:
        self.calls: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)


@pytest.fixture
def server() -> Iterator[ScriptedServer]:
    with scripted_server() as s:
        yield s


def make_transport(server: ScriptedServer, policy: RetryPolicy | None = None) -> Transport:
    tokens = ClientCredentialsTokenSource(server.token_url, CLIENT_ID, CLIENT_SECRET, style="basic")
    return Transport(server.url + "/api", tokens, policy=policy or RetryPolicy(sleep=Sleeps()), name="test")


def test_backoff_is_full_jitter_exponential_and_capped() -> None:
    top = RetryPolicy(backoff_base=0.5, backoff_cap=4.0, random=lambda: 1.0)
    assert [top.backoff(n) for n in range(1, 7)] == [0.5, 1.0, 2.0, 4.0, 4.0, 4.0]
    half = RetryPolicy(backoff_base=0.5, backoff_cap=4.0, random=lambda: 0.5)
    assert half.backoff(3) == 1.0
    assert RetryPolicy(random=lambda: 0.0).backoff(5) == 0.0


def test_poll_interval_grows_with_elapsed_time_and_is_capped() -> None:
    policy = PollPolicy()
    assert policy.interval(0) == 0.25
    assert policy.interval(5) == 0.5
    assert policy.interval(60) == 6.0
    assert policy.interval(1800) == 10.0


def test_parse_retry_after_seconds_and_http_date() -> None:
    now = time.time()
    assert parse_retry_after("7") == 7.0
    date = email.utils.formatdate(now + 30, usegmt=True)
    waited = parse_retry_after(date, now=now)
    assert waited is not None and 29.0 <= waited <= 30.0
    assert parse_retry_after(email.utils.formatdate(now - 60, usegmt=True), now=now) == 0.0
    assert parse_retry_after("soon") is None
    assert parse_retry_after(None) is None


def test_success_sends_bearer_token_and_counts_calls(server: ScriptedServer) -> None:
    server.script = [Reply(200, {"ok": True})]
    with make_transport(server) as transport:
        assert transport.request("GET", "/things").json() == {"ok": True}
        transport.request("GET", "/things")
        stats = transport.stats
    assert stats.calls == {"GET": 2}
    assert stats.token_fetches == 1
    assert stats.total == 3
    assert server.api_calls()[0].path == "/api/things"
    assert server.api_calls()[0].headers["Authorization"] == "Bearer token-1"


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_retryable_statuses_are_retried(server: ScriptedServer, status: int) -> None:
    sleeps = Sleeps()
    server.script = [Reply(status, {"error": "Oops", "description": "try later"}), Reply(200, {"n": 1})]
    with make_transport(server, RetryPolicy(sleep=sleeps, random=lambda: 1.0)) as transport:
        assert transport.request("GET", "/x").json() == {"n": 1}
        assert transport.stats.retries == 1
    assert sleeps.calls == [0.5]


def test_backoff_sequence_between_attempts(server: ScriptedServer) -> None:
    sleeps = Sleeps()
    server.script = [Reply(503), Reply(503), Reply(503), Reply(200, {})]
    policy = RetryPolicy(sleep=sleeps, random=lambda: 1.0, backoff_base=0.1, backoff_cap=0.3)
    with make_transport(server, policy) as transport:
        transport.request("GET", "/x")
    assert sleeps.calls == pytest.approx([0.1, 0.2, 0.3])


def test_attempts_are_bounded(server: ScriptedServer) -> None:
    server.script = [Reply(500, {"error": {"code": 11000, "message": "internal"}})]
    with (
        make_transport(server, RetryPolicy(max_attempts=3, sleep=Sleeps())) as transport,
        pytest.raises(ServerError) as info,
    ):
        transport.request("GET", "/x")
    assert len(server.api_calls()) == 3
    assert info.value.status == 500
    assert info.value.code == "11000"
    assert info.value.description == "internal"


def test_429_retry_after_seconds_is_honoured_for_real(server: ScriptedServer) -> None:
    server.script = [Reply(429, {"error": "TooManyRequests"}, {"Retry-After": "1"}), Reply(200, {})]
    with make_transport(server, RetryPolicy()) as transport:
        started = time.monotonic()
        transport.request("POST", "/x", json={})  # 429 is safe to retry even for POST
        elapsed = time.monotonic() - started
    assert 1.0 <= elapsed < 2.5
    assert len(server.api_calls()) == 2


def test_429_retry_after_http_date_is_honoured(server: ScriptedServer) -> None:
    sleeps = Sleeps()
    date = email.utils.formatdate(time.time() + 3, usegmt=True)
    server.script = [Reply(429, {"error": "TooManyRequests"}, {"Retry-After": date}), Reply(200, {})]
    with make_transport(server, RetryPolicy(sleep=sleeps, random=lambda: 0.0)) as transport:
        transport.request("GET", "/x")
    assert len(sleeps.calls) == 1
    assert 1.0 < sleeps.calls[0] <= 3.0  # whole-second date resolution


def test_retry_after_beyond_the_deadline_fails_fast(server: ScriptedServer) -> None:
    sleeps = Sleeps()
    server.script = [
        Reply(429, {"error": "TooManyRequests", "description": "slow down"}, {"Retry-After": "120"})
    ]
    with (
        make_transport(server, RetryPolicy(sleep=sleeps)) as transport,
        pytest.raises(DeadlineExceededError) as info,
    ):
        transport.request("GET", "/x", deadline=Deadline(5))
    assert sleeps.calls == []
    assert info.value.status == 429
    assert isinstance(info.value.__cause__, RateLimitedError)


def test_rate_limited_error_when_attempts_run_out(server: ScriptedServer) -> None:
    server.script = [Reply(429, {"error": {"code": 11006, "message": "rate limit"}}, {"Retry-After": "0"})]
    with (
        make_transport(server, RetryPolicy(max_attempts=2, sleep=Sleeps())) as transport,
        pytest.raises(RateLimitedError) as info,
    ):
        transport.request("GET", "/x")
    assert info.value.code == "11006"


def test_entitlement_lock_30004_is_retried_but_other_400s_are_not(server: ScriptedServer) -> None:
    lock = {"error": {"code": 30004, "message": "Entitlement is locked by another operation"}}
    server.script = [Reply(400, lock), Reply(200, {})]
    with make_transport(server) as transport:
        transport.request("PUT", "/x", json={})
        assert len(server.api_calls()) == 2
        server.script = [Reply(400, {"error": {"code": 30001, "message": "bad plan"}})]
        with pytest.raises(BadRequestError) as info:
            transport.request("PUT", "/x", json={})
    assert len(server.api_calls()) == 3
    assert info.value.code == "30001"


def test_lock_is_retried_beyond_max_attempts_until_the_deadline(server: ScriptedServer) -> None:
    lock = {"error": {"code": 30004, "message": "[Error: 30004/400] locked"}}
    server.script = [Reply(400, lock)] * 5 + [Reply(202)]
    sleeps = Sleeps()
    with make_transport(server, RetryPolicy(max_attempts=2, sleep=sleeps, random=lambda: 1.0)) as transport:
        assert transport.request("PUT", "/x", json={}, ok=(202,)).status_code == 202
        assert len(server.api_calls()) == 6
        assert sleeps.calls == [0.5, 1.0, 2.0, 4.0, 5.0]  # backoff capped by lock_wait_cap
        server.script = [Reply(400, lock)]
        with pytest.raises(DeadlineExceededError) as info:
            transport.request("PUT", "/x", json={}, deadline=Deadline(0.3))
    assert info.value.code == "30004"


def test_cf_unknown_route_404_is_a_retryable_503(server: ScriptedServer) -> None:
    server.script = [
        Reply(404, None, {"X-Cf-RouterError": "unknown_route"}),
        Reply(404, {"error": "NotFound"}),
    ]
    with make_transport(server) as transport:
        with pytest.raises(NotFoundError):
            transport.request("GET", "/x")
        assert len(server.api_calls()) == 2
    server.script = [Reply(404, None, {"X-Cf-RouterError": "unknown_route"})]
    with (
        make_transport(server, RetryPolicy(max_attempts=2, sleep=Sleeps())) as transport,
        pytest.raises(ServerError) as info,
    ):
        transport.request("GET", "/x", ok=(200, 404))
    assert info.value.status == 503


def test_sm_error_shape_is_parsed(server: ScriptedServer) -> None:
    server.script = [Reply(409, {"error": "Conflict", "description": "instance with same name exists"})]
    with make_transport(server) as transport, pytest.raises(ConflictError) as info:
        transport.request("POST", "/x", json={"secret": CLIENT_SECRET})
    assert info.value.code == "Conflict"
    assert info.value.description == "instance with same name exists"
    assert CLIENT_SECRET not in str(info.value)


def test_connection_reset_is_retried_for_get(server: ScriptedServer) -> None:
    server.script = [Reply(kind="reset"), Reply(200, {"after": "reset"})]
    with make_transport(server) as transport:
        assert transport.request("GET", "/x").json() == {"after": "reset"}


def test_connection_reset_is_not_retried_for_post(server: ScriptedServer) -> None:
    server.script = [Reply(kind="reset"), Reply(200, {})]
    with make_transport(server) as transport, pytest.raises(TransportError):
        transport.request("POST", "/x", json={})
    assert len(server.api_calls()) == 1


def test_read_timeout_is_retried(server: ScriptedServer) -> None:
    server.script = [Reply(200, {"late": True}, sleep=1.0), Reply(200, {"late": False})]
    with make_transport(server, RetryPolicy(read_timeout=0.2, sleep=Sleeps())) as transport:
        assert transport.request("GET", "/x").json() == {"late": False}


def test_connection_refused_is_a_transport_error() -> None:
    tokens = ClientCredentialsTokenSource("http://127.0.0.1:9/oauth/token", CLIENT_ID, CLIENT_SECRET)
    policy = RetryPolicy(max_attempts=2, sleep=Sleeps())
    with (
        Transport("http://127.0.0.1:9/api", tokens, policy=policy) as transport,
        pytest.raises(TransportError),
    ):
        transport.request("GET", "/x")


def test_overall_deadline_is_enforced_for_real(server: ScriptedServer) -> None:
    server.script = [Reply(200, {}), Reply(503, {"error": "Unavailable"})]
    # Without the deadline these attempts would take ~50 s (mean backoff 0.05 s each).
    policy = RetryPolicy(max_attempts=1000, backoff_base=0.05, backoff_cap=0.1)
    with make_transport(server, policy) as transport:
        transport.request("GET", "/warm-up")  # token and connection ready: the deadline only sees the retries
        transport.reset_stats()
        started = time.monotonic()
        with pytest.raises(DeadlineExceededError) as info:
            transport.request("GET", "/x", deadline=Deadline(1.5))
        elapsed = time.monotonic() - started
        attempts = transport.stats.calls["GET"]
    # It gives up only once the next backoff (<= 0.1 s) no longer fits: never before 1.4 s, however slow the
    # machine. The upper margin is generous (a loaded machine may answer the last attempt late) and still far
    # below the unbounded retries.
    assert 1.4 <= elapsed < 1.5 + 2.0
    # Attempts as the client counts them: on a starved machine the server may not log the last one, which the
    # deadline cut short.
    assert attempts >= 2, "it retried until the deadline"
    assert 1 <= len(server.api_calls()) - 1 <= attempts
    # The last attempt either got its 503 or was cut short by the deadline (read timeout = time left).
    cause = info.value.__cause__
    assert isinstance(cause, ServerError | TransportError)
    assert info.value.status == (503 if isinstance(cause, ServerError) else None)


def test_401_refreshes_the_token_once(server: ScriptedServer) -> None:
    server.script = [Reply(200, {})]
    with make_transport(server) as transport:
        transport.request("GET", "/x")
        server.revoke()
        transport.request("GET", "/x")
        assert transport.stats.token_fetches == 2
    assert [c.headers["Authorization"] for c in server.api_calls()] == [
        "Bearer token-1",
        "Bearer token-1",
        "Bearer token-2",
    ]


def test_persistent_401_raises_unauthorized_after_one_refresh(server: ScriptedServer) -> None:
    server.require_token = False
    server.script = [Reply(401, {"error": "Unauthorized", "description": "nope"})]
    with make_transport(server) as transport, pytest.raises(UnauthorizedError):
        transport.request("GET", "/x")
    assert len(server.api_calls()) == 2
    assert server.token_requests == 2


def test_token_is_cached_until_shortly_before_expiry() -> None:
    with scripted_server(token_ttl=1) as server:
        tokens = ClientCredentialsTokenSource(server.token_url, CLIENT_ID, CLIENT_SECRET, style="body")
        assert tokens.token() == tokens.token() == "token-1"
        time.sleep(0.6)  # past half of the 1 s lifetime
        assert tokens.token() == "token-2"
        tokens.invalidate()
        assert tokens.token() == "token-3"
        tokens.close()
        body = server.seen[0].body.decode()
    assert "grant_type=client_credentials" in body and f"client_id={CLIENT_ID}" in body


def test_basic_style_sends_the_secret_only_in_the_authorization_header(server: ScriptedServer) -> None:
    tokens = ClientCredentialsTokenSource(server.token_url, CLIENT_ID, CLIENT_SECRET, style="basic")
    tokens.token()
    tokens.close()
    request = server.seen[0]
    assert request.headers["Authorization"].startswith("Basic ")
    assert CLIENT_SECRET.encode() not in request.body
    assert CLIENT_SECRET not in repr(tokens)


def test_bad_client_secret_is_unauthorized_without_echoing_it(
    server: ScriptedServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    server.script = [Reply(200, {})]
    wrong = "wrong-" + CLIENT_SECRET
    tokens = ClientCredentialsTokenSource(server.url + "/api/denied", CLIENT_ID, wrong)
    server.require_token = False
    server.script = [Reply(401, {"error": "unauthorized", "error_description": "Bad credentials"})]
    with pytest.raises(UnauthorizedError) as info:
        tokens.token()
    tokens.close()
    assert wrong not in str(info.value) and wrong not in repr(info.value)
    assert all(wrong not in r.getMessage() for r in caplog.records)


def test_location_on_another_origin_is_refused(server: ScriptedServer) -> None:
    with make_transport(server) as transport:
        assert transport.url_for("/v1/ops/1") == server.url + "/api/v1/ops/1"
        assert transport.url_for("/api/v1/ops/1") == server.url + "/api/v1/ops/1"
        assert transport.url_for(server.url + "/api/jobs/1") == server.url + "/api/jobs/1"
        with pytest.raises(BtpError, match="another origin"):
            transport.request("GET", "http://example.invalid/steal")
    assert server.api_calls() == []


def test_poll_returns_when_done_and_enforces_the_deadline() -> None:
    sleeps = Sleeps()
    values = iter(range(100))
    result = poll(
        lambda: next(values),
        done=lambda v: v == 3,
        policy=PollPolicy(sleep=sleeps),
        deadline=Deadline(60),
        what="count",
    )
    assert result == 3
    assert sleeps.calls == [0.25, 0.25, 0.25]
    with pytest.raises(DeadlineExceededError, match="count"):
        poll(
            lambda: 0,
            done=lambda v: False,
            policy=PollPolicy(initial=0.05, cap=0.05),
            deadline=Deadline(0.3),
            what="count",
        )
