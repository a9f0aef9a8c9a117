"""X509 token source: the PEMs exist only privately and only while the token is fetched."""

from __future__ import annotations

import os
import stat
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
    """A real session that records the mode and content of the cert files it is handed."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[dict[str, Any]] = []

    def request(self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any) -> requests.Response:
        cert = kwargs.get("cert")
        if isinstance(cert, tuple):
            cert_path, key_path = cert
            self.seen.append(
                {
                    "dir_mode": stat.S_IMODE(os.stat(os.path.dirname(key_path)).st_mode),
                    "key_mode": stat.S_IMODE(os.stat(key_path).st_mode),
                    "cert_mode": stat.S_IMODE(os.stat(cert_path).st_mode),
                    "key": Path(key_path).read_text(),
                    "paths": (cert_path, key_path),
                }
            )
        return super().request(method, url, *args, **kwargs)


def test_x509_pems_are_private_and_removed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    session = InspectingSession()
    with scripted_server() as server:
        source = X509TokenSource(server.token_url, CLIENT_ID, CERT, KEY, session=session)
        assert source.token() == "token-1"
        source.invalidate()
        assert source.token() == "token-2"
        body = server.seen[0].body.decode()
    assert "client_id=" + CLIENT_ID in body and "client_secret" not in body
    assert len(session.seen) == 2
    for seen in session.seen:
        assert seen["dir_mode"] == 0o700 and seen["key_mode"] == 0o600 and seen["cert_mode"] == 0o600
        assert seen["key"] == KEY
        assert not any(os.path.exists(p) for p in seen["paths"])
    assert list(tmp_path.iterdir()) == []
    assert "secretkey" not in repr(source)
