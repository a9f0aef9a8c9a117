"""``btp-infra rotate``: the key written into the stack file (only that entry changes, the file stays valid),
refusals in one line before anything is written or run, and ``up`` for that stack over the real
``pulumi.automation`` against the stub ``pulumi`` of tests/automation (the exact invocations), or none with
``--no-up``."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from automation.conftest import clean_env, fleet
from automation.support import Fleet, engine_events
from click.testing import CliRunner, Result

from btp_infra.cli import main as cli
from btp_infra.config import ConfigError, load_stack_file
from btp_infra.operations.rotate import default_key, set_rotation_key

__all__ = ["clean_env", "fleet"]

CIS_KEY = json.dumps(
    {
        "endpoints": {"accounts_service_url": "https://accounts.example"},
        "uaa": {"clientid": "sb-cis", "clientsecret": "cis-client-secret-0123456789", "url": "https://uaa.x"},
    }
)
STACK = """\
# the orders tenant
config:
  btp-infra:namespace: orders   # never renamed
  btp-infra:subaccountId: 7e5a3c1b-2d4f-4a6b-8c9d-0e1f2a3b4c5d
  btp-infra:kubeContext: kyma
  btp-infra:entitlements:
    - service: hana-cloud
      plan: hana
"""


def run(*args: str, input: str | None = None) -> Result:
    return CliRunner().invoke(cli, list(args), input=input, catch_exceptions=False)


@pytest.fixture
def in_project(fleet: Fleet, monkeypatch: pytest.MonkeyPatch) -> Fleet:
    monkeypatch.setenv("PULUMI_CONFIG_PASSPHRASE", "correct horse battery staple")
    monkeypatch.setenv("BTP_CIS_SERVICE_KEY", CIS_KEY)
    monkeypatch.chdir(fleet.project)
    return fleet


def test_default_key_is_the_utc_time_in_compact_form() -> None:
    assert default_key(datetime(2026, 12, 2, 2, 38, 8, tzinfo=UTC)) == "20261202T023808Z"
    later = datetime(2026, 12, 2, 4, 38, 8, tzinfo=timezone(timedelta(hours=2)))
    assert default_key(later) == "20261202T023808Z"


def test_the_key_is_added_and_nothing_else_of_the_file_changes(tmp_path: Path) -> None:
    path = tmp_path / "Pulumi.orders.yaml"
    path.write_text(STACK, encoding="utf-8")
    path.chmod(0o640)

    change = set_rotation_key(path, "r1")

    assert path.read_text(encoding="utf-8") == STACK + '  btp-infra:credentialRotation: "r1"\n'
    assert (path.stat().st_mode & 0o777) == 0o640
    assert (change.previous, change.key) == (None, "r1")
    assert change.old_binding == "btp-infra-orders-operator-access-client-secret"
    assert change.new_binding == "btp-infra-orders-operator-access-client-secret-r1"
    assert load_stack_file(path).binding_name == change.new_binding
    assert sorted(p.name for p in tmp_path.iterdir()) == ["Pulumi.orders.yaml"]  # no temporary file left


def test_an_existing_key_is_replaced_in_place(tmp_path: Path) -> None:
    path = tmp_path / "Pulumi.orders.yaml"
    path.write_text(
        STACK.replace(
            "  btp-infra:kubeContext", "  btp-infra:credentialRotation: r1  # c\n  btp-infra:kubeContext"
        )
    )

    change = set_rotation_key(path, "2026-12-02")

    assert (
        '  btp-infra:credentialRotation: "2026-12-02"  # c\n  btp-infra:kubeContext: kyma\n'
        in path.read_text()
    )
    assert change.previous == "r1"
    assert load_stack_file(path).credential_rotation == "2026-12-02"


@pytest.mark.parametrize(
    ("text", "key", "message"),
    [
        (
            STACK,
            "bad key!",
            "btp-infra:credentialRotation: 'bad key!' — is not a rotation key; valid: a rotation",
        ),
        (STACK, "x" * 21, "is longer than 20 characters"),
        (STACK + "  btp-infra:credentialRotation: r1\n", "r1", "'r1' — is the current rotation key"),
        (STACK.replace("orders   #", "kube-system   #"), "r1", "btp-infra:namespace: 'kube-system'"),
        (
            "config: {btp-infra:namespace: orders, btp-infra:kubeContext: kyma,"
            " btp-infra:subaccountId: 7e5a3c1b-2d4f-4a6b-8c9d-0e1f2a3b4c5d}\n",
            "r1",
            "not a block mapping",
        ),
    ],
    ids=["grammar", "too-long", "current-key", "invalid-stack", "flow-style"],
)
def test_refusals_name_the_file_and_write_nothing(tmp_path: Path, text: str, key: str, message: str) -> None:
    path = tmp_path / "Pulumi.orders.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        set_rotation_key(path, key)
    assert str(path) in str(info.value) and message in str(info.value)
    assert path.read_text(encoding="utf-8") == text
    assert sorted(p.name for p in tmp_path.iterdir()) == ["Pulumi.orders.yaml"]


def test_rotate_writes_the_key_then_runs_up_for_that_stack(in_project: Fleet) -> None:
    fleet = in_project
    fleet.add_stack("orders", exists=True, ops={"up": {"events": engine_events("orders")}})
    fleet.add_stack("payments", exists=True, ops={"up": {"events": engine_events("payments")}})

    result = run("rotate", "--stack", "orders", "--key", "r1", "--yes")

    assert result.exit_code == 0, result.output
    assert load_stack_file(fleet.project / "stacks" / "Pulumi.orders.yaml").credential_rotation == "r1"
    assert load_stack_file(fleet.project / "stacks" / "Pulumi.payments.yaml").credential_rotation is None
    ups = [a for a in fleet.argvs() if "up" in a]
    assert len(ups) == 1 and ups[0][-2:] == ["--stack", "orders"]
    assert "--yes" in ups[0] and "--skip-preview" in ups[0]
    assert "btp-infra-orders-operator-access-client-secret-r1" in result.output
    assert "cis-client-secret" not in result.output


def test_no_up_only_writes_the_key(in_project: Fleet) -> None:
    fleet = in_project
    fleet.add_stack("orders", exists=True)

    result = run("rotate", "--stack", "orders", "--no-up")

    assert result.exit_code == 0, result.output
    key = load_stack_file(fleet.project / "stacks" / "Pulumi.orders.yaml").credential_rotation
    assert key is not None and len(key) == 16 and key.endswith("Z")
    assert fleet.argvs() == []  # no Pulumi CLI was run
    assert "btp-infra up --stack orders" in result.output


def test_a_refused_key_exits_2_in_one_line_and_runs_nothing(in_project: Fleet) -> None:
    fleet = in_project
    fleet.add_stack("orders", exists=True, extra_config="  btp-infra:credentialRotation: r1\n")
    before = (fleet.project / "stacks" / "Pulumi.orders.yaml").read_text()

    result = run("rotate", "--stack", "orders", "--key", "r1", "--yes")

    assert result.exit_code == 2
    (line,) = result.output.strip().splitlines()
    assert (
        line.startswith("error: ") and "is the current rotation key" in line and "Pulumi.orders.yaml" in line
    )
    assert (fleet.project / "stacks" / "Pulumi.orders.yaml").read_text() == before
    assert fleet.argvs() == []


def test_an_unknown_stack_is_refused(in_project: Fleet) -> None:
    result = run("rotate", "--stack", "nope", "--no-up")
    assert result.exit_code == 2 and "Pulumi.nope.yaml" in result.output and "does not exist" in result.output


def test_not_confirmed_changes_nothing(in_project: Fleet) -> None:
    fleet = in_project
    fleet.add_stack("orders", exists=True)
    before = (fleet.project / "stacks" / "Pulumi.orders.yaml").read_text()

    result = run("rotate", "--stack", "orders", input="n\n")

    assert result.exit_code == 2 and "not confirmed" in result.output
    assert "btp-infra-orders-operator-access-client-secret" in result.output  # what would be replaced
    assert (fleet.project / "stacks" / "Pulumi.orders.yaml").read_text() == before
    assert fleet.argvs() == []


def test_a_failed_up_keeps_the_key_and_says_how_to_finish(in_project: Fleet) -> None:
    fleet = in_project
    failing = engine_events("orders", fail_at="tenant-operator-secret", error="the cluster is unreachable")
    fleet.add_stack("orders", exists=True, ops={"up": {"events": failing, "exit": 255}})

    result = run("rotate", "--stack", "orders", "--key", "r2", "--yes")

    assert result.exit_code == 1
    assert load_stack_file(fleet.project / "stacks" / "Pulumi.orders.yaml").credential_rotation == "r2"
    assert "re-run `btp-infra up --stack orders`" in result.output
