"""What every task does around its domain work: claim, announce, record."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from provisioner.contract import errors
from provisioner.contract.payloads import RequestRef, ValidateTask, WorkflowKind
from provisioner.contract.progress import Status, progress
from provisioner.domain.validation import request_ref_from_event
from provisioner.runtime.observability import bind_request, metrics
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
    note = progress(ref, Status.ACCEPTED, message)
    record(settings, note)
    return {"request": request.to_wire(), "progress": note}


def record(
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


def where(context: LambdaContext) -> dict[str, str]:
    """The function runs in the stack's own account and region: where the NLB must be."""
    _, _, _, region, account, *_ = context.invoked_function_arn.split(":")
    return {"account": account, "region": region}
