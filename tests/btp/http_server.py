"""A tiny scripted HTTP server on 127.0.0.1 for transport-mechanics tests (real sockets, no mocks).

Each request to an API path takes the next scripted :class:`Reply` (the last one repeats); ``/oauth/token``
always issues a fresh token. Requests are recorded without their bodies' secrets mattering to the tests.
"""

from __future__ import annotations

import json
import socket
import struct
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

CLIENT_ID = "test-client"
CLIENT_SECRET = "s3cr3t-client-value"


@dataclass
class Reply:
    """One scripted response; ``kind="reset"`` closes the socket with RST; ``sleep`` delays the answer."""

    status: int = 200
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    kind: str = "http"
    sleep: float = 0.0


@dataclass
class Seen:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


class ScriptedServer:
    def __init__(self, token_ttl: int = 3600) -> None:
        self.script: list[Reply] = [Reply(200, {})]
        self.seen: list[Seen] = []
        self.token_requests = 0
        self.token_ttl = token_ttl
        self.valid_tokens: set[str] = set()
        self.require_token = True
        self._lock = threading.Lock()
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, args=(0.05,), daemon=True)

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    @property
    def token_url(self) -> str:
        return f"{self.url}/oauth/token"

    def api_calls(self) -> list[Seen]:
        return [s for s in self.seen if s.path != "/oauth/token"]

    def start(self) -> ScriptedServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def revoke(self) -> None:
        with self._lock:
            self.valid_tokens.clear()

    def _next(self) -> Reply:
        with self._lock:
            return self.script.pop(0) if len(self.script) > 1 else self.script[0]

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                return

            def _body(self) -> bytes:
                length = int(self.headers.get("Content-Length") or 0)
                return self.rfile.read(length) if length else b""

            def _send(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
                data = b"" if body is None else json.dumps(body).encode()
                self.send_response(status)
                for key, value in (headers or {}).items():
                    self.send_header(key, value)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _handle(self) -> None:
                body = self._body()
                path = self.path.split("?", 1)[0]
                with server._lock:
                    server.seen.append(Seen(self.command, self.path, dict(self.headers.items()), body))
                if path == "/oauth/token":
                    with server._lock:
                        server.token_requests += 1
                        token = f"token-{server.token_requests}"
                        server.valid_tokens.add(token)
                    self._send(
                        200, {"access_token": token, "token_type": "bearer", "expires_in": server.token_ttl}
                    )
                    return
                auth = self.headers.get("Authorization", "")
                if server.require_token and auth.removeprefix("Bearer ") not in server.valid_tokens:
                    self._send(401, {"error": "Unauthorized", "description": "invalid token"})
                    return
                reply = server._next()
                if reply.sleep:
                    time.sleep(reply.sleep)
                if reply.kind == "reset":
                    self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                    self.connection.close()
                    self.close_connection = True
                    return
                self._send(reply.status, reply.body, reply.headers)

            do_GET = _handle
            do_POST = _handle
            do_PUT = _handle
            do_PATCH = _handle
            do_DELETE = _handle

        return Handler


@contextmanager
def scripted_server(token_ttl: int = 3600) -> Iterator[ScriptedServer]:
    server = ScriptedServer(token_ttl).start()
    try:
        yield server
    finally:
        server.stop()
