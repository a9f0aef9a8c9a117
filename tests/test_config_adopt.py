"""``btp-infra:adopt``: validated offline, one line per problem, and visible in the offline plan.

The config model accepts what ``btp-infra tenant adopt`` writes and refuses, before anything runs, every
combination that would make a kept tenant unsafe; the offline plan (the real program under mocks) shows the
Namespace and the Secret as imported and retained, and the adopted names as the declared ones.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from btp_infra.cli import main as cli
from btp_infra.config import ConfigError, from_pulumi_config, load_stack_file
from btp_infra.program import adopt_args

GUID = "553bcbbb-e809-450f-82db-60de3ef76b1f"
SM_ID = "0c2d9a7e-5b1f-4c3d-9e8f-7a6b5c4d3e2f"
SOURCE = "stacks/Pulumi.incident.yaml"
BASE = {"btp-infra:namespace": "incident", "btp-infra:subaccountId": GUID, "btp-infra:kubeContext": "kyma"}


def config(adopt: Any, **extra: str) -> Any:
    values = {**BASE, "btp-infra:adopt": json.dumps(adopt), **{f"btp-infra:{k}": v for k, v in extra.items()}}
    return from_pulumi_config(values, source=SOURCE)


def problems(adopt: Any, **extra: str) -> list[str]:
    with pytest.raises(ConfigError) as info:
        config(adopt, **extra)
    return str(info.value).splitlines()


def test_what_tenant_adopt_writes_is_valid_and_names_the_objects() -> None:
    adopted = config(
        {
            "instanceId": SM_ID.upper(),
            "instanceName": "sm-operator-for-kyma",
            "bindingName": "kyma-operator-binding",
            "import": ["namespace", "secret"],
        }
    )
    assert adopted.adopt is not None
    assert adopted.adopt.instance_id == SM_ID  # GUIDs compare lower-case
    assert (adopted.instance_name, adopted.binding_name) == ("sm-operator-for-kyma", "kyma-operator-binding")
    args = adopt_args(adopted)
    assert (args.instance, args.binding, args.namespace, args.secret) == (SM_ID, True, True, True)


def test_without_adopt_the_names_are_btp_infras_and_nothing_is_adopted() -> None:
    plain = from_pulumi_config(BASE, source=SOURCE)
    assert plain.instance_name == "btp-infra-incident-operator-access"
    args = adopt_args(plain)
    assert (args.instance, args.binding, args.namespace, args.secret) == (None, None, False, False)


@pytest.mark.parametrize(
    ("adopt", "expected"),
    [
        (
            {"instanceId": "nope"},
            f"{SOURCE}: btp-infra:adopt.instanceId: 'nope' — is not a Service Manager GUID; valid: a Service "
            "Manager object GUID",
        ),
        ({}, f"{SOURCE}: btp-infra:adopt: {{}} — adopts nothing; valid: a mapping with any of instanceId"),
        (
            {"bindingName": "b"},
            f"{SOURCE}: btp-infra:adopt.bindingName: 'b' — adopts a binding of an instance the stack would "
            "create",
        ),
        (
            {"instanceName": "i", "import": ["secret"]},
            f"{SOURCE}: btp-infra:adopt.import: ['secret'] — adopts the Secret but not the binding",
        ),
        (
            {"import": ["namespace", "pod"]},
            f"{SOURCE}: btp-infra:adopt.import[1]: 'pod' — is not an importable object; valid: a list with "
            "namespace and/or secret",
        ),
        (
            {"import": ["namespace", "namespace"]},
            f"{SOURCE}: btp-infra:adopt.import[1]: 'namespace' — is listed twice",
        ),
        ({"import": "namespace"}, f"{SOURCE}: btp-infra:adopt.import: 'namespace' — must be a list"),
        (
            {"instanceName": "has space"},
            f"{SOURCE}: btp-infra:adopt.instanceName: 'has space' — is not a Service Manager name",
        ),
        (
            {"instanceID": SM_ID},
            f"{SOURCE}: btp-infra:adopt.instanceID: '{SM_ID}' — is not a known key; did you mean instanceId?",
        ),
        ("yes", f"{SOURCE}: btp-infra:adopt: 'yes'"),
    ],
    ids=[
        "bad-id",
        "empty",
        "binding-alone",
        "secret-alone",
        "unknown-import",
        "twice",
        "not-list",
        "name",
        "misspelt",
        "not-mapping",
    ],
)
def test_each_bad_adopt_block_is_one_line(adopt: Any, expected: str) -> None:
    (line,) = problems(adopt)
    assert line.startswith(expected), line


def test_a_namespace_alone_is_valid() -> None:
    """An empty hand-made namespace (no Secret, no ServiceInstance) is imported; the stack adds a Secret."""
    adopted = config({"import": ["namespace"]})
    assert adopt_args(adopted).namespace is True and adopt_args(adopted).secret is False


def test_the_offline_plan_shows_imports_and_retains(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    stacks = tmp_path / "stacks"
    stacks.mkdir()
    (tmp_path / "Pulumi.yaml").write_text("name: btp-infra\nruntime: python\nstackConfigDir: stacks\n")
    (stacks / "Pulumi.incident.yaml").write_text(
        "config:\n"
        "  btp-infra:namespace: incident\n"
        f"  btp-infra:subaccountId: {GUID}\n"
        "  btp-infra:kubeContext: kyma\n"
        "  btp-infra:adopt:\n"
        "    instanceName: sm-operator-for-kyma\n"
        "    bindingName: kyma-operator-binding\n"
        "    import: [namespace, secret]\n"
    )
    assert load_stack_file(stacks / "Pulumi.incident.yaml").adopt is not None
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(cli, ["plan", "--json"], catch_exceptions=False)
    document = json.loads(result.stdout)
    resources = {r["type"]: r for r in document["stacks"][0]["resources"]}
    namespace, secret = resources["kubernetes:core/v1:Namespace"], resources["kubernetes:core/v1:Secret"]
    assert (namespace["importId"], namespace["retainOnDelete"]) == ("incident", True)
    assert (secret["importId"], secret["retainOnDelete"]) == ("incident/sap-btp-service-operator", True)
    instance = resources["pulumi-python:dynamic/btp:ServiceInstance"]
    assert "importId" not in instance and instance["properties"]["name"] == "sm-operator-for-kyma"
    text = CliRunner().invoke(cli, ["plan"], catch_exceptions=False).stdout
    assert "import=incident/sap-btp-service-operator, retainOnDelete=true" in text
