"""The emulator's in-memory model: one lock, plain dataclasses, time-based state machines.

Nothing runs in the background: pending operations and entitlement assignments finish when the clock passes
their ``ready_at``; ``Store.settle()`` applies those transitions and every accessor calls it under the lock.
"""

from __future__ import annotations

import itertools
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
from btp_infra.sandbox.config import SandboxConfig

Scope = Literal["cis", "sm-admin", "sm-platform", "none"]
OperationType = Literal["create", "update", "delete"]
ResourceType = Literal["service_instances", "service_bindings"]


@dataclass
class Urls:
    """Where clients reach the emulator (known once the listeners are bound)."""

    origin: str = "http://127.0.0.1:0"
    tls_origin: str | None = None


@dataclass
class Subaccount:
    guid: str
    subdomain: str
    display_name: str
    region: str
    state: str
    state_message: str
    created: datetime


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
            now = self.clock.wall()
            self.subaccounts: dict[str, Subaccount] = {
                s.guid: Subaccount(
                    s.guid,
                    s.subdomain,
                    s.display_name or s.subdomain,
                    s.region,
                    s.state,
                    s.state_message or "",
                    now,
                )
                for s in self.config.subaccounts
            }
            self.clients: dict[str, OAuthClient] = {self.cis_client.client_id: self.cis_client}
            self.tokens: dict[str, Token] = {}
            self.assignments: dict[tuple[str, str, str], Assignment] = {}
            self.jobs: dict[str, Job] = {}
            self.admin_bindings: dict[str, AdminBinding] = {}
            self.instances: dict[str, Instance] = {}
            self.bindings: dict[str, Binding] = {}
            self.operations: dict[str, Operation] = {}
            self._pending: list[Operation] = []

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
        """The live token (not revoked, not expired) or None."""
        with self.lock:
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
