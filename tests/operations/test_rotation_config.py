"""``btp-infra:credentialRotation``: the grammar (one line naming file, key, value and what is valid, before
anything runs), the binding name it makes (none = today's name; within the length bound), and the offline
plan and policy pack, which render and accept a rotated binding."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from btp_infra.cli import main as cli
from btp_infra.config import ConfigError, load_stack_file, parse_config
from btp_infra.conventions import CREDENTIAL_ROTATION_MAX, TYPE_SERVICE_BINDING, binding_name

BASE = {
    "namespace": "orders",
    "subaccountId": "7e5a3c1b-2d4f-4a6b-8c9d-0e1f2a3b4c5d",
    "kubeContext": "kyma",
}
STACK = """\
config:
  btp-infra:namespace: orders
  btp-infra:subaccountId: 7e5a3c1b-2d4f-4a6b-8c9d-0e1f2a3b4c5d
  btp-infra:kubeContext: kyma
"""


@pytest.mark.parametrize("key", ["r1", "2026-12-02", "20261202T023808Z", "a", "v1.2_x-3", "x" * 20])
def test_valid_keys_name_the_binding(key: str) -> None:
    config = parse_config({**BASE, "credentialRotation": key})
    assert config.binding_name == f"btp-infra-orders-operator-access-client-secret-{key}"


def test_no_key_is_todays_name() -> None:
    assert parse_config(BASE).binding_name == "btp-infra-orders-operator-access-client-secret"
    assert binding_name("orders", "client-secret", None) == binding_name("orders", "client-secret")
    assert binding_name("orders", "client-secret", "") == "btp-infra-orders-operator-access-client-secret"


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("", "is empty"),
        ("x" * 21, "is longer than 20 characters"),
        ("-r1", "is not a rotation key"),
        ("r1-", "is not a rotation key"),
        ("r 1", "is not a rotation key"),
        ("r/1", "is not a rotation key"),
        ("rötation", "is not a rotation key"),
    ],
)
def test_invalid_keys_are_one_line_naming_file_key_value_and_what_is_valid(value: str, problem: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_config({**BASE, "credentialRotation": value}, source="stacks/Pulumi.orders.yaml")
    (line,) = str(info.value).splitlines()
    assert line.startswith(
        f"stacks/Pulumi.orders.yaml: btp-infra:credentialRotation: {value!r} — {problem}; "
    )
    assert "valid: a rotation key of at most 20 characters" in line


def test_unquoted_yaml_dates_and_numbers_are_keys_as_written(tmp_path: Path) -> None:
    path = tmp_path / "Pulumi.orders.yaml"
    path.write_text(STACK + "  btp-infra:credentialRotation: 2026-12-02\n", encoding="utf-8")
    assert load_stack_file(path).credential_rotation == "2026-12-02"
    path.write_text(STACK + "  btp-infra:credentialRotation: 3\n", encoding="utf-8")
    assert load_stack_file(path).credential_rotation == "3"
    path.write_text(STACK + "  btp-infra:credentialRotation: true\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="credentialRotation: True — must be a string"):
        load_stack_file(path)


def test_the_longest_binding_name_stays_bounded() -> None:
    longest = max(
        len(binding_name("n" * 63, kind, "k" * CREDENTIAL_ROTATION_MAX)) for kind in ("client-secret", "x509")
    )
    assert longest == 124


def _plan(path: Path) -> tuple[int, dict[str, Any]]:
    result = CliRunner().invoke(cli, ["plan", "--json", "--stack", str(path)], catch_exceptions=False)
    return result.exit_code, json.loads(result.output)


def test_the_offline_plan_shows_and_the_pack_accepts_a_rotated_binding(tmp_path: Path) -> None:
    path = tmp_path / "Pulumi.orders.yaml"
    path.write_text(STACK + '  btp-infra:credentialRotation: "r7"\n', encoding="utf-8")

    code, report = _plan(path)

    assert code == 0, report
    (entry,) = report["stacks"]
    assert [v for v in entry["violations"] if v["enforcementLevel"] == "mandatory"] == []
    bindings = [r for r in entry["resources"] if r["type"] == TYPE_SERVICE_BINDING]
    assert [b["properties"]["name"] for b in bindings] == [
        "btp-infra-orders-operator-access-client-secret-r7"
    ]


def test_the_offline_plan_refuses_a_bad_key_in_one_line(tmp_path: Path) -> None:
    path = tmp_path / "Pulumi.orders.yaml"
    path.write_text(STACK + "  btp-infra:credentialRotation: bad/key\n", encoding="utf-8")
    result = CliRunner().invoke(cli, ["plan", "--stack", str(path)], catch_exceptions=False)
    assert result.exit_code == 1
    assert f"{path}: btp-infra:credentialRotation: 'bad/key' — is not a rotation key" in result.output
