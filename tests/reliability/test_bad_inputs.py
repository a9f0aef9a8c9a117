"""Bad input catalog: malformed stack configs and cis service keys are rejected before any API call.

Every stack file below is rejected offline (``load_stack_file``, as ``btp-infra plan`` does) with a message
naming the file, the key and the value, and by the Pulumi program itself (``LocalEngine.up()`` with an
emulator running) before a single request reaches the emulator. Duplicate mappings across stacks are rejected
by ``btp-infra plan`` over a stacks directory. Every service key below is rejected where the providers read it
(``BTP_CIS_SERVICE_KEY_FILE``) and by ``btp-infra credentials set``, naming the file and the key path but
never a value: key values are secrets, so key messages deliberately show none.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from btp_infra.btp.errors import ServiceKeyError
from btp_infra.cli import main as cli
from btp_infra.config import ConfigError, engine_config, load_fleet, load_stack_file
from btp_infra.credentials import CredentialsError, resolve_cis_service_key
from btp_infra.sandbox import SandboxServer
from btp_infra.testing.local_engine import LocalEngine

from .support import cis_key_document

GUID = "553bcbbb-e809-450f-82db-60de3ef76b1f"
HEAD = (
    f"config:\n  btp-infra:namespace: incident\n  btp-infra:subaccountId: {GUID}\n"
    "  btp-infra:kubeContext: kyma\n"
)
KEY_SECRET = "KEY-SECRET-sentinel-5f3a9c"


@dataclass(frozen=True)
class BadStack:
    id: str
    text: str
    key: str | None  # the qualified key the message must name (None: the file as a whole)
    value: str | None  # what of the value the message must show (None: no value)
    program: bool = True  # also rejected by the program (False: only offline; see the cases)


def stack(*lines: str, head: str = HEAD) -> str:
    return head + "".join(f"  {line}\n" for line in lines)


BAD_STACKS = [
    BadStack("empty-file", "", None, None),
    BadStack("only-a-comment", "# nothing here\n", None, None),
    BadStack("yaml-syntax-error", "config:\n  btp-infra:namespace: [incident\n", None, None),
    BadStack(
        "yaml-bad-indentation", "config:\n  btp-infra:namespace: a\n    btp-infra:region: eu10\n", None, None
    ),
    BadStack("yaml-duplicate-key", stack("btp-infra:namespace: other"), None, "btp-infra:namespace"),
    BadStack("top-level-list", "- btp-infra:namespace: incident\n", None, None),
    BadStack("no-config-mapping", "configuration:\n  btp-infra:namespace: incident\n", None, None),
    BadStack("config-is-a-list", "config:\n  - btp-infra:namespace\n", None, None),
    BadStack(
        "namespace-missing",
        f"config:\n  btp-infra:subaccountId: {GUID}\n",
        "btp-infra:namespace",
        "(missing)",
    ),
    BadStack(
        "namespace-wrong-type",
        stack(head=f"config:\n  btp-infra:namespace: 42\n  btp-infra:subaccountId: {GUID}\n"),
        "btp-infra:namespace",
        "42",
        program=False,  # the engine hands the program the string "42": a valid namespace
    ),
    BadStack(
        "namespace-system-kube-system",
        f"config:\n  btp-infra:namespace: kube-system\n  btp-infra:subaccountId: {GUID}\n",
        "btp-infra:namespace",
        "'kube-system'",
    ),
    BadStack(
        "namespace-system-kyma-system",
        f"config:\n  btp-infra:namespace: kyma-system\n  btp-infra:subaccountId: {GUID}\n",
        "btp-infra:namespace",
        "'kyma-system'",
    ),
    BadStack(
        "namespace-system-default",
        f"config:\n  btp-infra:namespace: default\n  btp-infra:subaccountId: {GUID}\n",
        "btp-infra:namespace",
        "'default'",
    ),
    BadStack(
        "namespace-kube-prefix",
        f"config:\n  btp-infra:namespace: kube-tenant\n  btp-infra:subaccountId: {GUID}\n",
        "btp-infra:namespace",
        "'kube-tenant'",
    ),
    BadStack(
        "namespace-not-dns-label",
        f"config:\n  btp-infra:namespace: Incident_1\n  btp-infra:subaccountId: {GUID}\n",
        "btp-infra:namespace",
        "'Incident_1'",
    ),
    BadStack(
        "guid-not-a-guid",
        "config:\n  btp-infra:namespace: incident\n  btp-infra:subaccountId: my-subaccount\n",
        "btp-infra:subaccountId",
        "'my-subaccount'",
    ),
    BadStack(
        "guid-too-short",
        "config:\n  btp-infra:namespace: incident\n"
        "  btp-infra:subaccountId: 553bcbbb-e809-450f-82db-60de3ef76b1\n",
        "btp-infra:subaccountId",
        "'553bcbbb-e809-450f-82db-60de3ef76b1'",
    ),
    BadStack(
        "guid-wrong-type",
        "config:\n  btp-infra:namespace: incident\n  btp-infra:subaccountId: 12345\n",
        "btp-infra:subaccountId",
        "12345",
    ),
    BadStack("region-unknown-format", stack("btp-infra:region: europe"), "btp-infra:region", "'europe'"),
    BadStack(
        "credential-type-unknown",
        stack("btp-infra:credentialType: certificate"),
        "btp-infra:credentialType",
        "'certificate'",
    ),
    BadStack(
        "secret-placement-unknown",
        stack("btp-infra:secretPlacement: cluster"),
        "btp-infra:secretPlacement",
        "'cluster'",
    ),
    BadStack(
        "entitlements-not-a-list",
        stack("btp-infra:entitlements: {service: destination, plan: lite}"),
        "btp-infra:entitlements",
        None,
    ),
    BadStack(
        "amount-on-a-plan-without-quota",
        stack("btp-infra:entitlements: [{service: destination, plan: lite, amount: 2}]"),
        "btp-infra:entitlements[0].amount",
        "2",
    ),
    BadStack(
        "amount-zero",
        stack("btp-infra:entitlements: [{service: hana-cloud, plan: hana, amount: 0}]"),
        "btp-infra:entitlements[0].amount",
        "0",
    ),
    BadStack(
        "amount-wrong-type",
        stack("btp-infra:entitlements: [{service: hana-cloud, plan: hana, amount: two}]"),
        "btp-infra:entitlements[0].amount",
        "'two'",
    ),
    BadStack(
        "entitlement-duplicated",
        stack(
            "btp-infra:entitlements: [{service: destination, plan: lite}, {service: destination, plan: lite}]"
        ),
        "btp-infra:entitlements[1]",
        "'destination/lite'",
    ),
    BadStack(
        "entitlement-bad-service-name",
        stack("btp-infra:entitlements: [{service: hana cloud, plan: hana}]"),
        "btp-infra:entitlements[0].service",
        "'hana cloud'",
    ),
    BadStack(
        "label-reserved-key",
        stack("btp-infra:labels: {btp-infra.io/tenant: other}"),
        'btp-infra:labels["btp-infra.io/tenant"]',
        "'other'",
    ),
    BadStack(
        "label-value-not-a-string",
        stack("btp-infra:labels: {cost-center: 4711}"),
        "btp-infra:labels.cost-center",
        "4711",
    ),
    BadStack(
        "quota-unknown-resource", stack("btp-infra:quota: {cpus: '4'}"), "btp-infra:quota.cpus", "'cpus'"
    ),
    BadStack(
        "quota-bad-quantity",
        stack("btp-infra:quota: {requests.cpu: 4 cores}"),
        'btp-infra:quota["requests.cpu"]',
        "'4 cores'",
    ),
    BadStack(
        "limit-range-min-above-max",
        stack("btp-infra:limitRange: {min: {cpu: '2'}, max: {cpu: 500m}}"),
        "btp-infra:limitRange.min.cpu",
        "'2'",
    ),
    BadStack(
        "network-policy-unknown",
        stack("btp-infra:networkPolicy: deny-all"),
        "btp-infra:networkPolicy",
        "'deny-all'",
    ),
    BadStack("mtls-not-a-boolean", stack("btp-infra:mtls: 'yes'"), "btp-infra:mtls", "'yes'"),
    BadStack("protect-not-a-boolean", stack("btp-infra:protect: 1"), "btp-infra:protect", "1"),
    BadStack("unknown-key-typo", stack("btp-infra:namespce: other"), "btp-infra:namespce", "'other'"),
    BadStack(
        "timeouts-bad-duration",
        stack("btp-infra:timeouts: {instance: forever}"),
        "btp-infra:timeouts.instance",
        "'forever'",
    ),
    BadStack(
        "timeouts-beyond-24h",
        stack("btp-infra:timeouts: {instance: 48h}"),
        "btp-infra:timeouts.instance",
        "'48h'",
    ),
    BadStack(
        "management-namespace-without-placement",
        stack("btp-infra:managementNamespace: ops"),
        "btp-infra:managementNamespace",
        "'ops'",
    ),
    BadStack(
        "keyring-profile-invalid",
        stack("btp-infra:keyringProfile: 'my profile!'"),
        "btp-infra:keyringProfile",
        "'my profile!'",
    ),
    # Only the offline check can see these: the engine hands the program decrypted secrets and only this
    # project's namespace, so the program cannot tell a plaintext secret or a misspelt namespace apart.
    BadStack(
        "cis-key-in-plain-text",
        stack(f'btp-infra:cisServiceKey: \'{{"uaa": "{KEY_SECRET}"}}\''),
        "btp-infra:cisServiceKey",
        "[secret]",
        program=False,
    ),
    BadStack(
        "secure-on-a-plain-key",
        stack("btp-infra:region: {secure: v1:abcdef}"),
        "btp-infra:region",
        "[secret]",
        program=False,
    ),
    BadStack(
        "unknown-config-namespace",
        stack("btp-infr:mtls: true"),
        "btp-infr:mtls",
        "True",
        program=False,
    ),
]


def write_stack(directory: Path, case: BadStack) -> Path:
    path = directory / f"Pulumi.{case.id}.yaml"
    path.write_text(case.text, encoding="utf-8")
    return path


def test_the_catalog_is_large_enough() -> None:
    assert len(BAD_STACKS) + len(BAD_KEYS) + len(FLEET_CASES) >= 30
    assert len({c.id for c in BAD_STACKS}) == len(BAD_STACKS)


@pytest.mark.parametrize("case", BAD_STACKS, ids=[c.id for c in BAD_STACKS])
def test_stack_file_rejected_offline_naming_file_key_and_value(case: BadStack, tmp_path: Path) -> None:
    path = write_stack(tmp_path, case)
    with pytest.raises(ConfigError) as info:
        load_stack_file(path)
    message = str(info.value)
    assert str(path) in message
    if case.key is not None:
        assert f"{case.key}:" in message or f"{case.key} " in message, message
    if case.value is not None:
        assert case.value in message, message
    assert KEY_SECRET not in message


@pytest.mark.parametrize(
    "case", [c for c in BAD_STACKS if c.program], ids=[c.id for c in BAD_STACKS if c.program]
)
def test_stack_config_rejected_by_the_program_before_any_api_call(
    case: BadStack, tmp_path: Path, sandbox: SandboxServer
) -> None:
    path = write_stack(tmp_path, case)
    try:
        values = engine_config(path)
    except ConfigError as err:  # unreadable as YAML: Pulumi itself would refuse the stack file
        assert str(path) in str(err)
        assert sandbox.calls() == []
        return
    result = LocalEngine(case.id, values).up()
    assert isinstance(result.render.error, ConfigError), result.render.error
    message = str(result.render.error)
    if case.key is not None and case.key.startswith("btp-infra:"):
        assert case.key in message, message
    if case.value is not None:
        assert case.value in message, message
    assert result.created == [] and sandbox.calls() == []


# ---- the same namespace or subaccount in two stacks -----------------------------------------------------


OTHER_GUID = "0b6f1a52-3c4d-4e8f-9a7b-2c1d5e6f7a8b"


@dataclass(frozen=True)
class FleetCase:
    id: str
    first: str
    second: str
    key: str
    value: str


FLEET_CASES = [
    FleetCase(
        "same-namespace",
        f"config:\n  btp-infra:namespace: incident\n  btp-infra:subaccountId: {GUID}\n",
        f"config:\n  btp-infra:namespace: incident\n  btp-infra:subaccountId: {OTHER_GUID}\n",
        "btp-infra:namespace",
        "'incident'",
    ),
    FleetCase(
        "same-subaccount",
        f"config:\n  btp-infra:namespace: incident\n  btp-infra:subaccountId: {GUID}\n",
        f"config:\n  btp-infra:namespace: payments\n  btp-infra:subaccountId: {GUID.upper()}\n",
        "btp-infra:subaccountId",
        f"'{GUID}'",
    ),
    FleetCase(
        "namespace-is-another-stacks-management-namespace",
        f"config:\n  btp-infra:namespace: incident\n  btp-infra:subaccountId: {GUID}\n"
        "  btp-infra:secretPlacement: management\n  btp-infra:managementNamespace: operators\n",
        f"config:\n  btp-infra:namespace: operators\n  btp-infra:subaccountId: {OTHER_GUID}\n",
        "btp-infra:namespace",
        "'operators'",
    ),
]


@pytest.mark.parametrize("case", FLEET_CASES, ids=[c.id for c in FLEET_CASES])
def test_duplicate_mappings_across_stacks_are_rejected_by_plan(case: FleetCase, tmp_path: Path) -> None:
    first, second = tmp_path / "Pulumi.a.yaml", tmp_path / "Pulumi.b.yaml"
    # both on one named cluster (a stack without kubeContext is refused on its own)
    first.write_text(case.first + "  btp-infra:kubeContext: kyma\n", encoding="utf-8")
    second.write_text(case.second + "  btp-infra:kubeContext: kyma\n", encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_fleet(tmp_path)
    message = str(info.value)
    assert str(first) in message and str(second) in message
    assert case.key in message and case.value in message
    result = CliRunner().invoke(cli, ["plan", "--all", "--json", "--stacks-dir", str(tmp_path)])
    assert result.exit_code == 1
    report = json.loads(result.stdout)
    texts = [v["message"] for s in report["stacks"] for v in s["violations"]]
    assert any(case.key in t and case.value in t and str(first) in t for t in texts), texts


# ---- service keys ------------------------------------------------------------------------------------------


def good_key() -> dict[str, Any]:
    return cis_key_document(KEY_SECRET)


def edited(**changes: Any) -> str:
    """The good key with ``section.field`` changes (``None`` removes the field)."""
    key = good_key()
    for dotted, value in changes.items():
        section, _, name = dotted.partition("__")
        if value is None:
            key[section].pop(name, None)
        else:
            key[section][name] = value
    return json.dumps(key)


@dataclass(frozen=True)
class BadKey:
    id: str
    text: str
    key: str | None  # the key path the message must name
    reason: str


BAD_KEYS = [
    BadKey("empty-file", "", None, "not valid JSON"),
    BadKey("not-json", f"uaa: {{clientsecret: {KEY_SECRET}}}", None, "not valid JSON"),
    BadKey("json-list", json.dumps([good_key()]), None, "must be a JSON object"),
    BadKey("uaa-missing", json.dumps({"endpoints": good_key()["endpoints"]}), "uaa", "missing"),
    BadKey("clientsecret-missing", edited(uaa__clientsecret=None), "uaa.clientsecret", "missing"),
    BadKey("clientsecret-empty", edited(uaa__clientsecret="  "), "uaa.clientsecret", "must not be empty"),
    BadKey("clientid-wrong-type", edited(uaa__clientid=4711), "uaa.clientid", "must be a string"),
    BadKey(
        "accounts-url-plain-http",
        edited(endpoints__accounts_service_url="http://accounts-service.example.com"),
        "endpoints.accounts_service_url",
        "https",
    ),
    BadKey(
        "entitlements-url-ftp",
        edited(endpoints__entitlements_service_url="ftp://entitlements.example.com"),
        "endpoints.entitlements_service_url",
        "https",
    ),
    BadKey(
        "uaa-url-not-absolute",
        edited(uaa__url="ga.authentication.eu10.hana.ondemand.com"),
        "uaa.url",
        "absolute",
    ),
    BadKey(
        "unknown-credential-type-x509",
        edited(uaa__clientsecret=None, **{"uaa__credential-type": "x509", "uaa__key": KEY_SECRET}),
        "uaa.clientsecret",
        "missing",
    ),
]


@pytest.mark.parametrize("case", BAD_KEYS, ids=[c.id for c in BAD_KEYS])
def test_service_key_rejected_before_any_api_call(
    case: BadKey, tmp_path: Path, sandbox: SandboxServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "cis-key.json"
    path.write_text(case.text, encoding="utf-8")
    monkeypatch.delenv("BTP_CIS_SERVICE_KEY", raising=False)
    monkeypatch.setenv("BTP_CIS_SERVICE_KEY_FILE", str(path))

    def check(message: str) -> None:
        assert str(path) in message, message
        if case.key is not None:
            assert case.key in message, message
        assert case.reason in message, message
        assert KEY_SECRET not in message

    with pytest.raises(ServiceKeyError) as info:
        resolve_cis_service_key()
    check(str(info.value))

    values = {
        "btp-infra:namespace": "incident",
        "btp-infra:subaccountId": GUID,
        "btp-infra:kubeContext": "kyma",
    }
    result = LocalEngine("incident", values).up()
    assert result.render.error is not None
    check(str(result.render.error))  # Pulumi may wrap the provider's ServiceKeyError; its text is kept
    assert result.created == [] and sandbox.calls() == []

    cli_result = CliRunner().invoke(cli, ["credentials", "set", "bad-key-profile", "--file", str(path)])
    assert cli_result.exit_code == 1
    check(cli_result.output)


def test_missing_key_file_is_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "nowhere.json"
    monkeypatch.delenv("BTP_CIS_SERVICE_KEY", raising=False)
    monkeypatch.setenv("BTP_CIS_SERVICE_KEY_FILE", str(path))
    with pytest.raises(CredentialsError, match="file not found") as info:
        resolve_cis_service_key()
    assert str(path) in str(info.value)
