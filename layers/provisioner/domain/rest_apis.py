"""create_api, deploy_api and point_stage_at_link: the REST API half of the tutorial.

Each step first looks for what an earlier attempt of the same request made (by its tag), so a
retry after a crash or a timeout creates nothing twice.

With a VPC link V2 the integrations also name the load balancer (``integrationTarget``), which
a V1 link must not have: a stage moving from a link of one version to the other, or to another
load balancer, needs the integrations changed and deployed, not only its ``vpcLinkId``
(:func:`move_stage_to_link`).
"""

from __future__ import annotations

import json
from typing import Any

from provisioner.aws import apigateway, apigatewayv2
from provisioner.contract.errors import ProvisionerError, StageNotSafe
from provisioner.contract.payloads import ApiGatewayTurn, VpcLinkState
from provisioner.contract.payloads.provisioning import ApiState, DeploymentState, ProvisionRequest
from provisioner.contract.progress import invoke_url
from provisioner.contract.vocabulary import STAGE_VARIABLE as STAGE_VARIABLE
from provisioner.contract.vocabulary import Authorization, EndpointType, VpcLinkVersion
from provisioner.domain import pacing
from provisioner.domain.ownership import created_by, ownership_tags
from provisioner.runtime.settings import Settings

PROXY_PATH_PART = "{proxy+}"

AUTHORIZER_NAME = "provisioner"  # the one authorizer a COGNITO_USER_POOLS or CUSTOM API gets
IDENTITY_SOURCE = "method.request.header.Authorization"


def private_api_policy(request: ProvisionRequest) -> str:
    """A PRIVATE API's resource policy (one is required to deploy it): invocation only
    through the request's interface VPC endpoints (``aws:SourceVpce``), denied from anywhere
    else. With ``AWS_IAM`` only principals of this account are allowed (their own IAM policy
    must also allow ``execute-api:Invoke``); the other authorizations have anonymous callers
    as far as IAM goes, so the endpoints are what the policy can restrict."""
    partition, account = _partition_and_account(request.nlb_arn)
    callers: str | dict[str, str] = (
        {"AWS": f"arn:{partition}:iam::{account}:root"}
        if request.authorization is Authorization.AWS_IAM
        else "*"
    )
    endpoints = list(request.vpc_endpoint_ids)
    invoke = {"Action": "execute-api:Invoke", "Resource": "execute-api:/*"}
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "InvokeOnlyThroughTheseVpcEndpoints",
                    "Effect": "Allow",
                    "Principal": callers,
                    **invoke,
                    "Condition": {"StringEquals": {"aws:SourceVpce": endpoints}},
                },
                {
                    "Sid": "DenyInvokeFromAnywhereElse",
                    "Effect": "Deny",
                    "Principal": "*",
                    **invoke,
                    "Condition": {"StringNotEquals": {"aws:SourceVpce": endpoints}},
                },
            ],
        }
    )


def _partition_and_account(nlb_arn: str) -> tuple[str, str]:
    """From the NLB's ARN, which validation has checked is in the stack's own account."""
    _, partition, _, _, account, *_ = nlb_arn.split(":")
    return partition, account


def create_api(request: ProvisionRequest, turns: pacing.Turns) -> ApiState | ApiGatewayTurn:
    """The REST API with the tutorial's private integration on ``/`` (and ``/{proxy+}``); or,
    when CreateRestApi's turn is not now, the turn to wait for (see ``pacing.in_turn``).
    ``turns``: the task's (``pacing.Turns.of``)."""
    settings = turns.settings
    queue = pacing.create_rest_api_queue(request.endpoint_type.value)
    ahead = turns.ahead(queue)
    if ahead is not None:
        return ahead  # is the API there already? asked in its turn
    api = api_created_by(request.request_id, settings)
    if api is None:
        made = turns.call(
            queue,
            lambda in_turn: apigateway.create_rest_api(
                name=request.api_name,
                endpoint_type=request.endpoint_type.value,
                description=(
                    f"Private integration to {request.nlb_arn} (request {request.request_id})"
                ),
                tags=ownership_tags(request.request_id, request.tags, settings),
                policy=private_api_policy(request) if _is_private(request) else None,
                vpc_endpoint_ids=request.vpc_endpoint_ids if _is_private(request) else None,
                in_turn=in_turn,
            ),
        )
        if isinstance(made, ApiGatewayTurn):
            return made
        api = made
    authorization = request.authorization.value
    authorizer_id = _ensure_authorizer(api.id, request)
    target = integration_target(request.vpc_link_version, request.nlb_arn)
    apigateway.put_private_integration(
        api.id,
        api.root_resource_id,
        request.http_method,
        request.endpoint_url,
        authorization=authorization,
        authorizer_id=authorizer_id,
        integration_target=target,
    )
    if request.proxy_all_paths:
        proxy_id = _proxy_resource_id(api.id) or apigateway.create_resource(
            api.id, api.root_resource_id, PROXY_PATH_PART
        )
        apigateway.put_private_integration(
            api.id,
            proxy_id,
            "ANY",
            f"{request.endpoint_url}/{{proxy}}",
            proxy_path_parameter=True,
            authorization=authorization,
            authorizer_id=authorizer_id,
            integration_target=target,
        )
    return ApiState(
        rest_api_id=api.id, root_resource_id=api.root_resource_id, created_by_this_request=True
    )


def _is_private(request: ProvisionRequest) -> bool:
    return request.endpoint_type is EndpointType.PRIVATE


def _ensure_authorizer(rest_api_id: str, request: ProvisionRequest) -> str | None:
    """The API's own authorizer for COGNITO_USER_POOLS or CUSTOM (an authorizer belongs to
    one REST API, so each API gets its own), created once; None for AWS_IAM and NONE."""
    if request.authorization is Authorization.COGNITO_USER_POOLS:
        settings: dict[str, Any] = {
            "type": "COGNITO_USER_POOLS",
            "providerARNs": request.cognito_user_pool_arns,
        }
    elif request.authorization is Authorization.CUSTOM and request.authorizer_function_arn:
        partition, _ = _partition_and_account(request.nlb_arn)
        settings = {
            "type": "TOKEN",
            "authorizerUri": (
                f"arn:{partition}:apigateway:{apigateway.region()}:lambda:path/2015-03-31/"
                f"functions/{request.authorizer_function_arn}/invocations"
            ),
        }
    else:
        return None
    existing = apigateway.authorizer_ids(rest_api_id).get(AUTHORIZER_NAME)
    return existing or apigateway.create_authorizer(
        rest_api_id, AUTHORIZER_NAME, {**settings, "identitySource": IDENTITY_SOURCE}
    )


def how_to_call(request: ProvisionRequest, rest_api_id: str, region: str, stage: str) -> str:
    """What a caller of the new API must do, for the SUCCEEDED notification."""
    partition, account = _partition_and_account(request.nlb_arn)
    how = {
        Authorization.AWS_IAM: (
            "Sign every request with AWS Signature Version 4 for the service execute-api in "
            f"{region} (for example: awscurl --service execute-api --region {region} <url>); "
            "the caller's IAM policy must allow execute-api:Invoke on "
            f"arn:{partition}:execute-api:{region}:{account}:{rest_api_id}/{stage}/*."
        ),
        Authorization.NONE: "No authentication: anyone who can reach the URL can call it.",
        Authorization.COGNITO_USER_POOLS: (
            "Send an ID token of one of the Cognito user pools "
            f"{', '.join(request.cognito_user_pool_arns)} in the Authorization header."
        ),
        Authorization.CUSTOM: (
            "Send the token the Lambda authorizer "
            f"{request.authorizer_function_arn} expects in the Authorization header."
        ),
    }[request.authorization]
    if _is_private(request):
        first = request.vpc_endpoint_ids[0]
        how += (
            " The API is PRIVATE: call it from a VPC through the VPC endpoints "
            f"{', '.join(request.vpc_endpoint_ids)}, at the invoke URL where the endpoint has "
            f"private DNS, else at https://{rest_api_id}-{first}.execute-api.{region}."
            f"amazonaws.com/{stage}."
        )
    return how


def deploy_api(
    request: ProvisionRequest,
    link: VpcLinkState,
    api: ApiState,
    turns: pacing.Turns,
) -> DeploymentState | ApiGatewayTurn:
    """Deploy to the stage with ``vpcLinkId`` set in the same call, once the link is ready;
    or, when CreateDeployment's turn is not now, the turn to wait for."""
    settings = turns.settings
    queue = pacing.Paced.CREATE_DEPLOYMENT
    ahead = turns.ahead(queue)
    if ahead is not None:
        return ahead  # the link's status and the stage: checked in its turn
    _require_available(link)
    stage = apigateway.get_stage(api.rest_api_id, request.stage_name)
    if stage and created_by(stage.get("tags", {}), request.request_id, settings):
        deployment_id = str(stage["deploymentId"])
    else:
        made = turns.call(
            queue,
            lambda in_turn: apigateway.create_deployment(
                api.rest_api_id,
                request.stage_name,
                variables={STAGE_VARIABLE: link.vpc_link_id},
                description=f"Request {request.request_id}",
                in_turn=in_turn,
            ),
        )
        if isinstance(made, ApiGatewayTurn):
            return made
        deployment_id = made
        apigateway.tag(
            f"/restapis/{api.rest_api_id}/stages/{request.stage_name}",
            ownership_tags(request.request_id, request.tags, settings),
        )
    return DeploymentState(
        deployment_id=deployment_id,
        stage_name=request.stage_name,
        invoke_url=invoke_url(api.rest_api_id, apigateway.region(), request.stage_name),
    )


def integration_target(version: VpcLinkVersion, load_balancer_arn: str | None) -> str | None:
    """What the integrations name as ``integrationTarget``: the load balancer for a V2 link
    (AWS requires it), nothing for a V1 link (whose one NLB is the link's own target)."""
    return load_balancer_arn if version is VpcLinkVersion.V2 else None


def point_stage_at_link(rest_api_id: str, stage_name: str, link: VpcLinkState) -> None:
    """Set the stage's ``vpcLinkId`` to a link that is AVAILABLE now, and read it back."""
    _require_available(link)
    apigateway.set_stage_variable(rest_api_id, stage_name, STAGE_VARIABLE, link.vpc_link_id)
    check_stage_points_at(rest_api_id, stage_name, link)


def move_stage_to_link(
    rest_api_id: str, stage_name: str, link: VpcLinkState, target: str | None, description: str
) -> list[str]:
    """Move the stage to a link its deployment's integrations cannot use as they are (another
    version, or another load balancer): the integrations get ``target`` as their
    ``integrationTarget`` (None: none, for V1), a new deployment is made, and the stage gets
    that deployment and its new ``vpcLinkId`` in one UpdateStage, so it never serves an
    integration with a link it cannot use. Returns the integrations that now name ``target``
    (``METHOD /path``). Safe to run again (a retry finds them changed already).

    Only the API's definition changes before that UpdateStage; if it fails for good, the
    integrations are put back as they were (other stages serve their own deployments)."""
    _require_available(link)
    integrations = apigateway.stage_link_integrations(rest_api_id)
    changed = [found for found in integrations if found.target != target]
    for found in changed:
        apigateway.set_integration_target(rest_api_id, found, target)
    try:
        deployment_id = apigateway.create_stageless_deployment(rest_api_id, description)
        apigateway.point_stage_at_deployment(
            rest_api_id, stage_name, deployment_id, {STAGE_VARIABLE: link.vpc_link_id}
        )
    except ProvisionerError as error:
        if not error.retryable:  # the workflow will not try again: leave the API as it was
            for found in changed:
                apigateway.set_integration_target(rest_api_id, found, found.target)
        raise
    check_stage_points_at(rest_api_id, stage_name, link)
    return [f"{found.http_method} {found.path or found.resource_id}" for found in integrations]


def check_stage_points_at(rest_api_id: str, stage_name: str, link: VpcLinkState) -> None:
    """``StageNotSafe`` unless the stage's ``vpcLinkId`` names the link, read back from AWS."""
    stage = apigateway.get_stage(rest_api_id, stage_name) or {}
    if stage.get("variables", {}).get(STAGE_VARIABLE) != link.vpc_link_id:
        raise StageNotSafe(
            f"Stage {stage_name} of API {rest_api_id} does not point at {link.vpc_link_id}"
        )


def _require_available(link: VpcLinkState) -> None:
    current = apigatewayv2.find_link(link.vpc_link_id, link.vpc_link_version.value)
    if current is None or current.status != "AVAILABLE":
        state = "missing" if current is None else current.status
        raise StageNotSafe(f"VpcLink {link.vpc_link_id} is {state}; no stage may point at it")


def api_created_by(request_id: str, settings: Settings) -> apigateway.RestApi | None:
    """The REST API this control plane created for the request, if any (found by its tags)."""
    for api in apigateway.rest_apis():
        if created_by(api.tags, request_id, settings):
            return api
    return None


def _proxy_resource_id(rest_api_id: str) -> str | None:
    for resource in apigateway.resources(rest_api_id):
        if resource.get("pathPart") == PROXY_PATH_PART:
            return str(resource["id"])
    return None
