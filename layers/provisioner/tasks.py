"""One function per state of the provisioning workflow, behind each thin Lambda handler.

Each takes the task payload the ASL sends (already parsed into its model), does the domain
work and returns what the ASL stores at the state's ``ResultPath``, including the progress
notification for the state machine to publish. Errors are raised, never returned: their
class names are what the ASL retries and catches.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from provisioner import rest_apis, vpc_links
from provisioner.models import (
    CreateApiTask,
    DeployApiTask,
    EnsureVpcLinkTask,
    GetVpcLinkStatusTask,
    ProvisionRequest,
    RequestRef,
    RollbackTask,
    SetStageVariableTask,
    ValidateTask,
    VpcLinkState,
)
from provisioner.notifications import Status, progress
from provisioner.observability import bind_request, logger, metrics
from provisioner.rollback import rollback_request
from provisioner.settings import Settings
from provisioner.validation import request_ref_from_event, validate_request


def validate(task: ValidateTask, context: LambdaContext) -> dict[str, Any]:
    ref = request_ref_from_event(task.event)
    bind_request(ref.request_id, ref.ticket_id)
    # The function runs in the stack's own account and region: that is where the NLB must be.
    _, _, _, region, account, *_ = context.invoked_function_arn.split(":")
    request = validate_request(
        task.event, account=account, region=region, settings=Settings.from_environment()
    )
    metrics.add_metric(name="RequestsAccepted", unit=MetricUnit.Count, value=1)
    target = f"VpcLink {request.vpc_link_id}" if request.vpc_link_id else request.nlb_arn
    message = (
        f"Request accepted: {request.endpoint_type.value} API '{request.api_name}', "
        f"stage '{request.stage_name}', private integration to {target}."
    )
    return {
        "request": request.to_wire(),
        "progress": progress(_ref(request), Status.ACCEPTED, message),
    }


def ensure_link(task: EnsureVpcLinkTask) -> dict[str, Any]:
    request = _bound(task.request)
    link = vpc_links.ensure_vpc_link(
        request, started_at=task.started_at, settings=Settings.from_environment()
    )
    origin = "Created" if link.created_by_this_request else "Reusing"
    if link.status == "AVAILABLE":
        status, message = (
            Status.VPC_LINK_AVAILABLE,
            f"{origin} VpcLink {link.vpc_link_id}: AVAILABLE.",
        )
    else:
        status, message = (
            Status.VPC_LINK_PENDING,
            f"{origin} VpcLink {link.vpc_link_id}: {link.status}; waiting until "
            f"{link.deadline} for it to become AVAILABLE (typically 2-4 minutes).",
        )
    logger.info("VpcLink chosen", extra={"vpc_link": link.to_wire()})
    return _link_result(request, link, status, message)


def check_link(task: GetVpcLinkStatusTask) -> dict[str, Any]:
    request = _bound(task.request)
    link = vpc_links.check_vpc_link(task.link, settings=Settings.from_environment())
    message = f"VpcLink {link.vpc_link_id} is {link.status}."
    status = Status.VPC_LINK_AVAILABLE if link.status == "AVAILABLE" else Status.VPC_LINK_PENDING
    return _link_result(request, link, status, message)


def create_api(task: CreateApiTask) -> dict[str, Any]:
    request = _bound(task.request)
    api = rest_apis.create_api(request, settings=Settings.from_environment())
    message = (
        f"REST API {api.rest_api_id} created: {request.http_method} / "
        f"{'and ANY /{proxy+} ' if request.proxy_all_paths else ''}"
        f"proxied to {request.endpoint_url} through the stage's VpcLink."
    )
    return {
        "api": api.to_wire(),
        "progress": progress(_ref(request), Status.API_CREATED, message, restApiId=api.rest_api_id),
    }


def deploy_api(task: DeployApiTask) -> dict[str, Any]:
    request = _bound(task.request)
    deployment = rest_apis.deploy_api(
        request, task.link, task.api, settings=Settings.from_environment()
    )
    message = (
        f"API {task.api.rest_api_id} deployed to stage '{deployment.stage_name}' with "
        f"vpcLinkId={task.link.vpc_link_id}."
    )
    return {
        "deployment": deployment.to_wire(),
        "progress": progress(
            _ref(request),
            Status.API_DEPLOYED,
            message,
            vpcLinkId=task.link.vpc_link_id,
            restApiId=task.api.rest_api_id,
            stageName=deployment.stage_name,
        ),
    }


def set_stage_variable(task: SetStageVariableTask) -> dict[str, Any]:
    request = _bound(task.request)
    rest_apis.point_stage_at_link(task.api, task.deployment.stage_name, task.link)
    metrics.add_metric(name="ApisProvisioned", unit=MetricUnit.Count, value=1)
    url = task.deployment.invoke_url
    return {
        "progress": progress(
            _ref(request),
            Status.SUCCEEDED,
            f"Your private API is ready: {url} (through VpcLink {task.link.vpc_link_id}).",
            vpcLinkId=task.link.vpc_link_id,
            restApiId=task.api.rest_api_id,
            stageName=task.deployment.stage_name,
            invokeUrl=url,
        )
    }


def rollback(task: RollbackTask) -> dict[str, Any]:
    report = rollback_request(task, settings=Settings.from_environment())
    bind_request(report.ref.request_id, report.ref.ticket_id)
    metrics.add_metric(
        name="RequestsRejected" if report.status is Status.REJECTED else "ProvisioningFailed",
        unit=MetricUnit.Count,
        value=1,
    )
    logger.warning(
        "Request did not succeed", extra={"report": report.error, "deleted": report.deleted}
    )
    return {
        "outcome": {"status": report.status.value, "error": report.error},
        "progress": progress(report.ref, report.status, report.sentence, error=report.error),
    }


def _bound(request: ProvisionRequest) -> ProvisionRequest:
    bind_request(request.request_id, request.ticket_id)
    return request


def _ref(request: ProvisionRequest) -> RequestRef:
    return RequestRef(
        request_id=request.request_id,
        ticket_id=request.ticket_id,
        requested_by=request.requested_by,
    )


def _link_result(
    request: ProvisionRequest, link: VpcLinkState, status: Status, message: str
) -> dict[str, Any]:
    return {
        "link": link.to_wire(),
        "progress": progress(_ref(request), status, message, vpcLinkId=link.vpc_link_id),
    }
