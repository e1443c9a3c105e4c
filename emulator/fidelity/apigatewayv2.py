"""VPC links V2 (``apigatewayv2``) as AWS runs them, and the REST API integrations that use them.

Since November 2025 a REST API reaches a private ALB or NLB through a VPC link V2; V1 links
(:mod:`.apigateway`) are now "legacy". moto 5.2 knows nothing of the REST side of this, and its
V2 links are AVAILABLE at once. What AWS documents, and what this module reproduces:

* **Lifecycle.** ``CreateVpcLink`` (``Name``, ``SubnetIds``, ``SecurityGroupIds``, ``Tags``)
  answers ``PENDING``, then the link becomes ``AVAILABLE`` ("API Gateway creates and manages
  elastic network interfaces ... This process can take a few minutes. When a VPC link V2 is
  ready to use, its state transitions from PENDING to AVAILABLE") or ``FAILED``; ``DELETING``
  after ``DeleteVpcLink``; ``INACTIVE`` when no traffic crossed it for 60 days (its network
  interfaces are deleted; when requests resume, they are re-provisioned, which "can take a few
  minutes", and the link is reactivated). Links are immutable. Source: API Gateway Developer
  Guide, "Set up VPC links V2 in API Gateway" (apigateway-vpc-links-v2.html, also
  http-api-vpc-links.html); the ``VpcLinkStatus`` enum (PENDING, AVAILABLE, DELETING, FAILED,
  INACTIVE) of the apigatewayv2 API model (botocore ``apigatewayv2/2018-11-29``).
  Here the PENDING and DELETING periods are read on the embedded AWS's clock
  (:data:`emulator.engine.clock.CLOCK`); by default they are the V1 links' periods.
* **Status messages.** PENDING: ``VPC link is provisioning ENIs``; AVAILABLE: ``VPC link is
  ready to route traffic`` (the AWS CLI's ``apigatewayv2 create-vpc-link`` / ``get-vpc-link``
  examples, and real output quoted in iann0036/former2#180). DELETING, INACTIVE and the FAILED
  messages for a subnet or security group that does not exist are **this module's wording**:
  no AWS text for them was found. The FAILED ones quote EC2's own errors (``The subnet ID
  '<id>' does not exist``, ``The security group '<id>' does not exist``). (AWS refuses some
  subnets at once, with a ``BadRequestException`` from CreateVpcLink, e.g. "Subnet is in
  Availability Zone '<az>' where service is not available", anomalyco/sst#5374; whether a
  missing subnet is refused at once or FAILED later is not documented: here it is FAILED.)
* **REST integrations.** ``PutIntegration`` takes ``integrationTarget`` ("the ALB or NLB
  listener to send the request to" in the API model; the developer guide's example passes the
  load balancer's ARN) with ``connectionType=VPC_LINK`` and ``connectionId`` = the V2 link's
  id, or a stage variable ``${stageVariables.x}`` set when the API is deployed; ``uri`` sets
  the Host header and TLS server name, not the routing. Sources: Developer Guide, "Set up a
  private integration" (set-up-private-integration.html) and "Private integrations for REST
  APIs" (private-integration.html); botocore ``apigateway/2015-07-09`` (``integrationTarget``
  in PutIntegrationRequest and Integration). ``GetIntegration`` returns it
  (:mod:`.apigateway` keeps it, and ``connectionId``).
* **integrationTarget is required for a V2 link.** AWS answers ``BadRequestException:
  IntegrationTarget is required for VpcLinkV2 <id>.`` (with the final full stop), quoted in
  pulumi/pulumi-aws#6020, aws-controllers-k8s/community#2924 and (without the id)
  hashicorp/terraform-provider-aws#45230. AWS checks it in PutIntegration when the
  ``connectionId`` names a V2 link. *When a stage variable names it, when AWS checks is not
  documented*; here the check runs when the variable gets its value: CreateDeployment (its
  ``variables``), CreateStage and UpdateStage are refused with the same message when a
  variable an integration without ``integrationTarget`` takes its ``connectionId`` from would
  name a V2 link. (The alternative, AWS accepting it and every request failing, would only
  show in production.)
* **A V2 link in use cannot be deleted.** For links referenced by HTTP API routes AWS answers
  ``BadRequestException: Cannot delete vpc link. Vpc link '<id>', is referenced in
  [ANY:qtfgl2b] in format of [Method:Resource].`` (hashicorp/terraform-provider-aws#12195);
  for V1 links referenced by REST APIs ``... is referenced in [<api>:POST:<resource>:<stage>,
  ...] in format of [RESTApiId:Method:Resource:Stage].`` (klothoplatform/klotho#202). No
  message for a V2 link referenced by a REST API was found; here it is the REST form above.
  A reference counts as :mod:`.apigateway` counts it for V1 links: an integration whose
  ``connectionId`` is the link's id (listed once per stage of its API, without a stage when
  the API has none), or a stage variable that names it (listed for those stages).
* **V1 links and ALBs.** A V1 link created with an ALB's ARN is accepted, then FAILED with
  ``NLB ARN is malformed`` (see :mod:`.apigateway`).

Test hooks (process-global, like moto's backends; also over HTTP, ``POST /_emulator/vpclinks``,
see :func:`apply_control`): the PENDING / DELETING periods of V2 links
(:func:`set_vpc_link_v2_timing`), a life counted in polls (:func:`script_vpc_links_v2`: a
poll is a ``GetVpcLink`` of that link; a script is keyed by the link's **name or one of its
subnet ids**, the name winning), and INACTIVE (:func:`make_vpc_link_v2_inactive`, then
:func:`reactivate_vpc_link_v2` for "requests resumed": PENDING again, then AVAILABLE).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from moto.apigateway import models as apigw_models
from moto.apigateway import responses as apigw_responses
from moto.apigateway.exceptions import BadRequestException as RestBadRequest
from moto.apigatewayv2 import models as v2_models
from moto.apigatewayv2.exceptions import BadRequestException, VpcLinkNotFound

from emulator.engine.clock import CLOCK
from emulator.fidelity import apigateway
from emulator.fidelity.apigateway import _STAGE_VARIABLE, LinkScript
from emulator.fidelity.patching import wrap

STATUS_MESSAGES = {
    "PENDING": "VPC link is provisioning ENIs",  # AWS CLI examples
    "AVAILABLE": "VPC link is ready to route traffic",  # AWS CLI examples, real output
    "DELETING": "VPC link is deleting ENIs",  # this module's wording
    "INACTIVE": "VPC link is inactive: no traffic was sent over it for 60 days",  # likewise
}
REFERENCE_FORMAT = "RESTApiId:Method:Resource:Stage"


def integration_target_required(link_id: str) -> str:
    """AWS's message when a REST integration uses a V2 link without ``integrationTarget``."""
    return f"IntegrationTarget is required for VpcLinkV2 {link_id}."


@dataclass
class LinksV2Settings:
    """V2 timings (None: the V1 links' own) and scripts; one per process, like moto's state."""

    pending_seconds: float | None = None
    deleting_seconds: float | None = None
    scripts: dict[str, LinkScript] = field(default_factory=dict)

    def reset_hooks(self) -> None:
        self.pending_seconds = None
        self.deleting_seconds = None
        self.scripts.clear()


settings = LinksV2Settings()
_lock = threading.RLock()
_installed = False


# --- public hooks ------------------------------------------------------------------------------
def set_vpc_link_v2_timing(
    pending_seconds: float | None = None, deleting_seconds: float | None = None
) -> None:
    """Seconds a new V2 link stays PENDING, and a deleted one DELETING (None: unchanged)."""
    with _lock:
        if pending_seconds is not None:
            settings.pending_seconds = _seconds(pending_seconds)
        if deleting_seconds is not None:
            settings.deleting_seconds = _seconds(deleting_seconds)


def pending_seconds() -> float:
    """The PENDING period of V2 links now: their own, or the V1 links'."""
    own = settings.pending_seconds
    return apigateway.settings.vpc_link_pending_seconds if own is None else own


def deleting_seconds() -> float:
    """The DELETING period of V2 links now: their own, or the V1 links'."""
    own = settings.deleting_seconds
    return apigateway.settings.vpc_link_deleting_seconds if own is None else own


def script_vpc_links_v2(
    name_or_subnet: str,
    *,
    pending_polls: int | None = None,
    then: str = "AVAILABLE",
    status_message: str | None = None,
    deleting_polls: int | None = None,
) -> None:
    """Pin the life of the V2 links with this name (or with this subnet among their
    ``SubnetIds``) to polls instead of time (see :class:`LinkScript`)."""
    script = LinkScript.from_json(
        {
            "pendingPolls": pending_polls,
            "then": then,
            "statusMessage": status_message,
            "deletingPolls": deleting_polls,
        }
    )
    with _lock:
        settings.scripts[name_or_subnet] = script


def make_vpc_link_v2_inactive(vpc_link_id: str) -> None:
    """What 60 days without traffic do to an AVAILABLE V2 link: it becomes INACTIVE."""
    with _lock:
        backend, link = _find(vpc_link_id)
        _settle(backend)
        if link.status != "AVAILABLE":
            raise ValueError(f"{vpc_link_id} is {link.status}: only AVAILABLE links go INACTIVE")
        _set_status(link, "INACTIVE")


def reactivate_vpc_link_v2(vpc_link_id: str) -> None:
    """Requests resumed over an INACTIVE V2 link: PENDING again (ENIs re-provisioned), then
    AVAILABLE after the PENDING period (or its script's polls)."""
    with _lock:
        _, link = _find(vpc_link_id)
        if link.status != "INACTIVE":
            raise ValueError(f"{vpc_link_id} is {link.status}: only INACTIVE links reactivate")
        _restart(link, "PENDING")


def reset_hooks() -> None:
    """Forget V2 scripts and timings (V2 links then take the V1 links' periods again)."""
    with _lock:
        settings.reset_hooks()


def link_status(rest_backend: Any, vpc_link_id: str) -> str | None:
    """The status of the V2 link ``vpc_link_id`` in a REST API backend's account and region,
    transitions due applied first; None when there is no such V2 link."""
    backend = _v2_backend_of(rest_backend)
    with _lock:
        _settle(backend)
        link = backend.vpc_links.get(vpc_link_id)
        return None if link is None else str(link.status)


# --- lifecycle ---------------------------------------------------------------------------------
def _seconds(value: Any) -> float:
    seconds = float(value)
    if seconds < 0:
        raise ValueError(f"a period cannot be negative: {value!r}")
    return seconds


def _v2_backend_of(backend: Any) -> Any:
    return v2_models.apigatewayv2_backends[backend.account_id][backend.region_name]


def _rest_backend_of(backend: Any) -> Any:
    return apigw_models.apigateway_backends[backend.account_id][backend.region_name]


def _ec2_backend_of(backend: Any) -> Any:
    from moto.ec2.models import ec2_backends

    return ec2_backends[backend.account_id][backend.region_name]


def _backends() -> Iterator[Any]:
    for account in v2_models.apigatewayv2_backends.values():
        yield from account.values()


def _find(vpc_link_id: str) -> tuple[Any, Any]:
    for backend in _backends():
        link = backend.vpc_links.get(vpc_link_id)
        if link is not None:
            return backend, link
    raise KeyError(f"no VPC link V2 {vpc_link_id}")


def _set_status(link: Any, status: str, message: str | None = None) -> None:
    link.status = status
    link.status_message = message or STATUS_MESSAGES[status]


def _restart(link: Any, status: str) -> None:
    """Enter a timed status: its period (or its script's polls) counts from now."""
    _set_status(link, status)
    link._emulator_since = CLOCK.time()
    link._emulator_polls = 0


def _script(link: Any) -> LinkScript | None:
    scripts = settings.scripts
    if link.name in scripts:
        return scripts[link.name]
    return next((scripts[s] for s in link.subnet_ids or [] if s in scripts), None)


def _failure_reason(backend: Any, link: Any) -> str | None:
    """Why the link cannot get its network interfaces, or None when it can."""
    ec2 = _ec2_backend_of(backend)
    for subnet_id in link.subnet_ids or []:
        if not any(subnet_id in zone for zone in ec2.subnets.values()):
            return f"Failed to create ENIs: The subnet ID '{subnet_id}' does not exist"
    for group_id in link.sg_ids or []:
        if ec2.get_security_group_from_id(group_id) is None:
            return f"Failed to create ENIs: The security group '{group_id}' does not exist"
    return None


def _is_over(link: Any, polls: int | None, seconds: float, now: float) -> bool:
    if polls is not None:
        return bool(link._emulator_polls > polls)
    return bool(now - link._emulator_since >= seconds)


def _end_pending(backend: Any, link: Any, script: LinkScript | None) -> None:
    if script is not None and script.pending_polls is not None and script.then == "FAILED":
        _set_status(link, "FAILED", script.status_message or "Internal failure")
        return
    reason = _failure_reason(backend, link)
    if reason is None:
        _set_status(link, "AVAILABLE")
    else:
        _set_status(link, "FAILED", reason)


def _settle(backend: Any) -> None:
    """Apply every transition that is due (read lazily, whenever links are read)."""
    now = CLOCK.time()
    with _lock:
        for link in list(backend.vpc_links.values()):
            script = _script(link)
            if link.status == "PENDING":
                polls = script.pending_polls if script else None
                if _is_over(link, polls, pending_seconds(), now):
                    _end_pending(backend, link, script)
            elif link.status == "DELETING":
                polls = script.deleting_polls if script else None
                if _is_over(link, polls, deleting_seconds(), now):
                    backend.vpc_links.pop(link.id, None)


# --- what REST APIs use a V2 link --------------------------------------------------------------
def _vpc_link_integrations(api: Any) -> Iterator[tuple[str, str, Any]]:
    """(resource id, method, integration) for each VPC_LINK integration of a REST API."""
    for resource_id, resource in api.resources.items():
        for method_name, method in resource.resource_methods.items():
            integration = method.method_integration
            if integration is not None and getattr(integration, "connection_id", None):
                yield resource_id, method_name, integration


def _stages_using(api: Any, connection_id: str, vpc_link_id: str) -> list[str | None]:
    """The stages through which ``connection_id`` names the link ([None]: no stage yet)."""
    variable = _STAGE_VARIABLE.match(connection_id)
    if variable is None:
        return (list(api.stages) or [None]) if connection_id == vpc_link_id else []
    name = variable.group(1)
    return [s for s, st in api.stages.items() if (st.variables or {}).get(name) == vpc_link_id]


def _references(rest_backend: Any, vpc_link_id: str) -> list[str]:
    """``RESTApiId:Method:Resource:Stage`` for every use of the link, as AWS lists them."""
    return [
        ":".join(part for part in (api_id, method, resource_id, stage) if part)
        for api_id, api in rest_backend.apis.items()
        for resource_id, method, integration in _vpc_link_integrations(api)
        for stage in _stages_using(api, integration.connection_id, vpc_link_id)
    ]


def _require_targets(rest_backend: Any, api: Any, variables: dict[str, str]) -> None:
    """Refuse stage variables that would give a V2 link to an integration without target."""
    v2_links = _v2_backend_of(rest_backend).vpc_links
    for _, _, integration in _vpc_link_integrations(api):
        variable = _STAGE_VARIABLE.match(integration.connection_id)
        if variable is None or getattr(integration, "integration_target", None):
            continue
        value = variables.get(variable.group(1))
        if value is not None and value in v2_links:
            raise RestBadRequest(integration_target_required(value))


def _patched_variables(current: dict[str, str], operations: Iterable[Any]) -> dict[str, str]:
    """The stage variables once UpdateStage's patch operations are applied (as moto does)."""
    variables = dict(current)
    for op in operations:
        path = str(op.get("path", ""))
        if "variables/" not in path:
            continue
        key = path[path.rindex("variables/") + len("variables/") :]
        if op.get("op") == "remove":
            variables.pop(key, None)
        else:
            variables[key] = op.get("value")
    return variables


# --- patches -----------------------------------------------------------------------------------
def _patch_vpc_link_model() -> None:
    link_cls = v2_models.VpcLink

    @wrap(link_cls, "__init__")
    def _init(original: Callable[..., None], self: Any, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        self.sg_ids = list(self.sg_ids or [])
        self.subnet_ids = list(self.subnet_ids or [])
        _restart(self, "PENDING")

    @wrap(link_cls, "to_json")
    def _to_json(original: Callable[..., dict[str, Any]], self: Any) -> dict[str, Any]:
        body = original(self)
        body["vpcLinkStatus"] = getattr(self, "status", "AVAILABLE")
        body["vpcLinkStatusMessage"] = getattr(self, "status_message", STATUS_MESSAGES["AVAILABLE"])
        return body


def _patch_vpc_link_backend() -> None:
    backend_cls = v2_models.ApiGatewayV2Backend

    @wrap(backend_cls, "get_vpc_link")
    def _get(original: Callable[..., Any], self: Any, vpc_link_id: str) -> Any:
        with _lock:
            polled = self.vpc_links.get(vpc_link_id)
            if polled is not None:
                polled._emulator_polls += 1
            _settle(self)
        return original(self, vpc_link_id)

    @wrap(backend_cls, "get_vpc_links")
    def _list(original: Callable[..., Any], self: Any) -> Any:
        _settle(self)
        return original(self)

    @wrap(backend_cls, "delete_vpc_link")
    def _delete(original: Callable[..., Any], self: Any, vpc_link_id: str) -> None:
        del original  # replaced entirely: the original pops the link at once
        with _lock:
            _settle(self)
            link = self.vpc_links.get(vpc_link_id)
            if link is None:
                raise VpcLinkNotFound(vpc_link_id)
            references = _references(_rest_backend_of(self), vpc_link_id)
            if references:
                raise BadRequestException(
                    f"Cannot delete vpc link. Vpc link '{vpc_link_id}', is referenced in "
                    f"[{', '.join(references)}] in format of [{REFERENCE_FORMAT}]."
                )
            if link.status != "DELETING":
                _restart(link, "DELETING")
                _settle(self)


def _patch_rest_integrations() -> None:
    @wrap(apigw_responses.APIGatewayResponse, "put_integration")
    def _put(original: Callable[..., Any], self: Any) -> Any:
        connection_id = self._get_param("connectionId")
        if (
            self._get_param("connectionType") == "VPC_LINK"
            and not self._get_param("integrationTarget")
            and connection_id in _v2_backend_of(self.backend).vpc_links
        ):
            raise RestBadRequest(integration_target_required(connection_id))
        return original(self)


def _patch_rest_stages() -> None:
    backend_cls = apigw_models.APIGatewayBackend

    @wrap(backend_cls, "create_deployment")
    def _deploy(
        original: Callable[..., Any],
        self: Any,
        function_id: str,
        name: str,
        description: str = "",
        stage_variables: Any = None,
    ) -> Any:
        api = self.apis.get(function_id)
        if api is not None and name:
            _require_targets(self, api, stage_variables or {})
        return original(self, function_id, name, description, stage_variables)

    @wrap(backend_cls, "create_stage")
    def _create_stage(
        original: Callable[..., Any], self: Any, function_id: str, *args: Any, **kwargs: Any
    ) -> Any:
        api = self.apis.get(function_id)
        if api is not None:
            _require_targets(self, api, kwargs.get("variables") or {})
        return original(self, function_id, *args, **kwargs)

    @wrap(backend_cls, "update_stage")
    def _update_stage(
        original: Callable[..., Any],
        self: Any,
        function_id: str,
        stage_name: str,
        patch_operations: Any,
    ) -> Any:
        api = self.apis.get(function_id)
        stage = api.stages.get(stage_name) if api is not None else None
        if api is not None:
            current = (stage.variables or {}) if stage is not None else {}
            _require_targets(self, api, _patched_variables(current, patch_operations or []))
        return original(self, function_id, stage_name, patch_operations)


def install() -> None:
    """Patch moto once per process; call after :func:`emulator.fidelity.apigateway.install`
    (the PutIntegration check wraps its patch)."""
    global _installed
    with _lock:
        if _installed:
            return
        _patch_vpc_link_model()
        _patch_vpc_link_backend()
        _patch_rest_integrations()
        _patch_rest_stages()
        _installed = True


# --- HTTP control ------------------------------------------------------------------------------
def apply_control(path: str, body: dict[str, Any]) -> dict[str, Any]:
    """The V2 part of ``POST /_emulator/vpclinks`` (other paths and keys are not its own):

    * ``v2PendingSeconds``, ``v2DeletingSeconds``: the V2 periods (default: the V1 ones);
    * ``v2Script``: ``{nameOrSubnetId: {"pendingPolls": 3, "then": "AVAILABLE" | "FAILED",
      "statusMessage": ..., "deletingPolls": 2}}`` (see :class:`LinkScript`);
    * ``v2Inactive``: link ids (a list or one) that become INACTIVE; ``v2Reactivate``: link
      ids that are PENDING again, then AVAILABLE.

    Periods and scripts are checked before anything changes; an unknown link id, or one in
    the wrong status, is refused (HTTP 400). Answers the V2 settings.
    """
    if path == "vpclinks":
        scripts = {key: LinkScript.from_json(s) for key, s in (body.get("v2Script") or {}).items()}
        pending = body.get("v2PendingSeconds")
        deleting = body.get("v2DeletingSeconds")
        for value in (pending, deleting):
            if value is not None:
                _seconds(value)
        set_vpc_link_v2_timing(pending, deleting)
        with _lock:
            settings.scripts.update(scripts)
        for link_id in apigateway._strings(body.get("v2Inactive")):
            make_vpc_link_v2_inactive(link_id)
        for link_id in apigateway._strings(body.get("v2Reactivate")):
            reactivate_vpc_link_v2(link_id)
    elif path == "reset-hooks":
        reset_hooks()
    return {
        "v2PendingSeconds": pending_seconds(),
        "v2DeletingSeconds": deleting_seconds(),
        "v2Scripted": {key: vars(script) for key, script in settings.scripts.items()},
    }
