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
