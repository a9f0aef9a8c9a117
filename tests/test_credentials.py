"""cis key resolution: source order, clear errors without key material, keyring via a real file backend."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import keyring
import keyring.errors
import pytest
from keyrings.alt.file import PlaintextKeyring

from btp_infra.config import load_stack_file, parse_config
from btp_infra.credentials import (
    ENV_KEY,
    ENV_KEY_FILE,
    ENV_PROFILE,
    KEYRING_SERVICE,
    CredentialsError,
    EncryptedConfigError,
    NoCredentialsError,
    ServiceKeyError,
    delete_from_keyring,
    from_keyring,
    parse_cis_key,
    resolve_cis_service_key,
    resolve_for_tenant,
    store_in_keyring,
)

GUID = "553bcbbb-e809-450f-82db-60de3ef76b1f"


def cis_key(client_id: str) -> dict[str, Any]:
    """A cis key whose client id tells the tests which source it came from."""
    return {
        "endpoints": {
            "accounts_service_url": "https://accounts-service.cfapps.eu10.hana.ondemand.com",
            "entitlements_service_url": "https://entitlements-service.cfapps.eu10.hana.ondemand.com",
        },
        "uaa": {
            "clientid": client_id,
            "clientsecret": f"SECRET-{client_id}-do-not-print",
            "url": "https://my-ga.authentication.eu10.hana.ondemand.com",
        },
    }


@pytest.fixture
def key_file(tmp_path: Path) -> Path:
    path = tmp_path / "cis-key.json"
    path.write_text(json.dumps(cis_key("from-file")), encoding="utf-8")
    return path


def test_env_key_wins_over_everything(kr: PlaintextKeyring, key_file: Path) -> None:
    store_in_keyring("prof", json.dumps(cis_key("from-keyring")))
    env = {ENV_KEY: json.dumps(cis_key("from-env")), ENV_KEY_FILE: str(key_file), ENV_PROFILE: "prof"}
    resolved = resolve_cis_service_key(
        config_value=json.dumps(cis_key("from-config")), keyring_profile="prof", environ=env
    )
    assert resolved.key.uaa.clientid == "from-env"
    assert resolved.source == "env BTP_CIS_SERVICE_KEY"


def test_key_file_wins_over_config_and_keyring(kr: PlaintextKeyring, key_file: Path) -> None:
    store_in_keyring("prof", json.dumps(cis_key("from-keyring")))
    resolved = resolve_cis_service_key(
        config_value=json.dumps(cis_key("from-config")),
        keyring_profile="prof",
        environ={ENV_KEY: "  ", ENV_KEY_FILE: str(key_file)},  # a blank variable counts as unset
    )
    assert resolved.key.uaa.clientid == "from-file"
    assert resolved.source == f"env BTP_CIS_SERVICE_KEY_FILE={key_file}"


def test_config_secret_wins_over_keyring(kr: PlaintextKeyring) -> None:
    store_in_keyring("prof", json.dumps(cis_key("from-keyring")))
    resolved = resolve_cis_service_key(
        config_value=json.dumps(cis_key("from-config")), keyring_profile="prof", environ={ENV_PROFILE: "prof"}
    )
    assert resolved.key.uaa.clientid == "from-config"
    assert resolved.source == "Pulumi config btp-infra:cisServiceKey"


def test_keyring_profile_from_config_then_env(kr: PlaintextKeyring) -> None:
    store_in_keyring("from-config", json.dumps(cis_key("config-profile")))
    store_in_keyring("from-env", json.dumps(cis_key("env-profile")))
    by_config = resolve_cis_service_key(keyring_profile="from-config", environ={ENV_PROFILE: "from-env"})
    assert by_config.key.uaa.clientid == "config-profile"
    assert by_config.source == "keyring btp-infra/from-config (profile from btp-infra:keyringProfile)"
    by_env = resolve_cis_service_key(environ={ENV_PROFILE: "from-env"})
    assert by_env.key.uaa.clientid == "env-profile"
    assert by_env.source == "keyring btp-infra/from-env (profile from env BTP_INFRA_KEYRING_PROFILE)"


def test_nothing_configured_lists_the_four_ways(kr: PlaintextKeyring) -> None:
    with pytest.raises(NoCredentialsError) as info:
        resolve_cis_service_key(environ={})
    text = str(info.value)
    assert text.startswith("no cis service key configured.")
    for way in (
        "1. env BTP_CIS_SERVICE_KEY=",
        "2. env BTP_CIS_SERVICE_KEY_FILE=",
        "3. Pulumi config secret: pulumi config set --secret btp-infra:cisServiceKey < cis-key.json",
        "4. keyring: btp-infra login --profile PROFILE --service-key-file cis-key.json",
        "pulumi config set btp-infra:keyringProfile PROFILE (per stack) or env BTP_INFRA_KEYRING_PROFILE",
    ):
        assert way in text
    assert "btp_infra." not in text and "store_in_keyring" not in text  # commands, not Python functions


def test_encrypted_config_value_is_mentioned_when_nothing_else_is_set(
    kr: PlaintextKeyring, tmp_path: Path
) -> None:
    stack = tmp_path / "Pulumi.t.yaml"
    stack.write_text(
        "config:\n  btp-infra:namespace: incident\n"
        f"  btp-infra:subaccountId: {GUID}\n"
        "  btp-infra:kubeContext: kyma\n"
        "  btp-infra:cisServiceKey:\n    secure: v1:abc:def\n",
        encoding="utf-8",
    )
    with pytest.raises(
        NoCredentialsError, match=r"btp-infra:cisServiceKey \(.*Pulumi\.t\.yaml\) is set but encrypted"
    ):
        resolve_for_tenant(load_stack_file(stack), environ={})


def test_an_encrypted_stack_secret_hides_the_keyring_profile_as_in_a_stack_run(
    kr: PlaintextKeyring, tmp_path: Path
) -> None:
    """A stack run decrypts cisServiceKey and uses it before the keyring: offline, the keyring profile must
    not be reported as the source; the env sources still come first."""
    store_in_keyring("prof", json.dumps(cis_key("from-keyring")))
    stack = tmp_path / "Pulumi.t.yaml"
    stack.write_text(
        "config:\n  btp-infra:namespace: incident\n"
        f"  btp-infra:subaccountId: {GUID}\n"
        "  btp-infra:kubeContext: kyma\n"
        "  btp-infra:keyringProfile: prof\n"
        "  btp-infra:cisServiceKey:\n    secure: v1:abc:def\n",
        encoding="utf-8",
    )
    config = load_stack_file(stack)
    with pytest.raises(EncryptedConfigError, match="only decrypted when Pulumi runs the program"):
        resolve_for_tenant(config, environ={})
    by_env = resolve_for_tenant(config, environ={ENV_KEY: json.dumps(cis_key("from-env"))})
    assert by_env.key.uaa.clientid == "from-env"


def test_key_info_is_the_non_secret_metadata_of_the_key() -> None:
    document = cis_key("meta")
    document["sap.cloud.service"] = "com.sap.core.commercial.service.central"
    document["uaa"] |= {"identityzone": "my-ga", "tenantid": GUID, "identityzoneid": "other"}
    info = parse_cis_key(json.dumps(document), "test").info
    assert info is not None
    assert (info.plan, info.subdomain, info.global_account_guid) == ("central", "my-ga", GUID)
    assert info.token_url == "https://my-ga.authentication.eu10.hana.ondemand.com/oauth/token"
    assert "do-not-print" not in json.dumps(info.as_dict())
    odd = cis_key("odd")
    odd["sap.cloud.service"] = 7
    odd["uaa"] |= {"identityzone": "bad\nline", "identityzoneid": GUID}
    info = parse_cis_key(odd, "test").info
    assert info is not None
    assert (info.service, info.plan, info.subdomain, info.global_account_guid) == (None, None, None, GUID)


def test_from_keyring_reads_one_profile(kr: PlaintextKeyring) -> None:
    store_in_keyring("prof", json.dumps(cis_key("stored")))
    resolved = from_keyring("prof")
    assert resolved.key.uaa.clientid == "stored"
    assert resolved.source == "keyring btp-infra/prof (profile from --profile)"
    with pytest.raises(CredentialsError, match="not a keyring profile name"):
        from_keyring("no such")


def test_resolve_for_tenant_uses_the_config_secret_and_names_the_stack() -> None:
    config = parse_config(
        {"namespace": "incident", "subaccountId": GUID, "cisServiceKey": json.dumps(cis_key("tenant"))},
        source="stacks/Pulumi.incident.yaml",
    )
    resolved = resolve_for_tenant(config, environ={})
    assert resolved.key.uaa.clientid == "tenant"
    assert resolved.source == "Pulumi config btp-infra:cisServiceKey (stacks/Pulumi.incident.yaml)"


def test_bad_json_in_env_is_a_clear_error_without_the_value() -> None:
    raw = '{"uaa": {"clientsecret": "LEAKED-VALUE-123"'
    with pytest.raises(ServiceKeyError) as info:
        resolve_cis_service_key(environ={ENV_KEY: raw})
    text = str(info.value)
    assert "env BTP_CIS_SERVICE_KEY" in text and "not valid JSON" in text
    assert "LEAKED" not in text and "clientsecret" not in text


def test_invalid_key_in_a_file_names_the_file_and_path_not_the_value(tmp_path: Path) -> None:
    document = cis_key("x")
    del document["uaa"]["clientsecret"]
    document["uaa"]["url"] = "http://evil.example.com/LEAKED-URL"
    path = tmp_path / "k.json"
    path.write_text(json.dumps(document), encoding="utf-8")
    with pytest.raises(ServiceKeyError) as info:
        resolve_cis_service_key(environ={ENV_KEY_FILE: str(path)})
    text = str(info.value)
    assert f"env BTP_CIS_SERVICE_KEY_FILE={path}" in text
    assert "uaa.clientsecret" in text and "LEAKED" not in text


def test_missing_key_file_is_an_error_not_a_fall_through(kr: PlaintextKeyring, tmp_path: Path) -> None:
    missing = tmp_path / "nope.json"
    with pytest.raises(CredentialsError, match=f"env BTP_CIS_SERVICE_KEY_FILE={missing}: file not found"):
        resolve_cis_service_key(
            config_value=json.dumps(cis_key("config")), environ={ENV_KEY_FILE: str(missing)}
        )


def test_unreadable_key_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(CredentialsError, match="cannot read the file"):
        resolve_cis_service_key(environ={ENV_KEY_FILE: str(tmp_path)})  # a directory


def test_bad_config_secret_names_the_config_key_only() -> None:
    with pytest.raises(ServiceKeyError) as info:
        resolve_cis_service_key(config_value="not json LEAKED", environ={})
    assert "Pulumi config btp-infra:cisServiceKey" in str(info.value)
    assert "LEAKED" not in str(info.value)


def test_missing_keyring_entry_names_the_profile(kr: PlaintextKeyring) -> None:
    with pytest.raises(CredentialsError) as info:
        resolve_cis_service_key(keyring_profile="absent", environ={})
    text = str(info.value)
    assert "keyring btp-infra/absent (profile from btp-infra:keyringProfile): no entry" in text
    assert "PlaintextKeyring" in text
    assert "btp-infra login --profile absent" in text and "store_in_keyring" not in text
    assert not isinstance(info.value, NoCredentialsError)


def test_invalid_profile_name_is_rejected(kr: PlaintextKeyring) -> None:
    with pytest.raises(CredentialsError, match="not a keyring profile name"):
        resolve_cis_service_key(environ={ENV_PROFILE: "bad profile"})
    with pytest.raises(CredentialsError, match="not a keyring profile name"):
        store_in_keyring("", json.dumps(cis_key("x")))


def test_store_validates_before_storing_and_round_trips(kr: PlaintextKeyring) -> None:
    broken = cis_key("x")
    del broken["endpoints"]
    with pytest.raises(ServiceKeyError):
        store_in_keyring("prof", json.dumps(broken))
    assert keyring.get_password(KEYRING_SERVICE, "prof") is None

    pretty = json.dumps(cis_key("stored"), indent=2)
    parsed = store_in_keyring("prof", pretty)
    assert parsed.uaa.clientid == "stored"
    stored = keyring.get_password(KEYRING_SERVICE, "prof")
    assert stored is not None and "\n" not in stored and json.loads(stored) == cis_key("stored")
    assert Path(kr.file_path).is_file()  # really written by the file backend
    assert store_in_keyring("prof2", cis_key("mapping")).uaa.clientid == "mapping"
    assert store_in_keyring("prof3", json.dumps(cis_key("bytes")).encode()).uaa.clientid == "bytes"


def test_delete_from_keyring(kr: PlaintextKeyring) -> None:
    store_in_keyring("prof", json.dumps(cis_key("x")))
    assert delete_from_keyring("prof") is True
    assert keyring.get_password(KEYRING_SERVICE, "prof") is None
    assert delete_from_keyring("prof") is False


def test_keyring_backend_failures_are_credentials_errors(
    kr: PlaintextKeyring, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A locked or unavailable system keyring: the error names the backend and the failure, nothing else."""

    def locked(*args: object) -> None:
        raise keyring.errors.KeyringLocked("locked")

    def refuse(*args: object) -> None:
        raise keyring.errors.PasswordSetError("cannot store")

    monkeypatch.setattr(kr, "get_password", locked)
    monkeypatch.setattr(kr, "set_password", refuse)
    with pytest.raises(
        CredentialsError, match=r"keyring btp-infra/prof .*PlaintextKeyring failed \(KeyringLocked\)"
    ):
        resolve_cis_service_key(keyring_profile="prof", environ={})
    with pytest.raises(CredentialsError, match=r"failed \(PasswordSetError\)"):
        store_in_keyring("prof", json.dumps(cis_key("x")))
    with pytest.raises(CredentialsError, match=r"failed \(KeyringLocked\)"):
        delete_from_keyring("prof")


def test_resolved_key_never_shows_the_secret(kr: PlaintextKeyring) -> None:
    resolved = resolve_cis_service_key(environ={ENV_KEY: json.dumps(cis_key("shown"))})
    assert "do-not-print" not in repr(resolved) and "do-not-print" not in str(resolved)


@pytest.mark.parametrize(
    "backend",
    ["keyrings.alt.file.PlaintextKeyring", "keyring.backends.fail.Keyring", "keyring.backends.null.Keyring"],
)
def test_an_insecure_keyring_backend_is_never_used_implicitly(
    backend: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Headless Linux / containers: keyring falls back to a plain file (keyrings.alt) or to nothing. btp-infra
    refuses both in one line and points at the environment variable, unless the user chose the backend."""
    from keyring.core import load_keyring

    previous = keyring.get_keyring()
    chosen = load_keyring(backend)
    if hasattr(chosen, "file_path"):
        chosen.file_path = str(tmp_path / "plain.cfg")
    keyring.set_keyring(chosen)
    monkeypatch.delenv("PYTHON_KEYRING_BACKEND", raising=False)
    try:
        for call in (
            lambda: store_in_keyring("prof", cis_key("kept-out")),
            lambda: resolve_cis_service_key(keyring_profile="prof", environ={}),
        ):
            with pytest.raises(CredentialsError) as refused:
                call()
            message = str(refused.value)
            assert "no secure keyring backend" in message and "BTP_CIS_SERVICE_KEY" in message
            assert "\n" not in message
        assert not (tmp_path / "plain.cfg").exists(), "nothing was written to a plaintext file"
    finally:
        keyring.set_keyring(previous)
