"""Reliability counts: how many scenarios, bad inputs and hostile responses the suite throws at btp-infra, and
how many objects were lost or leaked (every case asserts zero; a failing case is counted here).

    python -m benchmarks.reliability

Runs ``pytest`` on the reliability cases (``tests/reliability/``, the paging cases in ``tests/btp``, the
sandbox's hostile-request and secret-file cases) in a
subprocess with a JUnit XML report and counts its test cases per file and category. Not a timing: the
wall time is printed for information only.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from ._support import machine, today

ROOT = Path(__file__).resolve().parent.parent
TARGETS = (
    "tests/reliability",
    "tests/btp/test_btp_paging.py",
    "tests/sandbox/test_body_limit.py",
    "tests/sandbox/test_sandbox_files.py",
)
#: What each file's cases are, for the table (files not listed are counted as "other").
CATEGORIES: dict[str, str] = {
    "test_fault_matrix.py": "fault-matrix cases (API step x fault, partial creates, throttling)",
    "test_ownership.py": "ownership scenarios (rename, two stacks on one subaccount, adoption, protect)",
    "test_gone_and_drift.py": "gone/drift scenarios (deleted subaccount, lost admin access, refresh drift)",
    "test_btp_paging.py": "hostile paging responses (repeated tokens, endless pages, deadline)",
    "test_bad_inputs.py": "bad inputs (malformed stack files and service keys)",
    "test_hostile_inputs.py": "hostile inputs (alias bombs, nesting, huge values, device files, keyrings)",
    "test_hostile_servers.py": "hostile server responses (echoed secrets, bad credentials, bad headers)",
    "test_secret_leaks.py": "secret-leak checks (plan, chain, CLI error paths, failing runs)",
    "test_entitlement_names.py": "ownership: old entitlement names adopted in place (aliases)",
    "test_body_limit.py": "hostile requests to the sandbox (oversize declared and chunked bodies)",
    "test_sandbox_files.py": "sandbox secret files (0644 and symlinked key files, SIGTERM/SIGHUP clean-up)",
}


@dataclass
class Counts:
    cases: Counter[str] = field(default_factory=Counter)
    failed: Counter[str] = field(default_factory=Counter)
    skipped: Counter[str] = field(default_factory=Counter)
    seconds: float = 0.0
    exit_code: int = 0

    @property
    def ok(self) -> bool:
        return self.exit_code == 0 and not sum(self.failed.values())


def run() -> Counts:
    counts = Counts()
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "report.xml"
        started = time.perf_counter()
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "pytest",
                "-q",
                "-p",
                "no:cacheprovider",
                f"--junitxml={report}",
                *TARGETS,
            ],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=False,
        )
        counts.seconds = time.perf_counter() - started
        counts.exit_code = done.returncode
        tree = ET.parse(report)  # noqa: S314 - written by the pytest run above
    for case in tree.iter("testcase"):
        name = Path(case.get("file") or case.get("classname", "").replace(".", "/") + ".py").name
        counts.cases[name] += 1
        if case.find("failure") is not None or case.find("error") is not None:
            counts.failed[name] += 1
        elif case.find("skipped") is not None:
            counts.skipped[name] += 1
    return counts


def markdown(counts: Counts, command: str) -> str:
    lines = [
        f"Command: `{command}`",
        "",
        f"Machine: {machine().line()}. Date: {today()}.",
        "",
        "| file | what | cases | failed | skipped |",
        "|---|---|---:|---:|---:|",
    ]
    order = list(CATEGORIES)
    for name in sorted(counts.cases, key=lambda n: (order.index(n) if n in order else len(order), n)):
        lines.append(
            f"| `{name}` | {CATEGORIES.get(name, 'other')} | {counts.cases[name]} | {counts.failed[name]} "
            f"| {counts.skipped[name]} |"
        )
    total, failed = sum(counts.cases.values()), sum(counts.failed.values())
    lines += [
        f"| **all** | | **{total}** | **{failed}** | {sum(counts.skipped.values())} |",
        "",
        f"- Objects lost or leaked: **{failed}** failing cases (each case asserts what the emulator holds "
        "afterwards — exactly one of each object, or nothing — and that no secret appears in any output; "
        "0 failing cases = 0 objects lost, 0 leaked).",
        f"- pytest exit code {counts.exit_code}; {counts.seconds:.0f} s wall (information only).",
    ]
    return "\n".join(lines) + "\n"


def main() -> int:
    counts = run()
    print(markdown(counts, "python -m benchmarks.reliability"))
    return 0 if counts.ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
