"""Every workflow's failure path: roll back, explain, tell the requester."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit

from provisioner.contract.payloads import WorkflowKind
from provisioner.contract.payloads.rollback import RollbackTask
from provisioner.contract.progress import Status, outcome_detail_type, progress
from provisioner.domain import milestones
from provisioner.domain.rollback import RollbackReport, rollback_request
from provisioner.domain.unanswered import StatusChange, answer_stopped_execution
from provisioner.runtime.observability import bind_request, logger, metrics
from provisioner.runtime.settings import Settings
from provisioner.tasks import common


def rollback(task: RollbackTask, settings: Settings) -> dict[str, Any]:
    """``{"outcome", "turn": None, "rolledBack": None, "progress"}``, or, while the turn of a
    paced call (DeleteRestApi, a V2 link's DeleteVpcLink) has not come, ``{"outcome": None,
    "turn", "rolledBack", "progress"}`` (the workflow waits for it and calls again with both)."""
    report = rollback_request(task, settings=settings)
    if report.waiting is not None:
        bind_request(report.ref)
        what = f"the rollback of request {report.ref.request_id} goes on"
        waiting = common.wait_for_turn(settings, report.ref, report.waiting, what)
        return {"outcome": None, "rolledBack": report.so_far.to_wire(), **waiting}
    return {**_told(settings, task.workflow, report), "turn": None, "rolledBack": None}


def answer_stopped(change: StatusChange, settings: Settings) -> dict[str, Any]:
    """An execution stopped without answering: roll back and tell the requester, here."""
    answered = answer_stopped_execution(change.detail, settings=settings)
    if answered is None:
        return {"answered": False}
    return {"answered": True, **_told(settings, *answered)}


def _told(settings: Settings, workflow: WorkflowKind, report: RollbackReport) -> dict[str, Any]:
    """The FAILED or REJECTED milestone (the rollback recorded it in the ledger already)."""
    bind_request(report.ref)
    rejected = report.status is Status.REJECTED
    metrics.add_metric(
        name="RequestsRejected" if rejected else "RequestsFailed", unit=MetricUnit.Count, value=1
    )
    logger.warning("Request did not succeed", extra={"outcome": report.outcome})
    note = progress(
        report.ref,
        report.status,
        report.sentence,
        at=report.at,  # the moment the rollback recorded in the ledger
        error=report.error,
        **report.known,
    )
    milestones.announce(settings, note, workflow=workflow, record=False)
    outcome = {**report.outcome, "detailType": outcome_detail_type(workflow, report.status)}
    return {"outcome": outcome, "progress": note}
