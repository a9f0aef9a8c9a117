"""The pack through the real analyzer server, the way the Pulumi CLI runs it.

``policies/`` is started as a subprocess (``PolicyPack(...)`` serves gRPC on 127.0.0.1 and prints its port);
the test speaks the ``pulumirpc.Analyzer`` protocol to it with the stubs in ``pulumi.runtime.proto``.
"""

from __future__ import annotations

import os
import select
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest
from google.protobuf import empty_pb2
from policy_helpers import (
    CLIENT_SECRET,
    T_NAMESPACE,
    T_SECRET,
    UNKNOWN,
    analyze_request,
    client_secret_data,
    namespace_props,
    secret_props,
)
from pulumi.runtime import proto
from pulumi.runtime.proto import analyzer_pb2_grpc

from btp_infra.config import engine_config
from btp_infra.offline.analyzer import analyze_request as rendered_request
from btp_infra.offline.analyzer import analyze_stack_request, configure_request, resolve_policy_config
from btp_infra.offline.rendering import render
from btp_infra.policy.policies import (
    ALL_POLICIES,
    PACK_NAME,
    POLICY_NAMESPACE_LABELS,
    POLICY_OPERATOR_SECRET,
    POLICY_OPERATOR_SECRET_PRESENT,
    POLICY_RESOURCE_QUOTA,
)
from btp_infra.program import main as program

ROOT = Path(__file__).resolve().parents[2]
STARTUP_SECONDS = 60


@pytest.fixture(scope="module")
def analyzer() -> Iterator[Any]:
    """An ``AnalyzerStub`` connected to ``python -u policies`` (the pack directory, as the CLI runs it)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PULUMI_")}
    proc = subprocess.Popen(
        [sys.executable, "-u", "policies"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    channel: grpc.Channel | None = None
    try:
        assert proc.stdout is not None
        ready, _, _ = select.select([proc.stdout], [], [], STARTUP_SECONDS)
        line = proc.stdout.readline().decode().strip() if ready else ""
        if not line.isdigit():
            proc.kill()
            _, err = proc.communicate(timeout=10)
            pytest.fail(f"the pack did not print its port: {line!r}\n{err.decode()[-2000:]}")
        channel = grpc.insecure_channel(f"127.0.0.1:{line}")
        grpc.channel_ready_future(channel).result(timeout=STARTUP_SECONDS)
        yield analyzer_pb2_grpc.AnalyzerStub(channel)
    finally:
        if channel is not None:
            channel.close()
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


def test_analyzer_info(analyzer: Any) -> None:
    info = analyzer.GetAnalyzerInfo(empty_pb2.Empty())
    assert info.name == PACK_NAME
    assert info.supportsConfig
    policies = {p.name: p for p in info.policies}
    assert list(policies) == [p.name for p in ALL_POLICIES]
    assert policies[POLICY_OPERATOR_SECRET].enforcementLevel == proto.MANDATORY
    assert policies[POLICY_OPERATOR_SECRET].severity == proto.POLICY_SEVERITY_CRITICAL
    assert policies[POLICY_RESOURCE_QUOTA].enforcementLevel == proto.ADVISORY
    assert policies[POLICY_RESOURCE_QUOTA].policy_type == proto.PolicyType.POLICY_TYPE_STACK
    assert "managementNamespaces" in policies[POLICY_OPERATOR_SECRET].configSchema.properties


def test_analyze_reports_violations_with_levels(analyzer: Any) -> None:
    analyzer.Configure(configure_request(resolve_policy_config(None)))
    bad = namespace_props()
    del bad["metadata"]["labels"]["istio-injection"]
    response = analyzer.Analyze(analyze_request(T_NAMESPACE, "ns", bad, protect=True))
    assert [(d.policyName, d.enforcementLevel) for d in response.diagnostics] == [
        (POLICY_NAMESPACE_LABELS, proto.MANDATORY)
    ]
    assert "istio-injection is missing" in response.diagnostics[0].message
    assert response.diagnostics[0].policyPackName == PACK_NAME
    good = analyzer.Analyze(analyze_request(T_NAMESPACE, "ns", namespace_props(), protect=True))
    assert list(good.diagnostics) == []


def test_analyze_secret_values_stay_out_of_diagnostics(analyzer: Any) -> None:
    analyzer.Configure(configure_request(resolve_policy_config(None)))
    data = {**client_secret_data(), "sm_url": "http://sm.example.com"}
    response = analyzer.Analyze(analyze_request(T_SECRET, "s", secret_props(data=data, wrap=True)))
    assert {d.policyName for d in response.diagnostics} == {POLICY_OPERATOR_SECRET}
    assert "sm_url is not an https URL" in response.diagnostics[0].message
    assert CLIENT_SECRET not in str(response)


def test_analyze_unknown_value_is_an_advisory(analyzer: Any) -> None:
    analyzer.Configure(configure_request(resolve_policy_config(None)))
    secret = secret_props()
    secret["stringData"] = UNKNOWN
    response = analyzer.Analyze(analyze_request(T_SECRET, "s", secret))
    assert [(d.policyName, d.enforcementLevel) for d in response.diagnostics] == [
        (POLICY_OPERATOR_SECRET, proto.ADVISORY)
    ]
    assert "during preview" in response.diagnostics[0].message


def test_configure_changes_levels_and_config(analyzer: Any) -> None:
    settings = resolve_policy_config(
        {POLICY_RESOURCE_QUOTA: "mandatory", POLICY_NAMESPACE_LABELS: {"requiredLabels": ["cost-center"]}}
    )
    analyzer.Configure(configure_request(settings))
    try:
        response = analyzer.Analyze(analyze_request(T_NAMESPACE, "ns", namespace_props(), protect=True))
        assert [d.policyName for d in response.diagnostics] == [POLICY_NAMESPACE_LABELS]
        assert "cost-center" in response.diagnostics[0].message
        stack = analyzer.AnalyzeStack(
            proto.AnalyzeStackRequest(resources=[_stack_resource(T_NAMESPACE, "ns", namespace_props())])
        )
        levels = {d.policyName: d.enforcementLevel for d in stack.diagnostics}
        assert levels[POLICY_RESOURCE_QUOTA] == proto.MANDATORY
    finally:
        analyzer.Configure(configure_request(resolve_policy_config(None)))


def _stack_resource(type_: str, name: str, props: dict[str, Any]) -> Any:
    request = analyze_request(type_, name, props)
    return proto.AnalyzerResource(type=type_, urn=request.urn, name=name, properties=request.properties)


def test_rendered_stacks_through_the_server(analyzer: Any) -> None:
    """The shipped x509 stack passes every policy; without its Secret the stack rule names the namespace."""
    analyzer.Configure(configure_request(resolve_policy_config(None)))
    path = ROOT / "examples" / "stacks" / "Pulumi.example-x509.yaml"
    result = render("example-x509", engine_config(path), program)
    assert result.error is None
    by_urn = {r.urn: r for r in result.resources}
    namespace_request = rendered_request(next(r for r in result.resources if r.type == T_NAMESPACE), by_urn)
    assert namespace_request.provider.type == "pulumi:providers:kubernetes"
    for resource in result.resources:
        response = analyzer.Analyze(rendered_request(resource, by_urn))
        assert list(response.diagnostics) == [], resource.urn
    assert list(analyzer.AnalyzeStack(analyze_stack_request(result.resources)).diagnostics) == []

    without_secret = [r for r in result.resources if r.type != T_SECRET]
    response = analyzer.AnalyzeStack(analyze_stack_request(without_secret))
    assert [d.policyName for d in response.diagnostics] == [POLICY_OPERATOR_SECRET_PRESENT]
    namespace = next(r for r in result.resources if r.type == T_NAMESPACE)
    assert response.diagnostics[0].urn == namespace.urn
    assert response.diagnostics[0].enforcementLevel == proto.MANDATORY
