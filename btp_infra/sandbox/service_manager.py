"""Service Manager behaviour (btp-api.md §B): plan visibility, instances, bindings, operations, labels.

Choices where the reference is open: names need not be unique (§B.9/§E.3, as in the open-source SM); an
unknown or not-entitled plan is 404 NotFound; deleting an instance that still has bindings is 409
ExistingReferenceEntity; label- or name-only PATCHes complete synchronously (200); a failed create leaves the
object with ``last_operation.state == "failed"`` and ``ready == false``; lists attach ``last_operation`` only
with ``attach_last_operations=true`` (single GETs always do); an operation of a deleted object is 404.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from btp_infra.sandbox.catalog import PlanSpec, stable_id
from btp_infra.sandbox.clock import iso
from btp_infra.sandbox.credentials import make_credentials, new_app_id
from btp_infra.sandbox.errors import sm_error
from btp_infra.sandbox.query import build_filter, paginate
from btp_infra.sandbox.runtime import Runtime
from btp_infra.sandbox.schemas import BindingCreate, BindingUpdate, InstanceCreate, InstanceUpdate, LabelOp
from btp_infra.sandbox.state import AdminBinding, Binding, Instance, Operation, Subaccount, new_id
from btp_infra.sandbox.tls import IssuedCertificate

FailureSource = Callable[[], str | None]
"""Called once an operation is about to start: an injected failure description, or None."""

_EPOCH = "2024-01-01T00:00:00.000Z"
_LABEL_KEY = re.compile(r"^[A-Za-z0-9._-]{1,100}$")

OFFERING_FIELDS = frozenset(
    {
        "id",
        "name",
        "catalog_id",
        "catalog_name",
        "broker_id",
        "bindable",
        "ready",
        "data_center",
        "plan_updateable",
    }
)
PLAN_FIELDS = frozenset(
    {
        "id",
        "name",
        "catalog_id",
        "catalog_name",
        "service_offering_id",
        "free",
        "bindable",
        "ready",
        "data_center",
    }
)
INSTANCE_FIELDS = frozenset(
    {"id", "name", "service_plan_id", "platform_id", "context", "ready", "usable", "shared", "subaccount_id"}
    | {"created_at", "updated_at", "dashboard_url"}
)
BINDING_FIELDS = frozenset(
    {"id", "name", "service_instance_id", "context", "ready", "subaccount_id", "created_at", "updated_at"}
)


def _check_label_values(key: str, values: Sequence[str]) -> None:
    if not _LABEL_KEY.match(key):
        raise sm_error(400, f"label key {key!r} must be 1-100 characters of [A-Za-z0-9._-]")
    if (
        not values
        or len(set(values)) != len(values)
        or any(not v or len(v) > 255 or "\n" in v for v in values)
    ):
        raise sm_error(400, f"label {key!r} needs unique, non-empty values of at most 255 characters")


def validate_labels(labels: dict[str, list[str]]) -> dict[str, list[str]]:
    for key, values in labels.items():
        _check_label_values(key, values)
    return {key: list(values) for key, values in labels.items()}


def apply_label_ops(labels: dict[str, list[str]], ops: Iterable[LabelOp]) -> dict[str, list[str]]:
    """Apply PATCH label operations atomically (§B.8); returns the new labels."""
    result = {key: list(values) for key, values in labels.items()}
    for op in ops:
        if op.op in ("add", "add_values"):
            _check_label_values(op.key, op.values)
            current = result.setdefault(op.key, [])
            current.extend(v for v in op.values if v not in current)
        elif op.op == "remove" and not op.values:
            result.pop(op.key, None)
        else:
            kept = [v for v in result.get(op.key, []) if v not in op.values]
            if kept:
                result[op.key] = kept
            else:
                result.pop(op.key, None)
    return result


def _not_found(kind: str, ident: str) -> Exception:
    return sm_error(404, f"could not find such {kind}: {ident}")


class ServiceManager:
    """The Service Manager of all subaccounts; callers pass the subaccount of the authenticated token."""

    def __init__(self, rt: Runtime) -> None:
        self.rt = rt
        self.store = rt.store

    # -- catalog ---------------------------------------------------------------------------------------------

    def visible_plans(self, subaccount: str) -> list[PlanSpec]:
        """Auto-assigned plans plus plans with a (settled) assignment in the subaccount."""
        with self.store.settled():
            return [
                plan
                for plan in self.store.catalog.values()
                if plan.auto_assigned
                or (
                    (a := self.store.assignments.get((subaccount, plan.service, plan.plan))) is not None
                    and a.amount > 0
                )
            ]

    @staticmethod
    def render_offering(service: str, plans: Sequence[PlanSpec]) -> dict[str, Any]:
        return {
            "id": stable_id(service),
            "ready": True,
            "name": service,
            "description": f"{service} (sandbox)",
            "bindable": any(p.bindable for p in plans),
            "instances_retrievable": False,
            "bindings_retrievable": True,
            "plan_updateable": False,
            "allow_context_updates": False,
            "tags": [],
            "metadata": {"displayName": service},
            "broker_id": stable_id("broker", service),
            "catalog_id": stable_id("catalog", service),
            "catalog_name": service,
            "data_center": "",
            "created_at": _EPOCH,
            "updated_at": _EPOCH,
        }

    @staticmethod
    def render_plan(plan: PlanSpec) -> dict[str, Any]:
        return {
            "id": plan.plan_id,
            "ready": True,
            "name": plan.plan,
            "description": plan.description,
            "catalog_id": stable_id("catalog", plan.service, plan.plan),
            "catalog_name": plan.plan,
            "free": True,
            "bindable": plan.bindable,
            "plan_updateable": False,
            "service_offering_id": plan.offering_id,
            "metadata": {},
            "maximum_polling_duration": 0,
            "data_center": "",
            "created_at": _EPOCH,
            "updated_at": _EPOCH,
        }

    def _offerings(self, subaccount: str) -> list[tuple[int, dict[str, Any]]]:
        by_service: dict[str, list[PlanSpec]] = {}
        for plan in self.visible_plans(subaccount):
            by_service.setdefault(plan.service, []).append(plan)
        return [(i, self.render_offering(s, ps)) for i, (s, ps) in enumerate(by_service.items())]

    def _plans(self, subaccount: str) -> list[tuple[int, dict[str, Any]]]:
        return [(i, self.render_plan(p)) for i, p in enumerate(self.visible_plans(subaccount))]

    def list_offerings(self, subaccount: str, query: dict[str, str | None]) -> dict[str, Any]:
        return self._list(self._offerings(subaccount), query, OFFERING_FIELDS)

    def list_plans(self, subaccount: str, query: dict[str, str | None]) -> dict[str, Any]:
        return self._list(self._plans(subaccount), query, PLAN_FIELDS)

    def get_offering(self, subaccount: str, offering_id: str) -> dict[str, Any]:
        return self._find(self._offerings(subaccount), offering_id, "service_offering")

    def get_plan(self, subaccount: str, plan_id: str) -> dict[str, Any]:
        return self._find(self._plans(subaccount), plan_id, "service_plan")

    @staticmethod
    def _find(items: Sequence[tuple[int, dict[str, Any]]], ident: str, kind: str) -> dict[str, Any]:
        for _, item in items:
            if item["id"] == ident:
                return item
        raise _not_found(kind, ident)

    @staticmethod
    def _list(
        items: Sequence[tuple[int, dict[str, Any]]], query: dict[str, str | None], fields: frozenset[str]
    ) -> dict[str, Any]:
        keep = build_filter(query.get("fieldQuery"), query.get("labelQuery"), fields)
        return paginate([pair for pair in items if keep(pair[1])], query.get("max_items"), query.get("token"))

    def _resolve_plan(self, subaccount: str, body: InstanceCreate) -> PlanSpec:
        by_id = body.service_plan_id is not None
        by_name = body.service_offering_name is not None or body.service_plan_name is not None
        if by_id == by_name:
            raise sm_error(
                400, "provide either service_plan_id or service_offering_name and service_plan_name, not both"
            )
        if by_name and (body.service_offering_name is None or body.service_plan_name is None):
            raise sm_error(400, "service_offering_name and service_plan_name must be given together")
        for plan in self.visible_plans(subaccount):
            if plan.plan_id == body.service_plan_id or (
                plan.service == body.service_offering_name and plan.plan == body.service_plan_name
            ):
                return plan
        wanted = body.service_plan_id or f"{body.service_offering_name}/{body.service_plan_name}"
        raise _not_found("service_plan", wanted)

    # -- rendering -------------------------------------------------------------------------------------------

    def render_operation(self, op: Operation, now: float) -> dict[str, Any]:
        state = op.state(now)
        rendered: dict[str, Any] = {
            "id": op.id,
            "ready": True,
            "type": op.type,
            "state": state,
            "resource_id": op.resource_id,
            "resource_type": f"/v1/{op.resource_type}",
            "platform_id": "service-manager",
            "correlation_id": op.id,
            "reschedule": False,
            "deletion_scheduled": "0001-01-01T00:00:00Z",
            "created_at": iso(op.created_at),
            "updated_at": iso(op.updated_at or op.created_at),
        }
        if state == "failed":
            rendered["description"] = op.failure
            rendered["errors"] = {"error": "BrokerError", "description": op.failure}
        return rendered

    def _context(self, sub: Subaccount, name_key: str, name: str) -> dict[str, Any]:
        return {
            "platform": "sapcp",
            "origin": "sapcp",
            "env_type": "sapcp",
            "subaccount_id": sub.guid,
            "global_account_id": self.rt.config.global_account_guid,
            "subdomain": sub.subdomain,
            "region": sub.region,
            name_key: name,
        }

    def render_instance(self, inst: Instance, now: float, with_op: bool = True) -> dict[str, Any]:
        sub = self.store.subaccounts[inst.subaccount]
        rendered: dict[str, Any] = {
            "id": inst.id,
            "ready": inst.ready,
            "name": inst.name,
            "service_plan_id": inst.plan.plan_id,
            "platform_id": "service-manager",
            "context": self._context(sub, "instance_name", inst.name),
            "dashboard_url": None,
            "maintenance_info": {},
            "usable": inst.usable,
            "shared": False,
            "subaccount_id": inst.subaccount,
            "labels": inst.labels,
            "created_at": iso(inst.created_at),
            "updated_at": iso(inst.updated_at),
        }
        if with_op:
            rendered["last_operation"] = self.render_operation(inst.last_op, now)
        return rendered

    def render_binding(self, binding: Binding, now: float, with_op: bool = True) -> dict[str, Any]:
        sub = self.store.subaccounts[binding.subaccount]
        rendered: dict[str, Any] = {
            "id": binding.id,
            "ready": binding.ready,
            "name": binding.name,
            "service_instance_id": binding.instance_id,
            "context": self._context(sub, "binding_name", binding.name),
            "bind_resource": {},
            "subaccount_id": binding.subaccount,
            "labels": binding.labels,
            "created_at": iso(binding.created_at),
            "updated_at": iso(binding.updated_at),
        }
        if binding.ready:
            rendered["credentials"] = binding.credentials
        if with_op:
            rendered["last_operation"] = self.render_operation(binding.last_op, now)
        return rendered

    # -- instances -------------------------------------------------------------------------------------------

    def _instance(self, subaccount: str, instance_id: str) -> Instance:
        inst = self.store.instances.get(instance_id)
        if inst is None or inst.subaccount != subaccount:
            raise _not_found("service_instance", instance_id)
        return inst

    def get_instance(self, subaccount: str, instance_id: str) -> dict[str, Any]:
        with self.store.settled() as now:
            return self.render_instance(self._instance(subaccount, instance_id), now)

    def list_instances(
        self, subaccount: str, query: dict[str, str | None], attach_ops: bool
    ) -> dict[str, Any]:
        with self.store.settled() as now:
            items = [
                (i.seq, self.render_instance(i, now, attach_ops))
                for i in self.store.instances.values()
                if i.subaccount == subaccount
            ]
        return self._list(sorted(items, key=lambda pair: pair[0]), query, INSTANCE_FIELDS)

    def create_instance(
        self, subaccount: str, body: InstanceCreate, take_failure: FailureSource
    ) -> Operation:
        with self.store.settled():
            plan = self._resolve_plan(subaccount, body)
            labels = validate_labels(body.labels)
            now = self.rt.clock.wall()
            inst_id = new_id()
            op = self.store.start_operation(
                "create", "service_instances", inst_id, subaccount, self.rt.latencies.instance, take_failure()
            )
            self.store.instances[inst_id] = Instance(
                inst_id,
                self.store.next_seq(),
                body.name,
                subaccount,
                plan,
                dict(body.parameters),
                labels,
                now,
                now,
                op,
            )
            return op

    def _idle(self, last_op: Operation, now: float) -> None:
        if last_op.state(now) == "in progress":
            raise sm_error(
                422,
                f"another operation ({last_op.type}) is in progress for this resource",
                "ConcurrentOperation",
            )

    def update_instance(
        self, subaccount: str, instance_id: str, body: InstanceUpdate, take_failure: FailureSource
    ) -> Operation | None:
        """Apply the update; returns the asynchronous operation, or None when it completed synchronously."""
        visible = self.visible_plans(subaccount)
        with self.store.settled() as now:
            inst = self._instance(subaccount, instance_id)
            self._idle(inst.last_op, now)
            labels = apply_label_ops(inst.labels, body.labels)
            changes: dict[str, Any] = {}
            if body.parameters is not None:
                changes["parameters"] = body.parameters
            if body.service_plan_id is not None and body.service_plan_id != inst.plan.plan_id:
                plan = next((p for p in visible if p.plan_id == body.service_plan_id), None)
                if plan is None or plan.service != inst.plan.service:
                    raise sm_error(400, "the new plan must be a visible plan of the same offering")
                changes["plan"] = plan
            inst.labels = labels
            inst.name = body.name or inst.name
            inst.updated_at = self.rt.clock.wall()
            latency = self.rt.latencies.instance if changes else 0.0
            op = self.store.start_operation(
                "update",
                "service_instances",
                inst.id,
                subaccount,
                latency,
                take_failure() if changes else None,
                changes,
            )
            inst.last_op = op
            self.store.settle()
            return op if changes else None

    def delete_instance(self, subaccount: str, instance_id: str, take_failure: FailureSource) -> Operation:
        with self.store.settled() as now:
            inst = self._instance(subaccount, instance_id)
            self._idle(inst.last_op, now)
            if any(b.instance_id == inst.id for b in self.store.bindings.values()):
                raise sm_error(
                    409,
                    "the service instance has existing bindings; delete them first",
                    "ExistingReferenceEntity",
                )
            op = self.store.start_operation(
                "delete",
                "service_instances",
                inst.id,
                subaccount,
                self.rt.latencies.instance_delete,
                take_failure(),
            )
            inst.last_op = op
            return op

    # -- bindings --------------------------------------------------------------------------------------------

    def _binding(self, subaccount: str, binding_id: str) -> Binding:
        binding = self.store.bindings.get(binding_id)
        if binding is None or binding.subaccount != subaccount:
            raise _not_found("service_binding", binding_id)
        return binding

    def get_binding(self, subaccount: str, binding_id: str) -> dict[str, Any]:
        with self.store.settled() as now:
            return self.render_binding(self._binding(subaccount, binding_id), now)

    def list_bindings(
        self, subaccount: str, query: dict[str, str | None], attach_ops: bool
    ) -> dict[str, Any]:
        with self.store.settled() as now:
            items = [
                (b.seq, self.render_binding(b, now, attach_ops))
                for b in self.store.bindings.values()
                if b.subaccount == subaccount
            ]
        return self._list(sorted(items, key=lambda pair: pair[0]), query, BINDING_FIELDS)

    def check_bindable(self, subaccount: str, instance_id: str) -> PlanSpec:
        """The instance's plan if a binding may be created for it now (404/400/422 otherwise)."""
        with self.store.settled() as now:
            inst = self._instance(subaccount, instance_id)
            if not inst.plan.bindable:
                raise sm_error(400, f"plan {inst.plan.service}/{inst.plan.plan} is not bindable")
            self._idle(inst.last_op, now)
            if not inst.usable:
                raise sm_error(400, f"service instance {instance_id} is not usable (its creation failed)")
            return inst.plan

    def create_binding(
        self,
        subaccount: str,
        body: BindingCreate,
        app_id: str,
        cert: IssuedCertificate | None,
        take_failure: FailureSource,
    ) -> Operation:
        with self.store.settled():
            plan = self.check_bindable(subaccount, body.service_instance_id)
            labels = validate_labels(body.labels)
            sub = self.store.subaccounts[subaccount]
            credentials, client = make_credentials(self.rt.urls, sub, plan, app_id, cert)
            client.not_before = self.rt.clock.now() + self.rt.latencies.binding_credentials
            binding_id = new_id()
            op = self.store.start_operation(
                "create",
                "service_bindings",
                binding_id,
                subaccount,
                self.rt.latencies.binding,
                take_failure(),
            )
            now = self.rt.clock.wall()
            self.store.bindings[binding_id] = Binding(
                binding_id,
                self.store.next_seq(),
                body.name,
                subaccount,
                body.service_instance_id,
                dict(body.parameters),
                labels,
                credentials,
                "x509" if cert else "binding-secret",
                client,
                now,
                now,
                op,
            )
            return op

    def update_binding(self, subaccount: str, binding_id: str, body: BindingUpdate) -> dict[str, Any]:
        with self.store.settled() as now:
            binding = self._binding(subaccount, binding_id)
            self._idle(binding.last_op, now)
            binding.labels = apply_label_ops(binding.labels, body.labels)
            binding.name = body.name or binding.name
            binding.updated_at = self.rt.clock.wall()
            return self.render_binding(binding, now)

    def delete_binding(self, subaccount: str, binding_id: str, take_failure: FailureSource) -> Operation:
        with self.store.settled() as now:
            binding = self._binding(subaccount, binding_id)
            self._idle(binding.last_op, now)
            op = self.store.start_operation(
                "delete",
                "service_bindings",
                binding.id,
                subaccount,
                self.rt.latencies.binding_delete,
                take_failure(),
            )
            binding.last_op = op
            return op

    # -- operations ------------------------------------------------------------------------------------------

    def get_operation(
        self, subaccount: str, resource_type: str, resource_id: str, op_id: str
    ) -> dict[str, Any]:
        with self.store.settled() as now:
            if resource_type == "service_instances":
                self._instance(subaccount, resource_id)
            else:
                self._binding(subaccount, resource_id)
            op = self.store.operations.get(op_id)
            if op is None or op.resource_id != resource_id:
                raise _not_found("operation", op_id)
            return self.render_operation(op, now)

    def operation_state(self, op: Operation) -> str:
        with self.store.settled() as now:
            return op.state(now)

    # -- admin binding (Accounts API serviceManagementBinding, §C.3) -----------------------------------------

    def create_admin_binding(self, subaccount: str) -> Binding:
        """Instance ``ServiceManagementAccessInstance`` (subaccount-admin) and its binding, both ready."""
        plan = self.store.catalog[("service-manager", "subaccount-admin")]
        with self.store.settled():
            sub = self.store.subaccounts[subaccount]
            wall = self.rt.clock.wall()
            inst_id, binding_id = new_id(), new_id()
            inst_op = self.store.start_operation("create", "service_instances", inst_id, subaccount, 0, None)
            self.store.instances[inst_id] = Instance(
                inst_id,
                self.store.next_seq(),
                "ServiceManagementAccessInstance",
                subaccount,
                plan,
                {},
                {},
                wall,
                wall,
                inst_op,
            )
            credentials, client = make_credentials(self.rt.urls, sub, plan, new_app_id(plan), None)
            bind_op = self.store.start_operation(
                "create", "service_bindings", binding_id, subaccount, 0, None
            )
            binding = Binding(
                binding_id,
                self.store.next_seq(),
                "ServiceManagementAccessBinding",
                subaccount,
                inst_id,
                {},
                {},
                credentials,
                "binding-secret",
                client,
                wall,
                wall,
                bind_op,
            )
            self.store.bindings[binding_id] = binding
            self.store.admin_bindings[subaccount] = AdminBinding(subaccount, inst_id, binding_id)
            self.store.settle()
            return binding

    def delete_admin_binding(self, binding: Binding) -> None:
        with self.store.settled():
            self.store.remove_binding(binding)
            self.store.instances.pop(binding.instance_id, None)
