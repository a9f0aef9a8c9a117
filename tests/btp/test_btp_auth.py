"""X509 token source: the PEMs never lie in a file; requests are never handed a key path."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import pytest
import requests

from btp_infra.btp.auth import X509TokenSource

from .http_server import CLIENT_ID, scripted_server

CERT = "-----BEGIN CERTIFICATE-----\nMIIBcert\n-----END CERTIFICATE-----\n"
KEY = "-----BEGIN PRIVATE KEY-----\nMIIBsecretkey\n-----END PRIVATE KEY-----\n"


class InspectingSession(requests.Session):
    """A real session that records every ``cert=`` it is handed."""

    def __init__(self) -> None:
        super().__init__()
        self.certs: list[Any] = []

    def request(self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any) -> requests.Response:
        if kwargs.get("cert") is not None:
            self.certs.append(kwargs["cert"])
        return super().request(method, url, *args, **kwargs)


def test_x509_pems_never_lie_in_a_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    session = InspectingSession()
    with scripted_server() as server:
        source = X509TokenSource(server.token_url, CLIENT_ID, CERT, KEY, session=session)
        assert source.token() == "token-1"
        source.invalidate()
        assert source.token() == "token-2"
        body = server.seen[0].body.decode()
    assert "client_id=" + CLIENT_ID in body and "client_secret" not in body
    assert session.certs == [], "requests is never handed a certificate or key file"
    assert list(tmp_path.iterdir()) == []
    assert "secretkey" not in repr(source)


def test_one_token_per_credential_per_process() -> None:
    """Every client of one credential in a process shares its token (the dynamic-provider server runs all of a
    stack's providers in one process); another credential, or a 401, gets a token of its own."""
    from btp_infra.btp.auth import ClientCredentialsTokenSource, clear_token_cache

    from .http_server import CLIENT_SECRET

    clear_token_cache()
    with scripted_server() as server:
        first = ClientCredentialsTokenSource(server.token_url, CLIENT_ID, CLIENT_SECRET, style="body")
        second = ClientCredentialsTokenSource(server.token_url, CLIENT_ID, CLIENT_SECRET, style="body")
        other = ClientCredentialsTokenSource(
            server.token_url, CLIENT_ID, "another-secret-value", style="body"
        )
        token = first.token()
        assert second.token() == token and server.token_requests == 1
        assert other.token() != token and server.token_requests == 2
        second.invalidate()  # a 401 with the shared token: nobody may use it any more
        renewed = first.token()
        assert renewed != token and server.token_requests == 3
        assert second.token() == renewed and server.token_requests == 3
        clear_token_cache()
        assert ClientCredentialsTokenSource(server.token_url, CLIENT_ID, CLIENT_SECRET, style="body").token()
        assert server.token_requests == 4
        for source in (first, second, other):
            source.close()
