"""Who may call a new API and from where (README, "Who may call the API"): the rules that tie
``authorization`` to its authorizer's fields and ``endpointType`` to ``vpcEndpointIds``, the
stack's refusal of unauthenticated APIs, and what AWS must confirm about each named resource.

An authorizer belongs to one REST API, so a request cannot name an existing authorizer id:
it names what the new API's own authorizer is made from (Cognito user pools, or a Lambda
function whose owner lets API Gateway invoke it). Each problem names its field; a field that
the shape check already found wrong is not checked again.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from provisioner.aws import authorizers, ec2
from provisioner.contract.errors import FieldError
from provisioner.contract.requests import (
    LAMBDA_FUNCTION_ARN_PATTERN,
    USER_POOL_ARN_PATTERN,
    VPC_ENDPOINT_ID_PATTERN,
    Authorization,
    EndpointType,
)
from provisioner.runtime.settings import Settings

_USABLE_ENDPOINT_STATES = frozenset({"available", "pending", "pendingacceptance"})
# Which field each authorization needs, and no other authorization takes.
_AUTHORIZER_FIELDS = {
    Authorization.COGNITO_USER_POOLS: "cognitoUserPoolArns",
    Authorization.CUSTOM: "authorizerFunctionArn",
}


def problems(
    raw: dict[str, Any],
    flagged: Callable[[str], bool],
    *,
    settings: Settings,
) -> list[FieldError]:
    """What is wrong with the request's authorization and endpoint fields; what they name must
    be in ``settings``' account and region (the function's own)."""
    account, region = settings.account, settings.region
    found = _authorization_problems(raw, flagged, settings)
    found += _endpoint_problems(raw, flagged)
    bad = {problem.field for problem in found}
    if "detail.vpcEndpointIds" not in bad and _given(raw, flagged, "vpcEndpointIds"):
        found += vpc_endpoint_problems(raw["vpcEndpointIds"], region)
    if "detail.cognitoUserPoolArns" not in bad and _given(raw, flagged, "cognitoUserPoolArns"):
        found += user_pool_problems(raw["cognitoUserPoolArns"], account=account, region=region)
    if "detail.authorizerFunctionArn" not in bad and _given(raw, flagged, "authorizerFunctionArn"):
        found += function_problems(raw["authorizerFunctionArn"], account=account, region=region)
    return found


def _given(raw: dict[str, Any], flagged: Callable[[str], bool], name: str) -> bool:
    return raw.get(name) is not None and not flagged(name)


def _known[Choice: (Authorization, EndpointType)](
    raw: dict[str, Any], name: str, kind: type[Choice], default: Choice
) -> Choice | None:
    """The field's value when it is one of ``kind``'s, the default when absent, else None."""
    value = raw.get(name)
    if value is None:
        return default
    return kind(value) if isinstance(value, str) and value in set(kind) else None


def _authorization_problems(
    raw: dict[str, Any], flagged: Callable[[str], bool], settings: Settings
) -> list[FieldError]:
    authorization = _known(raw, "authorization", Authorization, Authorization.AWS_IAM)
    if authorization is None:
        return []  # the shape check named it
    found = []
    if authorization is Authorization.NONE and not settings.allow_unauthenticated_apis:
        found.append(
            FieldError(
                "detail.authorization",
                "NONE is refused by this stack (template parameter AllowUnauthenticatedApis is "
                "false): use AWS_IAM (the default), COGNITO_USER_POOLS or CUSTOM",
            )
        )
    for needs, name in _AUTHORIZER_FIELDS.items():
        if authorization is needs and raw.get(name) is None:
            found.append(FieldError(f"detail.{name}", f"required with authorization {needs}"))
        elif authorization is not needs and raw.get(name) is not None and not flagged(name):
            found.append(FieldError(f"detail.{name}", f"only with authorization {needs}"))
    return found


def _endpoint_problems(raw: dict[str, Any], flagged: Callable[[str], bool]) -> list[FieldError]:
    endpoint_type = _known(raw, "endpointType", EndpointType, EndpointType.REGIONAL)
    if endpoint_type is None:
        return []
    given = raw.get("vpcEndpointIds") is not None
    if endpoint_type is EndpointType.PRIVATE and not given:
        rule = (
            "required for a PRIVATE API: the interface VPC endpoints (service execute-api) "
            "it may be invoked through"
        )
        return [FieldError("detail.vpcEndpointIds", rule)]
    if endpoint_type is not EndpointType.PRIVATE and given and not flagged("vpcEndpointIds"):
        return [FieldError("detail.vpcEndpointIds", "only for a PRIVATE API (endpointType)")]
    return []


def vpc_endpoint_problems(ids: list[str], region: str) -> list[FieldError]:
    """Each must exist here and be an Interface endpoint of API Gateway (execute-api)."""
    if not all(isinstance(i, str) and re.fullmatch(VPC_ENDPOINT_ID_PATTERN, i) for i in ids):
        return []  # the shape check named it
    service = f"com.amazonaws.{region}.execute-api"
    endpoints = ec2.find_vpc_endpoints(ids)
    found = []
    for endpoint_id in ids:
        endpoint = endpoints.get(endpoint_id)
        if endpoint is None:
            rule = f"no VPC endpoint {endpoint_id} in this account and region"
        elif endpoint.type != "Interface" or endpoint.service_name != service:
            rule = (
                f"{endpoint_id} is a {endpoint.type or 'unknown'} endpoint of "
                f"{endpoint.service_name or 'an unknown service'}; a PRIVATE API needs an "
                f"Interface endpoint of {service}"
            )
        elif endpoint.state not in _USABLE_ENDPOINT_STATES:
            rule = f"VPC endpoint {endpoint_id} is {endpoint.state}"
        else:
            continue
        found.append(FieldError("detail.vpcEndpointIds", rule))
    return found


def user_pool_problems(arns: list[str], *, account: str, region: str) -> list[FieldError]:
    found = []
    for arn in arns:
        match = re.fullmatch(USER_POOL_ARN_PATTERN, arn) if isinstance(arn, str) else None
        if match is None:
            return []  # the shape check named it
        problem = _placed(match, account, region, "user pool") or (
            None
            if authorizers.user_pool_exists(arn.rsplit("/", 1)[1])
            else f"no Cognito user pool {arn}"
        )
        if problem:
            found.append(FieldError("detail.cognitoUserPoolArns", problem))
    return found


def function_problems(arn: str, *, account: str, region: str) -> list[FieldError]:
    match = re.fullmatch(LAMBDA_FUNCTION_ARN_PATTERN, arn) if isinstance(arn, str) else None
    if match is None:
        return []
    problem = _placed(match, account, region, "function")
    if problem is None and not authorizers.function_exists(arn):
        problem = f"no Lambda function {arn}"
    if problem is None and not authorizers.api_gateway_may_invoke(arn):
        problem = (
            f"function {arn} does not let API Gateway invoke it: its owner grants that with "
            "aws lambda add-permission --principal apigateway.amazonaws.com "
            "--action lambda:InvokeFunction"
        )
    return [FieldError("detail.authorizerFunctionArn", problem)] if problem else []


def _placed(match: re.Match[str], account: str, region: str, what: str) -> str | None:
    """Whether the ARN is in the stack's own account and region, like the API."""
    if account and match["account"] != account:
        return f"the {what} must be in this account ({account}), like the API"
    if region and match["region"] != region:
        return f"the {what} must be in this region ({region}), like the API"
    return None
