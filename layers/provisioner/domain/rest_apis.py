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

from provisioner.aws import apigateway
from provisioner.contract.errors import ProvisionerError, StageNotSafe
from provisioner.contract.payloads import ApiState, DeploymentState, ProvisionRequest, VpcLinkState
from provisioner.contract.progress import invoke_url
from provisioner.contract.requests import EndpointType, VpcLinkVersion
from provisioner.domain.ownership import created_by, ownership_tags
from provisioner.domain.validation import find_link
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


def create_api(request: ProvisionRequest, *, settings: Settings) -> ApiState:
    """The REST API with the tutorial's private integration on ``/`` (and ``/{proxy+}``)."""
    api = api_created_by(request.request_id, settings)
    if api is None:
        api = apigateway.create_rest_api(
            name=request.api_name,
            endpoint_type=request.endpoint_type.value,
            description=f"Private integration to {request.nlb_arn} (request {request.request_id})",
            tags=ownership_tags(request.request_id, request.tags, settings),
            policy=_PRIVATE_API_POLICY if request.endpoint_type is EndpointType.PRIVATE else None,
        )
    target = integration_target(request.vpc_link_version, request.nlb_arn)
    apigateway.put_private_integration(
        api.id,
        api.root_resource_id,
        request.http_method,
        request.endpoint_url,
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
            integration_target=target,
        )
    return ApiState(
        rest_api_id=api.id, root_resource_id=api.root_resource_id, created_by_this_request=True
    )


def deploy_api(
    request: ProvisionRequest, link: VpcLinkState, api: ApiState, *, settings: Settings
) -> DeploymentState:
    """Deploy to the stage with ``vpcLinkId`` set in the same call, once the link is ready."""
    _require_available(link)
    stage = apigateway.get_stage(api.rest_api_id, request.stage_name)
    if stage and created_by(stage.get("tags", {}), request.request_id, settings):
        deployment_id = str(stage["deploymentId"])
    else:
        deployment_id = apigateway.create_deployment(
            api.rest_api_id,
            request.stage_name,
            variables={STAGE_VARIABLE: link.vpc_link_id},
            description=f"Request {request.request_id}",
        )
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
    current = find_link(link.vpc_link_id, link.vpc_link_version.value)
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
