"""rollback_request: undo what a failed request created, and say why it failed.

Resources are found by their tags, not by the workflow's state: a Parallel branch that
failed loses its sibling's output, and a crash can happen between "created" and "recorded".
The API goes first (deleting it deletes its stages and integrations), then the link, and a
link is deleted only if this request created it and AWS agrees nothing references it.

DeleteRestApi (1 call every 30 s per account) and a V2 link's DeleteVpcLink (1 every 30 s)
are made in turn (``domain.pacing``), as the teardown makes them: when a turn is not now, the
rollback answers it with what it did so far (``RollbackReport.waiting``), the workflow waits
for it (``WaitForRollbackTurn``) and calls the rollback again with both (``RollbackInTurn``);
each call finds what is left by its tags and goes on. The answer to an execution that stopped
(``domain.unanswered``) has no Wait state: it pauses in its function for a turn within
:data:`STOPPED_PAUSE_SECONDS`, and past that calls out of turn, recorded (``pacing.in_turn_here``).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass, field
from typing import Any

import msgspec

from provisioner.aws import apigateway
from provisioner.contract import errors
from provisioner.contract.events import request_ref_from_event
from provisioner.contract.payloads import ApiGatewayTurn, AwsError, RequestRef, WorkflowKind
from provisioner.contract.payloads.rollback import FailedState, RollbackTask, RolledBack
from provisioner.contract.progress import Status, timestamp
from provisioner.contract.tickets import TicketRef
from provisioner.contract.vocabulary import REQUEST_ID_TAG
from provisioner.domain import pacing, vpc_links
from provisioner.domain.ownership import created_by
from provisioner.runtime.observability import logger
from provisioner.runtime.settings import Settings

_GENERIC_REMEDY = "Send the request again; if it fails the same way, tell the operators."
# Step Functions' own errors, and the workflows' last resort, in the requester's words.
_REMEDIES = {
    "States.DataLimitExceeded": (
        "The request's data grew past Step Functions' 256 KiB limit; send it again with fewer "
        "or shorter fields."
    ),
    "States.Timeout": "The workflow ran out of time; send the request again.",
    "RollbackIncomplete": (
        "Rolling back kept failing: the operators have been alerted; what is left carries the "
        f"tag {REQUEST_ID_TAG} with this request's id."
    ),
    "ExecutionAborted": "The workflow was stopped by an operator; send the request again.",
}
_MAX_CAUSE = 1000
# The answer to a stopped execution pauses at most this long for each paced call's turn (its
# function's timeout is 120 s: an API and a V2 link, each paused for, fit in it).
STOPPED_PAUSE_SECONDS = 40.0
_INVALID = frozenset({errors.InvalidRequest.__name__, errors.ExposureNotAllowed.__name__})
_REJECTIONS = _INVALID | {errors.DuplicateRequestConflict.__name__}


@dataclass
class RollbackReport:
    ref: RequestRef
    status: Status
    error: dict[str, Any]
    deleted: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)
    known: dict[str, str] = field(default_factory=dict)  # restApiId, vpcLinkId: for the message
    # When the outcome was reached: the ledger's history entry and the notification share it.
    at: str = field(default_factory=timestamp)
    # Not done: the turn of a paced call to wait for (deleted and kept say what was done so far)
    waiting: ApiGatewayTurn | None = None

    @property
    def so_far(self) -> RolledBack:
        return RolledBack(deleted=self.deleted, kept=self.kept, known=self.known)

    @property
    def outcome(self) -> dict[str, Any]:
        return {
            "status": self.status.value,
            "message": self.sentence,
            "error": self.error,
            "deleted": self.deleted,
            "kept": self.kept,
        }

    @property
    def sentence(self) -> str:
        verb = "was rejected" if self.status is Status.REJECTED else "failed"
        reason = str(self.error["message"]).rstrip()
        ending = "" if reason.endswith((".", "!", "?")) else "."
        parts = [f"Request {self.ref.request_id} {verb}: {reason}{ending}"]
        if self.deleted:
            parts.append(f"Rolled back: {', '.join(self.deleted)}.")
        if self.kept:
            parts.append(f"Kept: {', '.join(self.kept)}.")
        if self.status is not Status.REJECTED and not self.deleted and not self.kept:
            parts.append("Nothing had been created.")
        return " ".join(parts)


def describe_error(error: AwsError) -> dict[str, Any]:
    """``{code, message, remedy[, fields]}`` from what a Catch recorded.

    Our own errors carry a JSON ``errorMessage`` (see ``errors``); anything else (a Lambda
    timeout, a States.* error) is passed on as AWS wrote it.
    """
    message = _lambda_error_message(error.Cause or "")
    details = _json_object(message)
    if details is not None and "message" in details:
        details.pop("request", None)  # who to answer: not part of the error told
        return {"code": error.Error, **details}
    known = errors.ERRORS_BY_NAME.get(error.Error)
    remedy = known.default_remedy if known else _REMEDIES.get(error.Error, _GENERIC_REMEDY)
    message = message if len(message) <= _MAX_CAUSE else message[:_MAX_CAUSE] + " ..."
    return {"code": error.Error, "message": message or error.Error, "remedy": remedy}


def _lambda_error_message(cause: str) -> str:
    """The ``errorMessage`` of a Lambda error payload, or the cause itself."""
    payload = _json_object(cause)
    if payload is not None and isinstance(payload.get("errorMessage"), str):
        return str(payload["errorMessage"])
    return cause


def _json_object(text: str) -> dict[str, Any] | None:
    try:
        value = json.loads(text)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def rollback_request(
    task: RollbackTask, *, settings: Settings, pause_within: float | None = None
) -> RollbackReport:
    """Undo what this execution's request created; only the execution that owns the request
    in the ledger may: a failed duplicate delivery must not undo the original's work.

    The report has ``waiting`` when a paced call's turn is not now (the workflow waits, then
    calls again with ``task.turn`` and ``task.rolled_back``); ``pause_within``: no Wait state
    will wait, pause here (see ``pacing.in_turn_here``)."""
    state = task.state
    ref = state.request.ref if state.request else _who_to_answer(state)
    error = describe_error(state.the_error)
    if state.the_error.Error in _REJECTIONS:
        # Validation runs before anything is created: there is nothing to roll back.
        report = RollbackReport(ref=ref, status=Status.REJECTED, error=error)
        if state.the_error.Error in _INVALID:
            settings.ledger.requests.record_rejection(
                ref.request_id,
                task.workflow,
                report.outcome,
                at=report.at,
            )
        return report

    done = task.rolled_back or RolledBack()
    report = RollbackReport(
        ref=ref,
        status=Status.FAILED,
        error=error,
        deleted=list(done.deleted),
        kept=list(done.kept),
        known=dict(done.known),
    )
    owner = settings.ledger.requests.get(ref.request_id)
    if owner is None or owner.execution_arn != task.execution_arn:
        return report  # this delivery failed before it claimed the request: it created nothing
    if task.workflow is not WorkflowKind.TEARDOWN:  # a teardown creates nothing
        turns = pacing.Turns(
            settings,
            caller=ref.request_id,
            turn=task.turn,
            retried=task.retry_count > 0,
            pause_within=pause_within,
        )
        report.waiting = _delete_created(ref.request_id, report, settings, turns)
        if report.waiting is not None:
            return report
    report.at = timestamp()  # the outcome is reached once the rollback is done
    try:
        settings.ledger.requests.record_progress(
            ref.request_id,
            status=Status.FAILED,
            message=report.sentence,
            outcome=report.outcome,
            at=report.at,
        )
    except errors.ProvisionerError:  # the requester's answer matters more than the trace
        logger.exception("Could not record the failure in the ledger")
    return report


def _who_to_answer(state: FailedState) -> RequestRef:
    """A validate task failed: its error names the request (see ``tasks.validate.answering``);
    an error that does not (the function timed out) leaves the event id, the default."""
    details = _json_object(_lambda_error_message(state.the_error.Cause or "")) or {}
    named = details.get("request")
    detail = named if isinstance(named, dict) else state.detail
    ref = request_ref_from_event({"id": state.id, "detail": detail})
    if isinstance(named, dict) and isinstance(named.get("ticket"), dict):
        # The validate task kept the ticket only for an event from the ticket intake's source
        # (the failed state no longer has the event's source): its REJECTED answer must reach
        # the ticket, by the ticket's own field labels.
        with suppress(msgspec.ValidationError):
            ref = msgspec.structs.replace(ref, ticket=TicketRef.from_wire(named["ticket"]))
    return ref


def _deletion_of(rest_api_id: str) -> Callable[[bool], None]:
    def delete(in_turn: bool) -> None:
        apigateway.delete_rest_api(rest_api_id, in_turn=in_turn)

    return delete


def _delete_created(
    request_id: str, report: RollbackReport, settings: Settings, turns: pacing.Turns
) -> ApiGatewayTurn | None:
    """Delete what the request created, each paced call in its turn; the turn to wait for
    when one is not now (what was done so far is in the report)."""
    for api in list(apigateway.rest_apis()):
        if created_by(api.tags, request_id, settings):
            deleted = turns.call(pacing.Paced.DELETE_REST_API, _deletion_of(api.id))
            if deleted is not None:
                return deleted
            report.deleted.append(f"REST API {api.id}")
            report.known["restApiId"] = api.id
    for link in list(vpc_links.all_links()):  # V1 and V2
        if created_by(link.tags, request_id, settings) and link.status != "DELETING":
            release = vpc_links.release_link(link.id, turns, ignoring=[request_id])
            if isinstance(release, ApiGatewayTurn):
                return release
            report.known["vpcLinkId"] = link.id
            if release.state == "KEPT":  # another request reused it meanwhile
                report.kept.append(f"VpcLink {link.id} ({release.reason})")
            else:
                report.deleted.append(f"VpcLink {link.id}")
    return None
