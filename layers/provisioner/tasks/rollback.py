"""Every workflow's failure path: roll back, explain, name the outcome event."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit

from provisioner.aws import announce
from provisioner.contract.payloads import RollbackTask, WorkflowKind
from provisioner.contract.progress import Status, progress
from provisioner.domain.rollback import RollbackReport, rollback_request
from provisioner.domain.unanswered import StoppedExecution, answer_stopped_execution
from provisioner.runtime.observability import bind_request, logger, metrics
from provisioner.runtime.settings import Settings

# EventBridge detail-types of the outcome events; none of them matches a request rule.
OUTCOME_DETAIL_TYPES = {
    (WorkflowKind.PROVISION, Status.FAILED): "PrivateApiProvisioningFailed",
    (WorkflowKind.TEARDOWN, Status.FAILED): "PrivateApiDeletionFailed",
    (WorkflowKind.RELINK, Status.FAILED): "PrivateApiRelinkFailed",
}
REJECTED_DETAIL_TYPE = "PrivateApiRequestRejected"


def rollback(task: RollbackTask) -> dict[str, Any]:
    settings = Settings.from_environment()
    return _explained(task.workflow, rollback_request(task, settings=settings))


def answer_stopped(stopped: StoppedExecution) -> dict[str, Any]:
    """An execution stopped without answering: roll back, then tell the requester here."""
    settings = Settings.from_environment()
    answered = answer_stopped_execution(stopped, settings=settings)
    if answered is None:
        return {"answered": False}
    result = _explained(*answered)
    topic, bus = settings.progress_topic_arn, settings.request_bus_name
    if topic:
        announce.publish_progress(topic, result["progress"])
    if bus and settings.outcome_event_source:
        announce.put_outcome(
            bus,
            settings.outcome_event_source,
            result["outcome"]["detailType"],
            result["progress"]["message"],
        )
    return {"answered": True, **result}


def _explained(workflow: WorkflowKind, report: RollbackReport) -> dict[str, Any]:
    bind_request(report.ref)
    rejected = report.status is Status.REJECTED
    metrics.add_metric(
        name="RequestsRejected" if rejected else "RequestsFailed", unit=MetricUnit.Count, value=1
    )
    logger.warning("Request did not succeed", extra={"outcome": report.outcome})
    detail_type = (
        REJECTED_DETAIL_TYPE if rejected else OUTCOME_DETAIL_TYPES[(workflow, report.status)]
    )
    return {
        "outcome": {**report.outcome, "detailType": detail_type},
        "progress": progress(
            report.ref, report.status, report.sentence, error=report.error, **report.known
        ),
    }
