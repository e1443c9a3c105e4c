"""The progress contract: one JSON body and SNS message attributes for every milestone, and
the outcome events' detail-types. The status vocabulary and the timestamp format are
``contract.vocabulary``'s (standard library only, for the CLI), imported from here as well.

Every milestone is told in one place (``domain.milestones.announce``): recorded in the ledger,
published on the progress topic and, when it is final, put on the bus as an outcome event.
"""

from __future__ import annotations

from typing import Any

from provisioner.contract.payloads import RequestRef, WorkflowKind
from provisioner.contract.vocabulary import FINAL_STATUSES as FINAL_STATUSES
from provisioner.contract.vocabulary import RERUNNABLE_STATUSES as RERUNNABLE_STATUSES
from provisioner.contract.vocabulary import Status as Status
from provisioner.contract.vocabulary import timestamp as timestamp

# EventBridge detail-types of the outcome events; none of them matches a request rule.
_OUTCOMES = {
    (WorkflowKind.PROVISION, Status.SUCCEEDED): "PrivateApiProvisioned",
    (WorkflowKind.PROVISION, Status.FAILED): "PrivateApiProvisioningFailed",
    (WorkflowKind.TEARDOWN, Status.SUCCEEDED): "PrivateApiDeleted",
    (WorkflowKind.TEARDOWN, Status.FAILED): "PrivateApiDeletionFailed",
    (WorkflowKind.RELINK, Status.SUCCEEDED): "PrivateApiRelinked",
    (WorkflowKind.RELINK, Status.FAILED): "PrivateApiRelinkFailed",
}
REJECTED_DETAIL_TYPE = "PrivateApiRequestRejected"


def outcome_detail_type(workflow: WorkflowKind, status: Status) -> str:
    return REJECTED_DETAIL_TYPE if status is Status.REJECTED else _OUTCOMES[(workflow, status)]


def invoke_url(rest_api_id: str, region: str, stage_name: str) -> str:
    return f"https://{rest_api_id}.execute-api.{region}.amazonaws.com/{stage_name}"


def progress(
    ref: RequestRef, status: Status, message: str, *, at: str | None = None, **known: Any
) -> dict[str, Any]:
    """``{"message": body, "attributes": sns_message_attributes}``, as SNS publishes it.

    ``known`` holds what is known so far (vpcLinkId, restApiId, stageName, invokeUrl, error);
    ``None`` values are left out. ``at``: the milestone's timestamp when it was already
    recorded (the ledger's history entry and the notification tell the same moment), else now.
    """
    body: dict[str, Any] = {
        "requestId": ref.request_id,
        "ticketId": ref.ticket_id,
        "requestedBy": ref.requested_by,
        "status": status.value,
        "message": message,
        "timestamp": at or timestamp(),
    }
    if ref.ticket is not None:  # a ticket's request: its write-back finds the ticket by this
        body["ticket"] = ref.ticket.to_wire()
    body.update({key: value for key, value in known.items() if value is not None})
    attributes = {
        "requestId": _string_attribute(ref.request_id),
        "status": _string_attribute(status.value),
    }
    if ref.ticket_id:
        attributes["ticketId"] = _string_attribute(ref.ticket_id)
    if ref.ticket is not None:
        attributes["ticketSystem"] = _string_attribute(ref.ticket.system.value)
    return {"message": body, "attributes": attributes}


def _string_attribute(value: str) -> dict[str, str]:
    return {"DataType": "String", "StringValue": value}
