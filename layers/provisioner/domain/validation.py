"""validate_request: the edge of the system. Every field error is found and listed at once.

Shape errors come from the Pydantic model; the rest needs AWS: the NLB must exist, be a
``network`` load balancer and live in this account and region (the tutorial: the NLB and the
API must be owned by the same account), and a named ``vpcLinkId`` must exist and be usable.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, TypeAdapter, ValidationError

from provisioner.aws import apigateway, elbv2
from provisioner.contract.errors import ExposureNotAllowed, FieldError, InvalidRequest
from provisioner.contract.payloads import ProvisionRequest, RequestRef
from provisioner.contract.requests import (
    EXPOSE_TAG,
    EXPOSE_TAG_VALUE,
    NLB_ARN_PATTERN,
    REQUEST_ID_PATTERN,
    TICKET_INTAKE_SOURCE,
    VPC_LINK_ID_PATTERN,
    RequestDetail,
    RequestedBy,
    TicketId,
    TicketRef,
)
from provisioner.domain import security
from provisioner.runtime.settings import Settings

_USABLE_NLB_STATES = frozenset({"active", "provisioning", "active_impaired"})


def request_ref_from_event(event: dict[str, Any]) -> RequestRef:
    """Who to answer, even for an event too broken to validate: the ``requestId`` when it is
    well formed, else the EventBridge event id (the documented default); ``ticketId`` and
    ``requestedBy`` only when they are valid (they go into message attributes)."""
    detail = event.get("detail") if isinstance(event.get("detail"), dict) else {}
    assert isinstance(detail, dict)
    requested = detail.get("requestId")
    request_id = (
        requested
        if isinstance(requested, str) and re.fullmatch(REQUEST_ID_PATTERN, requested)
        else str(event.get("id") or "unknown")[:128]
    )
    return RequestRef(
        request_id=request_id,
        ticket_id=_valid(TicketId, detail.get("ticketId")),
        requested_by=_valid(RequestedBy, detail.get("requestedBy")),
        ticket=_valid_ticket(detail.get("ticket"))
        if event.get("source") == TICKET_INTAKE_SOURCE
        else None,
    )


def _valid_ticket(value: Any) -> TicketRef | None:
    try:
        return TicketRef.model_validate(value) if isinstance(value, dict) else None
    except ValidationError:
        return None


def _valid(kind: Any, value: Any) -> str | None:
    try:
        return str(TypeAdapter(kind).validate_python(value, strict=True))
    except ValidationError:
        return None


@dataclass
class ParsedDetail[DetailModel: BaseModel]:
    """An event's ``detail`` as far as its shape goes: the model when every field is right,
    and every shape problem; :meth:`well_formed` gives a field that is right by itself, so the
    checks that need AWS still run and every problem is reported at once."""

    event_id: str
    raw: dict[str, Any]
    detail: DetailModel | None
    problems: list[FieldError] = field(default_factory=list)

    def well_formed(self, name: str, pattern: str) -> str | None:
        value = self.raw.get(name)
        flagged = {problem.field for problem in self.problems}
        if f"detail.{name}" in flagged or not isinstance(value, str):
            return None
        return value if re.fullmatch(pattern, value) else None

    def flagged(self, name: str) -> bool:
        """Whether the shape check found ``name`` (or an item of it) wrong."""
        field_name = f"detail.{name}"
        return any(
            problem.field == field_name or problem.field.startswith(field_name + ".")
            for problem in self.problems
        )

    def answer(
        self, found: list[FieldError], exposure: list[FieldError] | None = None
    ) -> DetailModel:
        """The detail, or ``InvalidRequest`` listing the shape problems, ``found`` and
        ``exposure``; ``ExposureNotAllowed`` when a missing consent is all that is wrong."""
        problems = self.problems + found
        if problems or self.detail is None:
            listed = problems + (exposure or [])
            raise InvalidRequest.of(listed or [FieldError("detail", "is not a valid request")])
        if exposure:
            raise ExposureNotAllowed.of(exposure)
        return self.detail


def parse_detail[DetailModel: BaseModel](
    event: dict[str, Any],
    model: type[DetailModel],
    *,
    one_of: tuple[tuple[str, ...], ...] = (),
) -> ParsedDetail[DetailModel]:
    """The event's ``detail`` as ``model`` and every field error. Each group in ``one_of``
    names fields of which exactly one must be given."""
    # Imported here: only the functions that read EventBridge events pay for the Parser's
    # models at cold start.
    from aws_lambda_powertools.utilities.parser import parse
    from aws_lambda_powertools.utilities.parser.models import EventBridgeModel

    event_id = str(event.get("id") or "")
    raw = event.get("detail")
    if not isinstance(raw, dict):
        return ParsedDetail(event_id, {}, None, [FieldError("detail", "must be a JSON object")])
    try:
        event_id = parse(event=event, model=EventBridgeModel).id
    except ValidationError as error:
        return ParsedDetail(event_id, raw, None, _field_errors(error, prefix=""))
    problems = [problem for group in one_of for problem in _exactly_one(raw, group)]
    if "ticket" in raw and event.get("source") != TICKET_INTAKE_SOURCE:
        problems.append(
            FieldError("detail.ticket", f"set only by the ticket intake ({TICKET_INTAKE_SOURCE})")
        )
    try:
        detail = model.model_validate(raw)
    except ValidationError as error:
        return ParsedDetail(event_id, raw, None, _field_errors(error, prefix="detail.") + problems)
    return ParsedDetail(event_id, raw, None if problems else detail, problems)


def _exactly_one(detail: dict[str, Any], group: tuple[str, ...]) -> list[FieldError]:
    """Checked beside the model, so it is reported together with every other field error."""
    given = [name for name in group if detail.get(name) is not None]
    if len(given) == 1:
        return []
    first, *others = group
    if not given:
        return [FieldError(f"detail.{first}", f"required unless {' or '.join(others)} is given")]
    return [FieldError(f"detail.{given[1]}", f"give only one of {', '.join(group)}")]


def validate_request(
    event: dict[str, Any], *, account: str, region: str, settings: Settings
) -> ProvisionRequest:
    """The normalised request, or ``InvalidRequest`` listing every problem found."""
    parsed = parse_detail(event, RequestDetail, one_of=(("nlbArn", "vpcLinkId"),))
    nlb_arn = parsed.well_formed("nlbArn", NLB_ARN_PATTERN)
    vpc_link_id = parsed.well_formed("vpcLinkId", VPC_LINK_ID_PATTERN)
    load_balancer, found = _target_problems(nlb_arn, vpc_link_id, account, region)
    found += security.problems(
        parsed.raw, parsed.flagged, account=account, region=region, settings=settings
    )
    target_field = "detail.nlbArn" if nlb_arn else "detail.vpcLinkId"
    fine = not any(problem.field in ("detail.nlbArn", "detail.vpcLinkId") for problem in found)
    exposure = exposure_problems(load_balancer, target_field, settings) if fine else []
    detail = parsed.answer(found, exposure)
    if load_balancer is None:  # a named link without a target: AWS has no such link
        raise InvalidRequest.of([FieldError("detail.vpcLinkId", "the VpcLink has no target")])
    return ProvisionRequest(
        request_id=detail.request_id or parsed.event_id,
        ticket_id=detail.ticket_id,
        requested_by=detail.requested_by,
        ticket=detail.ticket,
        api_name=detail.api_name,
        stage_name=detail.stage_name or settings.default_stage_name,
        endpoint_type=detail.endpoint_type,
        nlb_arn=load_balancer.arn,
        vpc_link_id=detail.vpc_link_id,
        endpoint_url=str(detail.endpoint_url or f"http://{load_balancer.dns_name}").rstrip("/"),
        http_method=detail.http_method,
        proxy_all_paths=detail.proxy_all_paths,
        timeout_seconds=detail.timeout_seconds or settings.link_timeout_seconds,
        tags=detail.tags,
        authorization=detail.authorization,
        cognito_user_pool_arns=detail.cognito_user_pool_arns or [],
        authorizer_function_arn=detail.authorizer_function_arn,
        vpc_endpoint_ids=detail.vpc_endpoint_ids or [],
    )


def _target_problems(
    nlb_arn: str | None, vpc_link_id: str | None, account: str, region: str
) -> tuple[elbv2.LoadBalancer | None, list[FieldError]]:
    """The NLB the request targets (directly or through a named link), and what is wrong."""
    problems: list[FieldError] = []
    if vpc_link_id:
        link = apigateway.get_vpc_link(vpc_link_id)
        problems += link_problems(vpc_link_id, link)
        if link is not None and link.target_arns:
            nlb_arn = link.target_arns[0]
    if nlb_arn is None:
        return None, problems
    load_balancer, found = check_load_balancer(nlb_arn, account=account, region=region)
    return load_balancer, problems + found


def check_load_balancer(
    nlb_arn: str, *, account: str, region: str
) -> tuple[elbv2.LoadBalancer | None, list[FieldError]]:
    """The NLB, and what is wrong with it for a private integration from this stack."""
    load_balancer = elbv2.find_load_balancer(nlb_arn)
    problems = _ownership_problems(nlb_arn, account=account, region=region)
    return load_balancer, problems + _load_balancer_problems(nlb_arn, load_balancer)


def _field_errors(error: ValidationError, *, prefix: str) -> list[FieldError]:
    found = []
    for item in error.errors():
        location = ".".join(str(part) for part in item["loc"])
        rule = str(item["msg"]).removeprefix("Value error, ")
        if item["type"] == "extra_forbidden":
            rule = "unknown field (check its spelling against the request contract)"
        elif item["type"] == "string_pattern_mismatch":
            rule = f"must match {item.get('ctx', {}).get('pattern', 'the documented pattern')}"
        found.append(FieldError(field=f"{prefix}{location}".rstrip("."), rule=rule))
    return found


def _ownership_problems(nlb_arn: str, *, account: str, region: str) -> list[FieldError]:
    match = re.fullmatch(NLB_ARN_PATTERN, nlb_arn)
    if match is None:  # a vpcLinkId's target; the model already checked a requested nlbArn
        return [FieldError("detail.nlbArn", f"must match {NLB_ARN_PATTERN}")]
    problems = []
    if match["account"] != account:
        problems.append(
            FieldError("detail.nlbArn", f"must be in this account ({account}), like the API")
        )
    if match["region"] != region:
        problems.append(FieldError("detail.nlbArn", f"must be in this region ({region})"))
    return problems


def _load_balancer_problems(
    nlb_arn: str, load_balancer: elbv2.LoadBalancer | None
) -> list[FieldError]:
    if load_balancer is None:
        return [FieldError("detail.nlbArn", f"no load balancer {nlb_arn} exists")]
    if load_balancer.type != "network":
        return [
            FieldError(
                "detail.nlbArn",
                f"must be a network load balancer; this one is of type {load_balancer.type!r}",
            )
        ]
    if load_balancer.state and load_balancer.state not in _USABLE_NLB_STATES:
        return [FieldError("detail.nlbArn", f"load balancer is {load_balancer.state}")]
    return []


def link_problems(vpc_link_id: str, link: apigateway.VpcLink | None) -> list[FieldError]:
    if link is None:
        return [FieldError("detail.vpcLinkId", f"no VpcLink {vpc_link_id} exists")]
    if link.status not in apigateway.LINK_STATUSES_IN_SERVICE:
        return [FieldError("detail.vpcLinkId", f"VpcLink {vpc_link_id} is {link.status}")]
    return []


def exposure_problems(
    load_balancer: elbv2.LoadBalancer | None, field: str, settings: Settings
) -> list[FieldError]:
    """The load balancer's owner consents to its exposure through API Gateway by tagging it
    ``private-api:expose=true``; without that tag the request is refused (unless the stack's
    parameter RequireExposureTag is false). Only asked of a network load balancer that is
    otherwise fine: what else is wrong with it is said already."""
    if not settings.require_exposure_tag or load_balancer is None:
        return []
    if load_balancer.type != "network":
        return []
    if elbv2.load_balancer_tags(load_balancer.arn).get(EXPOSE_TAG) == EXPOSE_TAG_VALUE:
        return []
    rule = (
        f"load balancer {load_balancer.arn} is not tagged {EXPOSE_TAG}={EXPOSE_TAG_VALUE}: its "
        "owner has not consented to exposing it through API Gateway"
    )
    return [FieldError(field, rule)]


def link_target_exposure(
    link: apigateway.VpcLink | None, field: str, settings: Settings
) -> list[FieldError]:
    """The exposure consent of the NLB an existing link targets."""
    if link is None or not link.target_arns or not settings.require_exposure_tag:
        return []
    return exposure_problems(elbv2.find_load_balancer(link.target_arns[0]), field, settings)
