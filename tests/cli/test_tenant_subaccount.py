"""``btp-infra tenant add --create-subaccount`` and ``btp-infra plan`` of a stack that creates its subaccount
(issue 14): the written file loads with the real loader and renders offline with the new resource, the pack
passes it, the fleet refuses a second claim of one subdomain, and option mistakes are one line, writing
nothing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from btp_infra.cli import main as cli
from btp_infra.config import engine_config, load_stack_file
from btp_infra.conventions import GUID_RE, LABEL_SUBACCOUNT, TYPE_SUBACCOUNT_LIFECYCLE
from btp_infra.offline.rendering import render
from btp_infra.program import main as tenant_program
from btp_infra.tenants import KEY_COMMENTS


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def add(name: str, *extra: str) -> Result:
    return run("tenant", "add", name, "--namespace", name, "--kube-context", "kyma", *extra)


def test_add_with_create_subaccount_writes_the_block(project: Path) -> None:
    result = add(
        "orders",
        "--create-subaccount",
        "--display-name", "Orders",
        "--region", "eu10",
        "--subdomain-prefix", "acme",
        "--parent-directory", "0b6f1a52-3c4d-4e8f-9a7b-2c1d5e6f7a8b",
        "--used-for-production",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    path = project / "stacks" / "Pulumi.orders.yaml"
    config = load_stack_file(path)
    assert config.subaccount_id is None and config.region is None
    assert config.subaccount is not None and config.subaccount.used_for_production
    assert config.subaccount_subdomain == "acme-orders" and config.subaccount_region == "eu10"
    lines = path.read_text().splitlines()
    index = next(i for i, line in enumerate(lines) if line.startswith("  btp-infra:subaccount:"))
    assert lines[index - len(KEY_COMMENTS["subaccount"]) : index] == [
        f"  # {c}" for c in KEY_COMMENTS["subaccount"]
    ]


@pytest.mark.parametrize(
    ("extra", "needle"),
    [
        ((), "--subaccount GUID (an existing subaccount) or --create-subaccount"),
        (("--subaccount", "553bcbbb-e809-450f-82db-60de3ef76b1f", "--create-subaccount"), "not both"),
        (("--create-subaccount", "--region", "eu10"), "--create-subaccount needs --display-name"),
        (("--create-subaccount", "--display-name", "Orders"), "needs --region"),
        (
            ("--subaccount", "553bcbbb-e809-450f-82db-60de3ef76b1f", "--display-name", "Orders"),
            "--display-name only with --create-subaccount",
        ),
    ],
)
def test_option_mistakes_are_one_line_and_write_nothing(
    project: Path, extra: tuple[str, ...], needle: str
) -> None:
    result = add("orders", *extra)
    assert result.exit_code == 2 and needle in result.output
    assert not list((project / "stacks").iterdir())


def test_a_bad_subdomain_is_refused_by_the_loader_naming_the_key(project: Path) -> None:
    result = add(
        "orders", "--create-subaccount", "--display-name", "O", "--region", "eu10", "--subdomain", "A_"
    )
    assert result.exit_code != 0
    assert "btp-infra:subaccount.subdomain: 'A_'" in result.output + (result.stderr or "")
    assert not list((project / "stacks").iterdir())


def test_a_second_stack_claiming_the_subdomain_is_refused_naming_both(project: Path) -> None:
    common = ("--create-subaccount", "--display-name", "O", "--region", "eu10", "--subdomain", "acme-x")
    assert add("orders", *common).exit_code == 0
    result = add("billing", *common)
    text = result.output + (result.stderr or "")
    assert result.exit_code != 0 and "Pulumi.orders.yaml creates as well" in text
    assert [p.name for p in (project / "stacks").iterdir()] == ["Pulumi.orders.yaml"]


def test_plan_renders_the_subaccount_and_the_pack_passes(project: Path) -> None:
    assert (
        add(
            "orders",
            "--create-subaccount",
            "--display-name",
            "O",
            "--region",
            "eu10",
            "--subdomain-prefix",
            "acme",
        ).exit_code
        == 0
    )
    path = project / "stacks" / "Pulumi.orders.yaml"
    rendered = render("orders", engine_config(path), tenant_program)
    assert rendered.error is None
    (sub,) = rendered.of_type(TYPE_SUBACCOUNT_LIFECYCLE)
    assert (sub.inputs["subdomain"], sub.inputs["region"]) == ("acme-orders", "eu10")
    (namespace,) = rendered.of_type("kubernetes:core/v1:Namespace")
    label = namespace.outputs["metadata"]["labels"][LABEL_SUBACCOUNT]
    assert GUID_RE.fullmatch(label) and label == sub.outputs["subaccountId"]
    result = run("plan", "--json", "--stack", str(path))
    assert result.exit_code == 0, result.output
    (entry,) = json.loads(result.output)["stacks"]
    assert [v for v in entry["violations"] if v["enforcementLevel"] == "mandatory"] == []


def test_plan_reports_two_stacks_creating_one_subdomain(tmp_path: Path) -> None:
    for name in ("orders", "billing"):
        (tmp_path / f"Pulumi.{name}.yaml").write_text(
            f"config:\n  btp-infra:namespace: {name}\n  btp-infra:kubeContext: kyma\n"
            "  btp-infra:subaccount: {displayName: X, region: eu10, subdomain: acme-shared}\n",
            encoding="utf-8",
        )
    result = run("plan", "--json", "--stacks-dir", str(tmp_path))
    assert result.exit_code != 0
    found = [
        v["message"]
        for s in json.loads(result.output)["stacks"]
        for v in s["violations"]
        if v["policy"] == "btp-tenant-fleet-unique"
    ]
    assert any("'acme-shared' in region eu10" in m and "creates as well" in m for m in found), found
