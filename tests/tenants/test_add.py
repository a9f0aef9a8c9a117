"""``add_tenant``: the written file round-trips through the real loader, is commented, holds no secret, and
every refusal names the key, the value and what is valid — and leaves no file behind."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from btp_infra.config import ConfigError, load_stack_file, parse_config, stack_file_for
from btp_infra.tenants import KEY_COMMENTS, TenantError, add_tenant, validate

Listing = Callable[[Path], dict[str, bytes]]


def guid(index: int) -> str:
    return str(uuid.UUID(int=index + 1, version=4))


GUID = guid(0)

#: Every option of the config model a user sets in a stack file, with a non-default value.
EVERY_OPTION: dict[str, Any] = {
    "region": "eu10",
    "credential_type": "x509",
    "x509": {"validity": "30d", "keyLength": 4096},
    "secret_placement": "management",
    "management_namespace": "sap-btp-operator",
    "entitlements": [
        {"service": "destination", "plan": "lite"},
        {"service": "hana-cloud", "plan": "hana", "amount": 2},
    ],
    "labels": {"cost-center": "4711", "team": "orders"},
    "quota": {"requests.cpu": "4", "limits.memory": "16Gi", "pods": "50"},
    "limit_range": {"defaultRequest": {"cpu": "100m"}, "default": {"cpu": "500m"}, "max": {"cpu": "2"}},
    "network_policy": "default-deny",
    "mtls": True,
    "protect": True,
    "take_ownership": True,
    "kubeconfig": "~/.kube/kyma.yaml",
    "cluster_identifier": "kyma-prod-eu",
    "keyring_profile": "my-global-account",
    "timeouts": {"entitlement": "30m", "adminAccess": 900, "instance": "1h", "binding": "90s"},
    "adopt": {
        "instanceName": "orders-access",
        "bindingName": "orders-binding",
        "import": ["namespace", "secret"],
    },
}

#: The same values under the stack file's camelCase keys.
EVERY_KEY: dict[str, Any] = {
    "namespace": "orders",
    "subaccountId": GUID,
    "kubeContext": "kyma-prod",
    "region": "eu10",
    "credentialType": "x509",
    "x509": EVERY_OPTION["x509"],
    "secretPlacement": "management",
    "managementNamespace": "sap-btp-operator",
    "entitlements": EVERY_OPTION["entitlements"],
    "labels": EVERY_OPTION["labels"],
    "quota": EVERY_OPTION["quota"],
    "limitRange": EVERY_OPTION["limit_range"],
    "networkPolicy": "default-deny",
    "mtls": True,
    "protect": True,
    "takeOwnership": True,
    "kubeconfig": "~/.kube/kyma.yaml",
    "clusterIdentifier": "kyma-prod-eu",
    "keyringProfile": "my-global-account",
    "timeouts": EVERY_OPTION["timeouts"],
    "adopt": EVERY_OPTION["adopt"],
}


def add(stacks: Path, name: str = "orders", **options: Any) -> Path:
    options.setdefault("namespace", name)
    options.setdefault("subaccount_id", GUID)
    options.setdefault("kube_context", "kyma-prod")
    return add_tenant(name, stacks_dir=stacks, **options)


def refused(stacks: Path, listing: Listing, name: str = "orders", **options: Any) -> TenantError:
    """Add, expect a refusal, and check that the directory is exactly as before."""
    before = listing(stacks)
    with pytest.raises(TenantError) as caught:
        add(stacks, name, **options)
    assert listing(stacks) == before, "a refused add must leave no file (not even a temporary one)"
    assert ".tenant-add-" not in str(caught.value)
    return caught.value


# ---- round trip ---------------------------------------------------------------------------------


def test_every_option_round_trips_through_the_real_loader(stacks: Path) -> None:
    path = add(stacks, **EVERY_OPTION)
    assert path == stacks / "Pulumi.orders.yaml"
    assert load_stack_file(path).model_dump() == parse_config(EVERY_KEY).model_dump()
    assert validate(stacks).ok


def test_minimal_tenant_writes_only_what_was_asked(stacks: Path) -> None:
    path = add(stacks)
    document = yaml.safe_load(path.read_text())
    assert document == {
        "config": {
            "btp-infra:namespace": "orders",
            "btp-infra:subaccountId": GUID,
            "btp-infra:kubeContext": "kyma-prod",
        }
    }
    config = load_stack_file(path)
    assert (config.namespace, config.subaccount_id, config.kube_context) == ("orders", GUID, "kyma-prod")
    assert config.protect is False and config.secret_placement == "namespace"


def test_stack_defaults_to_the_tenant_name_and_can_be_told_otherwise(stacks: Path) -> None:
    assert add(stacks, "orders").name == "Pulumi.orders.yaml"
    path = add_tenant(
        "orders",
        stack="orders-dev",
        namespace="orders",
        subaccount_id=guid(1),
        kube_context="kyma-dev",
        stacks_dir=stacks,
    )
    assert path.name == "Pulumi.orders-dev.yaml"
    assert load_stack_file(path).namespace == "orders"


def test_values_that_look_like_other_types_stay_strings(stacks: Path) -> None:
    labels = {"cost-center": "4711", "enabled": "true", "zone": "yes", "empty": ""}
    path = add(stacks, labels=labels, quota={"pods": "10"})
    assert load_stack_file(path).labels == labels


def test_a_project_directory_uses_its_stack_config_dir(tmp_path: Path) -> None:
    (tmp_path / "Pulumi.yaml").write_text("name: btp-infra\nruntime: python\nstackConfigDir: stacks\n")
    (tmp_path / "stacks").mkdir()
    path = add(tmp_path)
    assert path == stack_file_for("orders", tmp_path) == tmp_path / "stacks" / "Pulumi.orders.yaml"


def test_the_file_gets_the_usual_permissions_and_no_temporary_is_left(stacks: Path) -> None:
    path = add(stacks)
    usual = stacks / "usual"
    usual.write_text("")
    assert path.stat().st_mode == usual.stat().st_mode
    usual.unlink()
    assert [p.name for p in stacks.iterdir()] == ["Pulumi.orders.yaml"]


# ---- comments and secrets -----------------------------------------------------------------------


def test_every_written_key_has_its_comment_right_above_it(stacks: Path) -> None:
    lines = add(stacks, **EVERY_OPTION).read_text().splitlines()
    assert lines[0].startswith("# Tenant stack 'orders' (btp-infra tenant add)")
    assert any("pulumi config set --secret btp-infra:cisServiceKey" in line for line in lines)
    for key, comment in KEY_COMMENTS.items():
        if key in ("subaccount", "subdomainPrefix"):  # instead of subaccountId: test_add_subaccount.py
            continue
        index = next(i for i, line in enumerate(lines) if line.startswith(f"  btp-infra:{key}:"))
        above = [line.removeprefix("  # ") for line in lines[index - len(comment) : index]]
        assert above == list(comment), key


def test_unset_options_are_listed_with_their_defaults(stacks: Path) -> None:
    text = add(stacks).read_text()
    closing = " ".join(
        line.removeprefix("  # ")
        for line in text.splitlines()
        if line.startswith("  # Not set")
        or (line.startswith("  # ") and "(" in line and text.index(line) > text.index("  # Not set"))
    )
    assert "networkPolicy (none)" in closing and "protect (false)" in closing
    assert "credentialType (client-secret)" in closing
    full = add(
        stacks,
        "full",
        namespace="full",
        subaccount_id=guid(1),
        **{**EVERY_OPTION, "secret_placement": None, "management_namespace": None},
    )
    assert "Not set, so the default applies: secretPlacement (namespace)." in full.read_text()


def test_there_is_no_way_to_pass_a_cis_service_key(stacks: Path) -> None:
    with pytest.raises(TypeError):
        add(stacks, cis_service_key='{"clientsecret": "s3cr3t"}')
    assert list(stacks.iterdir()) == []


KUBECONFIG_CONTENT = (
    "apiVersion: v1\nkind: Config\nclusters:\n- cluster: {server: 'https://k8s'}\n  name: c\n"
    "users:\n- name: u\n  user: {token: SECRET-TOKEN-123}\n"
)


@pytest.mark.parametrize(
    "content",
    [
        KUBECONFIG_CONTENT,
        '{"apiVersion": "v1", "users": [{"user": {"token": "SECRET-TOKEN-123"}}]}',
        "users: SECRET-TOKEN-123",
        "  \n  ",
    ],
    ids=["yaml", "json", "one-line-mapping", "blank"],
)
def test_kubeconfig_content_is_refused_and_never_written_or_shown(
    stacks: Path, listing: Listing, content: str
) -> None:
    error = refused(stacks, listing, kubeconfig=content)
    assert "btp-infra:kubeconfig" in str(error)
    assert "SECRET-TOKEN-123" not in str(error)
    assert "a path to a kubeconfig file" in str(error)


def test_kubeconfig_path_is_stored_as_given(stacks: Path) -> None:
    path = add(stacks, kubeconfig=Path("~/.kube/kyma prod.yaml"))
    assert yaml.safe_load(path.read_text())["config"]["btp-infra:kubeconfig"] == "~/.kube/kyma prod.yaml"
    assert load_stack_file(path).kubeconfig_value == "~/.kube/kyma prod.yaml"


def test_no_secret_reaches_any_file(stacks: Path, listing: Listing) -> None:
    add(stacks, **EVERY_OPTION)
    with pytest.raises(TenantError):
        add(stacks, "other", namespace="other", subaccount_id=guid(5), kubeconfig=KUBECONFIG_CONTENT)
    for content in listing(stacks).values():
        assert b"SECRET-TOKEN-123" not in content
        assert b"clientsecret" not in content


# ---- refusals: invalid values -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "key", "shown", "valid"),
    [
        ({"namespace": "kube-system"}, "namespace", "'kube-system'", "DNS-1123 label"),
        ({"namespace": "Orders_1"}, "namespace", "'Orders_1'", "DNS-1123 label"),
        ({"subaccount_id": "not-a-guid"}, "subaccountId", "'not-a-guid'", "8-4-4-4-12 hex digits"),
        ({"region": "europe"}, "region", "'europe'", "eu10"),
        ({"credential_type": "password"}, "credentialType", "'password'", "x509"),
        ({"secret_placement": "elsewhere"}, "secretPlacement", "'elsewhere'", "management"),
        ({"management_namespace": "ops"}, "managementNamespace", "'ops'", "secretPlacement: management"),
        (
            {"entitlements": [{"service": "destination", "plan": "lite", "amount": 3}]},
            "entitlements[0].amount",
            "3",
            "omit amount",
        ),
        (
            {"entitlements": [{"service": "destination"}]},
            "entitlements[0].plan",
            "(missing)",
            "BTP technical name",
        ),
        (
            {"labels": {"btp-infra.io/tenant": "x"}},
            'labels["btp-infra.io/tenant"]',
            "'x'",
            "not istio-injection",
        ),
        ({"quota": {"pods": "lots"}}, "quota.pods", "'lots'", "quantit"),
        (
            {"limit_range": {"default": {"cpu": "2"}, "max": {"cpu": "1"}}},
            "limitRange.default.cpu",
            "'2'",
            "min ≤ defaultRequest ≤ default ≤ max",
        ),
        ({"network_policy": "deny-all"}, "networkPolicy", "'deny-all'", "default-deny"),
        ({"mtls": "yes"}, "mtls", "'yes'", "true or false"),
        ({"protect": 1}, "protect", "1", "true or false"),
        ({"x509": {"validity": 30}}, "x509", "{'validity'", "credentialType: x509"),
        (
            {"credential_type": "x509", "x509": {"keyLength": 1024}},
            "x509.keyLength",
            "1024",
            "2048, 3072 or 4096",
        ),
        ({"timeouts": {"entitlement": "forever"}}, "timeouts.entitlement", "'forever'", "30m"),
        ({"timeouts": {"entitelment": "1h"}}, "timeouts.entitelment", "'1h'", "adminAccess"),
        ({"keyring_profile": "my profile"}, "keyringProfile", "'my profile'", "at most 64 characters"),
        ({"cluster_identifier": "  "}, "clusterIdentifier", "'  '", "stable name of the cluster"),
        ({"kube_context": None}, "kubeContext", "is required", "name of a context"),
        ({"kube_context": ""}, "kubeContext", "''", "name of a context"),
        ({"labels": {"team": object()}}, "labels", "stack file cannot hold", "a string, number, boolean"),
    ],
)
def test_an_invalid_value_is_refused_naming_key_value_and_valid(
    stacks: Path, listing: Listing, options: dict[str, Any], key: str, shown: str, valid: str
) -> None:
    error = refused(stacks, listing, **options)
    text = str(error)
    assert text.startswith(f"{stacks / 'Pulumi.orders.yaml'}: btp-infra:{key}: "), text
    assert shown in text
    assert "; valid: " in text and valid in text
    assert isinstance(error, ConfigError)


def test_several_invalid_values_are_all_reported_one_line_each(stacks: Path, listing: Listing) -> None:
    error = refused(stacks, listing, namespace="kube-system", region="europe", mtls="no")
    keys = [issue.key for issue in error.issues]
    assert keys == ["namespace", "region", "mtls"]
    assert len(str(error).splitlines()) == 3


@pytest.mark.parametrize("name", ["", ".hidden", "a/b", "../escape", "x" * 101, "two words", "new\nline"])
def test_an_invalid_stack_name_is_refused(stacks: Path, listing: Listing, name: str) -> None:
    error = refused(stacks, listing, name, namespace="orders")
    assert "is not valid" in str(error)
    assert "letters, digits" in str(error)
    assert "\n" not in str(error)
    assert not (stacks.parent / "escape").exists()


def test_a_missing_stacks_directory_is_refused(tmp_path: Path) -> None:
    with pytest.raises(TenantError, match="is not a directory"):
        add(tmp_path / "nowhere")
    assert not (tmp_path / "nowhere").exists()


# ---- refusals: the catalog and the fleet --------------------------------------------------------


@pytest.mark.parametrize("suffix", [".yaml", ".yml"])
def test_an_existing_stack_is_refused(stacks: Path, listing: Listing, suffix: str) -> None:
    existing = stacks / f"Pulumi.orders{suffix}"
    existing.write_text("config:\n  btp-infra:namespace: something-else\n")
    error = refused(stacks, listing, namespace="orders", subaccount_id=guid(3))
    assert str(error).startswith(f"{existing}: stack 'orders' already exists")
    assert "tenant remove" in str(error)


def test_a_namespace_already_mapped_on_the_same_cluster_is_refused(stacks: Path, listing: Listing) -> None:
    first = add(stacks, "orders")
    error = refused(stacks, listing, "orders-2", namespace="orders", subaccount_id=guid(1))
    (issue,) = error.issues
    assert (issue.source, issue.key, issue.value) == (
        str(stacks / "Pulumi.orders-2.yaml"),
        "namespace",
        "orders",
    )
    assert f"is also mapped by {first}" in issue.message
    assert "kubeContext 'kyma-prod'" in issue.message
    assert "valid: a namespace that no other stack maps on this cluster" in str(error)


def test_the_same_namespace_on_another_cluster_is_fine(stacks: Path) -> None:
    add(stacks, "orders-prod", namespace="orders", kube_context="kyma-prod")
    add(stacks, "orders-dev", namespace="orders", subaccount_id=guid(1), kube_context="kyma-dev")
    assert validate(stacks).ok


@pytest.mark.parametrize("spelling", [GUID, GUID.upper()])
def test_a_subaccount_already_mapped_is_refused(stacks: Path, listing: Listing, spelling: str) -> None:
    first = add(stacks, "orders")
    error = refused(
        stacks, listing, "billing", namespace="billing", subaccount_id=spelling, kube_context="other"
    )
    (issue,) = error.issues
    assert issue.key == "subaccountId" and f"is also mapped by {first}" in issue.message
    assert "on any cluster" in issue.valid


def test_a_namespace_that_is_another_stacks_management_namespace_is_refused(
    stacks: Path, listing: Listing
) -> None:
    add(stacks, "orders", secret_placement="management", management_namespace="operators")
    error = refused(stacks, listing, "operators", namespace="operators", subaccount_id=guid(1))
    assert "is the management namespace of" in str(error)
    assert "Pulumi.orders.yaml" in str(error)


def test_a_management_namespace_that_is_another_tenant_is_refused(stacks: Path, listing: Listing) -> None:
    add(stacks, "operators", namespace="operators")
    error = refused(
        stacks,
        listing,
        "orders",
        subaccount_id=guid(1),
        secret_placement="management",
        management_namespace="operators",
    )
    assert "is the management namespace of" in str(error)
    assert str(stacks / "Pulumi.orders.yaml") in str(error)


def test_existing_conflicts_do_not_block_an_unrelated_tenant(stacks: Path) -> None:
    body = "config:\n  btp-infra:namespace: a\n  btp-infra:subaccountId: {g}\n  btp-infra:kubeContext: k\n"
    (stacks / "Pulumi.a1.yaml").write_text(body.format(g=guid(7)))
    (stacks / "Pulumi.a2.yaml").write_text(body.format(g=guid(7)))
    (stacks / "Pulumi.broken.yaml").write_text("config: [\n")
    path = add(stacks, "orders")
    assert path.exists()
    report = validate(stacks)
    assert {f.file for f in report.findings} == {
        str(stacks / "Pulumi.a2.yaml"),
        str(stacks / "Pulumi.broken.yaml"),
    }


def test_the_error_is_json_friendly_data_too(stacks: Path, listing: Listing) -> None:
    error = refused(stacks, listing, namespace="kube-system")
    (issue,) = error.issues
    assert json.dumps({"key": issue.qualified_key, "message": issue.message, "valid": issue.valid})


def test_an_add_waits_for_another_add_on_the_same_directory(stacks: Path) -> None:
    """The fleet check and the write happen under an exclusive lock of the stacks directory (another
    process's ``tenant add`` holds it the same way), so two adds cannot both pass the check."""
    import fcntl
    import os
    import threading

    fd = os.open(stacks, os.O_RDONLY)
    fcntl.flock(fd, fcntl.LOCK_EX)  # as a concurrent add in another process would
    done = threading.Event()
    errors: list[BaseException] = []

    def attempt() -> None:
        try:
            add(stacks)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)
        done.set()

    thread = threading.Thread(target=attempt)
    thread.start()
    try:
        assert not done.wait(0.5), "add_tenant did not wait for the directory lock"
        assert not (stacks / "Pulumi.orders.yaml").exists()
    finally:
        os.close(fd)
    thread.join(10)
    assert done.is_set() and not errors
    assert (stacks / "Pulumi.orders.yaml").exists()
