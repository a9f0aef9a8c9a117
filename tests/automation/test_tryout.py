"""``btp-infra try`` through pulumi.automation against the stub ``pulumi``: the throwaway project it runs in,
what reaches the Pulumi processes (the sandbox's cis key in the environment only), and the listing of what
was rendered (Secret values redacted)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from btp_infra import tryout
from btp_infra.cli import main as cli

from .support import Fleet, engine_events

SECRET_VALUE = "rendered-client-secret-7f3a"


def rendered_secret(out: Path) -> None:
    """What pulumi-kubernetes' renderYamlToDirectory writes for the operator Secret (values in the clear)."""
    manifest = out / "1-manifest"
    manifest.mkdir(parents=True)
    (manifest / "v1-namespace-orders.yaml").write_text(
        yaml.safe_dump({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "orders"}})
    )
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "sap-btp-service-operator", "namespace": "orders"},
        "stringData": {"clientid": "sb-x", "clientsecret": SECRET_VALUE},
    }
    (manifest / "v1-secret-orders-sap-btp-service-operator.yaml").write_text(yaml.safe_dump(secret))


def test_try_runs_up_in_a_throwaway_project_against_the_sandbox(
    fleet: Fleet, monkeypatch: pytest.MonkeyPatch
) -> None:
    fleet.add_stack(
        "orders",
        ops={"up": {"events": engine_events("orders")}},
        extra_config="  btp-infra:keyringProfile: my-ga\n",
    )
    monkeypatch.chdir(fleet.project)
    rendered_secret(fleet.project / "out" / "orders")
    given: list[dict[str, str]] = []
    real = tryout.tryout_environment

    def recorded(*args: Any) -> dict[str, str]:
        given.append(real(*args))
        return given[-1]

    monkeypatch.setattr(tryout, "tryout_environment", recorded)

    result = CliRunner().invoke(cli, ["try", "--stack", "orders"])

    assert result.exit_code == 0, result.output
    calls = fleet.calls()
    work = {c["cwd"] for c in calls[1:]}
    assert len(work) == 1 and str(fleet.project) not in work  # a temporary project, not the user's
    [project_dir] = work
    assert not Path(project_dir).exists()  # removed afterwards, state included
    ups = [c for c in calls if "up" in c["argv"]]
    assert len(ups) == 1
    env = ups[0]["env"]  # the stub records secret-looking values as digests
    [sent] = given
    key = json.loads(sent["BTP_CIS_SERVICE_KEY"])  # the sandbox's key, through the environment only
    assert key["endpoints"]["accounts_service_url"].startswith("http://127.0.0.1:")

    def digest(value: str) -> str:
        return "sha256:" + hashlib.sha256(value.encode()).hexdigest()

    assert env["BTP_CIS_SERVICE_KEY"] in (sent["BTP_CIS_SERVICE_KEY"], digest(sent["BTP_CIS_SERVICE_KEY"]))
    assert env["PULUMI_BACKEND_URL"] in (sent["PULUMI_BACKEND_URL"], digest(sent["PULUMI_BACKEND_URL"]))
    assert sent["PULUMI_BACKEND_URL"].startswith(f"file://{project_dir}")
    secrets = [key["uaa"]["clientsecret"], sent["PULUMI_CONFIG_PASSPHRASE"]]
    for call in calls:
        for secret in secrets:
            assert secret not in " ".join(call["argv"])
    for secret in secrets:
        assert secret not in result.output
    # The listing: every object, the Secret by its key names only.
    assert "Namespace" in result.output and "orders/sap-btp-service-operator" in result.output
    assert "clientid, clientsecret" in result.output
    assert SECRET_VALUE not in result.output


def test_try_without_pulumi_is_one_line_and_starts_nothing(
    fleet: Fleet, monkeypatch: pytest.MonkeyPatch
) -> None:
    fleet.add_stack("orders")
    monkeypatch.setenv("PATH", str(fleet.root / "nowhere"))
    monkeypatch.chdir(fleet.project)

    result = CliRunner().invoke(cli, ["try", "--stack", "orders"])

    assert result.exit_code == 2
    assert (
        result.output.strip().splitlines()
        == [
            "Error: the Pulumi CLI is not installed (no 'pulumi' on PATH); install it: "
            "https://www.pulumi.com/docs/install/"
        ]
        or "not installed" in result.output
    )
    assert len(result.output.strip().splitlines()) == 1
    assert not (fleet.project / "out").exists()
    assert fleet.calls() == []
