"""``SandboxServer``: the emulator on 127.0.0.1 in a background thread; ``serve()`` for the CLI.

Files holding secrets are private: the temporary directory with the CA and the TLS server key (removed on
stop, and by ``serve()`` also on SIGTERM/SIGHUP) and the ``key_out`` file (0600 even where a file was
before; never written through a symlink).
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import json
import os
import signal
import socket
import ssl
import stat
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from tempfile import TemporaryDirectory
from types import TracebackType
from typing import Any, TextIO

import uvicorn

from btp_infra.sandbox.app import create_app
from btp_infra.sandbox.config import SandboxConfig, SubaccountSeed
from btp_infra.sandbox.connection import SandboxH11Protocol
from btp_infra.sandbox.faults import FaultKind, FaultSpec, FaultWhen
from btp_infra.sandbox.runtime import Runtime

HOST = "127.0.0.1"
_START_TIMEOUT = 10.0


def _bind(port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)  # asyncio sets TCP_NODELAY
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((HOST, port))
    except OSError:
        sock.close()
        raise
    return sock


class KeyFileError(OSError):
    """The key file cannot be written safely (a symlink, not a regular file, a missing directory…)."""


def _open_private(path: Path) -> int:
    """Open ``path`` for writing, readable by the owner only, whatever was there; never through a symlink.

    ``O_NOFOLLOW`` refuses a symlink as the last component; ``fchmod`` makes an existing file 0600 before
    anything is written to it (``O_CREAT``'s mode only applies to a new file). Not truncated here:
    :func:`_write_fd` truncates when it writes, so a server that fails to start leaves an old key intact.
    """
    flags = os.O_WRONLY | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
    if path.is_symlink():
        raise KeyFileError(errno.ELOOP, f"refusing to write a secret through a symlink: {path}")
    try:
        fd = os.open(path, flags, 0o600)
    except OSError as exc:
        if exc.errno in (errno.ELOOP, errno.EMLINK):
            raise KeyFileError(exc.errno, f"refusing to write a secret through a symlink: {path}") from None
        raise KeyFileError(exc.errno, f"cannot write {path}: {exc.strerror or type(exc).__name__}") from None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise KeyFileError(errno.EINVAL, f"refusing to write a secret to {path}: not a regular file")
        os.fchmod(fd, 0o600)
    except BaseException:
        os.close(fd)
        raise
    return fd


def _write_fd(fd: int, text: str) -> None:
    os.ftruncate(fd, 0)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)


def _write_private(path: Path, text: str) -> None:
    _write_fd(_open_private(path), text)


@contextlib.contextmanager
def _stop_on_signals(stop: threading.Event) -> Iterator[None]:
    """In the main thread: SIGTERM and SIGHUP set ``stop`` (a clean shutdown removes the temporary files)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous: dict[signal.Signals, Any] = {}

    def handle(signum: int, frame: object) -> None:
        stop.set()

    for sig in (signal.SIGTERM, getattr(signal, "SIGHUP", None)):
        if sig is not None:
            previous[sig] = signal.signal(sig, handle)
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


class SandboxServer:
    """The BTP emulator. ``start()`` binds 127.0.0.1 (port 0 = any free port); usable as a context manager."""

    def __init__(self, config: SandboxConfig | None = None) -> None:
        self.config = config or SandboxConfig()
        self.runtime = Runtime(self.config)
        self._app = create_app(self.runtime)
        self._servers: list[tuple[uvicorn.Server, socket.socket]] = []
        self._thread: threading.Thread | None = None
        self._tmp: TemporaryDirectory[str] | None = None
        self._error: BaseException | None = None

    # -- lifecycle ------------------------------------------------------------------------------------------

    def _uvicorn_config(self, **tls: Any) -> uvicorn.Config:
        return uvicorn.Config(
            self._app,
            http=SandboxH11Protocol,
            ws="none",
            lifespan="off",
            interface="asgi3",
            loop="asyncio",
            log_config=None,
            log_level="error",
            access_log=False,
            server_header=False,
            proxy_headers=False,
            timeout_graceful_shutdown=1,
            **tls,
        )

    def _listen(self) -> None:
        """Bind the listeners and prepare a uvicorn server for each (TLS: client certificate required)."""
        self._tmp = TemporaryDirectory(prefix="btp-sandbox-")
        tmp = Path(self._tmp.name)
        _write_private(tmp / "ca.pem", self.runtime.ca.pem)
        plain = _bind(self.config.port)
        self._servers.append((uvicorn.Server(self._uvicorn_config()), plain))
        self.runtime.urls.origin = f"http://{HOST}:{plain.getsockname()[1]}"
        if not self.config.tls:
            self.runtime.urls.tls_origin = None
            return
        secure = _bind(self.config.tls_port)
        chain, key = self.runtime.ca.issue_server()
        _write_private(tmp / "server.pem", chain)
        _write_private(tmp / "server-key.pem", key)
        tls_config = self._uvicorn_config(
            ssl_certfile=str(tmp / "server.pem"),
            ssl_keyfile=str(tmp / "server-key.pem"),
            ssl_ca_certs=str(tmp / "ca.pem"),
            ssl_cert_reqs=ssl.CERT_REQUIRED,
        )
        self._servers.append((uvicorn.Server(tls_config), secure))
        self.runtime.urls.tls_origin = f"https://{HOST}:{secure.getsockname()[1]}"

    def start(self) -> SandboxServer:
        """Bind 127.0.0.1, serve in a daemon thread and return once every listener accepts connections."""
        if self._thread is not None:
            raise RuntimeError("the sandbox is already running")
        self.runtime.stopping.clear()
        self._error = None
        try:
            self._listen()
        except BaseException:
            self.stop()
            raise
        self._thread = threading.Thread(target=self._run, name=f"btp-sandbox-{self.port}", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + _START_TIMEOUT
        while not all(server.started for server, _ in self._servers):
            if not self._thread.is_alive() or time.monotonic() > deadline:
                error = self._error
                self.stop()
                raise RuntimeError("the sandbox server did not start") from error
            time.sleep(0.005)
        return self

    def _run(self) -> None:
        async def main() -> None:
            await asyncio.gather(*(server.serve(sockets=[sock]) for server, sock in self._servers))

        try:
            asyncio.run(main())
        except BaseException as exc:  # reported by start(); the thread must not die silently
            self._error = exc

    def stop(self) -> None:
        """Stop both listeners, join the thread, close the sockets and remove the temporary files."""
        self.runtime.stopping.set()
        for server, _ in self._servers:
            server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)
            if self._thread.is_alive():
                for server, _ in self._servers:
                    server.force_exit = True
                self._thread.join(timeout=5)
        for _, sock in self._servers:
            sock.close()
        self._servers = []
        self._thread = None
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    def __enter__(self) -> SandboxServer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # -- addresses and keys ---------------------------------------------------------------------------------

    @property
    def url(self) -> str:
        """``http://127.0.0.1:<port>``: the origin of every API and of ``/sandbox``."""
        return self.runtime.urls.origin

    @property
    def port(self) -> int:
        return int(self.url.rsplit(":", 1)[1])

    @property
    def tls_url(self) -> str | None:
        """``https://127.0.0.1:<port>`` of the mTLS listener (``config.tls``), else None."""
        return self.runtime.urls.tls_origin

    @property
    def ca_pem(self) -> str:
        """The emulator CA (signs the TLS server certificate and x509 binding certificates)."""
        return self.runtime.ca.pem

    @property
    def ca_path(self) -> str:
        """A file holding ``ca_pem`` while the server runs (for ``requests``' ``verify=``)."""
        if self._tmp is None:
            raise RuntimeError("the sandbox is not running")
        return str(Path(self._tmp.name) / "ca.pem")

    def cis_service_key(self) -> dict[str, Any]:
        """A ``cis`` ``central`` service key in the cockpit's shape, pointing at this emulator."""
        client = self.runtime.store.cis_client
        ga = self.config.global_account_subdomain
        return {
            "endpoints": {
                "accounts_service_url": f"{self.url}/accounts-service",
                "entitlements_service_url": f"{self.url}/entitlements-service",
            },
            "grant_type": "client_credentials",
            "sap.cloud.service": "com.sap.core.commercial.service.central",
            "uaa": {
                "clientid": client.client_id,
                "clientsecret": client.secret,
                "url": f"{self.url}/uaa/{ga}",
                "xsappname": client.client_id.removeprefix("sb-"),
                "identityzone": ga,
                "identityzoneid": self.config.global_account_guid,
                "tenantid": self.config.global_account_guid,
                "tenantmode": "dedicated",
                "uaadomain": HOST,
                "credential-type": "binding-secret",
            },
        }

    # -- control helpers (same as the /sandbox endpoints) ----------------------------------------------------

    def state(self) -> dict[str, Any]:
        return self.runtime.state()

    def calls(self) -> list[dict[str, Any]]:
        return self.runtime.calls.entries()

    def inject_fault(
        self,
        method: str,
        route: str,
        *,
        status: int | None = None,
        count: int = 1,
        kind: FaultKind = "http",
        when: FaultWhen = "before",
        retry_after: float | None = None,
        read_timeout: float | None = None,
        description: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> str:
        """Register a fault (see ``faults.py``); returns its id."""
        spec = FaultSpec(
            method=method,
            route=route,
            status=status,
            count=count,
            kind=kind,
            when=when,
            retry_after=retry_after,
            read_timeout=read_timeout,
            description=description,
            headers=headers or {},
        )
        return self.runtime.faults.add(spec)

    def clear_faults(self) -> None:
        self.runtime.faults.clear()

    def set_latencies(self, **seconds: float) -> dict[str, float]:
        return self.runtime.set_latencies(seconds).model_dump()

    def revoke_tokens(self, client_id: str | None = None) -> int:
        return self.runtime.store.revoke_tokens(client_id)

    def advance_clock(self, seconds: float) -> None:
        self.runtime.clock.advance(seconds)

    def set_subaccount_state(self, guid: str, state: str, message: str | None = None) -> None:
        self.runtime.patch_subaccount(guid, state, message)

    def seed_subaccount(self, seed: SubaccountSeed) -> None:
        """Add a subaccount right away, in the seed's state (``ValueError`` if GUID or subdomain is taken)."""
        self.runtime.seed_subaccount(seed)

    def change_subaccount(
        self,
        guid: str,
        *,
        display_name: str | None = None,
        description: str | None = None,
        labels: dict[str, list[str]] | None = None,
        used_for_production: str | None = None,
    ) -> None:
        """An out-of-band change, as a cockpit user makes it (no job, no state change)."""
        self.runtime.patch_subaccount(
            guid,
            display_name=display_name,
            description=description,
            labels=labels,
            used_for_production=used_for_production,
        )

    def remove_subaccount(self, guid: str) -> None:
        """Delete a subaccount and its contents at once, out of band (``KeyError`` if unknown)."""
        self.runtime.remove_subaccount(guid)

    def reset(self) -> None:
        self.runtime.reset()


def serve(
    port: int = 0,
    subaccounts: Sequence[str] = (),
    key_out: str | os.PathLike[str] | None = None,
    *,
    tls: bool = True,
    config: SandboxConfig | None = None,
    out: TextIO | None = None,
    stop: threading.Event | None = None,
) -> None:
    """Run the emulator until interrupted (Ctrl-C, SIGTERM, SIGHUP) or ``stop`` is set.

    The cis service key is printed as JSON to ``out`` (stdout) or written to ``key_out`` (mode 0600, also
    where a file was before; a symlink is refused: :class:`KeyFileError`, before the server starts).
    ``subaccounts`` are GUIDs to seed (subdomains ``sandbox-sub-<n>``); empty = the config's (two defaults).
    ``tls`` (the default) also serves the mTLS token endpoint, so x509 bindings work without further flags.
    The listening URL and the seeded subaccounts are printed to stderr. Whichever way it stops, the temporary
    CA and TLS key files are removed. A port in use raises ``OSError`` and leaves an existing key file as
    it was.
    """
    base = (config or SandboxConfig()).model_dump()
    base.update(port=port, tls=tls or base["tls"])
    if subaccounts:
        base["subaccounts"] = [
            SubaccountSeed(guid=guid, subdomain=f"sandbox-sub-{n}").model_dump()
            for n, guid in enumerate(subaccounts, 1)
        ]
    config = SandboxConfig.model_validate(base)
    stop = stop or threading.Event()
    key_fd = None if key_out is None else _open_private(Path(key_out))
    try:
        with _stop_on_signals(stop), SandboxServer(config) as server:
            key = json.dumps(server.cis_service_key(), indent=2)
            if key_fd is None:
                print(key, file=out or sys.stdout, flush=True)
            else:
                fd, key_fd = key_fd, None
                _write_fd(fd, key + "\n")
            seeded = ", ".join(f"{sub.guid} ({sub.subdomain})" for sub in config.subaccounts) or "none"
            print(f"BTP sandbox listening on {server.url} (Ctrl-C to stop)", file=sys.stderr, flush=True)
            if server.tls_url:
                print(f"x509 (mTLS) token endpoint on {server.tls_url}", file=sys.stderr, flush=True)
            print(f"subaccounts: {seeded}", file=sys.stderr, flush=True)
            with contextlib.suppress(KeyboardInterrupt):
                while not stop.wait(0.5):
                    pass
    finally:
        if key_fd is not None:
            os.close(key_fd)
