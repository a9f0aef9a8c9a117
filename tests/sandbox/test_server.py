"""Server lifecycle: loopback only, ephemeral ports, clean stop, `serve()` for the CLI, the fixture."""

from __future__ import annotations

import io
import json
import socket
import stat
import threading
from pathlib import Path

import pytest
import requests
from emulator_fixtures import SUBACCOUNT_1, SUBACCOUNT_2

from btp_infra.sandbox import SandboxConfig, SandboxServer, serve

from .helpers import Api, wait_until


def refused(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) != 0


def sandbox_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("btp-sandbox-")]


def test_stop_leaves_no_thread_and_no_open_port() -> None:
    before = sandbox_threads()
    server = SandboxServer(SandboxConfig(tls=True)).start()
    ports = [server.port, int(str(server.tls_url).rsplit(":", 1)[1])]
    assert server.url.startswith("http://127.0.0.1:")
    with requests.Session() as http:  # keep an idle keep-alive connection open across stop()
        assert http.get(server.url + "/sandbox/state", timeout=5).status_code == 200
        ca_path = Path(server.ca_path)
        assert ca_path.read_text() == server.ca_pem
        server.stop()
        assert sandbox_threads() == before
        assert all(refused(port) for port in ports)
        assert not ca_path.exists()
        with pytest.raises(requests.exceptions.ConnectionError):
            http.get(server.url + "/sandbox/state", timeout=5)
    server.stop()  # idempotent


def test_a_server_starts_once_and_ports_are_ephemeral() -> None:
    with SandboxServer() as first, SandboxServer() as second:
        assert first.port != second.port
        with pytest.raises(RuntimeError):
            first.start()
        # only the loopback interface is bound
        with socket.socket() as probe:
            probe.settimeout(1)
            assert probe.connect_ex(("127.0.0.1", first.port)) == 0


def test_stop_interrupts_in_flight_waits() -> None:
    server = SandboxServer(SandboxConfig(tls=False)).start()
    server.set_latencies(admin_binding=60)
    api = Api(server)
    sub = server.config.subaccounts[0].guid
    worker = threading.Thread(
        target=lambda: api.accounts("POST", f"/accounts/v1/subaccounts/{sub}/serviceManagementBinding"),
        daemon=True,
    )
    worker.start()
    wait_until(lambda: any(c["status"] is None for c in server.calls()))
    server.stop()
    worker.join(timeout=5)
    assert not worker.is_alive()
    assert sandbox_threads() == []


def test_serve_prints_the_key_and_blocks_until_stopped() -> None:
    out, stop = io.StringIO(), threading.Event()
    thread = threading.Thread(target=serve, kwargs={"subaccounts": [SUBACCOUNT_1], "out": out, "stop": stop})
    thread.start()
    try:
        key = wait_until(lambda: out.getvalue() and json.loads(out.getvalue()))
        api = Api(key)
        listed = api.accounts("GET", "/accounts/v1/subaccounts").json()["value"]
        assert [s["guid"] for s in listed] == [SUBACCOUNT_1]
        api.http.close()
    finally:
        stop.set()
        thread.join(timeout=10)
    assert not thread.is_alive()


def test_serve_writes_the_key_file_privately(tmp_path: Path) -> None:
    target, stop = tmp_path / "cis-key.json", threading.Event()
    thread = threading.Thread(target=serve, kwargs={"key_out": target, "stop": stop})
    thread.start()
    try:
        wait_until(lambda: target.exists() and target.read_text().endswith("\n"))
        key = json.loads(target.read_text())
        assert key["uaa"]["url"].startswith("http://127.0.0.1:")
        assert stat.S_IMODE(target.stat().st_mode) == 0o600
    finally:
        stop.set()
        thread.join(timeout=10)


def test_the_shared_fixture(sandbox: SandboxServer) -> None:
    assert [s["guid"] for s in sandbox.state()["subaccounts"]] == [SUBACCOUNT_1, SUBACCOUNT_2]
    assert sandbox.tls_url is not None
    assert requests.get(sandbox.url + "/sandbox/state", timeout=5).status_code == 200


def test_a_busy_port_fails_start_cleanly() -> None:
    with SandboxServer() as first:
        second = SandboxServer(SandboxConfig(port=first.port))
        with pytest.raises(OSError):
            second.start()
        with pytest.raises(RuntimeError):
            second.ca_path  # noqa: B018 - the temporary files are gone
        assert len(sandbox_threads()) == 1
