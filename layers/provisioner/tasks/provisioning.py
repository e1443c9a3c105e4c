"""The provisioning workflow's own tasks (statemachine/provision.asl.json)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit

from provisioner.aws import apigateway
from provisioner.contract.payloads import WorkflowKind
from provisioner.contract.payloads.provisioning import CreateApiTask, DeployApiTask
from provisioner.contract.progress import Status, progress
from provisioner.contract.vocabulary import VpcLinkVersion
from provisioner.domain import milestones, rest_apis
from provisioner.runtime.observability import metrics
from provisioner.runtime.settings import Settings
from provisioner.tasks import common


def create_api(task: CreateApiTask, settings: Settings) -> dict[str, Any]:
    """``{"api", "turn": None, "progress"}``, or ``{"api": None, "turn", "progress"}`` while
    CreateRestApi's turn has not come (the workflow waits for it and calls again)."""
    request = task.request
    api = common.work_in_turn(
        task, settings, lambda turns: rest_apis.create_api(request, turns), "the API is created"
    )
    if isinstance(api, dict):
        return {"api": None, **api}
    paths = "/ and /{proxy+}" if request.proxy_all_paths else "/"
    message = (
        f"REST API {api.rest_api_id} created: {paths} proxied to {request.endpoint_url} "
        "through the stage's VpcLink"
    )
    if request.vpc_link_version is VpcLinkVersion.V2:
        message += f" V2, integrationTarget {request.nlb_arn}"
    message += "."
    note = progress(request.ref, Status.API_CREATED, message, restApiId=api.rest_api_id)
    milestones.announce(settings, note, restApiId=api.rest_api_id)
    return {"api": api.to_wire(), "turn": None, "progress": note}


def deploy_api(task: DeployApiTask, settings: Settings) -> dict[str, Any]:
    """Deploy with ``vpcLinkId`` set in the same call (the stage never points at a link that
    is not AVAILABLE), check the stage, and tell the requester the API is ready; or, while
    CreateDeployment's turn has not come, ``{"turn", "progress"}`` (see ``create_api``)."""
    request, link, api = task.request, task.link, task.api
    deployment = common.work_in_turn(
        task,
        settings,
        lambda turns: rest_apis.deploy_api(request, link, api, turns),
        f"API {api.rest_api_id} is deployed",
        restApiId=api.rest_api_id,
    )
    if isinstance(deployment, dict):
        return deployment
    known = {
        "vpcLinkId": link.vpc_link_id,
        "restApiId": api.rest_api_id,
        "stageName": deployment.stage_name,
    }
    message = (
        f"API {api.rest_api_id} deployed to stage '{deployment.stage_name}' with "
        f"{rest_apis.STAGE_VARIABLE}={link.vpc_link_id}."
    )
    milestones.announce(
        settings,
        progress(request.ref, Status.API_DEPLOYED, message, **known),
        stageName=deployment.stage_name,
        invokeUrl=deployment.invoke_url,
    )
    rest_apis.check_stage_points_at(api.rest_api_id, deployment.stage_name, link)
    metrics.add_metric(name="ApisProvisioned", unit=MetricUnit.Count, value=1)
    url = deployment.invoke_url
    how = rest_apis.how_to_call(request, api.rest_api_id, apigateway.region(), request.stage_name)
    ready = progress(
        request.ref,
        Status.SUCCEEDED,
        f"Your private API is ready: {url} (through VpcLink {link.vpc_link_id}). {how}",
        invokeUrl=url,
        authorization=request.authorization.value,
        howToCall=how,
        **known,
    )
    milestones.announce(settings, ready, workflow=WorkflowKind.PROVISION, outcome=ready["message"])
    return {"deployment": deployment.to_wire(), "turn": None, "progress": ready}
