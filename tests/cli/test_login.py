"""``btp-infra login | logout | whoami`` and ``btp-infra credentials test`` through click's ``CliRunner``,
against the real emulator (tokens and scopes from its UAA) and a real keyring backend (``kr``: keyrings.alt
file backend, chosen with ``PYTHON_KEYRING_BACKEND``). No output ever holds a secret or a token."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import keyring
import pytest
from click.testing import CliRunner, Result
from emulator_fixtures import SUBACCOUNT_1, secrets_of
from keyrings.alt.file import PlaintextKeyring

from btp_infra.btp.accounts import AccountsClient
from btp_infra.btp.auth import ClientCredentialsTokenSource, TokenGrant
from btp_infra.btp.keys import CisServiceKey
from btp_infra.cli import main
from btp_infra.credentials import ENV_KEY, ENV_KEY_FILE, ENV_PROFILE, KEYRING_SERVICE, store_in_keyring
from btp_infra.sandbox import SandboxServer

GUID = "553bcbbb-e809-450f-82db-60de3ef76b1f"


@pytest.fixture(autouse=True)
def no_cis_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (ENV_KEY, ENV_KEY_FILE, ENV_PROFILE):
        monkeypatch.delenv(name, raising=False)


def run(*args: str, stdin: str | None = None) -> Result:
    return CliRunner().invoke(main, list(args), input=stdin, catch_exceptions=False)


def assert_no_secret(result: Result, sb: SandboxServer, *extra: str) -> None:
    for secret in [*secrets_of(sb), *extra]:
        assert secret not in result.output


def write_key(tmp_path: Path, document: dict[str, Any], name: str = "cis-key.json") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(document, indent=2), encoding="utf-8")
    return path


def stored(profile: str) -> str | None:
    return keyring.get_password(KEYRING_SERVICE, profile)


# -- login -------------------------------------------------------------------------------------------------


def test_login_checks_the_key_and_stores_it(kr: PlaintextKeyring, sb: SandboxServer, tmp_path: Path) -> None:
    key = sb.cis_service_key()
    result = run("login", "--profile", "my-ga", "--service-key-file", str(write_key(tmp_path, key)))
    assert result.exit_code == 0, result.output
    assert f"logged in as client {key['uaa']['clientid']}" in result.output
    assert "global account" in result.output and "plan central" in result.output
    assert "pulumi config set btp-infra:keyringProfile my-ga" in result.output
    raw = stored("my-ga")
    assert raw is not None and json.loads(raw) == key
    assert any(c["route"].startswith("/uaa/") for c in sb.calls()), "a token was really fetched"
    assert_no_secret(result, sb)


def test_login_reads_stdin_and_defaults_to_profile_default(kr: PlaintextKeyring, sb: SandboxServer) -> None:
    result = run("login", stdin=json.dumps(sb.cis_service_key()))
    assert result.exit_code == 0, result.output
    assert "keyring profile 'default'" in result.output
    assert stored("default") is not None
    assert_no_secret(result, sb)


@pytest.mark.parametrize("plan", ["central-viewer", "local"])
def test_login_refuses_a_viewer_or_local_key_by_its_service(
    kr: PlaintextKeyring, sb: SandboxServer, tmp_path: Path, plan: str
) -> None:
    key = sb.cis_service_key() | {"sap.cloud.service": f"com.sap.core.commercial.service.{plan}"}
    result = run("login", "--service-key-file", str(write_key(tmp_path, key)))
    assert result.exit_code == 1
    line = result.output.strip()
    assert "\n" not in line
    assert f"plan '{plan}'" in line and "needs a cis service key of plan 'central'" in line
    assert stored("default") is None
    assert_no_secret(result, sb)


def test_login_refuses_a_key_whose_token_lacks_the_scopes(
    kr: PlaintextKeyring, sb: SandboxServer, tmp_path: Path
) -> None:
    """An SM admin binding's credentials dressed as a cis key: the token comes, its scopes are not central."""
    cis = sb.cis_service_key()
    accounts = AccountsClient(CisServiceKey.parse(cis, source="test"))
    try:
        creds = accounts.create_service_management_binding(SUBACCOUNT_1)
    finally:
        accounts.close()
    secret = creds.clientsecret.get_secret_value()
    dressed = {
        "endpoints": cis["endpoints"],
        "uaa": {"clientid": creds.clientid, "clientsecret": secret, "url": creds.url},
    }
    result = run("login", "--profile", "sm", "--service-key-file", str(write_key(tmp_path, dressed)))
    assert result.exit_code == 1
    line = result.output.strip()
    assert "\n" not in line
    assert "lacks the scope(s) global-account.subaccount.read" in line
    assert "needs a cis service key of plan 'central'" in line
    assert stored("sm") is None
    assert_no_secret(result, sb, secret)


def test_login_with_a_wrong_secret_is_one_line(
    kr: PlaintextKeyring, sb: SandboxServer, tmp_path: Path
) -> None:
    key = sb.cis_service_key()
    key["uaa"]["clientsecret"] = "WRONG-secret-do-not-print"
    result = run("login", "--service-key-file", str(write_key(tmp_path, key)))
    assert result.exit_code == 1
    line = result.output.strip()
    assert "\n" not in line
    assert "the client id or secret is wrong (401" in line and key["uaa"]["clientid"] in line
    assert stored("default") is None
    assert_no_secret(result, sb, "WRONG-secret-do-not-print")


def test_login_with_an_unreachable_token_endpoint_is_one_line(
    kr: PlaintextKeyring, sb: SandboxServer, tmp_path: Path
) -> None:
    key = sb.cis_service_key()
    key["uaa"]["url"] = "http://127.0.0.1:9/uaa/nowhere"
    result = run("login", "--service-key-file", str(write_key(tmp_path, key)))
    assert result.exit_code == 1
    assert "\n" not in result.output.strip() and "no token for client" in result.output
    assert stored("default") is None
    assert_no_secret(result, sb)


def test_login_refuses_an_invalid_key_file_and_profile(kr: PlaintextKeyring, tmp_path: Path) -> None:
    broken = tmp_path / "broken.json"
    broken.write_text('{"uaa": {"clientsecret": "LEAKED"}', encoding="utf-8")
    result = run("login", "--service-key-file", str(broken))
    assert result.exit_code == 1 and "not valid JSON" in result.output and "LEAKED" not in result.output
    result = run("login", "--service-key-file", str(tmp_path / "missing.json"))
    assert result.exit_code == 1 and "cannot be read" in result.output
    result = run("login", "--profile", "no such", stdin="{}")
    assert result.exit_code == 1 and "not a keyring profile name" in result.output
    assert kr.get_password(KEYRING_SERVICE, "default") is None


def test_login_refuses_an_insecure_keyring_before_fetching(
    sb: SandboxServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from keyring.core import load_keyring

    previous = keyring.get_keyring()
    keyring.set_keyring(load_keyring("keyring.backends.null.Keyring"))
    monkeypatch.delenv("PYTHON_KEYRING_BACKEND", raising=False)
    try:
        result = run("login", stdin=json.dumps(sb.cis_service_key()))
    finally:
        keyring.set_keyring(previous)
    assert result.exit_code == 1
    assert "no secure keyring backend" in result.output and "BTP_CIS_SERVICE_KEY" in result.output
    assert not any(c["route"].startswith("/uaa/") for c in sb.calls()), "nothing fetched"


# -- logout, whoami ----------------------------------------------------------------------------------------


def test_logout_removes_the_profile(kr: PlaintextKeyring, sb: SandboxServer) -> None:
    store_in_keyring("my-ga", sb.cis_service_key())
    result = run("logout", "--profile", "my-ga")
    assert result.exit_code == 0 and "removed keyring profile 'my-ga'" in result.output
    assert stored("my-ga") is None
    again = run("logout", "--profile", "my-ga")
    assert again.exit_code == 1 and "no keyring profile 'my-ga': nothing to log out" in again.output


def test_whoami_shows_the_global_account_and_nothing_secret(kr: PlaintextKeyring, sb: SandboxServer) -> None:
    key = sb.cis_service_key()
    store_in_keyring("default", key)
    result = run("whoami")
    assert result.exit_code == 0, result.output
    out = result.output
    assert "profile:        default (keyring btp-infra/default)" in out
    assert f"{key['uaa']['identityzone']} ({key['uaa']['tenantid']})" in out
    assert f"{key['uaa']['url']}/oauth/token" in out and key["uaa"]["clientid"] in out
    assert "central (com.sap.core.commercial.service.central)" in out
    assert_no_secret(result, sb)

    as_json = run("whoami", "--profile", "default", "--json")
    document = json.loads(as_json.output)
    assert document == {
        "profile": "default",
        "keyring": "btp-infra/default",
        "client_id": key["uaa"]["clientid"],
        "token_url": f"{key['uaa']['url']}/oauth/token",
        "service": "com.sap.core.commercial.service.central",
        "plan": "central",
        "global_account_subdomain": key["uaa"]["identityzone"],
        "global_account_guid": key["uaa"]["tenantid"],
    }
    assert_no_secret(as_json, sb)


def test_whoami_without_a_login(kr: PlaintextKeyring) -> None:
    result = run("whoami", "--profile", "nobody")
    assert result.exit_code == 1
    assert "keyring btp-infra/nobody" in result.output and "no entry" in result.output
    assert "btp-infra login --profile nobody" in result.output


# -- credentials test --------------------------------------------------------------------------------------


def stack_file(directory: Path, name: str, *extra: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"Pulumi.{name}.yaml"
    lines = [
        "config:",
        "  btp-infra:namespace: incident",
        f"  btp-infra:subaccountId: {GUID}",
        "  btp-infra:kubeContext: kyma",
        *extra,
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_credentials_test_uses_the_stacks_keyring_profile(
    kr: PlaintextKeyring, sb: SandboxServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store_in_keyring("stack-ga", sb.cis_service_key())
    store_in_keyring(
        "env-ga", {**sb.cis_service_key(), "uaa": {**sb.cis_service_key()["uaa"], "clientsecret": "x"}}
    )
    monkeypatch.setenv(ENV_PROFILE, "env-ga")  # the stack's keyringProfile comes first
    stacks = tmp_path / "stacks"
    stack_file(stacks, "incident", "  btp-infra:keyringProfile: stack-ga")
    result = run("credentials", "test", "--stack", "incident", "--stacks-dir", str(stacks))
    assert result.exit_code == 0, result.output
    assert "source: keyring btp-infra/stack-ga (profile from btp-infra:keyringProfile)" in result.output
    assert "got a token" in result.output
    assert_no_secret(result, sb)


def test_credentials_test_env_comes_first_and_without_a_stack(
    kr: PlaintextKeyring, sb: SandboxServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(ENV_KEY_FILE, str(write_key(tmp_path, sb.cis_service_key())))
    stacks = tmp_path / "stacks"
    path = stack_file(stacks, "incident", "  btp-infra:keyringProfile: absent")
    for args in (("--stack", "incident", "--stacks-dir", str(stacks)), ("--stack", str(path)), ()):
        result = run("credentials", "test", *args)
        assert result.exit_code == 0, result.output
        assert f"source: env {ENV_KEY_FILE}=" in result.output
        assert_no_secret(result, sb)


def test_credentials_test_says_the_stack_secret_cannot_be_decrypted_offline(
    kr: PlaintextKeyring, sb: SandboxServer, tmp_path: Path
) -> None:
    store_in_keyring("stack-ga", sb.cis_service_key())
    stacks = tmp_path / "stacks"
    stack_file(
        stacks,
        "incident",
        "  btp-infra:keyringProfile: stack-ga",
        "  btp-infra:cisServiceKey:",
        "    secure: v1:abc:def",
    )
    result = run("credentials", "test", "--stack", "incident", "--stacks-dir", str(stacks))
    assert result.exit_code == 1
    assert (
        "is set but encrypted" in result.output
        and "only decrypted when Pulumi runs the program" in result.output
    )
    assert "source: keyring" not in result.output


def test_credentials_test_failures(kr: PlaintextKeyring, sb: SandboxServer, tmp_path: Path) -> None:
    nothing = run("credentials", "test")
    assert nothing.exit_code == 1
    for way in (
        "env BTP_CIS_SERVICE_KEY=",
        "env BTP_CIS_SERVICE_KEY_FILE=",
        "pulumi config set --secret btp-infra:cisServiceKey < cis-key.json",
        "btp-infra login --profile PROFILE",
        "BTP_INFRA_KEYRING_PROFILE",
    ):
        assert way in nothing.output
    assert "btp_infra." not in nothing.output

    stacks = tmp_path / "stacks"
    unknown = run("credentials", "test", "--stack", "nope", "--stacks-dir", str(stacks))
    assert unknown.exit_code == 2 and "no stack file for stack 'nope'" in unknown.output
    lone = run("credentials", "test", "--stacks-dir", str(stacks))
    assert lone.exit_code == 2 and "--stacks-dir needs --stack" in lone.output
    stack_file(stacks, "bad", "  btp-infra:keyringProfile: 'no such'")
    invalid = run("credentials", "test", "--stack", "bad", "--stacks-dir", str(stacks))
    assert invalid.exit_code == 1 and "invalid stack file" in invalid.output

    wrong = sb.cis_service_key()
    wrong["uaa"]["clientsecret"] = "WRONG-secret-do-not-print"
    store_in_keyring("wrong", wrong)
    stack_file(stacks, "w", "  btp-infra:keyringProfile: wrong")
    refused = run("credentials", "test", "--stack", "w", "--stacks-dir", str(stacks))
    assert refused.exit_code == 1
    assert "\n" not in refused.output.strip() and "the client id or secret is wrong" in refused.output
    assert_no_secret(refused, sb, "WRONG-secret-do-not-print")


# -- the token grant -----------------------------------------------------------------------------------------


def test_a_grant_carries_the_scopes_and_refreshes_the_shared_cache(sb: SandboxServer) -> None:
    key = CisServiceKey.parse(sb.cis_service_key(), source="test")
    source = ClientCredentialsTokenSource(key.token_url, key.uaa.clientid, key.uaa.clientsecret)
    try:
        grant = source.grant()
        assert grant.has_scope("global-account.subaccount.read")
        assert not grant.has_scope("subaccount.read")  # a whole scope, not a suffix
        qualified = TokenGrant(grant.access_token, frozenset({"cis-central!b14.job.read"}), 1.0)
        assert qualified.has_scope("job.read") and not qualified.has_scope("read")
        assert "access_token" not in repr(grant) and grant.access_token.get_secret_value() not in repr(grant)
        assert source.token() == grant.access_token.get_secret_value()  # cached like any fetch
        assert source.fetch_count == 1
    finally:
        source.close()
