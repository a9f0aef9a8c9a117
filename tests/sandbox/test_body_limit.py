"""Request bodies are capped (1 MiB): a larger one is answered 413 before it is read, authenticated or not.

Raw sockets, so the client can announce (``Content-Length``) or stream (chunked) more than it sends.
"""

from __future__ import annotations

import contextlib
import socket
from collections.abc import Callable
from urllib.parse import urlsplit

import pytest

from btp_infra.sandbox import SandboxServer
from btp_infra.sandbox.middleware import MAX_BODY_BYTES

MiB = 1 << 20


def _connect(sb: SandboxServer) -> socket.socket:
    parts = urlsplit(sb.url)
    sock = socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 80), timeout=5)
    sock.settimeout(5)
    return sock


def _status(sock: socket.socket) -> int:
    data = b""
    while b"\r\n" not in data:
        chunk = sock.recv(4096)
        if not chunk:
            break
        data += chunk
    return int(data.split(b" ", 2)[1])


def _token_path(sb: SandboxServer) -> str:
    return urlsplit(str(sb.cis_service_key()["uaa"]["url"])).path + "/oauth/token"


PATHS: dict[str, Callable[[SandboxServer], str]] = {
    "uaa-token": _token_path,
    "accounts": lambda sb: "/accounts-service/accounts/v1/subaccounts",
    "service-manager": lambda sb: "/sm/v1/service_instances",
    "sandbox-control": lambda sb: "/sandbox/faults",
}


def test_the_cap_is_one_mebibyte() -> None:
    assert MiB == MAX_BODY_BYTES


@pytest.mark.parametrize("target", sorted(PATHS))
def test_a_declared_oversized_body_is_refused_before_it_is_read(sb: SandboxServer, target: str) -> None:
    path = PATHS[target](sb)
    with _connect(sb) as sock:
        sock.sendall(
            f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            f"Content-Length: {64 * MiB}\r\n\r\n".encode()
            + b"{"
        )
        assert _status(sock) == 413  # without the other 64 MiB


@pytest.mark.parametrize("target", sorted(PATHS))
def test_a_chunked_body_is_counted_as_it_streams(sb: SandboxServer, target: str) -> None:
    path = PATHS[target](sb)
    chunk = b"x" * (64 * 1024)
    with _connect(sb) as sock:
        sock.sendall(
            f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            "Transfer-Encoding: chunked\r\n\r\n".encode()
        )
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            for _ in range(MiB // len(chunk) + 1):  # 1 MiB + 64 KiB, never a last chunk
                sock.sendall(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
        assert _status(sock) == 413


def test_a_body_at_the_cap_is_still_read(sb: SandboxServer) -> None:
    body = b"grant_type=client_credentials&x=" + b"y" * (MiB - 32)
    assert len(body) == MiB
    with _connect(sb) as sock:
        sock.sendall(
            f"POST {_token_path(sb)} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            "Content-Type: application/x-www-form-urlencoded\r\n"
            f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode()
            + body
        )
        assert _status(sock) == 401  # read, and refused for what it is: no client credentials
