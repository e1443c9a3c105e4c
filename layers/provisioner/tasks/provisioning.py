"""The provisioning workflow's own tasks (statemachine/provision.asl.json)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from provisioner.contract.payloads import (
    CreateApiTask,
    DeployApiTask,
    SetStageVariableTask,
    ValidateTask,
    WorkflowKind,
)
from provisioner.contract.progress import Status, progress
from provisioner.domain import rest_apis
from provisioner.domain.validation import validate_request
from provisioner.runtime.observability import bind_request, metrics
from provisioner.runtime.settings import Settings
from provisioner.tasks import common


def validate(task: ValidateTask, context: LambdaContext) -> dict[str, Any]:
    with common.answering(task):
        settings = Settings.from_environment()
        request = common.validated(
            WorkflowKind.PROVISION,
            task,
            settings,
            lambda: validate_request(task.event, **common.where(context), settings=settings),
        )
        target = f"VpcLink {request.vpc_link_id}" if request.vpc_link_id else request.nlb_arn
        message = (
            f"Request accepted: {request.endpoint_type.value} API '{request.api_name}', "
            f"stage '{request.stage_name}', private integration to {target}."
        )
        return common.accept(WorkflowKind.PROVISION, request, task, message, settings)


def create_api(task: CreateApiTask) -> dict[str, Any]:
    request = task.request
    bind_request(request)
    settings = Settings.from_environment()
    api = rest_apis.create_api(request, settings=settings)
    paths = "/ and /{proxy+}" if request.proxy_all_paths else "/"
    message = (
        f"REST API {api.rest_api_id} created: {paths} proxied to {request.endpoint_url} "
        "through the stage's VpcLink."
    )
    note = progress(request.ref, Status.API_CREATED, message, restApiId=api.rest_api_id)
    common.record(settings, note, restApiId=api.rest_api_id)
    return {"api": api.to_wire(), "progress": note}


def deploy_api(task: DeployApiTask) -> dict[str, Any]:
    bind_request(task.request)
    settings = Settings.from_environment()
    deployment = rest_apis.deploy_api(task.request, task.link, task.api, settings=settings)
    message = (
        f"API {task.api.rest_api_id} deployed to stage '{deployment.stage_name}' with "
        f"vpcLinkId={task.link.vpc_link_id}."
    )
    known = {
        "vpcLinkId": task.link.vpc_link_id,
        "restApiId": task.api.rest_api_id,
        "stageName": deployment.stage_name,
    }
    note = progress(task.request.ref, Status.API_DEPLOYED, message, **known)
    common.record(settings, note, stageName=deployment.stage_name, invokeUrl=deployment.invoke_url)
    return {"deployment": deployment.to_wire(), "progress": note}


def set_stage_variable(task: SetStageVariableTask) -> dict[str, Any]:
    bind_request(task.request)
    settings = Settings.from_environment()
    stage_name = task.deployment.stage_name
    rest_apis.point_stage_at_link(task.api.rest_api_id, stage_name, task.link)
    metrics.add_metric(name="ApisProvisioned", unit=MetricUnit.Count, value=1)
    url = task.deployment.invoke_url
    note = progress(
        task.request.ref,
        Status.SUCCEEDED,
        f"Your private API is ready: {url} (through VpcLink {task.link.vpc_link_id}).",
        vpcLinkId=task.link.vpc_link_id,
        restApiId=task.api.rest_api_id,
        stageName=stage_name,
        invokeUrl=url,
    )
    common.record(settings, note, outcome=note["message"])
    return {"progress": note}
