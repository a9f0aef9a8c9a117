"""How ``btp-infra plan`` scales with the number of tenant stacks.

Generates N valid, varied tenant stack files — every one with the full baseline (quota, limit range,
default-deny network policies, mTLS) — into a temporary directory and times one
``btp-infra plan --all --json --stacks-dir <dir>`` process per N (a fresh interpreter each time, as in CI),
recording wall seconds, milliseconds per stack, the CPU time of the process and its plan workers (which
tells a slow machine from a busy one), and the peak RSS.

    python -m benchmarks.plan_scale                 # N = 200
    python -m benchmarks.plan_scale --sizes 10 100  # other sizes

Not part of the test suite; figures go to benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

DEFAULT_SIZES = (200,)
CLI = [sys.executable, "-c", "from btp_infra.cli import main; main()"]


def stack_file(index: int) -> str:
    """A valid tenant stack with the full baseline (quota, limit range, default-deny network policy, mTLS);
    every 2nd has an entitlement and ``protect``, every 3rd is x509 in the management namespace."""
    guid = uuid.UUID(int=index + 1, version=4)
    lines = [
        "config:",
        f"  btp-infra:namespace: tenant-{index:04d}",
        f"  btp-infra:subaccountId: {guid}",
        "  btp-infra:kubeContext: kyma",
        "  btp-infra:region: eu10",
        "  btp-infra:labels:",
        f'    cost-center: "{1000 + index}"',
        "  btp-infra:quota: {requests.cpu: '2', limits.memory: 4Gi, pods: '20'}",
        "  btp-infra:limitRange: {default: {cpu: 500m}, defaultRequest: {cpu: 100m}}",
        "  btp-infra:networkPolicy: default-deny",
        "  btp-infra:mtls: true",
    ]
    if index % 3 == 0:
        lines += ["  btp-infra:credentialType: x509", "  btp-infra:secretPlacement: management"]
    if index % 2 == 0:
        lines += [
            "  btp-infra:entitlements:",
            "    - {service: destination, plan: lite}",
            "  btp-infra:protect: true",
        ]
    return "\n".join(lines) + "\n"


@dataclass(frozen=True)
class Measurement:
    stacks: int
    seconds: float
    peak_rss_mib: float
    resources: int
    exit_code: int
    cpu_seconds: float = 0.0
    """User + system time of the plan process and its worker processes."""

    @property
    def per_stack_ms(self) -> float:
        return 1000 * self.seconds / self.stacks

    @property
    def cpu_per_stack_ms(self) -> float:
        return 1000 * self.cpu_seconds / self.stacks


def measure(count: int) -> Measurement:
    with tempfile.TemporaryDirectory(prefix="btp-plan-bench-") as tmp:
        directory = Path(tmp)
        for i in range(count):
            (directory / f"Pulumi.tenant-{i:04d}.yaml").write_text(stack_file(i))
        out_path = directory / "plan.json"
        with out_path.open("wb") as out:
            start = time.perf_counter()
            proc = subprocess.Popen([*CLI, "plan", "--all", "--json", "--stacks-dir", tmp], stdout=out)
            _, status, usage = os.wait4(proc.pid, 0)
            seconds = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        report = json.loads(out_path.read_text())
        summary = report["summary"]
        if summary["stacks"] != count or summary["exitCode"] != 0:
            # Every generated stack is valid: anything else is a bug (e.g. a failure after N renders).
            raise SystemExit(f"{count} generated stacks did not all pass: {summary}")
        resources = sum(len(s["resources"]) for s in report["stacks"])
        # ru_maxrss is KiB on Linux; the times include the workers the plan process waited for.
        cpu = usage.ru_utime + usage.ru_stime
        return Measurement(count, seconds, usage.ru_maxrss / 1024, resources, proc.returncode, cpu)


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    system = f"{platform.system()} {platform.release()}"
    return f"{system}, {cpu}, {os.cpu_count()} CPUs, Python {platform.python_version()}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=list(DEFAULT_SIZES))
    args = parser.parse_args()
    print(f"machine: {machine()}")
    print(f"date: {time.strftime('%Y-%m-%d')}")
    print("| stacks | resources | wall s | ms/stack | CPU ms/stack | peak RSS MiB | exit |")
    print("|---:|---:|---:|---:|---:|---:|---:|")
    for size in args.sizes:
        m = measure(size)
        print(
            f"| {m.stacks} | {m.resources} | {m.seconds:.1f} | {m.per_stack_ms:.0f} "
            f"| {m.cpu_per_stack_ms:.0f} | {m.peak_rss_mib:.0f} | {m.exit_code} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
