"""Generated tenants: ``add_tenant`` → ``validate`` → ``load_stack_file`` round trip over a varied fleet, and
the benchmark's generator (counts only, never timings)."""

from __future__ import annotations

import sys
import uuid
from pathlib import Path
from typing import Any

import pytest

from btp_infra.config import load_stack_file, parse_config
from btp_infra.tenants import (
    TenantError,
    add_tenant,
    format_github,
    list_tenants,
    tenant_values,
    validate,
)

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:  # ``benchmarks`` is not installed; it lives next to the package
    sys.path.insert(0, str(ROOT))

from benchmarks import validate_scale  # noqa: E402

COUNT = 20


def options(index: int) -> dict[str, Any]:
    """Varied, valid options of generated tenant ``index`` (every option appears across the fleet)."""
    generated: dict[str, Any] = {
        "namespace": f"team-{index % 10}",  # reused on both clusters
        "subaccount_id": str(uuid.UUID(int=index + 100, version=4)),
        "kube_context": f"cluster-{index // 10}",
    }
    variants: list[dict[str, Any]] = [
        {},
        {"region": "eu10", "protect": True},
        {"credential_type": "x509", "x509": {"validity": 90, "keyLength": 3072}},
        {"secret_placement": "management", "management_namespace": "operators"},
        {"entitlements": [{"service": "hana-cloud", "plan": "hana", "amount": index}]},
        {"labels": {"cost-center": f"{4000 + index}", "owner": "platform"}, "mtls": True},
        {"quota": {"pods": "20", "requests.memory": "8Gi"}, "network_policy": "default-deny"},
        {"limit_range": {"min": {"cpu": "10m"}, "max": {"memory": "2Gi"}}, "take_ownership": False},
        {"timeouts": {"binding": "5m"}, "keyring_profile": f"ga-{index % 3}", "cluster_identifier": "c"},
        {"kubeconfig": f"/etc/kube/{index // 10}.yaml", "region": "us20-canary"},
    ]
    return generated | variants[index % len(variants)]


@pytest.fixture
def generated(stacks: Path) -> list[tuple[Path, dict[str, Any]]]:
    made = []
    for index in range(COUNT):
        asked = options(index)
        made.append((add_tenant(f"tenant-{index:02d}", stacks_dir=stacks, **asked), asked))
    return made


def test_every_generated_tenant_validates_and_loads_as_asked(
    stacks: Path, generated: list[tuple[Path, dict[str, Any]]]
) -> None:
    report = validate(stacks)
    assert report.ok, report.summary()
    assert len(report.stacks) == COUNT
    for path, asked in generated:
        expected = parse_config(tenant_values(**asked))
        assert load_stack_file(path).model_dump() == expected.model_dump(), path
    rows = list_tenants(stacks)
    assert [row.namespace for row in rows] == [options(i)["namespace"] for i in range(COUNT)]


def test_a_conflict_in_a_generated_fleet_is_refused_then_found_by_validate(
    stacks: Path, generated: list[tuple[Path, dict[str, Any]]]
) -> None:
    with pytest.raises(TenantError, match="is also mapped by"):
        add_tenant(
            "late",
            namespace="team-3",
            subaccount_id=str(uuid.uuid4()),
            kube_context="cluster-1",
            stacks_dir=stacks,
        )
    assert not (stacks / "Pulumi.late.yaml").exists()
    # a hand-edited copy is what validate is for
    first_path, _ = generated[3]
    copy = stacks / "Pulumi.zz-copy.yaml"
    copy.write_text(first_path.read_text())
    report = validate(stacks)
    assert {f.file for f in report.findings} == {str(copy)}
    lines = format_github(report).splitlines()
    assert len(lines) == 2 and all(line.startswith("::error file=") for line in lines)
    namespace_line = next(
        n
        for n, text in enumerate(copy.read_text().splitlines(), 1)
        if text.startswith("  btp-infra:namespace:")
    )
    assert f",line={namespace_line},col=3,title=btp-infra%3Anamespace::" in lines[0]


def test_the_benchmark_generates_valid_stacks(tmp_path: Path) -> None:
    validate_scale.write_stacks(tmp_path, 12)
    report = validate(tmp_path)
    assert report.ok and len(report.stacks) == 12
    assert validate_scale.run(3) >= 0
