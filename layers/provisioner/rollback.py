"""rollback_request: undo what a failed request created, and say why it failed.

Resources are found by their tags, not by the workflow's state: a Parallel branch that
failed loses its sibling's output, and a crash can happen between "created" and "recorded".
The API goes first (deleting it deletes its stages and integrations), then the link, and a
link is deleted only if this request created it and AWS agrees nothing references it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from provisioner import errors
from provisioner.aws import apigateway
from provisioner.models import AwsError, RequestRef, RollbackTask
from provisioner.notifications import Status
from provisioner.ownership import created_by
from provisioner.settings import Settings
from provisioner.validation import request_ref_from_event

_GENERIC_REMEDY = "Send the request again; if it fails the same way, tell the operators."


@dataclass
class RollbackReport:
    ref: RequestRef
    status: Status
    error: dict[str, Any]
    deleted: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)

    @property
    def sentence(self) -> str:
        verb = "was rejected" if self.status is Status.REJECTED else "failed"
        parts = [f"Request {self.ref.request_id} {verb}: {self.error['message']}"]
        if self.deleted:
            parts.append(f"Rolled back: {', '.join(self.deleted)}.")
        if self.kept:
            parts.append(f"Kept: {', '.join(self.kept)}.")
        if self.status is not Status.REJECTED and not self.deleted:
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
        return {"code": error.Error, **details}
    known = errors.ERRORS_BY_NAME.get(error.Error)
    return {
        "code": error.Error,
        "message": message or error.Error,
        "remedy": known.default_remedy if known else _GENERIC_REMEDY,
    }


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


def rollback_request(task: RollbackTask, *, settings: Settings) -> RollbackReport:
    ref = (
        RequestRef(
            request_id=task.request.request_id,
            ticket_id=task.request.ticket_id,
            requested_by=task.request.requested_by,
        )
        if task.request
        else request_ref_from_event({"id": task.id, "detail": task.detail})
    )
    error = describe_error(task.error)
    if task.error.Error == errors.InvalidRequest.__name__:
        # Validation runs before anything is created: there is nothing to roll back.
        return RollbackReport(ref=ref, status=Status.REJECTED, error=error)

    report = RollbackReport(ref=ref, status=Status.FAILED, error=error)
    for api in list(apigateway.rest_apis()):
        if created_by(api.tags, ref.request_id, settings):
            apigateway.delete_rest_api(api.id)
            report.deleted.append(f"REST API {api.id}")
    for link in list(apigateway.vpc_links()):
        if created_by(link.tags, ref.request_id, settings) and link.status != "DELETING":
            try:
                apigateway.delete_vpc_link(link.id)
                report.deleted.append(f"VpcLink {link.id}")
            except errors.AwsRequestRejected as refused:  # another API uses it now
                report.kept.append(f"VpcLink {link.id} ({refused.message})")
    return report
