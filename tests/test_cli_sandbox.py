"""`btp-infra sandbox serve` as users run it: the key it writes drives the whole tenant chain."""

from __future__ import annotations

import json
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
from btp_infra.local_engine import LocalEngine

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
    engine = LocalEngine("sandbox", {"btp-infra:namespace": "incident", "btp-infra:subaccountId": GUID})
    run = engine.up()
    assert run.ok, run.render.error
    assert run.created == [
        "tenant-subaccount",
        "tenant-sm-access",
        "tenant-entitlement-service-manager-service-operator-access",
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
