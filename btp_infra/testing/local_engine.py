"""Run a tenant stack's BTP chain for real without the Pulumi CLI: a minimal engine for dynamic resources.

Test machinery (see :mod:`btp_infra.testing`). The program runs under Pulumi mocks (as in
:mod:`btp_infra.offline.rendering`), but every dynamic BTP resource is executed through its provider exactly
as the engine would: the provider is unpickled from ``__provider``, configured with the stack config, then
``check`` → ``create``, or ``diff`` → ``update``/replace against the previous state. Kubernetes resources,
components and providers are recorded (there is no cluster here: the recorded Kubernetes objects stand for
it). State lives in memory and is recorded after each step, like Pulumi's checkpoints, so a run that fails
half-way can be re-run and converges. Used by the tests, the fault/benchmark suites and ``btp-infra
sandbox`` demos; it is not a replacement for ``pulumi up``.

Engine rules it models (read from ``pulumi/pulumi``):

- ``check`` gets the old *inputs*, ``diff``/``update``/``delete`` the old *outputs* (``pulumi/dynamic``).
- Aliases: a resource is matched to old state by its name, then its aliases, then the alias inherited from a
  parent that was matched through an alias — the parent's name prefix of the child's name replaced by the
  parent's old name (``pkg/resource/deploy/step_generator.go``: ``generateAliases``,
  ``inheritedChildAlias``).
- ``protect`` is checked when a delete step runs, not up front (``step.go``: ``DeleteStep.Apply``): a
  destroy deletes dependents first and stops at the first protected resource. ``destroy
  --exclude-protected`` keeps the protected resources and their transitive dependencies (parents,
  dependencies, providers) and deletes the rest (``pkg/cmd/pulumi/operations/destroy.go``:
  ``getProtectedExcludes``).
- Refresh and destroy run no program: providers are configured with the stack config of the last ``up``
  (:attr:`LocalEngine.provider_config`, the dynamic default provider's inputs in state), not the current one.
- Preview (:meth:`LocalEngine.preview`) changes nothing: ``check`` and ``diff`` run with unknowns as the
  dynamic server passes them (:class:`pulumi.output.Unknown`); the Python dynamic server advertises no preview
  support, so a Create step's outputs are its inputs with an unknown id, and an Update step's outputs are its
  new inputs with the old id (``sdk/go/common/resource/plugin/provider_plugin.go``: ``Create``, ``Update``;
  ``pkg/resource/deploy/step.go``: ``UpdateStep.Apply`` keeps the id even in previews). Every computed
  output of an updated resource is therefore unknown to its dependents in preview.
- Create-before-delete replacement (the default): the replacement is created in place of the old resource,
  which stays in state *pending deletion* (``pkg/resource/deploy/step.go``: ``CreateStep.Apply`` sets
  ``old.Delete = true`` for a replacing create; ``step_generator.go``: the replace branch of
  ``generateSteps`` returns ``CreateReplacementStep`` + ``ReplaceStep`` only — "the delete step is generated
  later on, after all creates/updates finish"). Dependents then diff against the new resource and update;
  the condemned resource is deleted with the other deletes after the program finished
  (``deployment_executor.go``: ``performPostSteps`` → ``GenerateDeletes``, which emits a
  ``DeleteReplacementStep`` for every state entry with ``Delete`` set), dependents first. A failed step
  stops the update before those deletes. What a crash leaves: the new resource and the old one pending
  deletion, both in the checkpoint; the next update does not match the pending one to any registration
  (``deployment.go``: ``buildResourceMaps`` skips ``Delete`` entries), so the program's resource diffs
  against the replacement, and the pending one is deleted in that update's ``GenerateDeletes`` — again after
  the registrations, so the dependents are updated first. A delete-before-replace replacement deletes the old
  resource first (``DeleteBeforeReplace``) and holds no pending entry. :attr:`LocalEngine.pending_deletes`
  holds them; ``destroy`` deletes them too, ``refresh`` reads them.
- Kubernetes objects: recorded, and — with ``cluster=`` (a :class:`~btp_infra.kube.KubeClient`, e.g. on the
  stand-in API of :mod:`btp_infra.testing.kube_api`) — applied through the official client with
  pulumi-kubernetes' create / update-in-place / replace / delete rules (:mod:`btp_infra.testing.kube_apply`;
  a Secret's data changes in place only with the provider's ``enableSecretMutable``).
- :attr:`LocalEngine.after_step`, when set, is called after each step is recorded (a checkpoint), with
  what happened and the resource's name — raising there is a crash at that point: what was recorded stays.
"""

from __future__ import annotations

import base64
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import dill
from pulumi.dynamic import ConfigureRequest, ResourceProvider
from pulumi.dynamic.config import Config
from pulumi.runtime import mocks as pulumi_mocks

from btp_infra import program
from btp_infra.btp.auth import clear_token_cache
from btp_infra.conventions import DYNAMIC_TYPE_PREFIX, PROJECT, PROVIDER_KEY, TYPE_KUBERNETES_PROVIDER
from btp_infra.kube import KubeClient
from btp_infra.offline.graph import RenderResult, unwrap_secrets
from btp_infra.offline.rendering import GraphMocks, RecordingMonitor, render
from btp_infra.testing.kube_apply import KubeApplier, kube_object

KUBERNETES_PREFIX = "kubernetes:"
"""Type tokens of pulumi-kubernetes resources (not its provider, ``pulumi:providers:kubernetes``)."""


class ProtectedResourceError(Exception):
    """A delete step reached a protected resource (the engine's ``deleteProtectedError``)."""


@dataclass
class StateEntry:
    """One resource as recorded after its last successful step."""

    type: str
    name: str
    id: str
    inputs: dict[str, Any]
    outputs: dict[str, Any]
    provider: str
    order: int
    protect: bool = False
    #: Names of what this resource depends on: parent, dependencies, property dependencies, provider.
    depends_on: list[str] = field(default_factory=list)
    #: Replaced create-before-delete and not yet deleted (the engine's ``Delete: true`` state).
    delete: bool = False

    @property
    def dynamic(self) -> bool:
        return self.type.startswith(DYNAMIC_TYPE_PREFIX)


@dataclass
class RunResult:
    """What one ``up`` did to the dynamic resources, by name, and the rendered graph (``render.error`` if
    it failed)."""

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


def _urn_name(urn: str) -> str:
    return urn.rsplit("::", 1)[-1]


class LocalEngine:
    """Up, refresh and destroy one stack; state is kept between calls."""

    def __init__(self, stack: str, config: Mapping[str, str], *, cluster: KubeClient | None = None) -> None:
        self.stack = stack
        self.config = dict(config)
        #: When set, the Kubernetes objects are applied to that API as pulumi-kubernetes would
        #: (:mod:`btp_infra.testing.kube_apply`), not only recorded.
        self.kube = KubeApplier(cluster) if cluster is not None else None
        #: The config of the dynamic default provider in state: the stack config of the last ``up``. Refresh
        #: and destroy run no program and configure providers with it, not with the current stack config
        #: (``pkg/resource/deploy/providers/registry.go``: ``Registry.Same`` → ``Configure`` with the provider
        #: resource's stored inputs; reached through ``Deployment.EnsureProvider`` from ``GenerateDeletes``
        #: and from ``deploymentExecutor.refresh``).
        self.provider_config: dict[str, str] | None = None
        self._configure_with: dict[str, str] = self.config
        self.resources: dict[tuple[str, str], StateEntry] = {}
        self._lock = threading.Lock()
        self._providers: dict[str, ResourceProvider] = {}
        self._order = 0
        #: New name → old name of the resources matched through an alias in the current ``up``.
        self._aliased: dict[str, str] = {}
        #: Old resources replaced create-before-delete, still to be deleted (oldest first).
        self.pending_deletes: list[StateEntry] = []
        #: Called with (``"created"``/``"updated"``/``"replaced"``/``"deleted"``, name) after each step is
        #: recorded; raising there is a crash at that point (see the module docstring).
        self.after_step: Callable[[str, str], None] | None = None

    def _stepped(self, what: str, name: str) -> None:
        if self.after_step is not None:
            self.after_step(what, name)

    @property
    def state(self) -> dict[tuple[str, str], StateEntry]:
        """The dynamic (BTP) resources in state."""
        return {k: v for k, v in self.resources.items() if v.dynamic}

    @property
    def cluster(self) -> dict[tuple[str, str], StateEntry]:
        """The Kubernetes objects in state (what the cluster would hold)."""
        return {k: v for k, v in self.resources.items() if v.type.startswith(KUBERNETES_PREFIX)}

    def provider(self, serialized: str) -> ResourceProvider:
        """The unpickled, configured provider for a ``__provider`` string (one per string, as the engine)."""
        with self._lock:
            found = self._providers.get(serialized)
            if found is None:
                found = dill.loads(base64.b64decode(serialized))  # noqa: S301 - our own state
                found.configure(ConfigureRequest(Config(dict(self._configure_with), PROJECT)))
                self._providers[serialized] = found
            return found

    def _new_process(self, *, from_state: bool = False) -> None:
        """Forget the unpickled providers: the engine starts a fresh provider process for every command, so
        nothing a provider cached (clients, tokens, SM admin credentials) outlives one up/refresh/destroy.
        ``from_state``: the providers are configured from state (refresh, destroy), else from the stack."""
        with self._lock:
            self._providers = {}
            stored = self.provider_config if from_state else None
            self._configure_with = dict(stored if stored is not None else self.config)
        clear_token_cache()  # the process-wide token cache goes with the process

    def up(self) -> RunResult:
        """Run the program; create, update or replace what changed; delete what is no longer declared."""
        return self._run(preview=False)

    def preview(self) -> RunResult:
        """What ``pulumi preview`` shows, changing nothing: the steps ``up`` would take (``deleted`` = what
        ``up`` would delete), with the engine's preview values (see the module docstring)."""
        return self._run(preview=True)

    def _run(self, *, preview: bool) -> RunResult:
        self._new_process()
        if not preview:  # the default provider is registered (and stored) with the current stack config
            self.provider_config = dict(self.config)
        self._aliased = {}
        mocks = _ExecutingMocks(self, preview=preview)
        monitor = _EngineMonitor(mocks)
        result = RunResult(
            render=render(self.stack, self.config, program.main, preview=preview, monitor=monitor)
        )
        result.created, result.updated = mocks.created, mocks.updated
        result.replaced, result.same = mocks.replaced, mocks.same
        if preview:
            if result.ok:
                moved = set(self._aliased.values())  # matched through an alias: not deleted
                stale = [
                    e for key, e in self.resources.items() if key not in mocks.seen and key[1] not in moved
                ]
                stale += self.pending_deletes
                result.deleted = [e.name for e in self._deletion_order(stale) if e.dynamic]
            return result
        if result.ok:
            # The condemned resources of create-before-delete replacements go with the other deletes, after
            # every registration (their dependents were updated against the replacements by now).
            stale = [e for key, e in self.resources.items() if key not in mocks.seen]
            stale += self.pending_deletes
            try:
                for entry in self._deletion_order(stale):
                    self._delete(entry)
                    if entry.dynamic:
                        result.deleted.append(entry.name)
            except Exception as err:  # the update fails as the engine's would; what was deleted stays so
                result.render.error = err
        return result

    def refresh(self) -> list[str]:
        """Read every dynamic resource; drop those gone out of band. Returns the names of dropped ones."""
        self._new_process(from_state=True)
        dropped: list[str] = []
        for pending in [e for e in self.pending_deletes if e.dynamic]:
            read = self.provider(pending.provider).read(pending.id, dict(pending.outputs))
            if not read.id:
                with self._lock:
                    self.pending_deletes.remove(pending)
                dropped.append(pending.name)
            else:
                pending.outputs = dict(read.outs or {})
        for key, entry in sorted(self.state.items(), key=lambda kv: kv[1].order):
            read = self.provider(entry.provider).read(entry.id, dict(entry.outputs))
            if not read.id:
                with self._lock:
                    del self.resources[key]
                dropped.append(entry.name)
                continue
            entry.outputs = dict(read.outs or {})
            if read.inputs is not None:
                entry.inputs = dict(read.inputs)
        return dropped

    def destroy(self, *, exclude_protected: bool = False) -> list[str]:
        """Delete every resource, dependents first, as ``pulumi destroy --yes --skip-preview`` does: a
        protected resource stops the destroy when its turn comes (:class:`ProtectedResourceError`), after
        what depends on it is gone. ``exclude_protected`` keeps protected resources and their transitive
        dependencies. Returns the names deleted, in order."""
        self._new_process(from_state=True)
        keep = self._protected_closure() if exclude_protected else set()
        deleted: list[str] = []
        doomed = [e for e in self.resources.values() if (e.type, e.name) not in keep]
        doomed += [e for e in self.pending_deletes if (e.type, e.name) not in keep]
        for entry in self._deletion_order(doomed):
            self._delete(entry)
            deleted.append(entry.name)
        return deleted

    def outputs_of(self, type_name: str) -> list[dict[str, Any]]:
        """Outputs of the recorded resources whose type ends with ``type_name`` (e.g. ``ServiceBinding``)."""
        return [e.outputs for e in self.resources.values() if e.type.endswith(f":{type_name}")]

    # ---- steps -------------------------------------------------------------------------------------

    def _deletion_order(self, entries: Iterable[StateEntry]) -> list[StateEntry]:
        """``entries`` dependents first (reverse topological order of ``depends_on``; the engine's delete
        order), later-registered first among equals."""
        remaining = sorted(entries, key=lambda e: -e.order)
        ordered: list[StateEntry] = []
        while remaining:
            needed = {name for e in remaining for name in e.depends_on}
            ready = next((e for e in remaining if e.name not in needed), remaining[0])  # a cycle: break it
            ordered.append(ready)
            remaining.remove(ready)
        return ordered

    def _protected_closure(self) -> set[tuple[str, str]]:
        by_name: dict[str, list[StateEntry]] = {}
        for entry in self.resources.values():
            by_name.setdefault(entry.name, []).append(entry)
        keep: set[tuple[str, str]] = set()
        todo = [e for e in self.resources.values() if e.protect]
        while todo:
            entry = todo.pop()
            if (entry.type, entry.name) in keep:
                continue
            keep.add((entry.type, entry.name))
            for name in entry.depends_on:
                todo.extend(by_name.get(name, []))
        return keep

    def _delete(self, entry: StateEntry) -> None:
        if entry.protect:
            raise ProtectedResourceError(
                f"resource {entry.name} ({entry.type}) cannot be deleted because it is protected"
            )
        if entry.dynamic:
            self.provider(entry.provider).delete(entry.id, dict(entry.outputs))
        elif self.kube is not None and entry.type.startswith(KUBERNETES_PREFIX):
            self.kube.delete(kube_object(entry.type, entry.inputs))
        with self._lock:
            if entry.delete:
                self.pending_deletes = [e for e in self.pending_deletes if e is not entry]
            elif self.resources.get((entry.type, entry.name)) is entry:
                del self.resources[(entry.type, entry.name)]
        self._stepped("deleted", entry.name)

    def kubernetes_step(self, previous: StateEntry | None, entry: StateEntry) -> str | None:
        """Apply one Kubernetes registration (when :attr:`kube` is set) and say what it was: ``created``,
        ``updated`` (in place), ``replaced`` or None (unchanged), by pulumi-kubernetes' rules
        (:mod:`btp_infra.testing.kube_apply`). A replacement that keeps the name deletes first; one that
        moves leaves the old object pending deletion, like any create-before-delete replacement."""
        new = kube_object(entry.type, entry.inputs)
        if previous is None:
            if self.kube is not None:
                self.kube.create(new)
            return "created"
        old = kube_object(previous.type, previous.inputs)
        step = KubeApplier.plan(old, new, enable_secret_mutable=self._secret_mutable())
        if step == "same":
            return None
        if step == "update":
            if self.kube is not None:
                self.kube.update(old, new)
            return "updated"
        if KubeApplier.delete_before_replace(old, new):  # two steps, two checkpoints: delete, then create
            if self.kube is not None:
                self.kube.delete(old)
            with self._lock:
                self.resources.pop((previous.type, previous.name), None)
            self._stepped("deleted", previous.name)
            if self.kube is not None:
                self.kube.create(new)
        else:
            if self.kube is not None:
                self.kube.create(new)
            condemned = StateEntry(**{**previous.__dict__, "delete": True})
            with self._lock:
                self.pending_deletes.append(condemned)
        return "replaced"

    def _secret_mutable(self) -> bool:
        """The recorded Kubernetes provider's ``enableSecretMutable`` (pulumi-kubernetes' default: false)."""
        providers = [e for e in self.resources.values() if e.type == TYPE_KUBERNETES_PROVIDER]
        return any(unwrap_secrets(e.inputs.get("enableSecretMutable")) in (True, "true") for e in providers)

    def _record(self, entry: StateEntry) -> None:
        with self._lock:
            self._order += 1
            previous = self.resources.get((entry.type, entry.name))
            entry.order = previous.order if previous else self._order
            self.resources[(entry.type, entry.name)] = entry

    def match(
        self, type_: str, name: str, aliases: Iterable[str], parent: str | None, *, move: bool = True
    ) -> StateEntry | None:
        """The old state of a registration: by name, then by alias, then by the alias inherited from a parent
        matched through an alias; an entry found through an alias is moved to the new name (unless ``move``
        is false: preview)."""
        own = list(aliases)
        candidates = [name, *own]
        old_parent = self._aliased.get(parent) if parent else None
        if parent and old_parent:
            candidates += [old_parent + n[len(parent) :] for n in (name, *own) if n.startswith(parent)]
        for candidate in candidates:
            with self._lock:
                found = self.resources.get((type_, candidate))
                if found is None:
                    continue
                if candidate != name:
                    self._aliased[name] = candidate
                    if not move:
                        return found
                    del self.resources[(type_, candidate)]
                    found.name = name
                    self.resources[(type_, name)] = found
                return found
        return None

    def step(
        self,
        type_: str,
        name: str,
        raw_inputs: Mapping[str, Any],
        previous: StateEntry | None,
        *,
        preview: bool = False,
    ) -> tuple[str | None, dict[str, Any], str]:
        """Bring one dynamic resource to its declared inputs; returns (id, outputs, what happened). In
        ``preview`` nothing is called but check and diff, and nothing is recorded: the id is ``None``
        (unknown) for a create or replace, and the outputs are the checked inputs for a create, replace or
        update (the engine's preview of a provider without preview support)."""
        serialized = str(unwrap_secrets(raw_inputs[PROVIDER_KEY]))
        news = {k: unwrap_secrets(v) for k, v in raw_inputs.items() if k != PROVIDER_KEY}
        provider = self.provider(serialized)
        checked = provider.check(previous.inputs if previous else {}, news)
        if checked.failures:
            reasons = "; ".join(f"{f.property}: {f.reason}" for f in checked.failures)
            raise ValueError(f"{type_} {name}: invalid inputs: {reasons}")
        inputs = dict(checked.inputs)

        def save(id_: str, outs: Mapping[str, Any] | None, what: str) -> tuple[str, dict[str, Any], str]:
            self._record(StateEntry(type_, name, id_, inputs, dict(outs or {}), serialized, 0))
            self._stepped(what, name)
            return id_, self.resources[(type_, name)].outputs, what

        if previous is None:
            if preview:
                return None, inputs, "created"
            created = provider.create(inputs)
            return save(str(created.id), created.outs, "created")
        diff = provider.diff(previous.id, dict(previous.outputs), inputs)
        if not diff.changes:
            return previous.id, previous.outputs, "same"
        if preview:
            return (None, inputs, "replaced") if diff.replaces else (previous.id, inputs, "updated")
        if diff.replaces:
            if diff.delete_before_replace:  # two steps, two checkpoints: the delete, then the create
                provider.delete(previous.id, dict(previous.outputs))
                with self._lock:
                    self.resources.pop((type_, name), None)
                self._stepped("deleted", name)
                created = provider.create(inputs)
                return save(str(created.id), created.outs, "replaced")
            created = provider.create(inputs)
            # The old resource stays in state pending deletion until the update's deletes (module docstring);
            # its dependencies are kept for the delete order.
            condemned = StateEntry(
                previous.type,
                previous.name,
                previous.id,
                dict(previous.inputs),
                dict(previous.outputs),
                previous.provider,
                previous.order,
                previous.protect,
                list(previous.depends_on),
                delete=True,
            )
            with self._lock:
                self.pending_deletes.append(condemned)
            return save(str(created.id), created.outs, "replaced")
        updated = provider.update(previous.id, dict(previous.outputs), inputs)
        return save(previous.id, updated.outs, "updated")


class _EngineMonitor(RecordingMonitor):
    """The recording mock monitor that hands each registration's request (aliases, parent, protect,
    dependencies) to the executing mocks, which the SDK's ``MockResourceArgs`` do not carry."""

    def __init__(self, mocks: _ExecutingMocks) -> None:
        super().__init__(mocks)
        self.current = threading.local()
        mocks.monitor = self

    def RegisterResource(self, request: Any) -> Any:
        self.current.request = request
        try:
            return super().RegisterResource(request)
        finally:
            self.current.request = None


class _ExecutingMocks(pulumi_mocks.Mocks):
    """Mocks that execute dynamic resources through the engine and record everything else."""

    def __init__(self, engine: LocalEngine, *, preview: bool = False) -> None:
        self.engine = engine
        self.preview = preview
        self.monitor: _EngineMonitor | None = None
        self.render_only = GraphMocks()
        self.seen: set[tuple[str, str]] = set()
        self.created: list[str] = []
        self.updated: list[str] = []
        self.replaced: list[str] = []
        self.same: list[str] = []
        self._lock = threading.Lock()

    def new_resource(self, args: pulumi_mocks.MockResourceArgs) -> tuple[str | None, dict[str, Any]]:
        request = getattr(self.monitor.current, "request", None) if self.monitor else None
        aliases, parent, protect, depends_on = _registration(request, args)
        previous = self.engine.match(args.typ, args.name, aliases, parent, move=not self.preview)
        with self._lock:
            self.seen.add((args.typ, args.name))
        if not args.typ.startswith(DYNAMIC_TYPE_PREFIX):
            id_, outs = self.render_only.new_resource(args)
            if previous is not None and previous.id:
                id_ = previous.id
            entry = StateEntry(args.typ, args.name, str(id_ or ""), dict(args.inputs), dict(outs), "", 0)
        else:
            id_, outs, what = self.engine.step(
                args.typ, args.name, args.inputs, previous, preview=self.preview
            )
            with self._lock:
                {
                    "created": self.created,
                    "updated": self.updated,
                    "replaced": self.replaced,
                    "same": self.same,
                }[what].append(args.name)
            if self.preview:
                return id_, outs
            entry = self.engine.resources[(args.typ, args.name)]
        if self.preview:
            return id_, outs
        entry.protect, entry.depends_on = protect, depends_on
        if not args.typ.startswith(DYNAMIC_TYPE_PREFIX):
            step: str | None = None
            if args.typ.startswith(KUBERNETES_PREFIX):
                step = self.engine.kubernetes_step(previous, entry)
            self.engine._record(entry)
            if step is not None:
                self.engine._stepped(step, args.name)
        return id_, outs

    def call(self, args: pulumi_mocks.MockCallArgs) -> tuple[dict[str, Any], list[tuple[str, str]] | None]:
        return {}, None


def _registration(
    request: Any, args: pulumi_mocks.MockResourceArgs
) -> tuple[list[str], str | None, bool, list[str]]:
    """(alias names, parent name, protect, names depended on) of a RegisterResource request."""
    if request is None:
        return [], None, False, []
    aliases = []
    for alias in request.aliases:
        if alias.HasField("spec") and (alias.spec.type or args.typ) == args.typ:
            aliases.append(alias.spec.name or args.name)
        elif alias.urn:
            aliases.append(_urn_name(alias.urn))
    parent = _urn_name(request.parent) if request.parent else None
    urns = [*request.dependencies]
    for deps in request.propertyDependencies.values():
        urns.extend(deps.urns)
    depends = {_urn_name(u) for u in urns}
    if parent:
        depends.add(parent)
    if request.provider:  # a provider reference is "<urn>::<id>"
        depends.add(_urn_name(request.provider.rsplit("::", 1)[0]))
    return aliases, parent, bool(request.protect), sorted(depends)
