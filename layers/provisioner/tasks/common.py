"""What tasks share around their domain work: the request an event is about, and waiting for
an API Gateway turn. (A request's milestones are told by ``domain.milestones``.)"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit

from provisioner.contract import errors
from provisioner.contract.payloads import ApiGatewayTurn, RequestRef, ValidateTask, WorkflowKind
from provisioner.contract.progress import Status, progress
from provisioner.domain import milestones
from provisioner.domain.milestones import announce
from provisioner.domain.pacing import WAIT_NOTICE_SECONDS
from provisioner.domain.validation import request_ref_from_event
from provisioner.runtime.observability import bind_request, metrics
from provisioner.runtime.settings import Settings


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


def admit[Request](
    kind: WorkflowKind,
    task: ValidateTask,
    settings: Settings,
    validate: Callable[[], Request],
    accepted: Callable[[Request], str],
) -> dict[str, Any]:
    """What every validate task does: validate the request (an error carries the request it is
    about: :func:`answering`), claim it in the ledger exactly once and tell its acceptance, in
    the words ``accepted`` gives it."""
    with answering(task):
        request = milestones.validated(kind, task, settings, validate)
        return milestones.accept(kind, request, task, accepted(request), settings)


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
