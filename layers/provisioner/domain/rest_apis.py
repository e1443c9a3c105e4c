"""create_api, deploy_api and point_stage_at_link: the REST API half of the tutorial.

Each step first looks for what an earlier attempt of the same request made (by its tag), so a
retry after a crash or a timeout creates nothing twice.
"""

from __future__ import annotations

import json

from provisioner.aws import apigateway
from provisioner.contract.errors import StageNotSafe
from provisioner.contract.payloads import (
    ApiGatewayTurn,
    ApiState,
    DeploymentState,
    ProvisionRequest,
    VpcLinkState,
)
from provisioner.contract.progress import invoke_url
from provisioner.contract.requests import EndpointType
from provisioner.domain import pacing
from provisioner.domain.ownership import created_by, ownership_tags
from provisioner.runtime.settings import Settings

STAGE_VARIABLE = "vpcLinkId"
PROXY_PATH_PART = "{proxy+}"

# A PRIVATE API cannot be deployed without a resource policy. This one lets any caller that
# reaches it through an interface VPC endpoint invoke it; tighten it with aws:SourceVpce.
_PRIVATE_API_POLICY = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": "*",
                "Action": "execute-api:Invoke",
                "Resource": "execute-api:/*",
            }
        ],
    }
)


def create_api(
    request: ProvisionRequest,
    *,
    settings: Settings,
    turn: ApiGatewayTurn | None = None,
    retried: bool = False,
) -> ApiState | ApiGatewayTurn:
    """The REST API with the tutorial's private integration on ``/`` (and ``/{proxy+}``); or,
    when CreateRestApi's turn is not now, the turn to wait for (see ``pacing.in_turn``)."""
    queue = pacing.create_rest_api_queue(request.endpoint_type.value)
    ahead = pacing.turn_ahead(queue, turn, retried=retried, settings=settings)
    if ahead is not None:
        return ahead  # is the API there already? asked in its turn
    api = api_created_by(request.request_id, settings)
    if api is None:
        made = pacing.in_turn(
            queue,
            turn,
            retried=retried,
            settings=settings,
            caller=request.request_id,
            call=lambda in_turn: apigateway.create_rest_api(
                name=request.api_name,
                endpoint_type=request.endpoint_type.value,
                description=(
                    f"Private integration to {request.nlb_arn} (request {request.request_id})"
                ),
                tags=ownership_tags(request.request_id, request.tags, settings),
                policy=(
                    _PRIVATE_API_POLICY if request.endpoint_type is EndpointType.PRIVATE else None
                ),
                in_turn=in_turn,
            ),
        )
        if isinstance(made, ApiGatewayTurn):
            return made
        api = made
    apigateway.put_private_integration(
        api.id, api.root_resource_id, request.http_method, request.endpoint_url
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
        )
    return ApiState(
        rest_api_id=api.id, root_resource_id=api.root_resource_id, created_by_this_request=True
    )


def deploy_api(
    request: ProvisionRequest,
    link: VpcLinkState,
    api: ApiState,
    *,
    settings: Settings,
    turn: ApiGatewayTurn | None = None,
    retried: bool = False,
) -> DeploymentState | ApiGatewayTurn:
    """Deploy to the stage with ``vpcLinkId`` set in the same call, once the link is ready;
    or, when CreateDeployment's turn is not now, the turn to wait for."""
    queue = pacing.Paced.CREATE_DEPLOYMENT
    ahead = pacing.turn_ahead(queue, turn, retried=retried, settings=settings)
    if ahead is not None:
        return ahead  # the link's status and the stage: checked in its turn
    _require_available(link.vpc_link_id)
    stage = apigateway.get_stage(api.rest_api_id, request.stage_name)
    if stage and created_by(stage.get("tags", {}), request.request_id, settings):
        deployment_id = str(stage["deploymentId"])
    else:
        made = pacing.in_turn(
            queue,
            turn,
            retried=retried,
            settings=settings,
            caller=request.request_id,
            call=lambda in_turn: apigateway.create_deployment(
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


def point_stage_at_link(rest_api_id: str, stage_name: str, link: VpcLinkState) -> None:
    """Set the stage's ``vpcLinkId`` to a link that is AVAILABLE now, and read it back."""
    _require_available(link.vpc_link_id)
    apigateway.set_stage_variable(rest_api_id, stage_name, STAGE_VARIABLE, link.vpc_link_id)
    check_stage_points_at(rest_api_id, stage_name, link)


def check_stage_points_at(rest_api_id: str, stage_name: str, link: VpcLinkState) -> None:
    """``StageNotSafe`` unless the stage's ``vpcLinkId`` names the link, read back from AWS."""
    stage = apigateway.get_stage(rest_api_id, stage_name) or {}
    if stage.get("variables", {}).get(STAGE_VARIABLE) != link.vpc_link_id:
        raise StageNotSafe(
            f"Stage {stage_name} of API {rest_api_id} does not point at {link.vpc_link_id}"
        )


def _require_available(vpc_link_id: str) -> None:
    link = apigateway.get_vpc_link(vpc_link_id)
    if link is None or link.status != "AVAILABLE":
        state = "missing" if link is None else link.status
        raise StageNotSafe(f"VpcLink {vpc_link_id} is {state}; no stage may point at it")


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
