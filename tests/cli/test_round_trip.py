"""The catalog round trip on generated tenants: ``tenant add`` (every option used across the set) →
``validate`` → ``plan --stacks-dir`` all pass; a conflicting add is refused and leaves no file."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

from click.testing import CliRunner, Result

from btp_infra.cli import main as cli

COUNT = 6


def tenant_options(index: int) -> dict[str, Any]:
    """Keyword options of generated tenant ``index`` (valid, distinct, varied; every option across the set,
    as benchmarks/validate_scale.py generates them): three clusters, the same namespace on two of them."""
    options: dict[str, Any] = {
        "namespace": f"tenant-{index // 2:04d}" if index < 2 else f"tenant-{index:04d}",
        "subaccount_id": str(uuid.UUID(int=index + 1, version=4)),
        "kube_context": f"kyma-{index % 3}",
        "region": ("eu10", "us20", "ap21")[index % 3],
        "labels": {"cost-center": str(1000 + index), "team": f"team-{index % 7}"},
        "network_policy": "default-deny" if index % 2 else "none",
        "mtls": index % 2 == 1,
    }
    if index % 2 == 0:
        options["entitlements"] = [
            {"service": "destination", "plan": "lite"},
            {"service": "hana", "plan": "x", "amount": 2},
        ]
        options["protect"] = True
    if index % 3 == 0:
        options |= {
            "credential_type": "x509",
            "x509": {"validity": "30d", "keyLength": 2048},
            "secret_placement": "management",
            "management_namespace": "kyma-system",
        }
    if index % 4 == 0:
        options["quota"] = {"requests.cpu": "2", "limits.memory": "4Gi", "pods": "20"}
        options["limit_range"] = {"default": {"cpu": "500m"}, "defaultRequest": {"cpu": "100m"}}
    if index % 5 == 0:
        options["timeouts"] = {"entitlement": "30m", "instance": "1h"}
        options["keyring_profile"] = "global-account"
        options["kubeconfig"] = f"~/.kube/kyma-{index % 3}.yaml"
        options["cluster_identifier"] = f"kyma-{index % 3}-id"
    return options


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def pairs(option: str, values: dict[str, Any]) -> list[str]:
    return [arg for key, value in values.items() for arg in (option, f"{key}={value}")]


def add_args(name: str, options: dict[str, Any]) -> list[str]:
    """``tenant add`` arguments for ``add_tenant``-style keyword options (as the benchmark generates them)."""
    args = [
        "tenant",
        "add",
        name,
        "--namespace",
        options["namespace"],
        "--subaccount",
        options["subaccount_id"],
    ]
    for key in ("kube_context", "region", "credential_type", "secret_placement", "network_policy",
                "keyring_profile", "kubeconfig", "management_namespace", "cluster_identifier"):  # fmt: skip
        if key in options:
            args += [f"--{key.replace('_', '-')}", str(options[key])]
    for flag in ("mtls", "protect"):
        if flag in options:
            args.append(f"--{flag}" if options[flag] else f"--no-{flag}")
    args += pairs("--x509", options.get("x509", {}))
    args += pairs("--label", options.get("labels", {}))
    args += pairs("--quota", options.get("quota", {}))
    args += pairs("--timeout", options.get("timeouts", {}))
    for section, entries in options.get("limit_range", {}).items():
        args += pairs("--limit-range", {f"{section}.{k}": v for k, v in entries.items()})
    for entry in options.get("entitlements", []):
        amount = f"={entry['amount']}" if "amount" in entry else ""
        args += ["--entitlement", f"{entry['service']}/{entry['plan']}{amount}"]
    return args


def test_add_validate_plan_round_trip(project: Path) -> None:
    stacks = project / "stacks"
    for index in range(COUNT):
        result = run(*add_args(f"tenant-{index:04d}", tenant_options(index)))
        assert result.exit_code == 0, result.output
    assert len(list(stacks.glob("Pulumi.*.yaml"))) == COUNT

    validated = run("validate", "--stacks-dir", str(stacks))
    assert validated.exit_code == 0, validated.output
    assert f"{COUNT} stack files" in validated.stdout

    planned = run("plan", "--stacks-dir", str(stacks))
    assert planned.exit_code == 0, planned.output

    # a conflicting tenant (tenant 3's namespace on its cluster) is refused, leaves no file, and the catalog
    # still validates
    clash = tenant_options(3) | {"subaccount_id": "0b1e2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"}
    before = sorted(p.name for p in stacks.iterdir())
    refused = run(*add_args("clash", clash))
    assert refused.exit_code == 1
    assert "namespace" in refused.stderr and "Pulumi.tenant-0003.yaml" in refused.stderr
    assert sorted(p.name for p in stacks.iterdir()) == before
    assert run("validate", "--stacks-dir", str(stacks)).exit_code == 0
