"""`btp-infra sandbox serve` as users run it: the key it writes drives the whole tenant chain."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from btp_infra.btp.accounts import AccountsClient
from btp_infra.btp.keys import CisServiceKey
from btp_infra.testing.local_engine import LocalEngine

GUID = "7d0f3c58-5a52-4d0f-8a5e-0b6a1f0e2c11"


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[Path, subprocess.Popen[bytes]]]:
    key_file = tmp_path / "cis-key.json"
    cli = Path(sys.executable).with_name("btp-infra")
    process = subprocess.Popen(
        [str(cli), "sandbox", "serve", "--subaccount", GUID, "--key-out", str(key_file)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 30
        while not (key_file.exists() and key_file.stat().st_size) and process.poll() is None:
            assert time.monotonic() < deadline, "the sandbox did not write its key"
            time.sleep(0.05)
        assert process.poll() is None, process.stderr.read() if process.stderr else ""
        yield key_file, process
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        for stream in (process.stdout, process.stderr):
            if stream is not None:
                stream.close()


def test_served_key_is_private_and_matches_the_cockpit_shape(
    served: tuple[Path, subprocess.Popen[bytes]],
) -> None:
    key_file, _ = served
    assert key_file.stat().st_mode & 0o077 == 0, "the key file must be readable by its owner only"
    key = CisServiceKey.parse(key_file.read_text(), source=str(key_file))
    assert key.accounts_service_url.startswith("http://127.0.0.1:")
    with AccountsClient(key) as accounts:
        assert [s.guid for s in accounts.list_subaccounts()] == [GUID]


def test_served_key_runs_the_tenant_chain_end_to_end(
    served: tuple[Path, subprocess.Popen[bytes]], monkeypatch: pytest.MonkeyPatch
) -> None:
    key_file, process = served
    monkeypatch.setenv("BTP_CIS_SERVICE_KEY_FILE", str(key_file))
    engine = LocalEngine(
        "sandbox",
        {"btp-infra:namespace": "incident", "btp-infra:subaccountId": GUID, "btp-infra:kubeContext": "kyma"},
    )
    run = engine.up()
    assert run.ok, run.render.error
    assert run.created == [
        "tenant-subaccount",
        "tenant-sm-access",
        "tenant-entitlement-service-manager/service-operator-access",
        "tenant-operator-access",
        "tenant-operator-access-binding",
    ]
    origin = json.loads(key_file.read_text())["endpoints"]["accounts_service_url"].rsplit("/", 1)[0]
    state = requests.get(f"{origin}/sandbox/state", timeout=10).json()
    assert [i["name"] for i in state["instances"] if i["name"].startswith("btp-infra-")] == [
        "btp-infra-incident-operator-access"
    ]
    engine.destroy()
    state = requests.get(f"{origin}/sandbox/state", timeout=10).json()
    assert not [i for i in state["instances"] if i["name"].startswith("btp-infra-")]
    assert not state["bindings"] and not state["admin_bindings"]
    assert process.poll() is None, "the sandbox keeps serving until interrupted"


# ------------------------------------------------------------------------------------------------------------
# Serving without extra flags: x509 works, the GUIDs are shown, start-up failures are one line (exit 2)
# ------------------------------------------------------------------------------------------------------------

CLI = Path(sys.executable).with_name("btp-infra")


def _stderr_until(process: subprocess.Popen[bytes], needle: bytes, timeout: float = 15) -> bytes:
    """What the sandbox printed to stderr, up to the line containing ``needle``."""
    import select

    assert process.stderr is not None
    seen = b""
    deadline = time.monotonic() + timeout
    while needle not in seen:
        remaining = deadline - time.monotonic()
        assert remaining > 0, seen
        ready, _, _ = select.select([process.stderr], [], [], remaining)
        if ready:  # os.read: a buffered readline could hold back lines that select() no longer sees
            chunk = os.read(process.stderr.fileno(), 65536)
            assert chunk, seen
            seen += chunk
    return seen


def test_serve_prints_the_seeded_subaccounts(served: tuple[Path, subprocess.Popen[bytes]]) -> None:
    _, process = served
    text = _stderr_until(process, b"subaccounts:").decode()
    assert f"subaccounts: {GUID} (sandbox-sub-1)" in text
    assert "x509 (mTLS) token endpoint on https://127.0.0.1:" in text


def test_served_sandbox_issues_x509_bindings_and_the_tenant_passes_the_pack(
    served: tuple[Path, subprocess.Popen[bytes]], monkeypatch: pytest.MonkeyPatch
) -> None:
    from btp_infra.offline.analyzer import PackAnalyzer
    from btp_infra.policy.rules import plain

    key_file, _ = served
    monkeypatch.setenv("BTP_CIS_SERVICE_KEY_FILE", str(key_file))
    engine = LocalEngine(
        "sandbox-x509",
        {
            "btp-infra:namespace": "certs",
            "btp-infra:subaccountId": GUID,
            "btp-infra:kubeContext": "kyma",
            "btp-infra:credentialType": "x509",
            "btp-infra:x509": json.dumps({"validity": "30d"}),
        },
    )
    run = engine.up()
    assert run.ok, run.render.error
    try:
        (secret,) = [e for e in engine.cluster.values() if e.type == "kubernetes:core/v1:Secret"]
        data = plain(secret.inputs["stringData"])
        assert {"tls.crt", "tls.key", "sm_url", "tokenurl"} <= set(data)
        assert data["tokenurl"].startswith("https://127.0.0.1:")  # the mTLS listener, served by default
        found = PackAnalyzer().analyze_resources(run.render.resources)
        assert [d for d in found if d.mandatory] == []
    finally:
        engine.destroy()


def _serve(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(CLI), "sandbox", "serve", *args], capture_output=True, text=True, timeout=60, check=False
    )


def test_serve_refuses_bad_input_in_one_line(tmp_path: Path) -> None:
    import socket

    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    key = tmp_path / "key.json"
    key.write_text("old key\n")
    try:
        cases = [
            (
                ["--port", str(taken.getsockname()[1]), "--key-out", str(key)],
                "cannot start the sandbox on 127.0.0.",
            ),
            (["--key-out", str(tmp_path / "missing" / "key.json")], "--key-out: cannot write"),
            (["--key-out", str(tmp_path)], "--key-out"),
            (["--subaccount", "not-a-guid"], "--subaccount: 'not-a-guid' is not a subaccount GUID"),
            (["--subaccount", GUID, "--subaccount", GUID.upper()], "the same GUID is given twice"),
        ]
        for args, needle in cases:
            run = _serve(*args)
            assert run.returncode == 2, (args, run.stderr)
            lines = run.stderr.strip().splitlines()
            assert len(lines) == 1 and needle in lines[0], (args, run.stderr)
            assert "Traceback" not in run.stderr
    finally:
        taken.close()
    assert key.read_text() == "old key\n", "a sandbox that cannot start leaves the old key file alone"
