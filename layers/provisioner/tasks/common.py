"""What every task does around its domain work: claim, announce, record."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit

from provisioner.aws import announce as announcements
from provisioner.contract import errors
from provisioner.contract.payloads import ApiGatewayTurn, RequestRef, ValidateTask, WorkflowKind
from provisioner.contract.progress import FINAL_STATUSES, Status, outcome_detail_type, progress
from provisioner.domain.pacing import WAIT_NOTICE_SECONDS
from provisioner.domain.validation import request_ref_from_event
from provisioner.runtime.observability import bind_request, logger, metrics
from provisioner.runtime.settings import Settings
from provisioner.storage import ledger


@contextmanager
def answering(task: ValidateTask) -> Iterator[RequestRef]:
    """Bind the logs to the request the event asks for; every named error raised in the block
    carries it, since the workflow keeps the error alone when a validate task fails (never
    merged into an event that may be as large as EventBridge allows)."""
    ref = request_ref_from_event(task.event)
    bind_request(ref)
    try:
        yield ref
    except errors.ProvisionerError as error:
        error.request = ref.to_wire()
        raise


def validated[Request](
    kind: WorkflowKind, task: ValidateTask, settings: Settings, validate: Callable[[], Request]
) -> Request:
    """Validate the request. A redelivery that no longer validates (its first delivery
    deleted the API, or the NLB is gone since) ends as a duplicate, not as a rejection of a
    request that succeeded."""
    ref = request_ref_from_event(task.event)
    try:
        return validate()
    except errors.InvalidRequest:
        ledger.reject_if_duplicate(
            settings.ledger_table,
            request_id=ref.request_id,
            kind=kind.value,
            fingerprint=ledger.body_hash(task.event.get("detail")),
            execution_arn=task.execution_arn,
        )
        raise


def accept(
    kind: WorkflowKind, request: Any, task: ValidateTask, message: str, settings: Settings
) -> dict[str, Any]:
    """Claim the request in the ledger (exactly once) and announce it."""
    ref = request.ref
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
        ledger.record_progress(
            settings.ledger_table,
            body["requestId"],
            status=status.value,
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


def wait_for_turn(
    settings: Settings, ref: RequestRef, turn: ApiGatewayTurn, what: str, **known: Any
) -> dict[str, Any]:
    """A task whose API Gateway call waits its turn answers the turn (the workflow waits for it
    in a Wait state and calls the task again); the requester hears it when the wait is longer
    than a few seconds (``WAITING_FOR_API_GATEWAY``, with ``expectedAt`` and ``waitSeconds``).
    ``what``: what waits, in the requester's words."""
    note = None
    if turn.wait_seconds > WAIT_NOTICE_SECONDS:
        message = (
            f"Waiting for API Gateway: {what} at {turn.wait_until} (in {turn.wait_seconds} s), "
            f"when this account's turn for {turn.operation} comes (API Gateway allows "
            "each account a fixed rate of it; every request of this stack takes its turn)."
        )
        note = announce(
            settings,
            progress(
                ref,
                Status.WAITING_FOR_API_GATEWAY,
                message,
                expectedAt=turn.wait_until,
                waitSeconds=turn.wait_seconds,
                apiGatewayOperation=turn.operation,
                **known,
            ),
        )
    metrics.add_metric(name="ApiGatewayTurnsWaited", unit=MetricUnit.Count, value=1)
    return {"turn": turn.to_wire(), "progress": note}
