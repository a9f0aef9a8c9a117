"""Run a tenant stack's BTP chain for real without the Pulumi CLI: a minimal engine for dynamic resources.

The program runs under Pulumi mocks (as in :mod:`btp_infra.rendering`), but every dynamic BTP resource is
executed through its provider exactly as the engine would: the provider is unpickled from ``__provider``,
configured with the stack config, then ``check`` → ``create``, or ``diff`` → ``update``/replace against the
previous state. Kubernetes resources are rendered only (there is no cluster here). State lives in memory and
is recorded after each step, like Pulumi's checkpoints, so a run that fails half-way can be re-run and
converges. Used by the tests, the fault/benchmark suites and ``btp-infra sandbox`` demos; it is not a
replacement for ``pulumi up``.
"""

from __future__ import annotations

import base64
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import dill
from pulumi.dynamic import ConfigureRequest, ResourceProvider
from pulumi.dynamic.config import Config
from pulumi.runtime import mocks as pulumi_mocks

from btp_infra import program
from btp_infra.rendering import PROJECT, GraphMocks, RenderResult, render, unwrap_secrets

DYNAMIC_PREFIX = "pulumi-python:dynamic/"
PROVIDER_KEY = "__provider"


@dataclass
class StateEntry:
    """One dynamic resource as recorded after its last successful step."""

    type: str
    name: str
    id: str
    inputs: dict[str, Any]
    outputs: dict[str, Any]
    provider: str
    order: int


@dataclass
class RunResult:
    """What one ``up`` did, by resource name, and the rendered graph (``render.error`` if it failed)."""

    render: RenderResult
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    replaced: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    same: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when the program and every step succeeded."""
        return self.render.error is None

    @property
    def changes(self) -> int:
        """How many resources were created, updated, replaced or deleted."""
        return len(self.created) + len(self.updated) + len(self.replaced) + len(self.deleted)


class LocalEngine:
    """Up, refresh and destroy one stack's dynamic resources; state is kept between calls."""

    def __init__(self, stack: str, config: Mapping[str, str]) -> None:
        self.stack = stack
        self.config = dict(config)
        self.state: dict[tuple[str, str], StateEntry] = {}
        self._lock = threading.Lock()
        self._providers: dict[str, ResourceProvider] = {}
        self._order = 0

    def provider(self, serialized: str) -> ResourceProvider:
        """The unpickled, configured provider for a ``__provider`` string (one per string, as the engine)."""
        with self._lock:
            found = self._providers.get(serialized)
            if found is None:
                found = dill.loads(base64.b64decode(serialized))  # noqa: S301 - our own state
                found.configure(ConfigureRequest(Config(dict(self.config), PROJECT)))
                self._providers[serialized] = found
            return found

    def _new_process(self) -> None:
        """Forget the unpickled providers: the engine starts a fresh provider process for every command, so
        nothing a provider cached (clients, tokens, SM admin credentials) outlives one up/refresh/destroy."""
        with self._lock:
            self._providers = {}

    def up(self) -> RunResult:
        """Run the program; create, update or replace what changed; delete what is no longer declared."""
        self._new_process()
        mocks = _ExecutingMocks(self)
        result = RunResult(render=render(self.stack, self.config, program.main, mocks=mocks))
        result.created, result.updated = mocks.created, mocks.updated
        result.replaced, result.same = mocks.replaced, mocks.same
        if result.ok:
            stale = [key for key in self.state if key not in mocks.seen]
            for key in sorted(stale, key=lambda k: -self.state[k].order):
                self._delete(self.state[key])
                result.deleted.append(key[1])
        return result

    def refresh(self) -> list[str]:
        """Read every resource; drop those gone out of band. Returns the names of dropped resources."""
        self._new_process()
        dropped: list[str] = []
        for key, entry in sorted(self.state.items(), key=lambda kv: kv[1].order):
            read = self.provider(entry.provider).read(entry.id, dict(entry.outputs))
            if not read.id:
                with self._lock:
                    del self.state[key]
                dropped.append(entry.name)
                continue
            entry.outputs = dict(read.outs or {})
        return dropped

    def destroy(self) -> list[str]:
        """Delete every resource in reverse creation order (dependents first). Returns the names deleted."""
        self._new_process()
        deleted: list[str] = []
        for entry in sorted(self.state.values(), key=lambda e: -e.order):
            self._delete(entry)
            deleted.append(entry.name)
        return deleted

    def outputs_of(self, type_name: str) -> list[dict[str, Any]]:
        """Outputs of the recorded resources whose type ends with ``type_name`` (e.g. ``ServiceBinding``)."""
        return [e.outputs for e in self.state.values() if e.type.endswith(f":{type_name}")]

    # ---- steps -------------------------------------------------------------------------------------

    def _delete(self, entry: StateEntry) -> None:
        self.provider(entry.provider).delete(entry.id, dict(entry.outputs))
        with self._lock:
            self.state.pop((entry.type, entry.name), None)

    def _record(
        self, type_: str, name: str, id_: str, inputs: dict[str, Any], outs: dict[str, Any], prov: str
    ) -> None:
        with self._lock:
            self._order += 1
            previous = self.state.get((type_, name))
            order = previous.order if previous else self._order
            self.state[(type_, name)] = StateEntry(type_, name, id_, inputs, dict(outs), prov, order)

    def step(self, type_: str, name: str, raw_inputs: Mapping[str, Any]) -> tuple[str, dict[str, Any], str]:
        """Bring one dynamic resource to its declared inputs; returns (id, outputs, what happened)."""
        serialized = str(unwrap_secrets(raw_inputs[PROVIDER_KEY]))
        news = {k: unwrap_secrets(v) for k, v in raw_inputs.items() if k != PROVIDER_KEY}
        provider = self.provider(serialized)
        previous = self.state.get((type_, name))
        checked = provider.check(previous.inputs if previous else {}, news)
        if checked.failures:
            reasons = "; ".join(f"{f.property}: {f.reason}" for f in checked.failures)
            raise ValueError(f"{type_} {name}: invalid inputs: {reasons}")
        inputs = dict(checked.inputs)
        if previous is None:
            created = provider.create(inputs)
            self._record(type_, name, str(created.id), inputs, dict(created.outs or {}), serialized)
            return str(created.id), self.state[(type_, name)].outputs, "created"
        diff = provider.diff(previous.id, dict(previous.outputs), inputs)
        if not diff.changes:
            return previous.id, previous.outputs, "same"
        if diff.replaces:
            if diff.delete_before_replace:
                self._delete(previous)
            created = provider.create(inputs)
            if not diff.delete_before_replace:
                provider.delete(previous.id, dict(previous.outputs))
            self._record(type_, name, str(created.id), inputs, dict(created.outs or {}), serialized)
            return str(created.id), self.state[(type_, name)].outputs, "replaced"
        updated = provider.update(previous.id, dict(previous.outputs), inputs)
        self._record(type_, name, previous.id, inputs, dict(updated.outs or {}), serialized)
        return previous.id, self.state[(type_, name)].outputs, "updated"


class _ExecutingMocks(pulumi_mocks.Mocks):
    """Mocks that execute dynamic resources through the engine and render everything else."""

    def __init__(self, engine: LocalEngine) -> None:
        self.engine = engine
        self.render_only = GraphMocks()
        self.seen: set[tuple[str, str]] = set()
        self.created: list[str] = []
        self.updated: list[str] = []
        self.replaced: list[str] = []
        self.same: list[str] = []
        self._lock = threading.Lock()

    def new_resource(self, args: pulumi_mocks.MockResourceArgs) -> tuple[str | None, dict[str, Any]]:
        if not args.typ.startswith(DYNAMIC_PREFIX):
            return self.render_only.new_resource(args)
        with self._lock:
            self.seen.add((args.typ, args.name))
        id_, outs, what = self.engine.step(args.typ, args.name, args.inputs)
        with self._lock:
            {"created": self.created, "updated": self.updated, "replaced": self.replaced, "same": self.same}[
                what
            ].append(args.name)
        return id_, outs

    def call(self, args: pulumi_mocks.MockCallArgs) -> tuple[dict[str, Any], list[tuple[str, str]] | None]:
        return {}, None
