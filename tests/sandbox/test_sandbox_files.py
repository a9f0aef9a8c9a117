"""Files that hold the sandbox's secrets: the ``--key-out`` file and the temporary CA / TLS key directory.

The key file is private (0600) even where a file was before, and never written through a symlink; SIGTERM to
``btp-infra sandbox serve`` (what a service manager or ``kill`` sends) stops it cleanly and removes the
temporary directory holding the CA and the TLS server key.
"""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from btp_infra.sandbox import serve

from .helpers import wait_until


def serve_in_thread(**kwargs: object) -> tuple[threading.Thread, threading.Event, list[BaseException]]:
    stop, errors = threading.Event(), []

    def run() -> None:
        try:
            serve(stop=stop, **kwargs)  # type: ignore[arg-type]
        except BaseException as exc:
            errors.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, stop, errors


def test_key_out_onto_an_existing_world_readable_file_makes_it_private(tmp_path: Path) -> None:
    target = tmp_path / "cis-key.json"
    target.write_text("old content that is much longer than nothing at all\n" * 200)
    target.chmod(0o644)
    thread, stop, errors = serve_in_thread(key_out=target)
    try:
        wait_until(lambda: target.read_text().startswith("{") and target.read_text().endswith("}\n"))
        assert stat.S_IMODE(target.stat().st_mode) == 0o600
        assert json.loads(target.read_text())["uaa"]["clientsecret"]  # replaced whole, not appended to
    finally:
        stop.set()
        thread.join(timeout=10)
    assert errors == []


def run_serve(*args: str, timeout: float = 30) -> tuple[int, str]:
    """``btp-infra sandbox serve ARGS`` in a subprocess that must exit by itself: (exit code, all output)."""
    try:
        done = subprocess.run(
            [sys.executable, "-m", "btp_infra.cli", "sandbox", "serve", *args],
            capture_output=True,
            text=True,
            timeout=timeout,
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"sandbox serve {' '.join(args)} kept running")
    return done.returncode, done.stdout + done.stderr


def test_key_out_through_a_symlink_is_refused(tmp_path: Path) -> None:
    elsewhere = tmp_path / "shared" / "readable.txt"
    elsewhere.parent.mkdir()
    elsewhere.write_text("not a key\n")
    elsewhere.chmod(0o644)
    link = tmp_path / "cis-key.json"
    link.symlink_to(elsewhere)
    code, output = run_serve("--key-out", str(link))
    assert code != 0
    assert "symlink" in output and "Traceback" not in output, output
    assert elsewhere.read_text() == "not a key\n"
    assert stat.S_IMODE(elsewhere.stat().st_mode) == 0o644
    assert link.is_symlink()


def test_key_out_into_a_missing_directory_is_a_clear_error(tmp_path: Path) -> None:
    code, output = run_serve("--key-out", str(tmp_path / "no" / "key.json"))
    assert code != 0
    assert "key.json" in output and "Traceback" not in output, output


def wait_for(probe: Callable[[], object], process: subprocess.Popen[bytes], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not probe():
        assert process.poll() is None, process.stderr.read() if process.stderr else ""
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.05)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP], ids=["SIGTERM", "SIGHUP"])
def test_a_signal_stops_serve_and_removes_its_ca_and_tls_key(tmp_path: Path, sig: signal.Signals) -> None:
    private = tmp_path / "tmp"
    private.mkdir()
    key_file = tmp_path / "cis-key.json"
    process = subprocess.Popen(
        [sys.executable, "-m", "btp_infra.cli", "sandbox", "serve", "--tls", "--key-out", str(key_file)],
        env={**os.environ, "TMPDIR": str(private)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        wait_for(lambda: key_file.exists() and key_file.read_text().endswith("\n"), process)
        made = [p for p in private.iterdir() if p.name.startswith("btp-sandbox-")]
        assert len(made) == 1 and (made[0] / "server-key.pem").is_file() and (made[0] / "ca.pem").is_file()
        process.send_signal(sig)
        assert process.wait(timeout=15) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        for stream in (process.stdout, process.stderr):
            if stream is not None:
                stream.close()
    assert not made[0].exists()
    assert list(private.iterdir()) == []
