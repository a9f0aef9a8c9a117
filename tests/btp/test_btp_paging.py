"""Service Manager listings stop, whatever the server answers: a repeated page token, endless pages and a
deadline each end the listing with a clear error instead of a loop (and so do the lookups and the destroy
sweep that use it)."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from btp_infra.btp import service_manager
from btp_infra.btp.errors import BtpError, DeadlineExceededError
from btp_infra.btp.keys import ServiceManagerCredentials
from btp_infra.btp.service_manager import ServiceManagerClient

from .http_server import CLIENT_ID, CLIENT_SECRET, Reply, ScriptedServer, scripted_server
from .support import fast_retry


@pytest.fixture
def server() -> Iterator[ScriptedServer]:
    with scripted_server() as s:
        yield s


def client(server: ScriptedServer) -> ServiceManagerClient:
    creds = ServiceManagerCredentials.parse(
        {"clientid": CLIENT_ID, "clientsecret": CLIENT_SECRET, "sm_url": server.url, "url": server.url},
        source="test",
    )
    return ServiceManagerClient(creds, retry_policy=fast_retry())


def page(token: str | None, name: str = "x") -> Reply:
    body: dict[str, object] = {"num_items": 1, "items": [{"id": name, "name": name}]}
    if token is not None:
        body["token"] = token
    return Reply(200, body)


@pytest.mark.timeout(30)
def test_a_repeated_page_token_stops_the_listing(server: ScriptedServer) -> None:
    server.script = [page("t1", "a"), page("t2", "b"), page("t1", "c")]  # the last one repeats forever
    with client(server) as sm, pytest.raises(BtpError, match="repeated a page token"):
        sm.list_instances(label_query="btp-infra.managed-by eq 'btp-infra'")
    assert len(server.api_calls()) == 3  # pages 1-3; page 3 hands out t1 again: no fourth request


@pytest.mark.timeout(30)
def test_endless_pages_stop_at_the_page_cap(server: ScriptedServer, monkeypatch: pytest.MonkeyPatch) -> None:
    counter = iter(range(10**6))

    def fresh_page() -> Reply:
        return page(f"t{next(counter)}")

    monkeypatch.setattr(service_manager, "MAX_PAGES", 25)
    monkeypatch.setattr(ScriptedServer, "_next", lambda self: fresh_page())
    with client(server) as sm, pytest.raises(BtpError, match="more than 25 pages"):
        sm.list_bindings()
    assert len(server.api_calls()) == 25


@pytest.mark.timeout(30)
def test_a_listing_shares_one_deadline(server: ScriptedServer, monkeypatch: pytest.MonkeyPatch) -> None:
    counter = iter(range(10**6))
    monkeypatch.setattr(service_manager, "LIST_DEADLINE", 0.5)
    monkeypatch.setattr(
        ScriptedServer,
        "_next",
        lambda self: Reply(
            200, {"items": [{"id": "x", "name": "x"}], "token": f"t{next(counter)}"}, sleep=0.05
        ),
    )
    started = time.monotonic()
    with client(server) as sm, pytest.raises(DeadlineExceededError):
        sm.find_instance("btp-infra-incident-operator-access")
    assert time.monotonic() - started < 5


@pytest.mark.timeout(30)
def test_a_well_behaved_server_is_paged_to_the_end(server: ScriptedServer) -> None:
    server.script = [page("t1", "a"), page("t2", "b"), page(None, "c")]
    with client(server) as sm:
        assert [i.name for i in sm.list_instances()] == ["a", "b", "c"]
