"""Scheduled rotation of x509 credentials: ``rotation_due`` reads the certificate in the live operator Secret
(the stand-in Kubernetes API, through the stack's kubeconfig and context) and says whether it expires within
the window; ``btp-infra rotate --if-expiring-within DAYS`` rotates only then."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from kube_fixtures import secret_object

from btp_infra.cli import main as cli
from btp_infra.config import load_stack_file
from btp_infra.kube import KubeClient
from btp_infra.operations.rotate import certificate_expiry, rotation_due
from btp_infra.sandbox.tls import CertificateAuthority
from btp_infra.testing.kube_api import KubeApiStandIn

CA = CertificateAuthority()


def certificate(valid: timedelta) -> str:
    return CA.issue_client("sb-x509", locality="orders", validity=valid, key_size=2048).certificate_pem


@pytest.fixture
def project(tmp_path: Path, kube_api: KubeApiStandIn, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    (tmp_path / "stacks").mkdir()
    (tmp_path / "Pulumi.yaml").write_text("name: btp-infra\nruntime: python\nstackConfigDir: stacks\n")
    kubeconfig = tmp_path / "kubeconfig.yaml"
    kubeconfig.write_text(kube_api.kubeconfig(context="kyma"))
    monkeypatch.chdir(tmp_path)
    yield tmp_path


def stack_file(project: Path, credential_type: str = "x509") -> Path:
    path = project / "stacks" / "Pulumi.orders.yaml"
    path.write_text(
        "config:\n"
        "  btp-infra:namespace: orders\n"
        "  btp-infra:subaccountId: 7e5a3c1b-2d4f-4a6b-8c9d-0e1f2a3b4c5d\n"
        "  btp-infra:kubeContext: kyma\n"
        f"  btp-infra:kubeconfig: {project / 'kubeconfig.yaml'}\n"
        f"  btp-infra:credentialType: {credential_type}\n"
    )
    return path


def seed_secret(kube_api: KubeApiStandIn, pem: str) -> None:
    kube_api.seed(secret_object("orders", "sap-btp-service-operator", {"clientid": "c", "tls.crt": pem}))


def test_certificate_expiry_reads_not_after() -> None:
    expires = certificate_expiry(certificate(timedelta(days=2)))
    assert timedelta(days=1, hours=23) < expires - datetime.now(UTC) <= timedelta(days=2)
    with pytest.raises(ValueError, match="no PEM certificate"):
        certificate_expiry("not a certificate")


def test_inside_the_window_is_due_outside_is_not(project: Path, kube_api: KubeApiStandIn) -> None:
    config = load_stack_file(stack_file(project))
    seed_secret(kube_api, certificate(timedelta(days=2)))
    assert rotation_due(config, within=timedelta(days=7)).due
    later = rotation_due(config, within=timedelta(days=1))
    assert not later.due and "after the window" in later.reason
    gone = rotation_due(config, within=timedelta(days=1), now=datetime.now(UTC) + timedelta(days=3))
    assert gone.due and "expired" in gone.reason


def test_a_missing_secret_or_certificate_is_due(project: Path, kube_api: KubeApiStandIn) -> None:
    config = load_stack_file(stack_file(project))
    assert "does not exist" in rotation_due(config, within=timedelta(days=1)).reason
    seed_secret(kube_api, "garbage")
    due = rotation_due(config, within=timedelta(days=1))
    assert due.due and "no PEM certificate" in due.reason


def test_client_secret_credentials_are_never_due_and_the_cluster_is_not_asked(
    project: Path, kube_api: KubeApiStandIn
) -> None:
    config = load_stack_file(stack_file(project, "client-secret"))
    due = rotation_due(config, within=timedelta(days=3650))
    assert not due.due and "do not expire" in due.reason
    assert kube_api.requests() == []


def test_the_check_reads_the_placement_s_secret_through_a_given_client(
    project: Path, kube_api: KubeApiStandIn
) -> None:
    config = load_stack_file(stack_file(project))
    seed_secret(kube_api, certificate(timedelta(days=2)))
    with KubeClient.from_kubeconfig(kube_api.kubeconfig(context="kyma"), context="kyma") as client:
        assert rotation_due(config, within=timedelta(days=3), kube=client).due
    (read,) = kube_api.requests("GET", "secrets")
    assert read.path == "/api/v1/namespaces/orders/secrets/sap-btp-service-operator"


def test_rotate_if_expiring_within_rotates_only_inside_the_window(
    project: Path, kube_api: KubeApiStandIn
) -> None:
    path = stack_file(project)
    seed_secret(kube_api, certificate(timedelta(days=2)))

    early = CliRunner().invoke(cli, ["rotate", "--stack", "orders", "--if-expiring-within", "1d", "--no-up"])
    assert early.exit_code == 0, early.output
    assert "not rotated: stack orders" in early.output and load_stack_file(path).credential_rotation is None

    due = CliRunner().invoke(cli, ["rotate", "--stack", "orders", "--if-expiring-within", "7", "--no-up"])
    assert due.exit_code == 0, due.output
    assert "rotation due: stack orders" in due.output
    assert load_stack_file(path).credential_rotation is not None


def test_an_unreadable_cluster_or_a_bad_window_is_one_line(project: Path, kube_api: KubeApiStandIn) -> None:
    stack_file(project)
    kube_api.fail("GET", "/api/v1/namespaces/*/secrets/*", 403, count=5)
    failed = CliRunner().invoke(cli, ["rotate", "--stack", "orders", "--if-expiring-within", "7", "--no-up"])
    assert failed.exit_code == 1
    (line,) = failed.output.strip().splitlines()
    assert line.startswith("error: stack orders: cannot read the operator Secret:")
    bad = CliRunner().invoke(cli, ["rotate", "--stack", "orders", "--if-expiring-within", "soon"])
    assert bad.exit_code == 2 and "not a number of days" in bad.output
