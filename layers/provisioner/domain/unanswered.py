"""An execution that stopped without answering its requester gets its answer here.

Every workflow ends in a state that has told the requester (``Succeeded``, ``Rejected``,
``Failed``, or ``DuplicateIgnored`` for a second delivery). An execution can still stop
anywhere else: Step Functions fails it with ``States.DataLimitExceeded`` when a state's data
passes 256 KiB (a terminal error: no ``Catch``, not even ``States.ALL``, can take it), the
rollback itself keeps failing (``RollbackIncomplete``), it runs past the state machine's
``TimeoutSeconds``, or an operator stops it. Step Functions announces each of these on
EventBridge ("Step Functions Execution Status Change"); this answers them, once per execution:
what the request created is rolled back (when this execution owned it, as the workflow's own
rollback does), the ledger records FAILED, and the requester is told why.
"""

import json
from typing import Any

from provisioner.aws import executions
from provisioner.contract.payloads import AwsError, WorkflowKind
from provisioner.contract.payloads.rollback import FailedState, RollbackTask
from provisioner.contract.wire import WireStruct
from provisioner.domain.rollback import STOPPED_PAUSE_SECONDS, RollbackReport, rollback_request
from provisioner.runtime.settings import Settings

# The states a workflow ends in once it has answered (statemachine/*.asl.json).
ANSWERED_STATES = frozenset({"Succeeded", "Rejected", "Failed", "DuplicateIgnored"})
_WORKFLOWS = {
    "-provision": WorkflowKind.PROVISION,
    "-teardown": WorkflowKind.TEARDOWN,
    "-relink": WorkflowKind.RELINK,
}
# An execution stopped without an error of its own: the name the requester is told.
_ERROR_OF_STATUS = {"TIMED_OUT": "States.Timeout", "ABORTED": "ExecutionAborted"}


class StoppedExecution(WireStruct, forbid_unknown_fields=False, kw_only=True):
    """``detail`` of a "Step Functions Execution Status Change" event (camelCase, as sent)."""

    execution_arn: str
    state_machine_arn: str
    status: str
    input: str | None = None  # left out by Step Functions when it is too large for the event
    error: str | None = None
    cause: str | None = None

    @property
    def workflow(self) -> WorkflowKind | None:
        name = self.state_machine_arn.rsplit(":", 1)[-1]
        return next((kind for end, kind in _WORKFLOWS.items() if name.endswith(end)), None)


class StatusChange(WireStruct, forbid_unknown_fields=False, kw_only=True):
    """The "Step Functions Execution Status Change" event the watch's rule delivers."""

    detail: StoppedExecution


def answer_stopped_execution(
    stopped: StoppedExecution, *, settings: Settings
) -> tuple[WorkflowKind, RollbackReport] | None:
    """Roll back and explain, unless the execution answered already (or another delivery of
    this event is answering it): None then."""
    workflow = stopped.workflow
    if workflow is None or stopped.status not in ("FAILED", "TIMED_OUT", "ABORTED"):
        return None
    if executions.last_state_entered(stopped.execution_arn) in ANSWERED_STATES:
        return None
    if not settings.ledger.requests.mark_answered(stopped.execution_arn):
        return None
    event = _event(stopped)
    error = AwsError(
        Error=stopped.error or _ERROR_OF_STATUS.get(stopped.status, stopped.status),
        Cause=stopped.cause or f"The execution ended {stopped.status} before it answered.",
    )
    task = RollbackTask(
        workflow=workflow,
        execution_arn=stopped.execution_arn,
        state=FailedState(id=event.get("id"), detail=event.get("detail"), error=error),
    )
    # No Wait state here: a paced call's turn is paused for in the function, within a bound
    return workflow, rollback_request(task, settings=settings, pause_within=STOPPED_PAUSE_SECONDS)


def _event(stopped: StoppedExecution) -> dict[str, Any]:
    """The EventBridge event the execution started with: who to answer."""
    raw = stopped.input if stopped.input is not None else executions.input_of(stopped.execution_arn)
    try:
        event = json.loads(raw)
    except ValueError:
        return {}
    return event if isinstance(event, dict) else {}
