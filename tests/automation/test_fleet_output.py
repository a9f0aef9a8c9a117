"""What a fleet run shows and keeps: live progress, the final table, the JSON summary — and that no
secret (the Pulumi passphrase, the cis key) reaches argv, output or any file."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path

import keyring
import pytest
from keyring.backends import null
from rich.console import Console

from btp_infra.automation import FleetDisplay, ProgressUpdate, run_fleet
from btp_infra.automation.fleet import FleetResult, StackOutcome

from .stub_pulumi import digest
from .support import Fleet, engine_events, files_under

PASSPHRASE = "pass-7f3a9c1e-do-not-leak"
CLIENT_SECRET = "cs-4b2d8e6f-do-not-leak"
CIS_KEY = json.dumps(
    {
        "endpoints": {"accounts_service_url": "https://accounts.example.test"},
        "uaa": {
            "clientid": "sb-cis-central",
            "clientsecret": CLIENT_SECRET,
            "url": "https://ga.authentication.example.test",
        },
        "grant_type": "client_credentials",
    }
)


def console(terminal: bool = False) -> tuple[Console, io.StringIO]:
    buffer = io.StringIO()
    return Console(file=buffer, width=160, force_terminal=terminal, color_system=None), buffer


def test_progress_updates_per_stack(fleet: Fleet, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PULUMI_CONFIG_PASSPHRASE", PASSPHRASE)
    fleet.add_stack("orders", ops={"up": {"events": engine_events("orders"), "sleep": 0.3}})
    failing = engine_events("billing", fail_at="tenant-subaccount", error="subaccount not found")
    fleet.add_stack("billing", ops={"up": {"events": failing, "exit": 1}})
    updates: list[ProgressUpdate] = []

    run_fleet(
        "up", ["orders", "billing"], project_dir=fleet.project, install=False, on_progress=updates.append
    )

    for stack, final in (("orders", "succeeded"), ("billing", "failed")):
        mine = [u for u in updates if u.stack == stack]
        phases = [u.phase for u in mine]
        assert phases[0] == "queued" and phases[1] == "starting" and phases[-1] == final
        assert set(phases[2:-1]) == {"running"}
        elapsed = [u.elapsed for u in mine]
        assert elapsed == sorted(elapsed)
    steps = [u.step for u in updates if u.stack == "orders" and u.phase == "running"]
    assert steps == [
        "up",
        "create tenant",
        "create kube",
        "create tenant-subaccount",
        "create tenant-namespace",
        "create tenant-operator-secret",
    ]
    assert [u.step for u in updates if u.stack == "billing"][-2:] == [
        "failed create tenant-subaccount",
        "subaccount not found",
    ]


def test_plain_output_and_summary_table(fleet: Fleet, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PULUMI_CONFIG_PASSPHRASE", PASSPHRASE)
    fleet.add_stack("orders", ops={"up": {"events": engine_events("orders")}})
    failing = engine_events("billing", fail_at="tenant-namespace", error="namespaces is forbidden")
    fleet.add_stack("billing", ops={"up": {"events": failing, "exit": 1}})
    out, buffer = console()

    result = run_fleet("up", ["orders", "billing"], project_dir=fleet.project, console=out, install=False)

    text = buffer.getvalue()
    assert "[orders] started" in text and "[billing] started" in text
    assert "[billing] failed after " in text and ": namespaces is forbidden" in text
    table = text[text.index("btp-infra up") :]
    assert "Stack" in table and "Creates" in table and "Updates" in table and "Replaces" in table
    assert "Deletes" in table and "Duration" in table and "Error" in table
    rows = {line.split("│")[1].strip(): [c.strip() for c in line.split("│")[2:-1]] for line in
            table.splitlines() if line.startswith("│")}  # fmt: skip
    assert rows["orders"][:5] == ["succeeded", "5", "0", "0", "0"]
    assert rows["billing"][:5] == ["failed", "3", "0", "0", "0"]
    assert rows["billing"][-1] == "namespaces is forbidden"
    assert text.rstrip().endswith("2 stack(s): 1 succeeded, 1 failed, 0 refused")
    assert result.exit_code == 1


def test_live_progress_on_a_terminal(fleet: Fleet, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PULUMI_CONFIG_PASSPHRASE", PASSPHRASE)
    fleet.add_stack("orders", ops={"up": {"events": engine_events("orders"), "sleep": 1.5}})
    out, buffer = console(terminal=True)

    result = run_fleet("up", ["orders"], project_dir=fleet.project, console=out, install=False)

    text = buffer.getvalue()
    assert result.exit_code == 0
    assert "Stack" in text and "Status" in text and "Step" in text and "Elapsed" in text
    assert "create tenant" in text  # a frame drawn while the engine was at a step
    assert "succeeded" in text


def test_display_renders_one_line_per_stack() -> None:
    out, buffer = console()
    display = FleetDisplay(out)
    display.update(ProgressUpdate("orders", "queued", None, 0.0))
    display.update(ProgressUpdate("billing", "queued", None, 0.0))
    display.update(ProgressUpdate("orders", "running", "create tenant-namespace", 2.5))
    display.update(ProgressUpdate("billing", "failed", "subaccount not found", 61.0))
    buffer.truncate(0)
    out.print(display)
    lines = [line.rstrip() for line in buffer.getvalue().replace("\x00", "").splitlines() if line.strip()]
    assert lines[0].split() == ["Stack", "Status", "Step", "Elapsed"]
    assert lines[1].split()[:3] == ["orders", "running", "create"] and "tenant-namespace" in lines[1]
    assert lines[2].split() == ["billing", "failed", "subaccount", "not", "found", "1m01s"]


def test_json_summary_shape(fleet: Fleet, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PULUMI_CONFIG_PASSPHRASE", PASSPHRASE)
    fleet.add_stack("orders", ops={"up": {"events": engine_events("orders")}})

    result = run_fleet("up", ["orders"], project_dir=fleet.project, install=False)
    document = json.loads(result.json_text())

    assert set(document) == {
        "version",
        "operation",
        "exitCode",
        "error",
        "backend",
        "pulumiVersion",
        "stacks",
        "totals",
    }
    assert document["version"] == 1 and document["operation"] == "up" and document["exitCode"] == 0
    assert document["pulumiVersion"] == "3.190.0"
    assert document["backend"] == f"file://{fleet.project / '.pulumi-state'}"
    (stack,) = document["stacks"]
    assert set(stack) == {"stack", "result", "changes", "durationSeconds", "error"}
    assert stack["changes"] == {"create": 5, "update": 0, "replace": 0, "delete": 0, "same": 1}
    assert document["totals"] == {"stacks": 1, "succeeded": 1, "failed": 0, "refused": 0}


def test_json_redacts_backend_credentials() -> None:
    result = FleetResult(
        "up", (StackOutcome("a", "succeeded", {}, 1.0),), 0, None, "postgres://u:pw@db/state"
    )
    assert result.to_json()["backend"] == "postgres://[redacted]@db/state"


@pytest.fixture
def secure_keyring(kr: object) -> Iterator[object]:
    """The suite's real keyring backend (``kr``: keyrings.alt plaintext file, chosen explicitly)."""
    yield kr


def test_no_secret_reaches_argv_output_or_files(
    fleet: Fleet, monkeypatch: pytest.MonkeyPatch, secure_keyring: object, tmp_path: Path
) -> None:
    keyring.set_password("btp-infra", "pulumi-passphrase", PASSPHRASE)
    monkeypatch.setenv("BTP_CIS_SERVICE_KEY", CIS_KEY)
    fleet.add_stack("orders", ops={"up": {"events": engine_events("orders")}})
    leaky = engine_events(
        "billing", fail_at="tenant-subaccount", error=f"401 for client secret {CLIENT_SECRET}"
    )
    fleet.add_stack(
        "billing", ops={"up": {"events": leaky, "exit": 1, "stderr": [f"error: bad {PASSPHRASE}"]}}
    )
    updates: list[ProgressUpdate] = []
    out, buffer = console()

    result = run_fleet(
        "up", ["orders", "billing"], project_dir=fleet.project, console=out, on_progress=updates.append
    )

    assert result.exit_code == 1
    calls = fleet.calls()
    engine_calls = [c for c in calls if c["argv"] != ["version"]]
    assert engine_calls
    for call in engine_calls:  # the keyring passphrase and the cis key reach every process by env
        assert call["env"]["PULUMI_CONFIG_PASSPHRASE"] == digest(PASSPHRASE)
        assert call["env"]["BTP_CIS_SERVICE_KEY"] == digest(CIS_KEY)
    for call in calls:
        argv = " ".join(call["argv"])
        assert PASSPHRASE not in argv and CLIENT_SECRET not in argv and "clientsecret" not in argv
    shown = buffer.getvalue() + result.json_text() + repr(result) + repr(updates)
    for secret in (PASSPHRASE, CLIENT_SECRET):
        assert secret not in shown
    assert result.stacks[1].error == "401 for client secret [secret]"
    keyring_file = Path(getattr(secure_keyring, "file_path"))  # noqa: B009 - the keyring's own store
    for path in files_under(tmp_path, fleet.project):
        if path in (keyring_file, fleet.scenario_path):  # the keyring's store; the stub's (leaky) script
            continue
        data = path.read_bytes()
        assert PASSPHRASE.encode() not in data, path
        assert CLIENT_SECRET.encode() not in data, path


def test_insecure_keyring_is_refused_for_the_passphrase(
    fleet: Fleet, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("PYTHON_KEYRING_BACKEND", raising=False)
    previous = keyring.get_keyring()
    keyring.set_keyring(null.Keyring())  # type: ignore[no-untyped-call]
    try:
        fleet.add_stack("orders")
        out, buffer = console()
        result = run_fleet("up", ["orders"], project_dir=fleet.project, console=out)
    finally:
        keyring.set_keyring(previous)
    assert result.exit_code == 2
    assert "no secure keyring backend" in (result.error or "")
    assert "PULUMI_CONFIG_PASSPHRASE" in (result.error or "")
    assert buffer.getvalue().count("\n") == 1
    assert fleet.argvs() == [["version"]]


def test_missing_passphrase_names_every_source(fleet: Fleet, secure_keyring: object) -> None:
    fleet.add_stack("orders")

    result = run_fleet("up", ["orders"], project_dir=fleet.project)

    assert result.exit_code == 2
    error = result.error or ""
    for source in (
        "PULUMI_CONFIG_PASSPHRASE",
        "PULUMI_CONFIG_PASSPHRASE_FILE",
        "'btp-infra'",
        "'pulumi-passphrase'",
    ):
        assert source in error


def test_passphrase_file_is_passed_by_name_only(
    fleet: Fleet, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    secret_file = tmp_path / "passphrase.txt"
    secret_file.write_text(PASSPHRASE, encoding="utf-8")
    monkeypatch.setenv("PULUMI_CONFIG_PASSPHRASE_FILE", str(secret_file))
    fleet.add_stack("orders", ops={"up": {"events": engine_events("orders")}})

    result = run_fleet("up", ["orders"], project_dir=fleet.project, install=False)

    assert result.exit_code == 0, result
    for call in fleet.calls()[1:]:
        assert call["env"]["PULUMI_CONFIG_PASSPHRASE_FILE"] == str(secret_file)
        assert "PULUMI_CONFIG_PASSPHRASE" not in call["env"]
