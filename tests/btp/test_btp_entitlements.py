"""EntitlementsClient against the emulator: amount vs enable, async 202 + job, lock, quota, failures."""

from __future__ import annotations

import threading

import pytest
from emulator_fixtures import FAST, SUBACCOUNT_1, sandbox_seeds

from btp_infra.btp.entitlements import EntitlementsClient, InvalidAmountError, PlanAssignment, _Settled
from btp_infra.btp.errors import ConflictError, NotFoundError, OperationFailedError
from btp_infra.btp.keys import CisServiceKey
from btp_infra.sandbox import SandboxConfig, SandboxServer

from .support import FAST_POLL, api_calls, fast_retry, wait_until

PUT_ROUTE = "/entitlements-service/entitlements/v1/subaccountServicePlans"
GET_ROUTE = "/entitlements-service/entitlements/v1/assignments"
JOB_ROUTE = "/entitlements-service/jobs-management/v1/jobs/{job_id}/status"
OPERATOR = ("service-manager", "service-operator-access")


def assignments(sandbox: SandboxServer) -> dict[tuple[str, str], int]:
    return {(a["service"], a["plan"]): a["amount"] for a in sandbox.state()["assignments"]}


def test_plan_info_reads_category_and_quota(entitlements: EntitlementsClient, subaccount: str) -> None:
    hana = entitlements.get_plan_info(subaccount, "hana-cloud", "hana")
    assert (hana.category, hana.amount, hana.remaining_amount) == ("SERVICE", 4.0, 4.0)
    assert hana.has_numeric_quota
    operator = entitlements.get_plan_info(subaccount, *OPERATOR)
    assert operator.category == "ELASTIC_SERVICE" and not operator.has_numeric_quota
    with pytest.raises(NotFoundError, match="not entitled"):
        entitlements.get_plan_info(subaccount, "hana-cloud", "no-such-plan")


def test_unknown_subaccount_is_not_found(entitlements: EntitlementsClient) -> None:
    with pytest.raises(NotFoundError) as info:
        entitlements.assign("00000000-0000-0000-0000-000000000000", *OPERATOR)
    assert info.value.status == 404 and info.value.code == "30404"


def test_enable_plan_is_assigned_via_job_and_reassign_is_a_noop(
    entitlements: EntitlementsClient, btp_sandbox: SandboxServer, subaccount: str
) -> None:
    assert entitlements.get_assignment(subaccount, *OPERATOR) is None
    result = entitlements.assign(subaccount, *OPERATOR)
    assert result.ready and result.entity_state == "OK"
    assert not result.has_numeric_quota and result.category == "ELASTIC_SERVICE"
    assert assignments(btp_sandbox) == {OPERATOR: 1}
    assert api_calls(btp_sandbox, "GET", JOB_ROUTE), "the 202 Location job was not polled"
    entitlements.reset_stats()
    again = entitlements.assign(subaccount, *OPERATOR)
    assert again.ready
    assert entitlements.stats.calls == {"GET": 1}
    assert len(api_calls(btp_sandbox, "PUT", PUT_ROUTE)) == 1


def test_amount_for_a_plan_without_quota_fails_before_any_write(
    entitlements: EntitlementsClient, btp_sandbox: SandboxServer, subaccount: str
) -> None:
    with pytest.raises(InvalidAmountError, match="no numeric quota"):
        entitlements.assign(subaccount, *OPERATOR, amount=2)
    assert api_calls(btp_sandbox, "PUT", PUT_ROUTE) == []
    with pytest.raises(InvalidAmountError, match="positive integer"):
        entitlements.assign(subaccount, "hana-cloud", "hana", amount=0)
    assert api_calls(btp_sandbox, "PUT", PUT_ROUTE) == []


def test_numeric_quota_assign_change_exceed_and_unassign(
    entitlements: EntitlementsClient, btp_sandbox: SandboxServer, subaccount: str
) -> None:
    assert entitlements.assign(subaccount, "hana-cloud", "hana", 2).amount == 2
    assert entitlements.assign(subaccount, "hana-cloud", "hana", 3).amount == 3
    assert entitlements.get_plan_info(subaccount, "hana-cloud", "hana").remaining_amount == 1
    with pytest.raises(ConflictError) as info:
        entitlements.assign(subaccount, "hana-cloud", "hana", 5)
    assert info.value.status == 409 and info.value.code == "30015"
    assert "Quota exceeded" in (info.value.description or "")
    assert assignments(btp_sandbox) == {("hana-cloud", "hana"): 3}
    entitlements.unassign(subaccount, "hana-cloud", "hana")
    assert entitlements.get_assignment(subaccount, "hana-cloud", "hana") is None
    assert btp_sandbox.state()["assignments"] == []
    entitlements.unassign(subaccount, "hana-cloud", "hana")  # nothing to do


def test_default_amount_is_one(entitlements: EntitlementsClient, subaccount: str) -> None:
    assert entitlements.assign(subaccount, "hana-cloud", "hana").amount == 1


def without_jobs() -> SandboxServer:
    return SandboxServer(SandboxConfig(subaccounts=sandbox_seeds(), latencies=FAST, entitlement_jobs=False))


def test_without_job_location_the_assignment_is_polled() -> None:
    with without_jobs() as sandbox:
        key = CisServiceKey.parse(sandbox.cis_service_key(), source="sandbox")
        sub = SUBACCOUNT_1
        sandbox.set_latencies(entitlement=0.3, entitlement_delete=0.3)
        with EntitlementsClient(key, retry_policy=fast_retry(), poll_policy=FAST_POLL) as client:
            assert client.assign(sub, *OPERATOR).ready
            client.unassign(sub, *OPERATOR)
        assert api_calls(sandbox, "GET", JOB_ROUTE) == []
        assert len(api_calls(sandbox, "GET", GET_ROUTE)) >= 4
        assert sandbox.state()["assignments"] == []


def test_processing_failed_raises_with_state_message(
    entitlements: EntitlementsClient, btp_sandbox: SandboxServer, subaccount: str
) -> None:
    btp_sandbox.inject_fault("PUT", PUT_ROUTE, kind="operation_failed", description="backend said no")
    with pytest.raises(OperationFailedError) as info:
        entitlements.assign(subaccount, *OPERATOR)
    assert "backend said no" in str(info.value)


def test_processing_failed_without_job_reads_entity_state() -> None:
    with without_jobs() as sandbox:
        key = CisServiceKey.parse(sandbox.cis_service_key(), source="sandbox")
        sandbox.inject_fault("PUT", PUT_ROUTE, kind="operation_failed", description="quota backend down")
        client = EntitlementsClient(key, retry_policy=fast_retry(), poll_policy=FAST_POLL)
        with client, pytest.raises(OperationFailedError, match="PROCESSING_FAILED") as info:
            client.assign(SUBACCOUNT_1, *OPERATOR)
        assert info.value.description == "quota backend down"


def test_lock_error_30004_is_retried(
    entitlements: EntitlementsClient, btp_sandbox: SandboxServer, subaccount: str
) -> None:
    btp_sandbox.inject_fault("PUT", PUT_ROUTE, status=400, count=2)
    assert entitlements.assign(subaccount, *OPERATOR).ready
    statuses = [c["status"] for c in api_calls(btp_sandbox, "PUT", PUT_ROUTE, at_least=3)]
    assert statuses == [400, 400, 202]


def test_real_lock_from_a_concurrent_change_is_retried(
    btp_sandbox: SandboxServer, cis_key: CisServiceKey, subaccount: str
) -> None:
    btp_sandbox.set_latencies(entitlement=0.5)
    first = EntitlementsClient(cis_key, retry_policy=fast_retry(), poll_policy=FAST_POLL)
    second = EntitlementsClient(cis_key, retry_policy=fast_retry(backoff_cap=0.2), poll_policy=FAST_POLL)
    outcome: list[object] = []

    def run_first() -> None:
        try:
            outcome.append(first.assign(subaccount, "hana-cloud", "hana", 1, timeout=10))
        except ConflictError as exc:  # it may also see the second change win
            outcome.append(exc)

    with first, second:
        worker = threading.Thread(target=run_first)
        worker.start()
        try:
            wait_until(lambda: btp_sandbox.state()["assignments"])
            assert second.assign(subaccount, "hana-cloud", "hana", 2, timeout=10).amount == 2
            assert second.stats.retries >= 1
        finally:
            worker.join(timeout=15)
    assert not worker.is_alive()
    assert len(outcome) == 1
    locked = [c for c in api_calls(btp_sandbox, "PUT", PUT_ROUTE) if c["status"] == 400]
    assert locked, "the second PUT never hit the lock"
    assert assignments(btp_sandbox) == {("hana-cloud", "hana"): 2}


def test_an_ok_assignment_with_another_amount_is_a_conflict_once_our_change_started() -> None:
    def seen(state: str, amount: float) -> PlanAssignment:
        return PlanAssignment(
            subaccount="s",
            service="hana-cloud",
            plan="hana",
            category="SERVICE",
            has_numeric_quota=True,
            amount=amount,
            entity_state=state,
            state_message=None,
            unique_identifier=None,
        )

    waiting = _Settled("assign", 3, started=False)
    assert not waiting(seen("OK", 1))  # not started yet: the old value
    assert not waiting(seen("PROCESSING", 1))
    assert waiting(seen("OK", 3))
    raced = _Settled("assign", 3, started=False)
    assert not raced(seen("STARTED", 1))
    with pytest.raises(ConflictError, match="changed concurrently to amount 2"):
        raced(seen("OK", 2))
    with pytest.raises(ConflictError):
        _Settled("assign", 3, started=True)(seen("OK", 1))  # the job completed, yet another amount
    with pytest.raises(OperationFailedError):
        _Settled("assign", 3, started=False)(seen("PROCESSING_FAILED", 1))
    assert _Settled("assign", None, started=True)(seen("OK", 1))


def test_429_on_reads_is_retried(
    entitlements: EntitlementsClient, btp_sandbox: SandboxServer, subaccount: str
) -> None:
    btp_sandbox.inject_fault("GET", GET_ROUTE, status=429, retry_after=0, count=2)
    assert entitlements.get_assignment(subaccount, *OPERATOR) is None
    assert [c["status"] for c in api_calls(btp_sandbox, "GET", GET_ROUTE, at_least=3)] == [429, 429, 200]


def test_auto_assigned_plan_is_reported(entitlements: EntitlementsClient, subaccount: str) -> None:
    admin = entitlements.get_assignment(subaccount, "service-manager", "subaccount-admin")
    assert admin is not None and admin.auto_assigned and admin.ready
    assert entitlements.assign(subaccount, "service-manager", "subaccount-admin").auto_assigned
