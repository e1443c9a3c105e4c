"""Close the gaps between moto's API Gateway and the real service.

moto 5.2 is looser than AWS exactly where this product must be strict (see the README,
"Running it without AWS"). ``install()`` patches moto's backend and response classes once
(idempotently) so that:

* a new VpcLink is ``PENDING``, then ``AVAILABLE`` after ``vpc_link_pending_seconds`` of the
  embedded AWS's clock (:mod:`emulator.engine.clock`), or ``FAILED`` with AWS's ``statusMessage``
  when its NLB is missing, is not a network load balancer, or is already associated with
  another VPC endpoint service. The transition is evaluated lazily whenever links are read.
  An AVAILABLE link owns a VPC endpoint service configuration in moto's EC2 backend, as on
  AWS; deleting the link removes it. A test can instead pin a link's life to the number of
  times it is polled (:func:`script_vpc_links`: "PENDING for three polls, then AVAILABLE"),
  which no machine's speed can change;
* a V1 VpcLink takes exactly one target ARN, and an ARN that is not a network load
  balancer's (an ALB's, say) makes the link FAILED with AWS's ``NLB ARN is malformed``;
* ``put_integration`` keeps ``connectionId`` and ``integrationTarget`` (VPC links V2, whose
  own patches are in :mod:`.apigatewayv2`);
* a VpcLink referenced by an integration (literally, or through the ``vpcLinkId`` stage
  variable) cannot be deleted; otherwise it is ``DELETING`` for ``vpc_link_deleting_seconds``
  (or for a scripted number of polls);
* (network load balancers' ``loadbalancer/net/`` ARNs, which the link checks read, are
  :mod:`.elbv2`'s patch);
* tags work on rest apis and vpc links through ``/tags/{arn}``;
* tests can inject ``TooManyRequestsException`` (HTTP 429) on a named operation; every call
  (v1 and v2) also passes AWS's control-plane rate limits and the seeded faults of
  :mod:`.rate_limits`.

The test hooks are process-global (moto's backends are too) and also reachable over HTTP
through :class:`ControlMiddleware` (``POST /_emulator/...``).
"""

from __future__ import annotations

import itertools
import json
import re
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

from moto.apigateway import models as apigw_models
from moto.apigateway import responses as apigw_responses
from moto.apigateway.exceptions import BadRequestException, NotFoundException, VpcLinkNotFound
from moto.apigatewayv2 import responses as apigwv2_responses

from emulator.engine.clock import CLOCK
from emulator.fidelity import elbv2, rate_limits
from emulator.fidelity.patching import wrap

STATUS_MESSAGES = {
    "PENDING": "Your vpc link is being created",
    "AVAILABLE": "Your vpc link is ready for use",
    "DELETING": "Your vpc link is being deleted",
}
ALREADY_ASSOCIATED = "NLB is already associated with another VPC Endpoint Service"
# A V1 link given an ALB (or any ARN but an NLB's) is created, then FAILED with this
# statusMessage: hashicorp/terraform-provider-aws#30910 ("waiting for completion: FAILED: NLB
# ARN is malformed", the provider printing "FAILED: <statusMessage>") and #45230 (2025-11).
NLB_ARN_MALFORMED = "NLB ARN is malformed"
_NLB_ARN = re.compile(r"^arn:[^:]+:elasticloadbalancing:[^:]*:[^:]*:loadbalancer/net/")
_STAGE_VARIABLE = re.compile(r"^\$\{stageVariables\.([A-Za-z0-9_]+)\}$")


@dataclass(frozen=True)
class LinkScript:
    """A link's life counted in polls (GetVpcLink calls on it), not in time.

    ``pending_polls``: the first N polls answer PENDING, the next settles the link: to
    ``then`` (``AVAILABLE``: unless AWS would fail it; ``FAILED``: with ``status_message``).
    ``deleting_polls``: after DeleteVpcLink, N polls answer DELETING, the next finds it gone.
    """

    pending_polls: int | None = None
    then: str = "AVAILABLE"
    status_message: str | None = None
    deleting_polls: int | None = None

    @classmethod
    def from_json(cls, body: dict[str, Any]) -> LinkScript:
        then = str(body.get("then", "AVAILABLE"))
        if then not in ("AVAILABLE", "FAILED"):
            raise ValueError(f"then must be AVAILABLE or FAILED, not {then!r}")
        return cls(
            pending_polls=_optional_count(body.get("pendingPolls")),
            then=then,
            status_message=body.get("statusMessage"),
            deleting_polls=_optional_count(body.get("deletingPolls")),
        )


def _optional_count(value: Any) -> int | None:
    if value is None:
        return None
    if not isinstance(value, int) or value < 0:
        raise ValueError(f"a number of polls must be a non-negative integer, not {value!r}")
    return value


@dataclass
class FidelitySettings:
    """Timing knobs and test hooks; one instance per process (moto's state is global too)."""

    vpc_link_pending_seconds: float = 3.0
    vpc_link_deleting_seconds: float = 1.0
    held_nlbs: set[str] = field(default_factory=set)
    failing_nlbs: dict[str, str] = field(default_factory=dict)
    throttled: dict[str, int] = field(default_factory=dict)
    scripts: dict[str, LinkScript] = field(default_factory=dict)

    def reset_hooks(self) -> None:
        self.held_nlbs.clear()
        self.failing_nlbs.clear()
        self.throttled.clear()
        self.scripts.clear()


settings = FidelitySettings()
_lock = threading.RLock()
_installed = False
_sequence = itertools.count()


# --- public hooks ------------------------------------------------------------------------------
def set_vpc_link_timing(
    pending_seconds: float | None = None, deleting_seconds: float | None = None
) -> None:
    """Seconds a new link stays PENDING, and a deleted link stays DELETING (0 allowed)."""
    if pending_seconds is not None:
        settings.vpc_link_pending_seconds = float(pending_seconds)
    if deleting_seconds is not None:
        settings.vpc_link_deleting_seconds = float(deleting_seconds)


def hold_vpc_links(nlb_arn: str, hold: bool = True) -> None:
    """Keep the links targeting ``nlb_arn`` PENDING until released (``hold=False``)."""
    with _lock:
        if hold:
            settings.held_nlbs.add(nlb_arn)
        else:
            settings.held_nlbs.discard(nlb_arn)


def fail_vpc_links(nlb_arn: str, message: str) -> None:
    """Make the (still PENDING) links targeting ``nlb_arn`` become FAILED with ``message``."""
    with _lock:
        settings.failing_nlbs[nlb_arn] = message


def script_vpc_links(
    nlb_arn: str,
    *,
    pending_polls: int | None = None,
    then: str = "AVAILABLE",
    status_message: str | None = None,
    deleting_polls: int | None = None,
) -> None:
    """Pin the life of the links targeting ``nlb_arn`` to polls instead of time (see
    :class:`LinkScript`); links that already exist follow it from their next poll."""
    script = LinkScript(pending_polls, then, status_message, deleting_polls)
    with _lock:
        settings.scripts[nlb_arn] = script


def throttle(operation: str, times: int = 1) -> None:
    """Answer the next ``times`` calls of an API Gateway operation (e.g. ``CreateDeployment``;
    REST v1 or v2) with ``TooManyRequestsException`` (HTTP 429)."""
    with _lock:
        settings.throttled[operation] = settings.throttled.get(operation, 0) + int(times)


def reset_hooks() -> None:
    """Forget held / failing / scripted NLBs, pending throttles, and :mod:`.rate_limits`'
    buckets, faults and call record (timings and the rate limits' switch are kept)."""
    with _lock:
        settings.reset_hooks()
        _stage_link_changes.clear()
    rate_limits.reset()


# --- VpcLink lifecycle -------------------------------------------------------------------------
def _ec2_backend(backend: Any) -> Any:
    from moto.ec2.models import ec2_backends

    return ec2_backends[backend.account_id][backend.region_name]


def _failure_reason(backend: Any, link: Any) -> str | None:
    """Why AWS would make this link FAILED, or None when it becomes AVAILABLE."""
    nlb_arn = link.target_arns[0]
    if nlb_arn in settings.failing_nlbs:
        return settings.failing_nlbs[nlb_arn]
    if not _NLB_ARN.match(nlb_arn):
        return NLB_ARN_MALFORMED
    load_balancer = elbv2.backend_of(backend).load_balancers.get(nlb_arn)
    if load_balancer is None:
        return f"Failed to create VPC endpoint service: load balancer {nlb_arn} was not found"
    if load_balancer.type != "network":
        return NLB_ARN_MALFORMED
    for other in backend.vpc_links.values():
        if (
            other is not link
            and other._emulator_seq < link._emulator_seq
            and other.status != "FAILED"
            and nlb_arn in other.target_arns
        ):
            return ALREADY_ASSOCIATED
    for config in _ec2_backend(backend).configurations.values():
        if nlb_arn in config.network_load_balancer_arns:
            return ALREADY_ASSOCIATED
    return None


def _become_available(backend: Any, link: Any) -> None:
    link.status = "AVAILABLE"
    link.status_message = STATUS_MESSAGES["AVAILABLE"]
    config = _ec2_backend(backend).create_vpc_endpoint_service_configuration(
        lb_arns=list(link.target_arns),
        acceptance_required=False,
        private_dns_name=None,
        tags=[],
        supported_regions=[],
    )
    link._emulator_endpoint_service = config.id


def _remove(backend: Any, link: Any) -> None:
    backend.vpc_links.pop(link.id, None)
    service_id = getattr(link, "_emulator_endpoint_service", None)
    if service_id:
        _ec2_backend(backend).configurations.pop(service_id, None)


def _settle(backend: Any) -> None:
    """Apply every transition that is due, oldest link first (later links depend on it)."""
    now = CLOCK.time()
    with _lock:
        links = sorted(backend.vpc_links.values(), key=lambda link: link._emulator_seq)
        for link in links:
            script = settings.scripts.get(link.target_arns[0])
            if link.status == "PENDING" and _pending_is_over(link, script, now):
                _end_pending(backend, link, script)
            elif link.status == "DELETING" and _deleting_is_over(link, script, now):
                _remove(backend, link)


def _pending_is_over(link: Any, script: LinkScript | None, now: float) -> bool:
    if link.target_arns[0] in settings.held_nlbs:
        return False
    if script is not None and script.pending_polls is not None:
        return bool(link._emulator_polls > script.pending_polls)
    return bool(now - link._emulator_since >= settings.vpc_link_pending_seconds)


def _deleting_is_over(link: Any, script: LinkScript | None, now: float) -> bool:
    if script is not None and script.deleting_polls is not None:
        return bool(link._emulator_polls > script.deleting_polls)
    return bool(now - link._emulator_since >= settings.vpc_link_deleting_seconds)


def _end_pending(backend: Any, link: Any, script: LinkScript | None) -> None:
    if script is not None and script.pending_polls is not None and script.then == "FAILED":
        reason: str | None = script.status_message or "Internal failure"
    else:
        reason = _failure_reason(backend, link)
    if reason is None:
        _become_available(backend, link)
    else:
        link.status, link.status_message = "FAILED", reason


def _uses_link(api: Any, connection_id: str, link_id: str) -> bool:
    variable = _STAGE_VARIABLE.match(connection_id)
    if variable is None:
        return connection_id == link_id
    return any(
        (stage.variables or {}).get(variable.group(1)) == link_id for stage in api.stages.values()
    )


def _referencing_apis(backend: Any, link_id: str) -> list[str]:
    """Rest API ids whose integrations use the link, literally or via a stage variable."""
    referencing = []
    for api_id, api in backend.apis.items():
        integrations = (
            method.method_integration
            for resource in api.resources.values()
            for method in resource.resource_methods.values()
        )
        if any(
            _uses_link(api, integration.connection_id, link_id)
            for integration in integrations
            if integration is not None and getattr(integration, "connection_id", None)
        ):
            referencing.append(api_id)
    return referencing


# --- patches ---------------------------------------------------------------------------------
def _patch_vpc_link_model() -> None:
    vpc_link_cls = apigw_models.VpcLink

    @wrap(vpc_link_cls, "__init__")
    def _init(original: Callable[..., None], self: Any, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        self.status = "PENDING"
        self.status_message = STATUS_MESSAGES["PENDING"]
        self._emulator_seq = next(_sequence)
        self._emulator_since = CLOCK.time()
        self._emulator_polls = 0  # GetVpcLink calls since it was created (or deleted)
        self.tags = self.tags or {}

    @wrap(vpc_link_cls, "to_json")
    def _to_json(original: Callable[..., dict[str, Any]], self: Any) -> dict[str, Any]:
        body = original(self)
        body["statusMessage"] = getattr(self, "status_message", STATUS_MESSAGES["AVAILABLE"])
        return body


def _patch_vpc_link_backend() -> None:
    backend_cls = apigw_models.APIGatewayBackend

    @wrap(backend_cls, "create_vpc_link")
    def _create(original: Callable[..., Any], self: Any, **kwargs: Any) -> Any:
        target_arns = kwargs.get("target_arns") or []
        if len(target_arns) != 1:
            raise BadRequestException(
                "A VPC link for a REST API takes exactly one network load balancer ARN "
                f"in targetArns; got {len(target_arns)}"
            )
        return original(self, **kwargs)

    @wrap(backend_cls, "get_vpc_link")
    def _get(original: Callable[..., Any], self: Any, vpc_link_id: str) -> Any:
        with _lock:
            polled = self.vpc_links.get(vpc_link_id)
            if polled is not None:
                polled._emulator_polls += 1
            _settle(self)
        return original(self, vpc_link_id=vpc_link_id)

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
                raise VpcLinkNotFound()
            referencing = _referencing_apis(self, vpc_link_id)
            if referencing:
                raise BadRequestException(
                    f"Cannot delete vpc link {vpc_link_id} because it is referenced in "
                    f"{', '.join(referencing)}"
                )
            if link.status == "DELETING":
                return
            link.status = "DELETING"
            link.status_message = STATUS_MESSAGES["DELETING"]
            link._emulator_since = CLOCK.time()
            link._emulator_polls = 0
            _settle(self)


# --- what stages point at ----------------------------------------------------------------------
@dataclass(frozen=True)
class StageLinkChange:
    """A stage variable that an integration uses as its ``connectionId`` got a new value, and
    the status of the VpcLink (V1 or V2) it names at that moment (``MISSING`` if none)."""

    rest_api_id: str
    stage_name: str
    variable: str
    vpc_link_id: str
    link_status: str


_stage_link_changes: list[StageLinkChange] = []


def stage_link_changes() -> list[StageLinkChange]:
    """Every change since the last :func:`reset_hooks`: the product promises that no stage
    ever points at a link that is not AVAILABLE, and this is what a test checks it with."""
    with _lock:
        return list(_stage_link_changes)


def _link_variables(api: Any) -> set[str]:
    """The stage variables the API's integrations take their ``connectionId`` from."""
    names = set()
    for resource in api.resources.values():
        for method in resource.resource_methods.values():
            integration = method.method_integration
            match = _STAGE_VARIABLE.match(getattr(integration, "connection_id", None) or "")
            if match:
                names.add(match.group(1))
    return names


def _stage_pointers(api: Any) -> dict[tuple[str, str], str]:
    return {
        (stage_name, name): value
        for stage_name, stage in api.stages.items()
        for name in _link_variables(api)
        if (value := (stage.variables or {}).get(name))
    }


def _link_status(backend: Any, link_id: str) -> str:
    """The status of the V1 or V2 link ``link_id`` (a stage variable may name either)."""
    link = backend.vpc_links.get(link_id)
    if link is not None:
        return str(link.status)
    # imported here: apigatewayv2 builds on this module
    from emulator.fidelity import apigatewayv2

    return apigatewayv2.link_status(backend, link_id) or "MISSING"


def _patch_stage_audit() -> None:
    backend_cls = apigw_models.APIGatewayBackend

    def audited(
        original: Callable[..., Any], self: Any, function_id: str, *a: Any, **kw: Any
    ) -> Any:
        api = self.apis.get(function_id)
        before = _stage_pointers(api) if api is not None else {}
        result = original(self, function_id, *a, **kw)
        if api is not None:
            _settle(self)
            for (stage_name, variable), value in _stage_pointers(api).items():
                if before.get((stage_name, variable)) != value:
                    status = _link_status(self, value)
                    change = StageLinkChange(function_id, stage_name, variable, value, status)
                    with _lock:
                        _stage_link_changes.append(change)
        return result

    for name in ("create_deployment", "create_stage", "update_stage"):
        wrap(backend_cls, name)(audited)


def _patch_integrations() -> None:
    @wrap(apigw_models.Integration, "to_json")
    def _to_json(original: Callable[..., dict[str, Any]], self: Any) -> dict[str, Any]:
        body = original(self)
        if getattr(self, "connection_id", None):
            body["connectionId"] = self.connection_id
        if getattr(self, "integration_target", None):
            body["integrationTarget"] = self.integration_target
        return body

    @wrap(apigw_responses.APIGatewayResponse, "put_integration")
    def _put(original: Callable[..., Any], self: Any) -> Any:
        status, headers, _ = original(self)
        parts = self.path.split("/")
        integration = self.backend.get_integration(parts[2], parts[4], parts[6])
        integration.connection_id = self._get_param("connectionId")
        integration.integration_target = self._get_param("integrationTarget")
        return status, headers, json.dumps(integration.to_json())


_TAGGED_ARN = re.compile(
    r"::/(?:restapis/(?P<api>[^/]+)(?:/stages/(?P<stage>[^/]+))?|vpclinks/(?P<link>[^/]+))$"
)


def _tagged(response: Any) -> Any:
    """The model a ``/tags/{arn}`` request is about: rest api, stage or vpc link."""
    arn = unquote(unquote(response.path.split("/tags/", 1)[1]))
    match = _TAGGED_ARN.search(arn)
    if match is None:
        raise NotFoundException(f"Invalid resource identifier {arn}")
    backend = response.backend
    if match["link"]:
        return backend.get_vpc_link(match["link"])
    if match["stage"]:
        return backend.get_stage(match["api"], match["stage"])
    return backend.get_rest_api(match["api"])


def _patch_tags() -> None:
    # botocore sends the ARN's slashes %2F-encoded; the server decodes them, so moto's only
    # route for ARNs with slashes (stages) misses rest apis and vpc links: add theirs.
    from moto.apigateway import urls

    arn = "{0}/tags/arn:(?P<partition>[^/]+):apigateway:(?P<region_name>[^/]+)::"
    urls.url_paths[arn + "/restapis/(?P<function_id>[^/]+)$"] = (
        apigw_responses.APIGatewayResponse.dispatch
    )
    urls.url_paths[arn + "/vpclinks/(?P<vpclink_id>[^/]+)$"] = (
        apigw_responses.APIGatewayResponse.dispatch
    )
    response_cls = apigw_responses.APIGatewayResponse

    def get_tags(self: Any) -> str:
        return json.dumps({"tags": _tagged(self).tags or {}})

    def tag_resource(self: Any) -> Any:
        model = _tagged(self)
        model.tags = {**(model.tags or {}), **(self._get_param("tags") or {})}
        return 204, {"status": 204}, ""

    def untag_resource(self: Any) -> Any:
        model = _tagged(self)
        keys = self.querystring.get("tagKeys") or []
        model.tags = {k: v for k, v in (model.tags or {}).items() if k not in keys}
        return 204, {"status": 204}, ""

    response_cls.get_tags = get_tags  # type: ignore[method-assign]
    response_cls.tag_resource = tag_resource  # type: ignore[method-assign]
    response_cls.untag_resource = untag_resource  # type: ignore[method-assign]


def _patch_throttling() -> None:
    """Every API Gateway request (REST v1 and v2) passes :func:`rate_limits.answer`: the
    :func:`throttle` hook, then the seeded faults, then AWS's control-plane rates."""

    def _call(original: Callable[..., Any], self: Any) -> Any:
        return rate_limits.answer(self, original, _take_scripted_throttle)

    wrap(apigw_responses.APIGatewayResponse, "call_action")(_call)
    wrap(apigwv2_responses.ApiGatewayV2Response, "call_action")(_call)


def _take_scripted_throttle(operation: str) -> bool:
    """Whether :func:`throttle` asked for this call to be refused (counting it if so)."""
    with _lock:
        remaining = settings.throttled.get(operation, 0)
        if remaining:
            settings.throttled[operation] = remaining - 1
    return bool(remaining)


def install(pending_seconds: float | None = None, deleting_seconds: float | None = None) -> None:
    """Patch moto once per process; later calls only update the timings."""
    global _installed
    set_vpc_link_timing(pending_seconds, deleting_seconds)
    with _lock:
        if _installed:
            return
        _patch_vpc_link_model()
        _patch_vpc_link_backend()
        _patch_integrations()
        _patch_tags()
        _patch_throttling()
        _patch_rest_api_deletion()
        _patch_stage_audit()
        _installed = True


def _patch_rest_api_deletion() -> None:
    """Deleting an API that is gone: AWS answers NotFoundException, moto a KeyError (HTTP 500)."""
    from moto.apigateway.exceptions import RestAPINotFound

    @wrap(apigw_models.APIGatewayBackend, "delete_rest_api")
    def _delete(original: Callable[..., Any], self: Any, function_id: str) -> Any:
        if function_id not in self.apis:
            raise RestAPINotFound()
        return original(self, function_id)


# --- HTTP control ----------------------------------------------------------------------------
def apply_control(path: str, body: dict[str, Any]) -> dict[str, Any]:
    """Apply a ``/_emulator/<path>`` control request; returns the resulting settings.

    * ``vpclinks``: ``pendingSeconds``, ``deletingSeconds``, ``hold`` / ``release`` (lists of
      NLB ARNs), ``fail`` (``{nlbArn: statusMessage}``), ``script`` (``{nlbArn: {"pendingPolls":
      3, "then": "AVAILABLE" | "FAILED", "statusMessage": ..., "deletingPolls": 2}}``, see
      :class:`LinkScript`);
    * ``throttle``: ``operation``, ``count`` (default 1): the next calls answer 429; or, the
      probabilistic mode, ``operations`` (a list, or ``"*"``), ``throttleShare``,
      ``errorShare``, ``seed``: the same as ``faults`` (:func:`rate_limits.inject_faults`);
    * ``reset-hooks``: no body;
    * ``stage-links``: no body; answers ``{"changes": [...]}`` (:func:`stage_link_changes`);
    * ``rate-limits``, ``faults``, ``api-calls``: :func:`rate_limits.apply_control`.
    """
    if path == "throttle" and "operation" not in body and "operations" in body:
        path = "faults"  # the probabilistic mode
    if path == "vpclinks":
        _apply_vpc_link_control(body)
    elif path == "throttle":
        throttle(body["operation"], int(body.get("count", 1)))
    elif path == "reset-hooks":
        reset_hooks()
    elif path == "stage-links":
        return {"changes": [vars(change) for change in stage_link_changes()]}
    elif path in rate_limits.CONTROL_PATHS:
        return rate_limits.apply_control(path, body)
    else:
        raise KeyError(path)
    return {
        "pendingSeconds": settings.vpc_link_pending_seconds,
        "deletingSeconds": settings.vpc_link_deleting_seconds,
        "held": sorted(settings.held_nlbs),
        "failing": dict(settings.failing_nlbs),
        "throttled": dict(settings.throttled),
        "scripted": {arn: vars(script) for arn, script in settings.scripts.items()},
    }


def _apply_vpc_link_control(body: dict[str, Any]) -> None:
    set_vpc_link_timing(body.get("pendingSeconds"), body.get("deletingSeconds"))
    for arn in _strings(body.get("hold")):
        hold_vpc_links(arn)
    for arn in _strings(body.get("release")):
        hold_vpc_links(arn, hold=False)
    for arn, message in (body.get("fail") or {}).items():
        fail_vpc_links(arn, message)
    for arn, script in (body.get("script") or {}).items():
        with _lock:
            settings.scripts[arn] = LinkScript.from_json(script)


def _strings(value: Any) -> Iterable[str]:
    if value is None:
        return []
    return [value] if isinstance(value, str) else list(value)
