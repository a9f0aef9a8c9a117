"""Service Manager v1 client (§B): plan lookup (waiting for a plan to become visible), instances and
bindings, async operations.

Creates are idempotent by name: an existing object with the name is adopted, and a POST whose response was
lost is followed by a lookup before any retry, so it never produces a duplicate.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, TypeVar

import requests

from btp_infra.conventions import DEFAULT_TIMEOUTS

from ._base import Facade, create_without_duplicates, json_object
from .auth import ClientCredentialsTokenSource, X509TokenSource
from .errors import BtpError, ConcurrentOperationError, ConflictError, NotFoundError, OperationFailedError
from .http import Deadline, PollPolicy, RetryPolicy, TokenSource, Transport, poll
from .keys import ClientSecretBindingCredentials, ServiceManagerCredentials, X509BindingCredentials
from .sm_models import (
    AnyEntity,
    Entity,
    Labels,
    Operation,
    ServiceBinding,
    ServiceInstance,
    ServiceOffering,
    ServicePlan,
    binding_parameters,
    quote,
)
from .sm_models import label_ops as build_label_ops

__all__ = [
    "Operation",
    "ServiceBinding",
    "ServiceInstance",
    "ServiceManagerClient",
    "ServiceOffering",
    "ServicePlan",
    "binding_parameters",
    "quote",
]

log = logging.getLogger(__name__)

INSTANCES = "/v1/service_instances"
#: Bounds of one listing, whatever the server answers (a broken server may hand out tokens forever).
MAX_PAGES = 1000
LIST_DEADLINE = 300.0
BINDINGS = "/v1/service_bindings"
M = TypeVar("M", bound=Entity)
#: Default ``timeout`` (seconds) of instance and binding operations (stack config ``timeouts``).
INSTANCE_TIMEOUT = float(DEFAULT_TIMEOUTS["instance"])
BINDING_TIMEOUT = float(DEFAULT_TIMEOUTS["binding"])
#: How long a plan may take to become visible in SM after it was entitled (it lags the entitlement).
PLAN_VISIBILITY_WAIT = 120.0


SmCredentials = ServiceManagerCredentials | ClientSecretBindingCredentials | X509BindingCredentials


class ServiceManagerClient(Facade):
    """Service Manager v1 with admin (or binding) credentials of one subaccount."""

    def __init__(
        self,
        creds: SmCredentials,
        *,
        retry_policy: RetryPolicy | None = None,
        poll_policy: PollPolicy | None = None,
        verify: bool | str = True,
        page_size: int | None = None,
        async_mode: bool | None = None,
    ) -> None:
        """``verify`` applies to the x509 token endpoint; ``async_mode`` sets SM's ``async`` query parameter
        on mutations (``None``: let SM decide); ``page_size`` sets ``max_items`` on lists."""
        session = requests.Session()
        tokens: TokenSource
        if isinstance(creds, X509BindingCredentials):
            tokens = X509TokenSource(
                creds.token_url, creds.clientid, creds.certificate, creds.key, verify=verify, session=session
            )
        else:
            tokens = ClientCredentialsTokenSource(
                creds.token_url, creds.clientid, creds.clientsecret, style="body", session=session
            )
        transport = Transport(
            creds.sm_url, tokens, policy=retry_policy, session=session, name="service-manager"
        )
        super().__init__(transport, poll_policy=poll_policy, session=session)
        self.page_size = page_size
        self.async_mode = async_mode

    # -- catalog ------

    def _pages(
        self, path: str, *, field_query: str | None, label_query: str | None, deadline: Deadline | None
    ) -> Iterator[dict[str, Any]]:
        """All items of a list endpoint, following ``token`` across pages (§B.7).

        Bounded whatever the server answers: at most :data:`MAX_PAGES` pages, a repeated page token is an
        error, and the whole listing shares one deadline (``deadline``, or :data:`LIST_DEADLINE`).
        Instance and binding lists ask for ``last_operation`` (``attach_last_operations``): adoption needs it.
        """
        params: dict[str, str | int] = {}
        if path in (INSTANCES, BINDINGS):
            params["attach_last_operations"] = "true"
        if field_query:
            params["fieldQuery"] = field_query
        if label_query:
            params["labelQuery"] = label_query
        if self.page_size is not None:
            params["max_items"] = self.page_size
        what = f"list {path.rsplit('/', 1)[-1]}"
        deadline = deadline or Deadline(LIST_DEADLINE)
        seen: set[str] = set()
        for _page in range(MAX_PAGES):
            body = json_object(
                self.transport.request("GET", path, params=params, deadline=deadline, what=what), what
            )
            items = body.get("items", [])
            if not isinstance(items, list):
                raise BtpError(f"{what}: 'items' is not a list", operation=what)
            yield from (item for item in items if isinstance(item, dict))
            token = body.get("token")
            if not token or not items:
                return
            token = str(token)
            if token in seen:
                raise BtpError(f"{what}: the server repeated a page token; stopped paging", operation=what)
            seen.add(token)
            if deadline.expired:
                raise deadline.exceeded(what)
            params["token"] = token
        raise BtpError(f"{what}: more than {MAX_PAGES} pages; stopped paging", operation=what)

    def list_offerings(self, field_query: str | None = None) -> list[ServiceOffering]:
        pages = self._pages("/v1/service_offerings", field_query=field_query, label_query=None, deadline=None)
        return [ServiceOffering.model_validate(item) for item in pages]

    def list_plans(self, field_query: str | None = None) -> list[ServicePlan]:
        pages = self._pages("/v1/service_plans", field_query=field_query, label_query=None, deadline=None)
        return [ServicePlan.model_validate(item) for item in pages]

    def find_plan(
        self, offering: str, plan: str, *, data_center: str | None = None, wait: float | None = None
    ) -> ServicePlan:
        """The plan of an offering by catalog names (§B.4); :class:`NotFoundError` if not visible.

        With ``wait`` (seconds), a plan that is not visible yet is looked up again until it is: a plan
        entitled just now reaches SM some time later. :class:`DeadlineExceededError` when ``wait`` runs out.
        """
        if wait is None:
            return self._find_plan(offering, plan, data_center)

        def lookup() -> ServicePlan | None:
            try:
                return self._find_plan(offering, plan, data_center)
            except NotFoundError:
                return None

        found = poll(
            lookup,
            done=lambda result: result is not None,
            policy=self.poll_policy,
            deadline=Deadline(wait),
            what=f"plan {offering}/{plan} to become visible",
        )
        assert found is not None  # `done` accepts nothing else
        return found

    def _find_plan(self, offering: str, plan: str, data_center: str | None) -> ServicePlan:
        query = f"catalog_name eq {quote(offering)}"
        if data_center is not None:
            query += f" and data_center eq {quote(data_center)}"
        offerings = self.list_offerings(query)
        what = f"find plan {offering}/{plan}"
        if not offerings:
            raise NotFoundError(
                f"{what}: offering not found (is it entitled to the subaccount?)", status=404, operation=what
            )
        ids = [o.id for o in offerings]
        if len(ids) == 1:
            by_offering = f"service_offering_id eq {quote(ids[0])}"
        else:
            by_offering = "service_offering_id in (" + ", ".join(quote(i) for i in ids) + ")"
        plans = self.list_plans(f"catalog_name eq {quote(plan)} and {by_offering}")
        if not plans:
            raise NotFoundError(
                f"{what}: plan not found (is it entitled to the subaccount?)", status=404, operation=what
            )
        if len(plans) > 1:
            raise BtpError(f"{what}: {len(plans)} plans match; pass a plan id", operation=what)
        return plans[0]

    # -- instances ------

    def list_instances(
        self, field_query: str | None = None, label_query: str | None = None
    ) -> list[ServiceInstance]:
        pages = self._pages(INSTANCES, field_query=field_query, label_query=label_query, deadline=None)
        return [ServiceInstance.model_validate(item) for item in pages]

    def get_instance(self, instance_id: str, *, deadline: Deadline | None = None) -> ServiceInstance | None:
        """The instance, or ``None`` if it does not exist."""
        return self._get(INSTANCES, instance_id, ServiceInstance, deadline)

    def find_instance(self, name: str, *, deadline: Deadline | None = None) -> ServiceInstance | None:
        """The instance named ``name``; :class:`ConflictError` if several share it."""
        found = self._pages(
            INSTANCES, field_query=f"name eq {quote(name)}", label_query=None, deadline=deadline
        )
        return _single([ServiceInstance.model_validate(i) for i in found], f"instance {name}")

    def create_instance(
        self,
        name: str,
        *,
        plan_id: str | None = None,
        offering: str | None = None,
        plan: str | None = None,
        parameters: Mapping[str, Any] | None = None,
        labels: Labels | None = None,
        timeout: float = INSTANCE_TIMEOUT,
    ) -> ServiceInstance:
        """Create (or adopt, by name) an instance and wait until its operation succeeded.

        Give ``plan_id`` or ``offering`` + ``plan``. An instance whose creation failed is deleted and
        created again.
        """
        if (plan_id is None) == (offering is None or plan is None) or (offering is None) != (plan is None):
            raise ValueError("give either plan_id or offering and plan")
        body: dict[str, Any] = {"name": name}
        if plan_id is not None:
            body["service_plan_id"] = plan_id
        else:
            body |= {"service_offering_name": offering, "service_plan_name": plan}
        if parameters is not None:
            body["parameters"] = dict(parameters)
        if labels is not None:
            body["labels"] = {k: list(v) for k, v in labels.items()}

        def check(existing: ServiceInstance) -> None:
            if plan_id is not None and existing.service_plan_id and existing.service_plan_id != plan_id:
                what = f"create instance {name}"
                raise ConflictError(
                    f"{what}: an instance with this name exists with another plan", status=409, operation=what
                )

        return self._create(
            INSTANCES,
            ServiceInstance,
            body,
            lambda d: self.find_instance(name, deadline=d),
            check,
            Deadline(timeout),
            f"create instance {name}",
        )

    def update_instance(
        self,
        instance_id: str,
        *,
        name: str | None = None,
        plan_id: str | None = None,
        parameters: Mapping[str, Any] | None = None,
        labels_add: Labels | None = None,
        labels_remove: Sequence[str] | Labels | None = None,
        label_ops: Sequence[Mapping[str, Any]] | None = None,
        timeout: float = INSTANCE_TIMEOUT,
    ) -> ServiceInstance:
        """PATCH the instance and wait. Labels: ``labels_add``/``labels_remove`` or raw §B.8 ``label_ops``."""
        patch: dict[str, Any] = {}
        if name is not None:
            patch["name"] = name
        if plan_id is not None:
            patch["service_plan_id"] = plan_id
        if parameters is not None:
            patch["parameters"] = dict(parameters)
        return self._update(
            INSTANCES,
            ServiceInstance,
            instance_id,
            patch,
            build_label_ops(labels_remove, labels_add, label_ops),
            timeout,
        )

    def delete_instance(self, instance_id: str, *, timeout: float = INSTANCE_TIMEOUT) -> None:
        """Delete the instance and return when it is gone (404 = gone)."""
        self._delete(INSTANCES, instance_id, Deadline(timeout), f"delete instance {instance_id}")

    # -- bindings ------

    def list_bindings(
        self, field_query: str | None = None, label_query: str | None = None
    ) -> list[ServiceBinding]:
        pages = self._pages(BINDINGS, field_query=field_query, label_query=label_query, deadline=None)
        return [ServiceBinding.model_validate(item) for item in pages]

    def get_binding(self, binding_id: str, *, deadline: Deadline | None = None) -> ServiceBinding | None:
        """The binding (with credentials), or ``None`` if it does not exist."""
        return self._get(BINDINGS, binding_id, ServiceBinding, deadline)

    def find_binding(
        self, name: str, instance_id: str, *, deadline: Deadline | None = None
    ) -> ServiceBinding | None:
        """The binding named ``name`` of instance ``instance_id``."""
        query = f"name eq {quote(name)} and service_instance_id eq {quote(instance_id)}"
        found = self._pages(BINDINGS, field_query=query, label_query=None, deadline=deadline)
        return _single([ServiceBinding.model_validate(b) for b in found], f"binding {name}")

    def create_binding(
        self,
        name: str,
        instance_id: str,
        *,
        parameters: Mapping[str, Any] | None = None,
        labels: Labels | None = None,
        timeout: float = BINDING_TIMEOUT,
    ) -> ServiceBinding:
        """Create (or adopt, by name + instance) a binding and wait until it succeeded.

        x509 credentials: ``parameters={"credential-type": "x509"}`` (§B.1).
        """
        body: dict[str, Any] = {"name": name, "service_instance_id": instance_id}
        if parameters is not None:
            body["parameters"] = dict(parameters)
        if labels is not None:
            body["labels"] = {k: list(v) for k, v in labels.items()}
        return self._create(
            BINDINGS,
            ServiceBinding,
            body,
            lambda d: self.find_binding(name, instance_id, deadline=d),
            lambda _existing: None,
            Deadline(timeout),
            f"create binding {name}",
        )

    def update_binding(
        self,
        binding_id: str,
        *,
        name: str | None = None,
        labels_add: Labels | None = None,
        labels_remove: Sequence[str] | Labels | None = None,
        label_ops: Sequence[Mapping[str, Any]] | None = None,
        timeout: float = BINDING_TIMEOUT,
    ) -> ServiceBinding:
        """PATCH a binding's name and labels (the only updatable fields, §B.2) and return it."""
        patch: dict[str, Any] = {} if name is None else {"name": name}
        return self._update(
            BINDINGS,
            ServiceBinding,
            binding_id,
            patch,
            build_label_ops(labels_remove, labels_add, label_ops),
            timeout,
        )

    def delete_binding(self, binding_id: str, *, timeout: float = BINDING_TIMEOUT) -> None:
        """Delete the binding and return when it is gone (404 = gone)."""
        self._delete(BINDINGS, binding_id, Deadline(timeout), f"delete binding {binding_id}")

    # -- generic entity operations ------

    def _params(self) -> dict[str, str | int] | None:
        return None if self.async_mode is None else {"async": "true" if self.async_mode else "false"}

    def _get(self, path: str, entity_id: str, model: type[M], deadline: Deadline | None) -> M | None:
        what = f"get {path.rsplit('/', 1)[-1]} {entity_id}"
        response = self.transport.request(
            "GET", f"{path}/{entity_id}", ok=(200, 404), deadline=deadline, what=what
        )
        if response.status_code == 404:
            return None
        return model.model_validate(json_object(response, what))

    def _create(
        self,
        path: str,
        model: type[M],
        body: dict[str, Any],
        lookup: Callable[[Deadline], M | None],
        check: Callable[[M], None],
        deadline: Deadline,
        what: str,
    ) -> M:
        existing = lookup(deadline)
        if existing is not None:
            adopted = self._adopt(path, model, existing, check, deadline, what, replace_failed=True)
            if adopted is not None:
                return adopted

        conflicts: list[ConflictError] = []

        def post() -> requests.Response | None:
            try:
                return self.transport.request(
                    "POST",
                    path,
                    params=self._params(),
                    json=body,
                    ok=(200, 201, 202),
                    deadline=deadline,
                    what=what,
                )
            except ConflictError as exc:
                conflicts.append(exc)
                return None  # created concurrently (or by a lost response): adopt it below

        result = create_without_duplicates(
            post, lambda: lookup(deadline), policy=self.retry_policy, deadline=deadline, what=what
        )
        if result is None:
            found = lookup(deadline)
            if found is None:
                raise conflicts[-1]  # a conflict of another kind (SM 409 is not only "name exists")
            result = found
        if isinstance(result, requests.Response):
            return self._finish(path, model, result, deadline, what)
        adopted = self._adopt(path, model, result, check, deadline, what, replace_failed=False)
        if adopted is None:
            raise OperationFailedError(f"{what}: the object was removed while being created", operation=what)
        return adopted

    def _adopt(
        self,
        path: str,
        model: type[M],
        existing: M,
        check: Callable[[M], None],
        deadline: Deadline,
        what: str,
        *,
        replace_failed: bool,
    ) -> M | None:
        """Wait for an existing object's operation; ``None`` if it is gone and must be created.

        An object whose create failed is deleted (``replace_failed``: left over from an earlier run) or
        reported as :class:`OperationFailedError` (our own POST created it).
        """
        check(existing)
        current: M | None = self._settle(path, model, existing, deadline, what)
        if current is None:
            return None
        op = current.last_operation
        if op is not None and op.type == "create" and op.state == "failed":
            if not replace_failed:
                raise OperationFailedError(
                    f"{what}: failed", description=self.server_text(op.failure_text()), operation=what
                )
            log.info("%s: a previous create failed; deleting %s and creating again", what, current.id)
            self._delete(path, current.id, deadline, f"{what}: remove failed {current.id}")
            return None
        if op is not None and op.type == "delete" and op.state == "succeeded":
            return None
        return current

    def _settle(self, path: str, model: type[M], entity: M, deadline: Deadline, what: str) -> M | None:
        """Poll the object until its last operation is no longer in progress (``None`` if it disappears)."""
        op = entity.last_operation
        if op is None or not op.in_progress:
            return entity
        return poll(
            lambda: self._get(path, entity.id, model, deadline),
            done=lambda e: e is None or e.last_operation is None or not e.last_operation.in_progress,
            policy=self.poll_policy,
            deadline=deadline,
            what=what,
        )

    def _finish(
        self, path: str, model: type[M], response: requests.Response, deadline: Deadline, what: str
    ) -> M:
        """Turn a 200/201/202 create response into the finished entity."""
        location = response.headers.get("Location")
        if response.status_code == 202 and location:
            self._wait_operation(location, deadline, what, delete=False)
            entity_id = _resource_id(location)
        else:
            body = json_object(response, what)
            entity = model.model_validate(body)
            op = entity.last_operation
            if op is None or op.state == "succeeded":
                return entity
            if op.state == "failed":
                raise OperationFailedError(
                    f"{what}: failed", description=self.server_text(op.failure_text()), operation=what
                )
            entity_id = entity.id
        found = self._get(path, entity_id, model, deadline)
        if found is None:
            raise NotFoundError(f"{what}: created object {entity_id} not found", status=404, operation=what)
        settled = self._settle(path, model, found, deadline, what)
        if settled is None:
            raise NotFoundError(f"{what}: created object {entity_id} disappeared", status=404, operation=what)
        op = settled.last_operation
        if op is not None and op.state == "failed":
            raise OperationFailedError(
                f"{what}: failed", description=self.server_text(op.failure_text()), operation=what
            )
        return settled

    def _update(
        self,
        path: str,
        model: type[M],
        entity_id: str,
        patch: dict[str, Any],
        labels: tuple[list[dict[str, Any]], list[dict[str, Any]]],
        timeout: float,
    ) -> M:
        """PATCH and wait; removes and adds of one label key take two requests (SM rejects them in one)."""
        deadline = Deadline(timeout)
        what = f"update {path.rsplit('/', 1)[-1]} {entity_id}"
        removes, adds = labels
        if {op["key"] for op in removes} & {op["key"] for op in adds}:
            bodies = [{"labels": removes}, patch | {"labels": adds}]
        else:
            bodies = [patch | ({"labels": removes + adds} if removes or adds else {})]
        for body in bodies:
            if body:
                self._patch(path, entity_id, body, deadline, what)
        entity = self._get(path, entity_id, model, deadline)
        if entity is None:
            raise NotFoundError(f"{what}: not found after the update", status=404, operation=what)
        return entity

    def _patch(self, path: str, entity_id: str, body: dict[str, Any], deadline: Deadline, what: str) -> None:
        response = self.transport.request(
            "PATCH",
            f"{path}/{entity_id}",
            params=self._params(),
            json=body,
            ok=(200, 201, 202),
            deadline=deadline,
            what=what,
        )
        location = response.headers.get("Location")
        if response.status_code == 202 and location:
            self._wait_operation(location, deadline, what, delete=False)

    def _delete(self, path: str, entity_id: str, deadline: Deadline, what: str) -> None:
        for _ in range(2):
            try:
                response = self.transport.request(
                    "DELETE",
                    f"{path}/{entity_id}",
                    params=self._params(),
                    ok=(200, 202, 204, 404, 410),
                    deadline=deadline,
                    what=what,
                )
                break
            except ConcurrentOperationError:
                # Another operation (e.g. the create) is running: wait for it, then delete once more.
                current = self._get(path, entity_id, AnyEntity, deadline)
                if current is None:
                    return
                self._settle(path, AnyEntity, current, deadline, what)
        else:
            raise ConcurrentOperationError(f"{what}: still busy", status=422, operation=what)
        if response.status_code in (404, 410):
            return
        location = response.headers.get("Location")
        if response.status_code == 202 and location:
            self._wait_operation(location, deadline, what, delete=True)
        elif response.status_code == 202:
            poll(
                lambda: self._get(path, entity_id, AnyEntity, deadline),
                done=lambda e: self._gone_or_failed(e, what),
                policy=self.poll_policy,
                deadline=deadline,
                what=what,
            )

    def _gone_or_failed(self, entity: Entity | None, what: str) -> bool:
        if entity is None:
            return True
        op = entity.last_operation
        if op is not None and op.type == "delete" and op.state == "failed":
            raise OperationFailedError(
                f"{what}: failed", description=self.server_text(op.failure_text()), operation=what
            )
        return False

    def _wait_operation(self, location: str, deadline: Deadline, what: str, *, delete: bool) -> None:
        """Poll ``/v1/{type}/{id}/operations/{op}`` until it succeeded; a 404 means gone for a delete."""

        def fetch() -> Operation | None:
            response = self.transport.request(
                "GET",
                location,
                ok=(200, 404) if delete else (200,),
                deadline=deadline,
                what=f"{what} (operation)",
            )
            if response.status_code == 404:
                return None
            return Operation.model_validate(json_object(response, what))

        def done(op: Operation | None) -> bool:
            if op is None:
                return True
            if op.state == "failed":
                raise OperationFailedError(
                    f"{what}: failed", description=self.server_text(op.failure_text()), operation=what
                )
            return op.state == "succeeded"

        poll(fetch, done=done, policy=self.poll_policy, deadline=deadline, what=what, wait_first=True)


def _single(items: list[M], what: str) -> M | None:
    if len(items) > 1:
        raise ConflictError(f"{what}: {len(items)} objects share this name", status=409, operation=what)
    return items[0] if items else None


def _resource_id(location: str) -> str:
    """The resource id in ``…/v1/<type>/<id>/operations/<op>`` (OP ``ExtractInstanceID``)."""
    parts = location.split("?", 1)[0].rstrip("/").split("/")
    if "operations" in parts:
        index = parts.index("operations")
        if index >= 1:
            return parts[index - 1]
    raise BtpError(f"unexpected operation location {location!r}")
