"""Per-connection hooks for the uvicorn HTTP protocol: the TLS peer certificate and an abortive close.

uvicorn does not expose the transport to the application; ``SandboxH11Protocol`` (passed as
``uvicorn.Config(http=...)``) adds a :class:`Connection` to every request's ``scope["state"]``.
"""

from __future__ import annotations

import asyncio
import socket
import struct
from collections.abc import Mapping
from typing import Any

from uvicorn.protocols.http.h11_impl import H11Protocol

CONNECTION_STATE = "sandbox_connection"


class Connection:
    """What a request may do with its TCP connection."""

    def __init__(self, transport: asyncio.Transport) -> None:
        self._transport = transport

    def peer_certificate(self) -> bytes | None:
        """DER of the verified TLS client certificate, or None (plain HTTP or no certificate)."""
        ssl_object = self._transport.get_extra_info("ssl_object")
        if ssl_object is None:
            return None
        der: bytes | None = ssl_object.getpeercert(binary_form=True)
        return der

    def reset(self) -> None:
        """Drop the connection with a TCP RST (``SO_LINGER`` 0): the client sees "connection reset"."""
        sock = self._transport.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self._transport.abort()


def connection_of(scope: Mapping[str, Any]) -> Connection | None:
    state = scope.get("state") or {}
    connection = state.get(CONNECTION_STATE)
    return connection if isinstance(connection, Connection) else None


class SandboxH11Protocol(H11Protocol):
    """uvicorn's h11 protocol, plus a :class:`Connection` in each request's state."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self.app_state = {**self.app_state, CONNECTION_STATE: Connection(transport)}

    def shutdown(self) -> None:
        """Server stop: drop idle connections at once (a TLS close would wait for the peer's close_notify)."""
        if self.cycle is None or self.cycle.response_complete:
            self.transport.abort()
        else:
            super().shutdown()
