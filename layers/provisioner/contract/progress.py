"""The progress contract: one JSON body and SNS message attributes for every milestone.

Tasks build the notification; the state machine publishes it with the direct ``sns:publish``
integration (``Message.$`` / ``MessageAttributes.$``), so formatting lives in one place.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from provisioner.contract.payloads import RequestRef


class Status(StrEnum):
    ACCEPTED = "ACCEPTED"
    VPC_LINK_PENDING = "VPC_LINK_PENDING"
    VPC_LINK_AVAILABLE = "VPC_LINK_AVAILABLE"
    API_CREATED = "API_CREATED"
    API_DEPLOYED = "API_DEPLOYED"
    API_DELETED = "API_DELETED"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    REJECTED = "REJECTED"


FINAL_STATUSES = frozenset({Status.SUCCEEDED, Status.FAILED, Status.REJECTED})


def invoke_url(rest_api_id: str, region: str, stage_name: str) -> str:
    return f"https://{rest_api_id}.execute-api.{region}.amazonaws.com/{stage_name}"


def progress(ref: RequestRef, status: Status, message: str, **known: Any) -> dict[str, Any]:
    """``{"message": body, "attributes": sns_message_attributes}`` for the ASL to publish.

    ``known`` holds what is known so far (vpcLinkId, restApiId, stageName, invokeUrl, error);
    ``None`` values are left out.
    """
    body: dict[str, Any] = {
        "requestId": ref.request_id,
        "ticketId": ref.ticket_id,
        "requestedBy": ref.requested_by,
        "status": status.value,
        "message": message,
        "timestamp": datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
    }
    body.update({key: value for key, value in known.items() if value is not None})
    attributes = {
        "requestId": _string_attribute(ref.request_id),
        "status": _string_attribute(status.value),
    }
    if ref.ticket_id:
        attributes["ticketId"] = _string_attribute(ref.ticket_id)
    return {"message": body, "attributes": attributes}


def _string_attribute(value: str) -> dict[str, str]:
    return {"DataType": "String", "StringValue": value}
