"""The edge of the system: each request is validated here (``validate_request``,
``validate_teardown``, ``validate_relink``), every field error found and listed at once.

Shape errors come from the request contract's model (``contract.events.parse_detail``); the rest
needs AWS. A provisioning's load balancer must exist and live in this account and region (the
tutorial: the load balancer and the API must be owned by the same account); ``nlbArn`` names a
``network`` one, ``targetArn`` a network or an ``application`` one; a named ``vpcLinkId`` must
exist and be usable. Then the link: its version (V2 for an ALB, which V1 cannot serve; for an NLB
the stack's ``DefaultNlbVpcLinkVersion``, V1 unless the operator chose V2) and, for V2, its
subnets and security groups (the load balancer's unless the request names others; they must
exist, in the load balancer's VPC). Last, once the load balancer is otherwise fine, its owner's
consent to its exposure (the tag ``private-api:expose=true``): when only that is missing,
``ExposureNotAllowed``. A teardown or a relink names an API this stack created (any other is
refused); a relink's new link is checked as a provisioning's.
"""

from __future__ import annotations

import re
from typing import Any, NamedTuple

from provisioner.aws import apigateway, apigatewayv2, ec2, elbv2
from provisioner.contract.details import (
    ParsedDetail,
    RelinkDetail,
    RequestDetail,
    TeardownDetail,
    parse_detail,
)
from provisioner.contract.errors import FieldError, InvalidRequest
from provisioner.contract.payloads.provisioning import ProvisionRequest
from provisioner.contract.payloads.relink import RelinkRequest
from provisioner.contract.payloads.teardown import TeardownRequest
from provisioner.contract.requests import (
    EXPOSE_TAG,
    EXPOSE_TAG_VALUE,
    LOAD_BALANCER_ARN_PATTERN,
    MANAGED_BY_TAG,
    NLB_ARN_PATTERN,
    REQUEST_ID_PATTERN,
    REQUEST_ID_TAG,
    REST_API_ID_PATTERN,
    STAGE_NAME_PATTERN,
    VPC_LINK_ID_PATTERN,
    SecurityGroupIds,
    SubnetIds,
    VpcLinkVersion,
)
from provisioner.domain import security
from provisioner.domain.ownership import managed_here
from provisioner.domain.rest_apis import STAGE_VARIABLE, api_created_by
from provisioner.runtime.settings import Settings

_USABLE_NLB_STATES = frozenset({"active", "provisioning", "active_impaired"})


# The fields that name what a request's link reaches: exactly one of them.
TARGET_FIELDS = ("nlbArn", "targetArn", "vpcLinkId")
TARGET_FIELD_NAMES = frozenset(f"detail.{name}" for name in TARGET_FIELDS)


def validate_request(event: dict[str, Any], *, settings: Settings) -> ProvisionRequest:
    """The normalised request, or ``InvalidRequest`` listing every problem found. Its load
    balancer must be in ``settings``' account and region (the function's own)."""
    parsed = parse_detail(event, RequestDetail, one_of=(TARGET_FIELDS,))
    target, found = resolve_target(parsed, settings=settings, url_needed=True)
    found += security.problems(parsed.raw, parsed.flagged, settings=settings)
    detail = parsed.answer(found, target_exposure(parsed, target, found, settings))
    if target is None:  # a named link without a target: AWS has no such link
        raise InvalidRequest.of([FieldError("detail.vpcLinkId", "the VpcLink has no target")])
    load_balancer = target.load_balancer
    return ProvisionRequest(
        **parsed.reference(detail),
        api_name=detail.api_name,
        stage_name=detail.stage_name or settings.default_stage_name,
        endpoint_type=detail.endpoint_type,
        nlb_arn=load_balancer.arn,
        vpc_link_id=detail.vpc_link_id,
        endpoint_url=str(
            detail.endpoint_url or f"{target.scheme}://{load_balancer.dns_name}"
        ).rstrip("/"),
        http_method=detail.http_method,
        proxy_all_paths=detail.proxy_all_paths,
        timeout_seconds=detail.timeout_seconds or settings.link_timeout_seconds,
        tags=detail.tags,
        authorization=detail.authorization,
        cognito_user_pool_arns=detail.cognito_user_pool_arns or [],
        authorizer_function_arn=detail.authorizer_function_arn,
        vpc_endpoint_ids=detail.vpc_endpoint_ids or [],
        vpc_link_version=target.version,
        subnet_ids=target.subnet_ids,
        security_group_ids=target.security_group_ids,
    )


class LinkTarget(NamedTuple):
    """The load balancer a request reaches, and the link that reaches it."""

    load_balancer: elbv2.LoadBalancer
    version: VpcLinkVersion
    subnet_ids: list[str] | None = None  # V2: the link's network
    security_group_ids: list[str] | None = None
    scheme: str = "http"  # of the default endpointUrl: https for an ALB with an HTTPS listener


def resolve_target(
    parsed: ParsedDetail[Any],
    *,
    settings: Settings,
    url_needed: bool = False,
) -> tuple[LinkTarget | None, list[FieldError]]:
    """The load balancer and link a provisioning or relink names (``nlbArn``, ``targetArn`` or
    ``vpcLinkId``, with ``vpcLinkVersion``, ``subnetIds``, ``securityGroupIds``), and every
    problem with them; the checks that need AWS run on the fields that are right by
    themselves. ``url_needed``: the default endpointUrl's scheme is wanted (DescribeListeners)."""
    field_name = "targetArn" if parsed.given("targetArn") else "nlbArn"
    arn = parsed.well_formed(field_name, LOAD_BALANCER_ARN_PATTERN)
    requested = parsed.well_formed_as("vpcLinkVersion", VpcLinkVersion)
    problems: list[FieldError] = []
    if vpc_link_id := parsed.well_formed("vpcLinkId", VPC_LINK_ID_PATTERN):
        link = apigatewayv2.find_link(vpc_link_id)
        problems += link_problems(vpc_link_id, link)
        problems += _named_link_problems(parsed, link, requested)
        if link is not None and link.target_arns:  # a V1 link: its NLB and its version
            arn, field_name = link.target_arns[0], "nlbArn"
            requested = VpcLinkVersion.V1
    if arn is None:
        return None, problems + _network_problems_without_target(parsed, requested)
    load_balancer, found = _load_balancer(
        arn,
        field_name,
        account=settings.account,
        region=settings.region,
        application_allowed=field_name == "targetArn",
    )
    problems += found
    if load_balancer is None or found:
        return None, problems
    version = requested or _default_version(load_balancer, settings)
    if load_balancer.type == "application" and version is VpcLinkVersion.V1:
        problems.append(
            FieldError(
                "detail.vpcLinkVersion",
                "V1 links reach network load balancers only (AWS fails one given an ALB: "
                "'NLB ARN is malformed'); an application load balancer needs V2, its default",
            )
        )
    scheme = (
        "https"
        if url_needed
        and not parsed.given("endpointUrl")
        and load_balancer.type == "application"
        and elbv2.listens_on_https(load_balancer.arn)
        else "http"
    )
    if version is VpcLinkVersion.V1:
        if not parsed.given("vpcLinkId"):  # else said already: the named link has its network
            problems += _v2_only(parsed)
        return LinkTarget(load_balancer, version, scheme=scheme), problems
    subnets, groups, found = _link_network(parsed, load_balancer)
    return LinkTarget(load_balancer, version, subnets, groups, scheme), problems + found


def _default_version(load_balancer: elbv2.LoadBalancer, settings: Settings) -> VpcLinkVersion:
    """V2 for an ALB (V1 cannot serve one); for an NLB, the stack's choice (V1 by default)."""
    if load_balancer.type == "application":
        return VpcLinkVersion.V2
    return VpcLinkVersion(settings.default_nlb_vpc_link_version)


def _v2_only(parsed: ParsedDetail[Any]) -> list[FieldError]:
    rule = (
        "only for a VPC link V2 (vpcLinkVersion V2): a V1 link reaches its NLB through a VPC "
        "endpoint service, not through subnets and security groups of its own"
    )
    return [
        FieldError(f"detail.{name}", rule)
        for name in ("subnetIds", "securityGroupIds")
        if parsed.given(name)
    ]


def _named_link_problems(
    parsed: ParsedDetail[Any], link: apigateway.VpcLink | None, requested: VpcLinkVersion | None
) -> list[FieldError]:
    """A named link brings its own version and network; a V2 one has no target to lend."""
    if link is None:
        return []
    problems = [
        FieldError(f"detail.{name}", "not with vpcLinkId: the named link has its own network")
        for name in ("subnetIds", "securityGroupIds")
        if parsed.given(name)
    ]
    if requested is not None and requested.value != link.version:
        problems.append(
            FieldError("detail.vpcLinkVersion", f"VpcLink {link.id} is a {link.version} link")
        )
    if link.version == VpcLinkVersion.V2.value:
        problems.append(
            FieldError(
                "detail.vpcLinkId",
                f"VpcLink {link.id} is a VPC link V2, which serves any load balancer its "
                "subnets reach: name the load balancer with targetArn instead (a V2 link with "
                "the same subnets and security groups is reused)",
            )
        )
    return problems


def _network_problems_without_target(
    parsed: ParsedDetail[Any], requested: VpcLinkVersion | None
) -> list[FieldError]:
    """With no load balancer to check against, what can still be said."""
    return _v2_only(parsed) if requested is VpcLinkVersion.V1 else []


def _link_network(
    parsed: ParsedDetail[Any], load_balancer: elbv2.LoadBalancer
) -> tuple[list[str], list[str], list[FieldError]]:
    """A V2 link's subnets and security groups: the request's, else the load balancer's; each
    must exist and lie in the load balancer's VPC."""
    problems: list[FieldError] = []
    named_subnets = parsed.well_formed_as("subnetIds", SubnetIds)
    named_groups = parsed.well_formed_as("securityGroupIds", SecurityGroupIds)
    subnets = list(named_subnets or load_balancer.subnet_ids)
    groups = list(named_groups or load_balancer.security_group_ids)
    if named_subnets:
        problems += _in_vpc("subnetIds", "subnet", ec2.subnet_vpcs(subnets), subnets, load_balancer)
    if named_groups:
        found = ec2.security_group_vpcs(groups)
        problems += _in_vpc("securityGroupIds", "security group", found, groups, load_balancer)
    if not subnets:
        problems.append(
            FieldError("detail.subnetIds", "required: the load balancer names no subnets")
        )
    return subnets, groups, problems


def _in_vpc(
    name: str, kind: str, vpcs: dict[str, str], ids: list[str], load_balancer: elbv2.LoadBalancer
) -> list[FieldError]:
    problems = []
    for resource_id in ids:
        if resource_id not in vpcs:
            problems.append(FieldError(f"detail.{name}", f"no {kind} {resource_id} exists"))
        elif load_balancer.vpc_id and vpcs[resource_id] != load_balancer.vpc_id:
            problems.append(
                FieldError(
                    f"detail.{name}",
                    f"{kind} {resource_id} is in {vpcs[resource_id]}, not in the load "
                    f"balancer's VPC {load_balancer.vpc_id}",
                )
            )
    return problems


def _load_balancer(
    arn: str,
    field_name: str,
    *,
    account: str,
    region: str,
    application_allowed: bool = False,
) -> tuple[elbv2.LoadBalancer | None, list[FieldError]]:
    """The load balancer, and what is wrong with it for a private integration from this stack
    (reported on ``field_name``)."""
    load_balancer = elbv2.find_load_balancer(arn)
    problems = _ownership_problems(arn, field_name, account=account, region=region)
    return load_balancer, problems + _load_balancer_problems(
        arn, field_name, load_balancer, application_allowed=application_allowed
    )


def _ownership_problems(
    arn: str, field_name: str, *, account: str, region: str
) -> list[FieldError]:
    field = f"detail.{field_name}"
    match = re.fullmatch(NLB_ARN_PATTERN, arn)
    if match is None:  # a vpcLinkId's target; the model already checked a requested ARN
        return [FieldError(field, f"must match {NLB_ARN_PATTERN}")]
    problems = []
    if match["account"] != account:
        problems.append(FieldError(field, f"must be in this account ({account}), like the API"))
    if match["region"] != region:
        problems.append(FieldError(field, f"must be in this region ({region})"))
    return problems


def _load_balancer_problems(
    arn: str,
    field_name: str,
    load_balancer: elbv2.LoadBalancer | None,
    *,
    application_allowed: bool,
) -> list[FieldError]:
    field = f"detail.{field_name}"
    if load_balancer is None:
        return [FieldError(field, f"no load balancer {arn} exists")]
    allowed = ("network", "application") if application_allowed else ("network",)
    if load_balancer.type not in allowed:
        rule = (
            f"must be an application or a network load balancer; this one is of type "
            f"{load_balancer.type!r}"
            if application_allowed
            else f"must be a network load balancer; this one is of type {load_balancer.type!r}"
            + (" (name an ALB with targetArn)" if load_balancer.type == "application" else "")
        )
        return [FieldError(field, rule)]
    if load_balancer.state and load_balancer.state not in _USABLE_NLB_STATES:
        return [FieldError(field, f"load balancer is {load_balancer.state}")]
    return []


def link_problems(vpc_link_id: str, link: apigateway.VpcLink | None) -> list[FieldError]:
    if link is None:
        return [FieldError("detail.vpcLinkId", f"no VpcLink {vpc_link_id} exists")]
    if link.status == "INACTIVE":
        rule = f"VpcLink {vpc_link_id} is INACTIVE: {apigatewayv2.INACTIVE_HELP}"
        return [FieldError("detail.vpcLinkId", rule)]
    if link.status not in apigateway.LINK_STATUSES_IN_SERVICE:
        return [FieldError("detail.vpcLinkId", f"VpcLink {vpc_link_id} is {link.status}")]
    return []


def exposure_problems(
    load_balancer: elbv2.LoadBalancer | None, field: str, settings: Settings
) -> list[FieldError]:
    """The load balancer's owner consents to its exposure through API Gateway by tagging it
    ``private-api:expose=true``; without that tag the request is refused (unless the stack's
    parameter RequireExposureTag is false). Asked of a network or an application load balancer
    that is otherwise fine: what else is wrong with it is said already."""
    if not settings.require_exposure_tag or load_balancer is None:
        return []
    if elbv2.load_balancer_tags(load_balancer.arn).get(EXPOSE_TAG) == EXPOSE_TAG_VALUE:
        return []
    rule = (
        f"load balancer {load_balancer.arn} is not tagged {EXPOSE_TAG}={EXPOSE_TAG_VALUE}: its "
        "owner has not consented to exposing it through API Gateway"
    )
    return [FieldError(field, rule)]


def target_exposure(
    parsed: ParsedDetail[Any],
    target: LinkTarget | None,
    found: list[FieldError],
    settings: Settings,
) -> list[FieldError]:
    """The consent of the owner of the load balancer the request reaches (named, or the
    target of a named V1 link), reported on the field that named it."""
    if target is None:
        return []
    field = next(
        (f"detail.{name}" for name in ("vpcLinkId", "targetArn") if parsed.given(name)),
        "detail.nlbArn",
    )
    if any(problem.field in TARGET_FIELD_NAMES for problem in found):
        return []
    return exposure_problems(target.load_balancer, field, settings)


# --- teardown --------------------------------------------------------------------------------
def validate_teardown(event: dict[str, Any], *, settings: Settings) -> TeardownRequest:
    parsed = parse_detail(event, TeardownDetail, one_of=(("targetRequestId", "restApiId"),))
    api, found = find_managed_api(
        parsed.well_formed("targetRequestId", REQUEST_ID_PATTERN),
        parsed.well_formed("restApiId", REST_API_ID_PATTERN),
        settings=settings,
    )
    detail = parsed.answer(found)
    assert api is not None  # one of the two is given and well formed, and found nothing wrong
    return TeardownRequest(
        **parsed.reference(detail),
        rest_api_id=api.id,
        api_name=api.name,
        created_by_request=api.tags.get(REQUEST_ID_TAG),
        vpc_link_ids=stage_links(api.id),
        keep_vpc_link=detail.keep_vpc_link,
    )


def find_managed_api(
    target_request_id: str | None, rest_api_id: str | None, *, settings: Settings
) -> tuple[apigateway.RestApi | None, list[FieldError]]:
    """The API a teardown or relink is about (by whichever of the two is given), refusing any
    we did not create; or what is wrong. Neither given: nothing to look up, nothing to say
    (the shape check has said it)."""
    if target_request_id:
        created = api_created_by(target_request_id, settings)
        if created is None:
            problem = f"no API created by request {target_request_id}"
            return None, [FieldError("detail.targetRequestId", problem)]
        return created, []
    if not rest_api_id:
        return None, []
    found = apigateway.get_rest_api(rest_api_id)
    if found is None:
        return None, [FieldError("detail.restApiId", f"no REST API {rest_api_id}")]
    if not managed_here(found.tags, settings):
        rule = (
            f"REST API {rest_api_id} is not tagged {MANAGED_BY_TAG}={settings.stack_name}:"
            " this control plane only changes what it created; nothing was touched"
        )
        return None, [FieldError("detail.restApiId", rule)]
    return found, []


def stage_links(rest_api_id: str) -> list[str]:
    """The VpcLinks the API's stages point at (their ``vpcLinkId`` variables)."""
    found = []
    for stage in apigateway.stages(rest_api_id):
        link_id = stage.get("variables", {}).get(STAGE_VARIABLE)
        if link_id and link_id not in found:
            found.append(link_id)
    return found


# --- relink ----------------------------------------------------------------------------------
def validate_relink(event: dict[str, Any], *, settings: Settings) -> RelinkRequest:
    parsed = parse_detail(
        event,
        RelinkDetail,
        one_of=(("targetRequestId", "restApiId"), TARGET_FIELDS),
    )
    api, found = find_managed_api(
        parsed.well_formed("targetRequestId", REQUEST_ID_PATTERN),
        parsed.well_formed("restApiId", REST_API_ID_PATTERN),
        settings=settings,
    )
    stage = None
    stage_name = parsed.well_formed("stageName", STAGE_NAME_PATTERN)
    if api is not None and (stage_name or parsed.raw.get("stageName") is None):
        stage, problems = _stage_of(api.id, stage_name)
        found += problems
    target, problems = resolve_target(parsed, settings=settings)
    found += problems
    detail = parsed.answer(found, target_exposure(parsed, target, found, settings))
    assert api is not None and stage is not None  # else a problem was found
    return RelinkRequest(
        **parsed.reference(detail),
        api_name=api.name,
        rest_api_id=api.id,
        stage_name=stage["stageName"],
        old_vpc_link_id=stage.get("variables", {}).get(STAGE_VARIABLE),
        provisioned_by=api.tags.get(REQUEST_ID_TAG),
        nlb_arn=detail.nlb_arn or detail.target_arn,
        vpc_link_id=detail.vpc_link_id,
        timeout_seconds=detail.timeout_seconds or settings.link_timeout_seconds,
        delete_old_link=detail.delete_old_link,
        tags=detail.tags,
        vpc_link_version=target.version if target else VpcLinkVersion.V1,
        subnet_ids=target.subnet_ids if target else None,
        security_group_ids=target.security_group_ids if target else None,
    )


def _stage_of(
    rest_api_id: str, stage_name: str | None
) -> tuple[dict[str, Any] | None, list[FieldError]]:
    stages = apigateway.stages(rest_api_id)
    if stage_name is None and len(stages) == 1:
        return stages[0], []
    for stage in stages:
        if stage["stageName"] == stage_name:
            return stage, []
    names = ", ".join(sorted(s["stageName"] for s in stages)) or "none"
    rule = "required: the API has several stages" if stage_name is None else "no such stage"
    return None, [FieldError("detail.stageName", f"{rule} (stages: {names})")]
