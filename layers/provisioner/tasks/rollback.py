"""Every workflow's failure path: roll back, explain, name the outcome event."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit

from provisioner.models import RollbackTask, WorkflowKind
from provisioner.notifications import Status, progress
from provisioner.observability import bind_request, logger, metrics
from provisioner.rollback import RollbackReport, rollback_request
from provisioner.settings import Settings

# EventBridge detail-types of the outcome events; none of them matches a request rule.
OUTCOME_DETAIL_TYPES = {
    (WorkflowKind.PROVISION, Status.FAILED): "PrivateApiProvisioningFailed",
    (WorkflowKind.TEARDOWN, Status.FAILED): "PrivateApiDeletionFailed",
    (WorkflowKind.RELINK, Status.FAILED): "PrivateApiRelinkFailed",
}
REJECTED_DETAIL_TYPE = "PrivateApiRequestRejected"


def rollback(task: RollbackTask) -> dict[str, Any]:
    settings = Settings.from_environment()
    report: RollbackReport = rollback_request(task, settings=settings)
    bind_request(report.ref)
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
        "progress": progress(
            report.ref, report.status, report.sentence, error=report.error, **report.known
        ),
    }
