"""How ``btp-infra validate`` (:func:`btp_infra.tenants.validate`) scales with the number of tenant stacks.

Generates N valid, varied tenant stack files (the commented files ``tenant add`` writes, every option used
across the set) into a temporary directory and times one in-process ``validate`` of the directory: every
file through the real loader, then the cross-stack rules. The import of btp-infra is not timed.

    python -m benchmarks.validate_scale                     # N = 10, 100, 500, 1000
    python -m benchmarks.validate_scale --sizes 100 --repeat 5

Not part of the test suite; the target is well under a second for 100 stacks. Figures are printed as a
markdown table (benchmarks/RESULTS.md is not rewritten by this module).
"""

from __future__ import annotations

import argparse
import os
import platform
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from btp_infra.tenants import render_stack_file, tenant_values, validate

DEFAULT_SIZES = (10, 100, 500, 1000)


def tenant_options(index: int) -> dict[str, Any]:
    """``add_tenant`` keyword options of generated tenant ``index`` (valid, distinct, varied): every 2nd has
    entitlements and ``protect``, every 3rd is x509 in the management namespace, every 4th has a quota and a
    limit range, every 5th timeouts and a keyring profile; three clusters."""
    options: dict[str, Any] = {
        "namespace": f"tenant-{index:04d}",
        "subaccount_id": str(uuid.UUID(int=index + 1, version=4)),
        "kube_context": f"kyma-{index % 3}",
        "region": ("eu10", "us20", "ap21")[index % 3],
        "labels": {"cost-center": str(1000 + index), "team": f"team-{index % 7}"},
        "network_policy": "default-deny" if index % 2 else "none",
        "mtls": index % 2 == 1,
    }
    if index % 2 == 0:
        options["entitlements"] = [{"service": "destination", "plan": "lite"}]
        options["protect"] = True
    if index % 3 == 0:
        options |= {
            "credential_type": "x509",
            "x509": {"validity": "30d", "keyLength": 2048},
            "secret_placement": "management",
        }
    if index % 4 == 0:
        options["quota"] = {"requests.cpu": "2", "limits.memory": "4Gi", "pods": "20"}
        options["limit_range"] = {"default": {"cpu": "500m"}, "defaultRequest": {"cpu": "100m"}}
    if index % 5 == 0:
        options["timeouts"] = {"entitlement": "30m", "instance": "1h"}
        options["keyring_profile"] = "global-account"
        options["kubeconfig"] = f"~/.kube/kyma-{index % 3}.yaml"
    return options


def write_stacks(directory: Path, count: int) -> None:
    """``count`` generated stack files in ``directory`` (written directly: no fleet check per file)."""
    for index in range(count):
        stack = f"tenant-{index:04d}"
        values = tenant_values(**tenant_options(index))
        (directory / f"Pulumi.{stack}.yaml").write_text(render_stack_file(stack, values), encoding="utf-8")


def measure(count: int) -> tuple[float, float]:
    """Wall and CPU seconds of one :func:`~btp_infra.tenants.validate` of ``count`` generated stacks."""
    with tempfile.TemporaryDirectory(prefix="btp-validate-bench-") as tmp:
        directory = Path(tmp)
        write_stacks(directory, count)
        validate(directory)  # warm the file cache and the validators' first-call costs
        cpu, start = time.process_time(), time.perf_counter()
        report = validate(directory)
        wall, cpu = time.perf_counter() - start, time.process_time() - cpu
        if len(report.stacks) != count or not report.ok:
            raise SystemExit(f"{count} generated stacks did not all pass: {report.summary()}")
        return wall, cpu


def run(count: int) -> float:
    """Wall seconds of one :func:`~btp_infra.tenants.validate` of ``count`` generated (valid) stacks."""
    return measure(count)[0]


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    return (
        f"{platform.system()} {platform.release()}, {cpu}, {os.cpu_count()} CPUs, "
        f"Python {platform.python_version()}, load average {load}"
    )


def markdown(sizes: list[int], repeat: int) -> str:
    """The table: best and median wall seconds of ``repeat`` runs per size, and the median CPU seconds (less
    sensitive to a busy machine)."""
    lines = [
        f"machine: {machine()}",
        f"date: {time.strftime('%Y-%m-%d')}",
        "",
        "| stacks | best wall s | median wall s | median CPU s | CPU ms/stack | runs |",
        "|---:|---:|---:|---:|---:|---:|",
    ]
    for size in sizes:
        runs = [measure(size) for _ in range(repeat)]
        walls, cpus = sorted(w for w, _ in runs), sorted(c for _, c in runs)
        best, median, cpu = walls[0], walls[len(walls) // 2], cpus[len(cpus) // 2]
        lines.append(
            f"| {size} | {best:.3f} | {median:.3f} | {cpu:.3f} | {1000 * cpu / size:.2f} | {repeat} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=list(DEFAULT_SIZES))
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    print(markdown(args.sizes, max(1, args.repeat)))


if __name__ == "__main__":
    main()
