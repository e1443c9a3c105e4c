"""A request's milestones: accepted exactly once, then each one told in one place.

``accept`` claims the request in the ledger (EventBridge delivers at least once; tickets get
resubmitted) and tells it; ``announce`` records a milestone in the request's ledger entry,
publishes it on the progress topic and, when it is final, puts the outcome event on the bus.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import suppress
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit

from provisioner.aws import announce as announcements
from provisioner.contract import errors
from provisioner.contract.payloads import RequestRef, ValidateTask, WorkflowKind
from provisioner.contract.progress import FINAL_STATUSES, Status, outcome_detail_type, progress
from provisioner.runtime.observability import logger, metrics
from provisioner.runtime.settings import Settings
from provisioner.storage.requests import body_hash


def validated[Request](
    kind: WorkflowKind,
    ref: RequestRef,
    task: ValidateTask,
    settings: Settings,
    validate: Callable[[], Request],
) -> Request:
    """Validate the request ``ref`` names (read from the event, even a broken one:
    ``contract.events.request_ref_from_event``). A redelivery that no longer validates (its
    first delivery deleted the API, or the NLB is gone since) ends as a duplicate, not as a
    rejection of a request that succeeded."""
    try:
        return validate()
    except errors.InvalidRequest:
        settings.ledger.requests.reject_if_duplicate(
            request_id=ref.request_id,
            kind=kind,
            fingerprint=body_hash(task.event.get("detail")),
            execution_arn=task.execution_arn,
        )
        raise


def accept(
    kind: WorkflowKind, request: Any, task: ValidateTask, message: str, settings: Settings
) -> dict[str, Any]:
    """Claim the request in the ledger (exactly once) and announce it."""
    ref = request.ref
    settings.ledger.requests.claim(
        request_id=ref.request_id,
        kind=kind,
        fingerprint=body_hash(task.event.get("detail")),
        execution_arn=task.execution_arn,
        ticket_id=ref.ticket_id,
        requested_by=ref.requested_by,
    )
    metrics.add_metric(name="RequestsAccepted", unit=MetricUnit.Count, value=1)
    note = announce(settings, progress(ref, Status.ACCEPTED, message))
    return {"request": request.to_wire(), "progress": note}


def announce(
    settings: Settings,
    note: dict[str, Any],
    *,
    workflow: WorkflowKind | None = None,
    outcome: Any = None,
    record: bool = True,
    **resources: Any,
) -> dict[str, Any]:
    """Tell a milestone, in the one place every milestone is told: recorded in the request's
    ledger entry (with the resources it names; ``record=False`` when the caller recorded it),
    published on the progress topic and, when it is final, put on the bus as the outcome
    event. A notification that cannot be sent is logged and does not fail the request (the
    ledger has it): the workflows' own notify steps worked the same way. The history entry
    carries the notification's own timestamp: the ticket write-back orders by it."""
    body = note["message"]
    status = Status(body["status"])
    if record:
        settings.ledger.requests.record_progress(
            body["requestId"],
            status=status,
            message=body["message"],
            resources=resources,
            outcome=outcome,
            at=body["timestamp"],
        )
    try:
        if settings.progress_topic_arn:
            announcements.publish_progress(settings.progress_topic_arn, note)
        if status in FINAL_STATUSES and settings.request_bus_name and settings.outcome_event_source:
            assert workflow is not None, "a final milestone names its workflow"
            announcements.put_outcome(
                settings.request_bus_name,
                settings.outcome_event_source,
                outcome_detail_type(workflow, status),
                body,
            )
    except errors.ProvisionerError:
        logger.exception("Could not announce", extra={"status": status.value})
    return note


def mark_deleted(settings: Settings, provisioning_id: str, teardown_id: str) -> None:
    """The provisioning whose API a teardown deleted no longer uses its link."""
    # Absent when provisioned before the ledger existed: then there is nothing to mark.
    with suppress(errors.ConditionFailed):
        settings.ledger.requests.record_progress(
            provisioning_id, status=Status.DELETED, message=f"Deleted by request {teardown_id}."
        )
