"""The command-line spellings of ``tenant add``'s structured options, and that what they produce is what
``add_tenant`` takes."""

from __future__ import annotations

from pathlib import Path

import pytest

from btp_infra.config import load_stack_file
from btp_infra.tenants import add_tenant, parse_entitlement, parse_limit_range, parse_pairs, parse_x509


def test_pairs() -> None:
    assert parse_pairs(["cost-center=4711", "empty=", "a=b=c"], option="--label") == {
        "cost-center": "4711",
        "empty": "",
        "a": "b=c",
    }
    with pytest.raises(ValueError, match="--label: 'nokey' is not KEY=VALUE"):
        parse_pairs(["nokey"], option="--label")
    with pytest.raises(ValueError, match="--label: '=x' is not KEY=VALUE"):
        parse_pairs(["=x"], option="--label")
    with pytest.raises(ValueError, match="'a' is given twice"):
        parse_pairs(["a=1", "a=2"], option="--label")


def test_entitlements() -> None:
    assert parse_entitlement("destination/lite") == {"service": "destination", "plan": "lite"}
    assert parse_entitlement("hana-cloud/hana=2") == {"service": "hana-cloud", "plan": "hana", "amount": 2}
    for bad in ("destination", "a/b/c", "a/b=x", "a/b=-1", ""):
        with pytest.raises(ValueError, match="is not SERVICE/PLAN"):
            parse_entitlement(bad)


def test_limit_range() -> None:
    assert parse_limit_range(["default.cpu=500m", "default.memory=1Gi", "max.cpu=2"]) == {
        "default": {"cpu": "500m", "memory": "1Gi"},
        "max": {"cpu": "2"},
    }
    with pytest.raises(ValueError, match=r"--limit: 'cpu' is not SECTION\.RESOURCE=QUANTITY"):
        parse_limit_range(["cpu=1"])


def test_x509() -> None:
    assert parse_x509(["validity=30d", "keyLength=4096"]) == {"validity": "30d", "keyLength": 4096}
    with pytest.raises(ValueError, match="keyLength='big' is not a number of bits"):
        parse_x509(["keyLength=big"])


def test_parsed_options_are_what_add_tenant_takes(stacks: Path) -> None:
    path = add_tenant(
        "orders",
        namespace="orders",
        subaccount_id="553bcbbb-e809-450f-82db-60de3ef76b1f",
        kube_context="kyma",
        stacks_dir=stacks,
        credential_type="x509",
        x509=parse_x509(["validity=30", "keyLength=3072"]),
        labels=parse_pairs(["cost-center=4711"], option="--label"),
        quota=parse_pairs(["pods=20", "requests.cpu=2"], option="--quota"),
        limit_range=parse_limit_range(["default.cpu=500m", "defaultRequest.cpu=100m"]),
        entitlements=[parse_entitlement("destination/lite"), parse_entitlement("hana-cloud/hana=1")],
        timeouts=parse_pairs(["entitlement=30m", "binding=600"], option="--timeout"),
    )
    config = load_stack_file(path)
    assert config.x509 is not None and (config.x509.validity, config.x509.key_length) == (30, 3072)
    assert config.labels == {"cost-center": "4711"}
    assert config.quota is not None and config.quota.hard() == {"pods": "20", "requests.cpu": "2"}
    assert [str(e) for e in config.entitlements] == ["destination/lite", "hana-cloud/hana (amount 1)"]
    assert (config.timeouts.entitlement, config.timeouts.binding) == (1800, 600)
