"""The emulator's in-memory model: one lock, plain dataclasses, time-based state machines.

Nothing runs in the background: pending operations, entitlement assignments and subaccount jobs (create,
update, delete) finish when the clock passes their ``ready_at``; ``Store.settle()`` applies those transitions
and every accessor calls it under the lock.
"""

from __future__ import annotations

import itertools
import math
import secrets
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from btp_infra.sandbox.catalog import PlanSpec
from btp_infra.sandbox.clock import Clock, iso
from btp_infra.sandbox.config import SandboxConfig, SubaccountSeed

Scope = Literal["cis", "sm-admin", "sm-platform", "none"]
OperationType = Literal["create", "update", "delete"]
SubaccountJobKind = Literal["create", "update", "delete"]
ResourceType = Literal["service_instances", "service_bindings"]


@dataclass
class Urls:
    """Where clients reach the emulator (known once the listeners are bound)."""

    origin: str = "http://127.0.0.1:0"
    tls_origin: str | None = None


@dataclass
class SubaccountJob:
    """A running subaccount lifecycle step (btp-api.md §C.3a); ``ready_at`` is ``math.inf`` when stuck."""

    kind: SubaccountJobKind
    started_at: float
    ready_at: float
    failure: str | None
    changes: dict[str, Any] = field(default_factory=dict)
    force: bool = False
    creating_at: float = 0.0
    """Create jobs: when ``STARTED`` turns ``CREATING`` (a third of the way, as entitlements do)."""
    prior: str = ""
    """Update jobs: the state message before, kept by a successful update (the fixture's update keeps
    "Subaccount created.")."""

    @property
    def stuck(self) -> bool:
        return math.isinf(self.ready_at)


@dataclass
class Subaccount:
    guid: str
    subdomain: str
    display_name: str
    region: str
    state: str
    state_message: str
    created: datetime
    description: str = ""
    labels: dict[str, list[str]] = field(default_factory=dict)
    beta_enabled: bool = False
    used_for_production: str = "UNSET"
    parent_guid: str | None = None
    created_by: str = "sandbox"
    modified: datetime | None = None
    technical_name: str | None = None
    job: SubaccountJob | None = None
    contract_status: str = "ACTIVE"
    """``ACTIVE``, or ``PENDING_FORCED_DELETION`` once deleted where deletions are restorable for a while."""

    @property
    def busy(self) -> bool:
        """A lifecycle step is running: BTP refuses further mutations with a conflict (§C.3a)."""
        return self.job is not None

    @property
    def usable(self) -> bool:
        """In state OK and not pending deletion: entitlements and the SM admin binding may be changed."""
        return self.state == "OK" and self.contract_status == "ACTIVE"


@dataclass
class OAuthClient:
    client_id: str
    secret: str | None
    subdomain: str
    subaccount: str | None
    scope: Scope
    cert_serials: set[int] = field(default_factory=set)
    #: Emulator time (``Clock.now``) before which the client obtains no token (a binding's new credentials).
    not_before: float = 0.0


@dataclass
class Token:
    client_id: str
    scope: Scope
    subaccount: str | None
    expires_at: float
    revoked: bool = False


@dataclass
class Operation:
    id: str
    type: OperationType
    resource_type: ResourceType
    resource_id: str
    subaccount: str
    ready_at: float
    failure: str | None
    created_at: datetime
    changes: dict[str, Any] = field(default_factory=dict)
    updated_at: datetime | None = None
    applied: bool = False

    def state(self, now: float) -> str:
        if now < self.ready_at:
            return "in progress"
        return "failed" if self.failure else "succeeded"


@dataclass
class Instance:
    id: str
    seq: int
    name: str
    subaccount: str
    plan: PlanSpec
    parameters: dict[str, Any]
    labels: dict[str, list[str]]
    created_at: datetime
    updated_at: datetime
    last_op: Operation
    ready: bool = False
    usable: bool = False


@dataclass
class Binding:
    id: str
    seq: int
    name: str
    subaccount: str
    instance_id: str
    parameters: dict[str, Any]
    labels: dict[str, list[str]]
    credentials: dict[str, Any]
    credential_type: str
    client: OAuthClient
    created_at: datetime
    updated_at: datetime
    last_op: Operation
    ready: bool = False


@dataclass
class AdminBinding:
    subaccount: str
    instance_id: str
    binding_id: str


@dataclass
class Assignment:
    subaccount: str
    plan: PlanSpec
    amount: int
    requested: int
    started_at: float
    ready_at: float
    created: datetime
    modified: datetime
    failure: str | None = None
    pending: bool = True
    state: str = "STARTED"
    state_message: str = ""
    job_id: str | None = None

    def entity_state(self, now: float) -> str:
        if not self.pending:
            return self.state
        return "STARTED" if now < self.started_at + (self.ready_at - self.started_at) / 3 else "PROCESSING"


@dataclass
class Job:
    id: str
    ready_at: float
    failure: str | None
    description: str


PENDING_DELETION = "PENDING_FORCED_DELETION"
"""The ``contractStatus`` of a deleted, still restorable subaccount (terraform-provider-btp
``btp/provider/resource_subaccount.go`` Delete and ``action_restore_subaccount.go``)."""


def new_id() -> str:
    return str(uuid.uuid4())


class Store:
    """All mutable emulator state, guarded by one re-entrant lock."""

    def __init__(self, config: SandboxConfig, clock: Clock, urls: Urls) -> None:
        self.config = config
        self.clock = clock
        self.urls = urls
        self.lock = threading.RLock()
        self.cis_client = OAuthClient(
            client_id=config.cis_client_id or f"sb-ut-{new_id()}-clone!b1|cis-central!b14",
            secret=config.cis_client_secret or secrets.token_urlsafe(24),
            subdomain=config.global_account_subdomain,
            subaccount=None,
            scope="cis",
        )
        self.catalog = {(p.service, p.plan): p for p in config.catalog}
        self._seq = itertools.count(1)
        self.reset()

    def reset(self) -> None:
        with self.lock:
            self.subaccounts: dict[str, Subaccount] = {}
            for seed in self.config.subaccounts:
                self.add_seed(seed)
            self.clients: dict[str, OAuthClient] = {self.cis_client.client_id: self.cis_client}
            self.tokens: dict[str, Token] = {}
            self.assignments: dict[tuple[str, str, str], Assignment] = {}
            self.jobs: dict[str, Job] = {}
            self.admin_bindings: dict[str, AdminBinding] = {}
            self.instances: dict[str, Instance] = {}
            self.bindings: dict[str, Binding] = {}
            self.operations: dict[str, Operation] = {}
            self._pending: list[Operation] = []

    def add_seed(self, seed: SubaccountSeed) -> Subaccount:
        """A subaccount that exists right away, in the seed's state (no lifecycle job)."""
        with self.lock:
            now = self.clock.wall()
            sub = Subaccount(
                seed.guid,
                seed.subdomain,
                seed.display_name or seed.subdomain,
                seed.region,
                seed.state,
                seed.state_message or "",
                now,
                description=seed.description,
                labels={key: list(values) for key, values in seed.labels.items()},
                beta_enabled=seed.beta_enabled,
                used_for_production=seed.used_for_production,
                parent_guid=seed.parent_guid,
                modified=now,
            )
            self.subaccounts[sub.guid] = sub
            return sub

    def next_seq(self) -> int:
        return next(self._seq)

    @contextmanager
    def settled(self) -> Iterator[float]:
        """Hold the lock with all due transitions applied; yields ``now``."""
        with self.lock:
            now = self.clock.now()
            self._settle(now)
            yield now

    # -- tokens ---------------------------------------------------------------------------------------------

    def issue_token(self, client: OAuthClient) -> tuple[str, Token]:
        with self.lock:
            value = secrets.token_urlsafe(32)
            token = Token(
                client.client_id, client.scope, client.subaccount, self.clock.now() + self.config.token_ttl
            )
            self.tokens[value] = token
            return value, token

    def lookup_token(self, value: str) -> Token | None:
        """The live token (not revoked, not expired) or None. Due transitions are applied first: a subaccount
        whose delete has just ended takes its tokens with it before a request using one is admitted."""
        with self.settled():
            token = self.tokens.get(value)
            if token is None or token.revoked or token.expires_at <= self.clock.now():
                return None
            return token

    def token_client(self, value: str) -> str | None:
        """The client a token was issued to, live or not (for the call log)."""
        with self.lock:
            token = self.tokens.get(value)
            return token.client_id if token else None

    def revoke_tokens(self, client_id: str | None = None) -> int:
        with self.lock:
            count = 0
            for token in self.tokens.values():
                if not token.revoked and client_id in (None, token.client_id):
                    token.revoked = True
                    count += 1
            return count

    # -- operations -----------------------------------------------------------------------------------------

    def start_operation(
        self,
        op_type: OperationType,
        resource_type: ResourceType,
        resource_id: str,
        subaccount: str,
        latency: float,
        failure: str | None,
        changes: dict[str, Any] | None = None,
    ) -> Operation:
        """Register an operation that ends after ``latency``; the caller links it to its resource."""
        with self.lock:
            op = Operation(
                new_id(),
                op_type,
                resource_type,
                resource_id,
                subaccount,
                self.clock.now() + latency,
                failure,
                self.clock.wall(),
                changes or {},
            )
            self.operations[op.id] = op
            self._pending.append(op)
            return op

    def settle(self) -> None:
        """Apply every transition that is due now."""
        with self.lock:
            self._settle(self.clock.now())

    def _settle(self, now: float) -> None:
        for op in [op for op in self._pending if op.ready_at <= now]:
            self._pending.remove(op)
            op.applied = True
            op.updated_at = self.clock.wall()
            if op.resource_type == "service_instances":
                self._apply_instance_op(op)
            else:
                self._apply_binding_op(op)
        for key, assignment in list(self.assignments.items()):
            if assignment.pending and assignment.ready_at <= now:
                self._finish_assignment(key, assignment)
        for sub in list(self.subaccounts.values()):
            if sub.job is not None:
                self._advance_subaccount(sub, sub.job, now)

    # -- subaccount lifecycle (btp-api.md §C.3a) -------------------------------------------------------------

    def _advance_subaccount(self, sub: Subaccount, job: SubaccountJob, now: float) -> None:
        """Move a subaccount along its job: ``STARTED → CREATING → OK | CREATION_FAILED``, ``UPDATING → OK |
        UPDATE_FAILED``, ``DELETING → gone | DELETION_FAILED``. States and messages follow the
        terraform-provider-btp VCR fixture ``btp/provider/fixtures/resource_subaccount.yaml`` (its update
        answers OK at once, message unchanged; ``UPDATING`` "Updating subaccount." is the emulator's, shown
        only with a ``subaccount_update`` latency)."""
        if job.kind == "create" and sub.state == "STARTED" and now >= job.creating_at:
            sub.state, sub.state_message = "CREATING", "Creating subaccount tenant."
            sub.modified = self.clock.wall()
        if now < job.ready_at:
            return
        sub.job = None
        sub.modified = self.clock.wall()
        if job.kind == "create":
            if job.failure:
                sub.state, sub.state_message = "CREATION_FAILED", job.failure
            else:
                sub.state, sub.state_message = "OK", "Subaccount created."
                sub.technical_name = sub.guid
        elif job.kind == "update":
            if job.failure:
                sub.state, sub.state_message = "UPDATE_FAILED", job.failure
            else:
                for name, value in job.changes.items():
                    setattr(sub, name, value)
                sub.state, sub.state_message = "OK", job.prior
        elif job.failure:
            sub.state, sub.state_message = "DELETION_FAILED", job.failure
        elif self.config.pending_deletion:
            # UNCONFIRMED beyond terraform-provider-btp's resource_subaccount.go Delete, which treats a
            # contractStatus PENDING_FORCED_DELETION (restorable) as deleted whatever the state says.
            self.empty(sub.guid)
            sub.contract_status = PENDING_DELETION
            sub.state, sub.state_message = "OK", "Subaccount pending deletion."
        else:
            self.remove_subaccount(sub.guid)

    def contents(self, guid: str) -> tuple[list[Instance], list[Binding]]:
        """The Service Manager instances and bindings a subaccount still holds."""
        with self.lock:
            return (
                [i for i in self.instances.values() if i.subaccount == guid],
                [b for b in self.bindings.values() if b.subaccount == guid],
            )

    def remove_subaccount(self, guid: str) -> None:
        """The subaccount and everything in it (``empty``)."""
        with self.lock:
            self.empty(guid)
            self.subaccounts.pop(guid, None)

    def empty(self, guid: str) -> None:
        """Remove everything in a subaccount: SM instances, bindings (and their OAuth clients), the admin
        binding, entitlement assignments, operations. Tokens issued in its identity zone stop working (the
        zone is gone with its content)."""
        with self.lock:
            instances, bindings = self.contents(guid)
            for binding in bindings:
                self.remove_binding(binding)
            for instance in instances:
                del self.instances[instance.id]
            for key in [k for k in self.assignments if k[0] == guid]:
                del self.assignments[key]
            self._pending = [op for op in self._pending if op.subaccount != guid]
            for op_id in [o.id for o in self.operations.values() if o.subaccount == guid]:
                del self.operations[op_id]
            for token in self.tokens.values():
                if token.subaccount == guid:
                    token.revoked = True
            self.admin_bindings.pop(guid, None)

    def _apply_instance_op(self, op: Operation) -> None:
        instance = self.instances.get(op.resource_id)
        if instance is None:
            return
        instance.updated_at = self.clock.wall()
        if op.failure:
            if op.type == "create":
                instance.ready = instance.usable = False
            return
        if op.type == "create":
            instance.ready = instance.usable = True
        elif op.type == "update":
            instance.parameters.update(op.changes.get("parameters", {}))
            if "plan" in op.changes:
                instance.plan = op.changes["plan"]
        else:
            del self.instances[instance.id]

    def _apply_binding_op(self, op: Operation) -> None:
        binding = self.bindings.get(op.resource_id)
        if binding is None:
            return
        binding.updated_at = self.clock.wall()
        if op.failure:
            if op.type == "create":
                binding.ready = False
            return
        if op.type == "create":
            binding.ready = True
            self.clients[binding.client.client_id] = binding.client
        elif op.type == "delete":
            self.remove_binding(binding)

    def remove_binding(self, binding: Binding) -> None:
        with self.lock:
            self.bindings.pop(binding.id, None)
            self.clients.pop(binding.client.client_id, None)
            admin = self.admin_bindings.get(binding.subaccount)
            if admin is not None and admin.binding_id == binding.id:
                del self.admin_bindings[binding.subaccount]

    def _finish_assignment(self, key: tuple[str, str, str], assignment: Assignment) -> None:
        assignment.pending = False
        assignment.modified = self.clock.wall()
        if assignment.failure:
            assignment.state = "PROCESSING_FAILED"
            assignment.state_message = assignment.failure
        elif assignment.requested == 0:
            del self.assignments[key]
        else:
            assignment.amount = assignment.requested
            assignment.state = "OK"
            assignment.state_message = "Entitlement assigned successfully."

    # -- introspection --------------------------------------------------------------------------------------

    def snapshot(self) -> dict[str, Any]:
        """Everything but secrets: no client secrets, keys or tokens."""
        with self.settled() as now:
            return {
                "subaccounts": [
                    {
                        "guid": s.guid,
                        "subdomain": s.subdomain,
                        "state": s.state,
                        "stateMessage": s.state_message,
                        "region": s.region,
                        "displayName": s.display_name,
                        "labels": s.labels,
                        "usedForProduction": s.used_for_production,
                        "job": None
                        if s.job is None
                        else {"kind": s.job.kind, "stuck": s.job.stuck, "force": s.job.force},
                    }
                    for s in self.subaccounts.values()
                ],
                "assignments": [
                    {
                        "subaccount": a.subaccount,
                        "service": a.plan.service,
                        "plan": a.plan.plan,
                        "amount": a.amount,
                        "requestedAmount": a.requested,
                        "entityState": a.entity_state(now),
                        "stateMessage": a.state_message,
                    }
                    for a in self.assignments.values()
                ],
                "admin_bindings": [
                    {
                        "subaccount": a.subaccount,
                        "instance_id": a.instance_id,
                        "binding_id": a.binding_id,
                        "client_id": self.bindings[a.binding_id].client.client_id,
                    }
                    for a in self.admin_bindings.values()
                ],
                "instances": [
                    {
                        "id": i.id,
                        "name": i.name,
                        "subaccount": i.subaccount,
                        "service": i.plan.service,
                        "plan": i.plan.plan,
                        "labels": i.labels,
                        "ready": i.ready,
                        "last_operation": {"type": i.last_op.type, "state": i.last_op.state(now)},
                    }
                    for i in self.instances.values()
                ],
                "bindings": [
                    {
                        "id": b.id,
                        "name": b.name,
                        "subaccount": b.subaccount,
                        "service_instance_id": b.instance_id,
                        "credential_type": b.credential_type,
                        "client_id": b.client.client_id,
                        "labels": b.labels,
                        "ready": b.ready,
                        "last_operation": {"type": b.last_op.type, "state": b.last_op.state(now)},
                    }
                    for b in self.bindings.values()
                ],
                "operations": [
                    {
                        "id": o.id,
                        "type": o.type,
                        "resource_type": o.resource_type,
                        "resource_id": o.resource_id,
                        "subaccount": o.subaccount,
                        "state": o.state(now),
                        "created_at": iso(o.created_at),
                    }
                    for o in self.operations.values()
                ],
                "tokens": {
                    "issued": len(self.tokens),
                    "revoked": sum(t.revoked for t in self.tokens.values()),
                },
            }
