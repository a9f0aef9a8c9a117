"""Secrets never appear, whatever the input or the server.

Hostile or broken servers (real HTTP on 127.0.0.1) that echo what they were sent — the token request's form,
the ``Authorization`` header, the bearer token — into error bodies, reason phrases, garbage status lines;
that hand out unusable access tokens (a newline, a CR/LF header injection, non-ASCII); and Service Manager
bindings whose ``credentials`` are not an object. Then the x509 private key on disk (a hanging, an
interrupted and a killed mTLS token request) and ``btp-infra plan`` over stack files that put a secret under
a misspelt namespace, a bare key or a secret-looking key.

What is checked is everything a user sees: ``str(error)``, the chained causes (:func:`error_text`), the whole
formatted traceback and, for the CLI, the whole output. Neither the secret nor any 8-character piece of it
(nor its base64/URL-encoded form) may appear.
"""

from __future__ import annotations

import base64
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import quote, quote_plus

import pytest
import requests
from click.testing import CliRunner

from btp_infra.btp.auth import ClientCredentialsTokenSource, X509TokenSource
from btp_infra.btp.errors import BtpError
from btp_infra.btp.http import RetryPolicy, Transport
from btp_infra.btp.keys import ServiceManagerCredentials
from btp_infra.btp.service_manager import ServiceManagerClient
from btp_infra.cli import main as cli
from btp_infra.sandbox.tls import CertificateAuthority

from .support import error_text

CLIENT_ID = "sb-hostile-client"
CLIENT_SECRET = "Hx7-SECRET+/=v4lue-7c1e9a44f0b2"
"""Has characters that URL-encoding changes (``+/=``), so an echoed form carries it encoded."""
ACCESS_TOKEN = "eyJhbGciOi.hostile-TOKEN-3f9d27c6e1a8.c2lnbmF0dXJl"
PIECE = 8


# ---- what a user sees, and what must not be in it ---------------------------------------------------------


def pieces(secret: str, n: int = PIECE) -> set[str]:
    return {secret[i : i + n] for i in range(len(secret) - n + 1)}


def forms(secret: str) -> set[str]:
    """The secret and the forms a server may echo it in (URL-encoded form body, basic auth header)."""
    basic = base64.b64encode(f"{CLIENT_ID}:{secret}".encode()).decode()
    return {secret, quote_plus(secret), quote(secret, safe=""), basic}


def exposed(text: str, *secrets: str) -> list[str]:
    """Every 8-character piece of a secret (or of an encoded form of it) found in ``text``."""
    return sorted({p for s in secrets for form in forms(s) for p in pieces(form) if p in text})


def seen_by_user(error: BaseException) -> str:
    """``str()``, the chained causes and the whole traceback, as Python prints it."""
    return "\n".join([str(error), error_text(error), "".join(traceback.format_exception(error))])


# ---- a hostile server -----------------------------------------------------------------------------


@dataclass
class Request:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    @property
    def form(self) -> str:
        return self.body.decode("latin-1")

    @property
    def authorization(self) -> str:
        return self.headers.get("Authorization", "")

    @property
    def basic_decoded(self) -> str:
        scheme, _, value = self.authorization.partition(" ")
        return base64.b64decode(value).decode() if scheme == "Basic" else ""


@dataclass
class Reply:
    status: int = 200
    body: Any = None
    reason: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    raw: bytes | None = None
    """Written as is (a broken status line), then the connection is closed."""


Respond = Callable[[Request], Reply]


def token_reply(token: object = ACCESS_TOKEN) -> Reply:
    return Reply(200, {"access_token": token, "token_type": "bearer", "expires_in": 3600})


class HostileServer:
    """HTTP/1.1 on 127.0.0.1: ``/oauth/token`` answers with ``token``, every other path with ``api``."""

    def __init__(self, token: Respond = lambda _: token_reply(), api: Respond = lambda _: Reply()) -> None:
        self.token = token
        self.api = api
        self.seen: list[Request] = []
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, args=(0.05,), daemon=True)

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    def __enter__(self) -> HostileServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                return

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                request = Request(
                    self.command, self.path, dict(self.headers.items()), self.rfile.read(length)
                )
                server.seen.append(request)
                path = self.path.split("?", 1)[0]
                reply = (server.token if path.endswith("/oauth/token") else server.api)(request)
                if reply.raw is not None:
                    self.wfile.write(reply.raw)
                    self.wfile.flush()
                    self.close_connection = True
                    return
                if isinstance(reply.body, bytes):
                    data, kind = reply.body, "text/plain"
                else:
                    data, kind = json.dumps(reply.body).encode(), "application/json"
                self.send_response(reply.status, reply.reason)
                for key, value in reply.headers.items():
                    self.send_header(key, value)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = _handle
            do_POST = _handle
            do_PUT = _handle
            do_PATCH = _handle
            do_DELETE = _handle

        return Handler


def no_sleep(_: float) -> None:
    return None


QUICK = RetryPolicy(max_attempts=2, sleep=no_sleep, call_deadline=5.0, read_timeout=5.0)


def transport(server: HostileServer, style: str = "basic") -> Transport:
    tokens = ClientCredentialsTokenSource(
        f"{server.url}/oauth/token",
        CLIENT_ID,
        CLIENT_SECRET,
        style="basic" if style == "basic" else "body",
    )
    return Transport(server.url + "/api", tokens, policy=QUICK, name="hostile")


def failure_of(call: Callable[[], object]) -> BaseException:
    with pytest.raises(BaseException) as caught:  # any error: what it shows is under test
        call()
    assert not isinstance(caught.value, AssertionError | KeyboardInterrupt)
    return caught.value


# ---- token endpoints that echo the client secret --------------------------------------------------------


def _echo(request: Request) -> str:
    """Everything the client sent that can carry the secret."""
    return f"form={request.form} authorization={request.authorization} decoded={request.basic_decoded}"


TOKEN_ECHOES: dict[str, Respond] = {
    "form-in-error-description": lambda r: Reply(
        400, {"error": "invalid_client", "error_description": f"rejected {_echo(r)}"}
    ),
    "header-in-description-401": lambda r: Reply(
        401, {"error": "unauthorized", "description": f"bad credentials {_echo(r)}"}
    ),
    "form-in-error-message-object": lambda r: Reply(
        403, {"error": {"code": "forbidden", "message": f"denied: {_echo(r)}"}}
    ),
    "form-in-error-code": lambda r: Reply(400, {"error": _echo(r)}),
    "form-in-broker-error": lambda r: Reply(400, {"broker_error": {"Description": _echo(r)}}),
    "form-in-reason-phrase": lambda r: Reply(400, {"error": "invalid_client"}, reason=_echo(r)),
    "form-in-5xx-body": lambda r: Reply(500, {"error": "server_error", "error_description": _echo(r)}),
    "form-in-broken-status-line": lambda r: Reply(raw=f"HTTP/1.1 2OO {_echo(r)}\r\n\r\n".encode()),
    "form-in-non-json-200": lambda r: Reply(200, f"<html>{_echo(r)}</html>".encode()),
    "form-in-200-without-token": lambda r: Reply(200, {"echo": _echo(r)}),
}


@pytest.mark.parametrize("style", ["basic", "body"])
@pytest.mark.parametrize("case", sorted(TOKEN_ECHOES))
def test_a_token_endpoint_echoing_the_secret_never_shows_it(case: str, style: str) -> None:
    with HostileServer(token=TOKEN_ECHOES[case]) as server:
        source = ClientCredentialsTokenSource(
            f"{server.url}/oauth/token",
            CLIENT_ID,
            CLIENT_SECRET,
            style="basic" if style == "basic" else "body",
        )
        direct = failure_of(source.token)
        with transport(server, style) as client:
            through = failure_of(lambda: client.request("GET", "/things"))
        assert CLIENT_SECRET in _echo(server.seen[0]) or quote_plus(CLIENT_SECRET) in _echo(server.seen[0])
    for error in (direct, through):
        assert isinstance(error, BtpError), seen_by_user(error)
        assert "token request" in str(error)
        assert exposed(seen_by_user(error), CLIENT_SECRET) == [], seen_by_user(error)


# ---- APIs that echo the bearer token ----------------------------------------------------------------------


API_ECHOES: dict[str, Respond] = {
    "token-in-401-description": lambda r: Reply(
        401, {"error": "Unauthorized", "description": f"invalid token: {r.authorization}"}
    ),
    "token-in-400-description": lambda r: Reply(400, {"description": f"bad request with {r.authorization}"}),
    "token-in-500-error-message": lambda r: Reply(
        500, {"error": {"code": "500", "message": f"crashed on {r.authorization}"}}
    ),
    "token-in-reason-phrase": lambda r: Reply(404, {}, reason=r.authorization),
    "token-in-broken-status-line": lambda r: Reply(raw=f"HTTP/1.1 {r.authorization}\r\n\r\n".encode()),
    "token-in-429-description": lambda r: Reply(
        429, {"error": "Too Many Requests", "description": r.authorization}, headers={"Retry-After": "0"}
    ),
    "token-in-entitlement-lock": lambda r: Reply(
        400, {"error": {"code": "30004", "message": f"locked for {r.authorization}"}}
    ),
}


@pytest.mark.parametrize("case", sorted(API_ECHOES))
def test_an_api_echoing_the_bearer_token_never_shows_it(case: str) -> None:
    with HostileServer(api=API_ECHOES[case]) as server:
        with transport(server) as client:
            client.policy = RetryPolicy(max_attempts=2, sleep=no_sleep, call_deadline=0.5, lock_wait_cap=0.05)
            error = failure_of(lambda: client.request("GET", "/things"))
        assert any(ACCESS_TOKEN in r.authorization for r in server.seen)
    assert isinstance(error, BtpError), seen_by_user(error)
    assert exposed(seen_by_user(error), ACCESS_TOKEN, CLIENT_SECRET) == [], seen_by_user(error)


# ---- access tokens that cannot go into a header ---------------------------------------------------------

BAD_TOKENS: dict[str, object] = {
    "newline": "first-half-of-token\nsecond-half-SECRET-91ab",
    "crlf-header-injection": "token-part-77aa1c\r\nX-Injected: hostile-SECRET-91ab",
    "space": "token-part-77aa1c hostile-SECRET-91ab",
    "non-ascii": "token-part-77aa1c-hostile-SECRET-\u20ac-91ab",
    "nul": "token-part-77aa1c\x00hostile-SECRET-91ab",
    "tab": "token-part-77aa1c\thostile-SECRET-91ab",
}


@pytest.mark.parametrize("case", sorted(BAD_TOKENS))
def test_an_unusable_access_token_is_refused_without_showing_it(case: str) -> None:
    token = BAD_TOKENS[case]
    with HostileServer(token=lambda _: token_reply(token)) as server, transport(server) as client:
        error = failure_of(lambda: client.request("GET", "/things"))
        api_calls = [r for r in server.seen if not r.path.endswith("/oauth/token")]
    assert isinstance(error, BtpError), seen_by_user(error)
    assert "access_token" in str(error) or "access token" in str(error)
    assert api_calls == [], "an unusable token is never sent"
    assert isinstance(token, str)
    for part in token.split():
        assert exposed(seen_by_user(error), part) == [], seen_by_user(error)


# ---- Service Manager bindings whose credentials are not an object ------------------------------------------

BINDING_ID = "6e1c1b9a-0b5e-4c8e-9d0c-3f1b9f0f4a11"
BINDINGS: dict[str, object] = {
    "credentials-string": {"id": BINDING_ID, "name": "b", "credentials": f"clientsecret={CLIENT_SECRET}"},
    "credentials-list": {"id": BINDING_ID, "name": "b", "credentials": [CLIENT_SECRET]},
    "credentials-json-text": {
        "id": BINDING_ID,
        "name": "b",
        "credentials": json.dumps({"clientid": "x", "clientsecret": CLIENT_SECRET}),
    },
    "name-holds-the-secret": {"id": BINDING_ID, "name": {"clientsecret": CLIENT_SECRET}},
    "labels-hold-the-secret": {"id": BINDING_ID, "name": "b", "labels": {"k": CLIENT_SECRET}},
    "clientsecret-not-a-string": {
        "id": BINDING_ID,
        "name": "b",
        "credentials": {
            "clientid": "x",
            "clientsecret": {"value": CLIENT_SECRET},
            "url": "https://uaa.example.com",
            "sm_url": "https://sm.example.com",
        },
    },
    "url-holds-the-secret": {
        "id": BINDING_ID,
        "name": "b",
        "credentials": {
            "clientid": "x",
            "clientsecret": "not-this-one",
            "url": f"ftp://{CLIENT_SECRET}",
            "sm_url": "https://sm.example.com",
        },
    },
}


@pytest.mark.parametrize("case", sorted(BINDINGS))
def test_a_malformed_binding_never_shows_its_credentials(case: str) -> None:
    body = BINDINGS[case]
    with HostileServer(api=lambda _: Reply(200, body)) as server:
        creds = ServiceManagerCredentials.parse(
            {
                "clientid": CLIENT_ID,
                "clientsecret": "admin-secret-0f3b1c",
                "sm_url": server.url,
                "url": server.url,
            },
            source="hostile admin binding",
        )
        with ServiceManagerClient(creds, retry_policy=QUICK) as sm:

            def read() -> object:
                binding = sm.get_binding(BINDING_ID)
                assert binding is not None
                return binding.binding_credentials()

            error = failure_of(read)
    assert isinstance(error, ValueError | BtpError), seen_by_user(error)
    assert exposed(seen_by_user(error), CLIENT_SECRET) == [], seen_by_user(error)


# ---- the x509 private key on disk -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def client_pems() -> tuple[str, str]:
    issued = CertificateAuthority().issue_client("sb-x509", locality="hostile", validity=timedelta(days=1))
    return issued.certificate_pem, issued.key_pem


def key_lines(key_pem: str) -> list[str]:
    return [line for line in key_pem.splitlines() if line and "-----" not in line]


def files_holding(directory: Path, key_pem: str) -> list[str]:
    """Files under ``directory`` that hold a line of the private key."""
    found = []
    lines = key_lines(key_pem)
    for path in directory.rglob("*"):
        try:
            text = path.read_text(errors="replace") if path.is_file() else ""
        except OSError:
            continue
        if any(line in text for line in lines):
            found.append(str(path))
    return found


class HangingListener:
    """A TCP listener on 127.0.0.1 that accepts and never answers (a hung TLS handshake)."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.accepted: list[socket.socket] = []
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.sock.getsockname()[1]}/oauth/token"

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.accepted.append(conn)

    def close(self) -> None:
        for conn in self.accepted:
            conn.close()
        self.sock.close()
        self._thread.join(timeout=5)


@pytest.fixture
def hanging() -> Iterator[HangingListener]:
    listener = HangingListener()
    try:
        yield listener
    finally:
        listener.close()


@pytest.fixture
def private_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """``tempfile``'s directory for this test: where the token source would put its PEM files."""
    directory = tmp_path / "tmp"
    directory.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(directory))
    return directory


def wait_for(probe: Callable[[], object], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not probe():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.01)


def test_no_private_key_on_disk_while_an_mtls_token_request_hangs(
    client_pems: tuple[str, str], hanging: HangingListener, private_tmp: Path
) -> None:
    cert, key = client_pems
    source = X509TokenSource(hanging.url, "sb-x509", cert, key, verify=False)
    failures: list[BaseException] = []

    def fetch() -> None:
        try:
            source.token(timeout=(5.0, 1.5))
        except BaseException as exc:
            failures.append(exc)

    worker = threading.Thread(target=fetch, daemon=True)
    worker.start()
    wait_for(lambda: hanging.accepted)
    during = files_holding(private_tmp, key)
    worker.join(timeout=10)
    assert not worker.is_alive()
    assert during == [], f"the private key is on disk while the request hangs: {during}"
    assert files_holding(private_tmp, key) == [] and list(private_tmp.iterdir()) == []
    assert failures and isinstance(failures[0], BtpError)
    assert exposed(seen_by_user(failures[0]), *key_lines(key)[:1]) == []


def test_an_interrupted_mtls_token_request_leaves_no_key(
    client_pems: tuple[str, str], private_tmp: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cert, key = client_pems

    def interrupted(*args: Any, **kwargs: Any) -> requests.Response:
        raise KeyboardInterrupt

    monkeypatch.setattr(requests.Session, "request", interrupted)
    source = X509TokenSource("https://127.0.0.1:9/oauth/token", "sb-x509", cert, key, verify=False)
    with pytest.raises(KeyboardInterrupt):
        source.token()
    assert list(private_tmp.iterdir()) == []


def test_a_killed_mtls_token_request_leaves_no_key(
    client_pems: tuple[str, str], hanging: HangingListener, tmp_path: Path
) -> None:
    """SIGKILL (no ``finally`` runs) while the mTLS token request hangs: nothing of the key stays on disk."""
    cert, key = client_pems
    private = tmp_path / "tmp"
    private.mkdir()
    pems = tmp_path / "pems.json"
    pems.write_text(json.dumps({"cert": cert, "key": key}))
    script = textwrap.dedent(
        f"""
        import json, pathlib
        from btp_infra.btp.auth import X509TokenSource
        pems = json.loads(pathlib.Path({str(pems)!r}).read_text())
        pathlib.Path({str(pems)!r}).unlink()
        X509TokenSource({hanging.url!r}, "sb-x509", pems["cert"], pems["key"], verify=False).token(
            timeout=(30.0, 30.0)
        )
        """
    )
    process = subprocess.Popen(
        [sys.executable, "-c", script],
        env={**os.environ, "TMPDIR": str(private)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        wait_for(lambda: hanging.accepted or process.poll() is not None, timeout=30)
        assert process.poll() is None, process.stderr.read() if process.stderr else ""
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        if process.stderr is not None:
            process.stderr.close()
    assert files_holding(private, key) == []
    assert list(private.iterdir()) == []


# ---- btp-infra plan: secret-looking keys under any namespace ---------------------------------------------

PLAN_SECRET = "Zq8SENTINELcis0c8e5f21d9b74a6e"
KUBE_TOKEN = "Kq7SENTINELkube51ce09aa7d3f"
_KEY_JSON = json.dumps(
    {"uaa": {"clientid": "sb-x", "clientsecret": PLAN_SECRET, "url": "https://uaa.example"}}
)
_KUBECONFIG = (
    "apiVersion: v1\nkind: Config\nusers:\n- name: u\n  user:\n    token: " + KUBE_TOKEN + "\n"
    "clusters:\n- name: c\n  cluster:\n    server: https://127.0.0.1:6443\n"
)

PLAN_STACKS: dict[str, dict[str, object]] = {
    "misspelt-namespace-json-text": {"btp-infa:cisServiceKey": _KEY_JSON},
    "misspelt-namespace-mapping": {"btp-infa:cisServiceKey": json.loads(_KEY_JSON)},
    "bare-key-mapping": {"cisServiceKey": json.loads(_KEY_JSON)},
    "bare-key-json-text": {"cisServiceKey": _KEY_JSON},
    "bare-key-plain": {"cisServiceKey": PLAN_SECRET},
    "other-namespace-upper-case": {"kubernetes:CISSERVICEKEY": _KEY_JSON},
    "upper-case-key": {"btp-infra:CISSERVICEKEY": _KEY_JSON},
    "misspelt-key": {"btp-infra:cisServiceKy": _KEY_JSON},
    "secret-looking-key": {"btp-infra:clientSecret": PLAN_SECRET},
    "secret-looking-key-other-namespace": {"myapp:dbPassword": PLAN_SECRET},
    "kubeconfig-misspelt-namespace": {"btp-infa:kubeconfig": _KUBECONFIG},
    "kubeconfig-misspelt-key": {"btp-infra:kubeconfg": _KUBECONFIG},
    "secret-label-value": {"btp-infra:labels": {"api-token": PLAN_SECRET}},
    "secret-in-an-entitlement": {
        "btp-infra:entitlements": [{"service": "x", "plan": "y", "clientsecret": PLAN_SECRET}]
    },
}


@pytest.mark.parametrize("case", sorted(PLAN_STACKS))
def test_plan_never_shows_a_piece_of_a_secret_value(case: str, tmp_path: Path) -> None:
    config = {
        "btp-infra:namespace": "hostile",
        "btp-infra:subaccountId": "553bcbbb-e809-450f-82db-60de3ef76b1f",
        "btp-infra:kubeContext": "kyma",
        **PLAN_STACKS[case],
    }
    stack = tmp_path / "Pulumi.hostile.yaml"
    stack.write_text(json.dumps({"config": config}, indent=2))  # JSON is YAML
    runner = CliRunner()
    for extra in ([], ["--json"]):
        result = runner.invoke(cli, ["plan", "--stack", str(stack), *extra])
        shown = result.output + (error_text(result.exception) if result.exception else "")
        assert result.exit_code in (0, 1), shown
        assert exposed(shown, PLAN_SECRET, KUBE_TOKEN) == [], shown


# ---- server text that echoes the bearer token: operation failures, state messages -----------------------


def _sm_echo(request: Request) -> Reply:
    """DELETE starts an operation; the operation fails with a description that echoes the request."""
    if request.method == "DELETE":
        return Reply(202, {}, headers={"Location": "/v1/service_instances/i-1/operations/op-1"})
    return Reply(
        200, {"id": "op-1", "type": "delete", "state": "failed", "errors": {"description": _echo(request)}}
    )


def test_a_failed_operation_echoing_the_bearer_token_never_shows_it() -> None:
    with HostileServer(api=_sm_echo) as server:
        creds = ServiceManagerCredentials.parse(
            {"clientid": CLIENT_ID, "clientsecret": CLIENT_SECRET, "sm_url": server.url, "url": server.url},
            source="hostile admin binding",
        )
        with ServiceManagerClient(creds, retry_policy=QUICK) as sm:
            error = failure_of(lambda: sm.delete_instance("i-1", timeout=5))
    assert isinstance(error, BtpError) and "failed" in str(error), seen_by_user(error)
    assert exposed(seen_by_user(error), ACCESS_TOKEN, CLIENT_SECRET) == [], seen_by_user(error)


def test_a_huge_secret_is_redacted_in_bounded_memory() -> None:
    import tracemalloc

    from btp_infra.btp.errors import Redactor

    secret = "".join(f"{i:08x}" for i in range(128 * 1024))  # 1 MiB, every 8-character piece distinct
    tracemalloc.start()
    redact = Redactor([secret])
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert peak < 64 * 1024 * 1024, f"{peak / 2**20:.0f} MiB for one secret"
    assert redact(f"head {secret[:60]}… tail") == "head [secret]… tail"
    assert secret not in redact(f"x{secret}y") and redact(f"x{secret}y").startswith("x[secret]")
