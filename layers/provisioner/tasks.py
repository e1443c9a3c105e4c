"""One function per Lambda task of the workflows, behind each thin handler.

Each takes the task payload the ASL sends (already parsed into its model), does the domain
work, writes the milestone to the request ledger and returns what the ASL stores at the
state's ``ResultPath``, including the progress notification for the state machine to
publish. Errors are raised, never returned: their class names are what the ASL retries and
catches.
"""

from __future__ import annotations

from contextlib import suppress
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from provisioner import errors, ledger, relink, rest_apis, teardown, vpc_links
from provisioner.models import (
    CreateApiTask,
    DeployApiTask,
    EnsureVpcLinkTask,
    GetVpcLinkStatusTask,
    RequestRef,
    RollbackTask,
    SetStageVariableTask,
    ValidateTask,
    WorkflowKind,
)
from provisioner.notifications import Status, progress
from provisioner.observability import bind_request, logger, metrics
from provisioner.rollback import RollbackReport, rollback_request
from provisioner.settings import Settings
from provisioner.validation import request_ref_from_event, validate_request

# EventBridge detail-types of the outcome events; none of them matches a request rule.
OUTCOME_DETAIL_TYPES = {
    (WorkflowKind.PROVISION, Status.FAILED): "PrivateApiProvisioningFailed",
    (WorkflowKind.TEARDOWN, Status.FAILED): "PrivateApiDeletionFailed",
    (WorkflowKind.RELINK, Status.FAILED): "PrivateApiRelinkFailed",
}
REJECTED_DETAIL_TYPE = "PrivateApiRequestRejected"


# --- provisioning ------------------------------------------------------------------------------
def validate(task: ValidateTask, context: LambdaContext) -> dict[str, Any]:
    bind_request(*_ids(request_ref_from_event(task.event)))
    settings = Settings.from_environment()
    request = validate_request(task.event, **_where(context), settings=settings)
    target = f"VpcLink {request.vpc_link_id}" if request.vpc_link_id else request.nlb_arn
    message = (
        f"Request accepted: {request.endpoint_type.value} API '{request.api_name}', "
        f"stage '{request.stage_name}', private integration to {target}."
    )
    return _accept(WorkflowKind.PROVISION, request, task, message, settings)


def ensure_link(task: EnsureVpcLinkTask) -> dict[str, Any]:
    bind_request(*_ids(task.request))
    settings = Settings.from_environment()
    link = vpc_links.ensure_vpc_link(task.request, started_at=task.started_at, settings=settings)
    origin = "Created" if link.created_by_this_request else "Reusing"
    if link.status == "AVAILABLE":
        status = Status.VPC_LINK_AVAILABLE
        message = f"{origin} VpcLink {link.vpc_link_id}: AVAILABLE."
    else:
        status = Status.VPC_LINK_PENDING
        message = (
            f"{origin} VpcLink {link.vpc_link_id}: {link.status}; waiting until "
            f"{link.deadline} for it to become AVAILABLE (typically 2-4 minutes)."
        )
    logger.info("VpcLink chosen", extra={"vpc_link": link.to_wire()})
    _record(
        settings,
        progress_note := progress(task.request.ref, status, message, vpcLinkId=link.vpc_link_id),
        vpcLinkId=link.vpc_link_id,
        createdVpcLink=link.created_by_this_request,
    )
    return {"link": link.to_wire(), "progress": progress_note}


def check_link(task: GetVpcLinkStatusTask) -> dict[str, Any]:
    bind_request(*_ids(task.request))
    settings = Settings.from_environment()
    link = vpc_links.check_vpc_link(task.link, settings=settings)
    status = Status.VPC_LINK_AVAILABLE if link.status == "AVAILABLE" else Status.VPC_LINK_PENDING
    note = progress(
        task.request.ref,
        status,
        f"VpcLink {link.vpc_link_id} is {link.status}.",
        vpcLinkId=link.vpc_link_id,
    )
    if status is Status.VPC_LINK_AVAILABLE:  # not every poll: the history stays readable
        _record(settings, note, vpcLinkId=link.vpc_link_id)
    return {"link": link.to_wire(), "progress": note}


def create_api(task: CreateApiTask) -> dict[str, Any]:
    request = task.request
    bind_request(*_ids(request))
    settings = Settings.from_environment()
    api = rest_apis.create_api(request, settings=settings)
    paths = "/ and /{proxy+}" if request.proxy_all_paths else "/"
    message = (
        f"REST API {api.rest_api_id} created: {paths} proxied to {request.endpoint_url} "
        "through the stage's VpcLink."
    )
    note = progress(request.ref, Status.API_CREATED, message, restApiId=api.rest_api_id)
    _record(settings, note, restApiId=api.rest_api_id)
    return {"api": api.to_wire(), "progress": note}


def deploy_api(task: DeployApiTask) -> dict[str, Any]:
    bind_request(*_ids(task.request))
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
    _record(settings, note, stageName=deployment.stage_name, invokeUrl=deployment.invoke_url)
    return {"deployment": deployment.to_wire(), "progress": note}


def set_stage_variable(task: SetStageVariableTask) -> dict[str, Any]:
    bind_request(*_ids(task.request))
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
    _record(settings, note, outcome=note["message"])
    return {"progress": note}


# --- teardown ----------------------------------------------------------------------------------
def validate_teardown(task: ValidateTask) -> dict[str, Any]:
    bind_request(*_ids(request_ref_from_event(task.event)))
    settings = Settings.from_environment()
    request = teardown.validate_teardown(task.event, settings=settings)
    links = ", ".join(request.vpc_link_ids) or "none"
    message = (
        f"Teardown accepted: REST API {request.rest_api_id} ('{request.api_name}') will be "
        f"deleted; VpcLinks it uses: {links}."
    )
    return _accept(WorkflowKind.TEARDOWN, request, task, message, settings)


def delete_api(task: teardown.TeardownTask) -> dict[str, Any]:
    request = task.request
    bind_request(*_ids(request))
    settings = Settings.from_environment()
    deleted = teardown.delete_api(request)
    what = "deleted" if deleted else "was already gone"
    note = progress(
        _ref(request),
        Status.API_DELETED,
        f"REST API {request.rest_api_id} {what}, with its stages.",
        restApiId=request.rest_api_id,
    )
    _record(settings, note, restApiId=request.rest_api_id)
    return {"progress": note}


def release_links(task: teardown.TeardownTask) -> dict[str, Any]:
    request = task.request
    bind_request(*_ids(request))
    settings = Settings.from_environment()
    releases = teardown.release_links(request, started_at=task.started_at, settings=settings)
    pending = any(release.state == "DELETING" for release in releases)
    result: dict[str, Any] = {
        "pending": pending,
        "nextPollSeconds": settings.poll_interval_seconds,
        "links": [release.to_wire() for release in releases],
    }
    if pending:
        return result
    fates = "; ".join(f"VpcLink {r.vpc_link_id} {r.reason}" for r in releases) or "no VpcLink"
    note = progress(
        _ref(request),
        Status.SUCCEEDED,
        f"REST API {request.rest_api_id} deleted; {fates}.",
        restApiId=request.rest_api_id,
    )
    _record(settings, note, outcome=note["message"])
    if request.created_by_request:
        _mark_deleted(settings, request.created_by_request, request.request_id)
    return {**result, "progress": note}


def _mark_deleted(settings: Settings, provisioning_id: str, teardown_id: str) -> None:
    # Absent when provisioned before the ledger existed: then there is nothing to mark.
    with suppress(errors.ConditionFailed):
        ledger.record_progress(
            settings.ledger_table,
            provisioning_id,
            status="DELETED",
            message=f"Deleted by request {teardown_id}.",
        )


# --- relink ------------------------------------------------------------------------------------
def validate_relink(task: ValidateTask, context: LambdaContext) -> dict[str, Any]:
    bind_request(*_ids(request_ref_from_event(task.event)))
    settings = Settings.from_environment()
    request = relink.validate_relink(task.event, **_where(context), settings=settings)
    target = f"VpcLink {request.vpc_link_id}" if request.vpc_link_id else request.nlb_arn
    message = (
        f"Relink accepted: stage '{request.stage_name}' of API {request.rest_api_id} will move "
        f"from VpcLink {request.old_vpc_link_id} to {target} once it is AVAILABLE."
    )
    return _accept(WorkflowKind.RELINK, request, task, message, settings)


def relink_stage(task: relink.RelinkTask) -> dict[str, Any]:
    request = task.request
    bind_request(*_ids(request))
    settings = Settings.from_environment()
    old_link = relink.relink_stage(request, task.link, settings=settings)
    message = (
        f"Stage '{request.stage_name}' of API {request.rest_api_id} now uses VpcLink "
        f"{task.link.vpc_link_id}" + (f"; {old_link}." if old_link else ".")
    )
    note = progress(
        _ref(request),
        Status.SUCCEEDED,
        message,
        vpcLinkId=task.link.vpc_link_id,
        restApiId=request.rest_api_id,
        stageName=request.stage_name,
    )
    _record(settings, note, vpcLinkId=task.link.vpc_link_id, outcome=note["message"])
    return {"progress": note}


# --- every workflow's failure path ------------------------------------------------------------
def rollback(task: RollbackTask) -> dict[str, Any]:
    settings = Settings.from_environment()
    report: RollbackReport = rollback_request(task, settings=settings)
    bind_request(report.ref.request_id, report.ref.ticket_id)
    rejected = report.status is Status.REJECTED
    metrics.add_metric(
        name="RequestsRejected" if rejected else "RequestsFailed", unit=MetricUnit.Count, value=1
    )
    logger.warning("Request did not succeed", extra={"outcome": report.outcome})
    detail_type = (
        REJECTED_DETAIL_TYPE if rejected else OUTCOME_DETAIL_TYPES[(task.workflow, report.status)]
    )
    return {
        "outcome": {**report.outcome, "detailType": detail_type},
        "progress": progress(report.ref, report.status, report.sentence, error=report.error),
    }


# --- shared ------------------------------------------------------------------------------------
def _accept(
    kind: WorkflowKind, request: Any, task: ValidateTask, message: str, settings: Settings
) -> dict[str, Any]:
    """Claim the request in the ledger (exactly once) and announce it."""
    ref = _ref(request)
    ledger.claim_request(
        settings.ledger_table,
        request_id=ref.request_id,
        kind=kind.value,
        fingerprint=ledger.body_hash(task.event.get("detail")),
        execution_arn=task.execution_arn,
        ticket_id=ref.ticket_id,
        requested_by=ref.requested_by,
    )
    metrics.add_metric(name="RequestsAccepted", unit=MetricUnit.Count, value=1)
    note = progress(ref, Status.ACCEPTED, message)
    _record(settings, note)
    return {"request": request.to_wire(), "progress": note}


def _record(
    settings: Settings, note: dict[str, Any], *, outcome: Any = None, **resources: Any
) -> None:
    body = note["message"]
    ledger.record_progress(
        settings.ledger_table,
        body["requestId"],
        status=body["status"],
        message=body["message"],
        resources=resources,
        outcome=outcome,
    )


def _ref(request: Any) -> RequestRef:
    return RequestRef(
        request_id=request.request_id,
        ticket_id=request.ticket_id,
        requested_by=request.requested_by,
    )


def _ids(request: Any) -> tuple[str, str | None]:
    return request.request_id, request.ticket_id


def _where(context: LambdaContext) -> dict[str, str]:
    """The function runs in the stack's own account and region: where the NLB must be."""
    _, _, _, region, account, *_ = context.invoked_function_arn.split(":")
    return {"account": account, "region": region}
