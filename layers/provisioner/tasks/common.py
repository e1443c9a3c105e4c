"""What tasks share around their domain work: doing it in an API Gateway turn, or waiting for
the turn. (A request's milestones are told by ``domain.milestones``; the validate tasks are
``tasks.validate``.)"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit

from provisioner.contract.payloads import ApiGatewayTurn, RequestRef
from provisioner.contract.progress import Status, progress
from provisioner.domain.milestones import announce
from provisioner.domain.pacing import WAIT_NOTICE_SECONDS, PacedPayload, Turns
from provisioner.runtime.observability import metrics
from provisioner.runtime.settings import Settings


def work_in_turn[Made](
    task: PacedPayload,
    settings: Settings,
    work: Callable[[Turns], Made | ApiGatewayTurn],
    what: str,
    **known: Any,
) -> Made | dict[str, Any]:
    """A paced task's domain work for its request, given the task's turns (``Turns.of``):
    what it made, or, when its API Gateway call waits for a turn, the task's answer to wait
    for it (:func:`wait_for_turn`, a dict: ``work`` never makes one). The logs are bound to
    the request already (``runtime.task.lambda_task``)."""
    made = work(Turns.of(task, settings))
    if isinstance(made, ApiGatewayTurn):
        return wait_for_turn(settings, task.request.ref, made, what, **known)
    return made


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
