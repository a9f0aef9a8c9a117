"""``confirm_token``: new binding credentials obtain a token — at once, after refusals (retried), or never
(a clear error at the deadline, no secret in it); malformed credentials and an untrusted token endpoint fail
at once. Against the emulator's UAA (client secret) and its mTLS listener (x509)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from emulator_fixtures import SUBACCOUNT_1
from providers.support import Operator

from btp_infra.btp.credential_check import confirm_token, untrusted_endpoint
from btp_infra.btp.errors import BtpError, DeadlineExceededError, ServiceKeyError, TransportError
from btp_infra.btp.http import PollPolicy
from btp_infra.conventions import OPERATOR_OFFERING, OPERATOR_PLAN
from btp_infra.sandbox import SandboxServer

FAST = PollPolicy(initial=0.02, ratio=0.1, cap=0.05)
TOKEN_ROUTE = "/uaa/{subdomain}/oauth/token"


@pytest.fixture
def binding(sb: SandboxServer) -> Iterator[tuple[SandboxServer, Operator, str]]:
    operator = Operator(sb)
    try:
        sm = operator.operator_ready(SUBACCOUNT_1)
        instance = sm.create_instance("check", offering=OPERATOR_OFFERING, plan=OPERATOR_PLAN)
        yield sb, operator, instance.id
    finally:
        operator.close()


def new_credentials(operator: Operator, instance_id: str, x509: bool = False) -> dict[str, Any]:
    params = {"credential-type": "x509"} if x509 else None
    created = operator.sm(SUBACCOUNT_1).create_binding("b", instance_id, parameters=params)
    return dict(created.credentials.get_secret_value())


def token_calls(sb: SandboxServer) -> list[int | None]:
    return [c["status"] for c in sb.calls() if c["method"] == "POST" and c["route"] == TOKEN_ROUTE]


def test_working_credentials_obtain_a_token_at_once(binding: tuple[SandboxServer, Operator, str]) -> None:
    sb, operator, instance_id = binding
    creds = new_credentials(operator, instance_id)
    before = len(token_calls(sb))
    grant = confirm_token(creds, what="binding b", policy=FAST)
    assert grant.access_token.get_secret_value()
    assert token_calls(sb)[before:] == [200]


def test_refused_at_first_then_accepted(binding: tuple[SandboxServer, Operator, str]) -> None:
    sb, operator, instance_id = binding
    creds = new_credentials(operator, instance_id)
    before = len(token_calls(sb))
    sb.inject_fault("POST", TOKEN_ROUTE, status=401, count=2)  # the new client is not known yet
    confirm_token(creds, what="binding b", policy=FAST, timeout=10)
    assert token_calls(sb)[before:] == [401, 401, 200]


def test_never_accepted_fails_clearly_at_the_deadline(binding: tuple[SandboxServer, Operator, str]) -> None:
    sb, operator, instance_id = binding
    creds = new_credentials(operator, instance_id)
    sb.inject_fault("POST", TOKEN_ROUTE, status=401, count=10_000)
    with pytest.raises(DeadlineExceededError) as info:
        confirm_token(creds, what="binding btp-infra-orders-r1", policy=FAST, timeout=0.5)
    text = str(info.value)
    assert text.startswith(
        "binding btp-infra-orders-r1: the new credentials obtained no token within 0.5 s ("
    )
    assert "HTTP 401" in text and info.value.status == 401
    assert creds["clientsecret"] not in text


def test_an_unreachable_token_endpoint_is_retried_until_the_deadline() -> None:
    creds = {
        "clientid": "c",
        "clientsecret": "s3cr3t-value",
        "url": "http://127.0.0.1:9",
        "sm_url": "http://127.0.0.1:9",
    }
    with pytest.raises(DeadlineExceededError) as info:
        confirm_token(creds, what="binding b", policy=FAST, timeout=0.3)
    assert "attempt(s)" in str(info.value) and "s3cr3t-value" not in str(info.value)


def test_malformed_credentials_fail_at_once_without_a_request(sb: SandboxServer) -> None:
    with pytest.raises(ServiceKeyError):
        confirm_token({"clientid": "c"}, what="binding b", policy=FAST)
    assert token_calls(sb) == []


def test_x509_credentials_obtain_a_token_over_mtls(
    binding: tuple[SandboxServer, Operator, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    sb, operator, instance_id = binding
    creds = new_credentials(operator, instance_id, x509=True)
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", sb.ca_path)  # this machine trusts the emulator's CA
    assert confirm_token(creds, what="binding b", policy=FAST).access_token.get_secret_value()


def test_an_untrusted_token_endpoint_fails_at_once_as_inconclusive(
    binding: tuple[SandboxServer, Operator, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    sb, operator, instance_id = binding
    creds = new_credentials(operator, instance_id, x509=True)
    monkeypatch.delenv("REQUESTS_CA_BUNDLE", raising=False)
    monkeypatch.delenv("CURL_CA_BUNDLE", raising=False)
    before = len(token_calls(sb))
    with pytest.raises(TransportError) as info:
        confirm_token(creds, what="binding b", policy=FAST, timeout=30)
    assert untrusted_endpoint(info.value)
    assert not untrusted_endpoint(BtpError("other"))
    assert len(token_calls(sb)) - before <= 1  # not retried
