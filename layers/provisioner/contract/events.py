"""Reading a request event (EventBridge): who to answer, even for an event too broken to
validate (:func:`request_ref_from_event`). Its ``detail`` as a request contract's model, with
every field error at once, is ``contract.details.parse_detail``'s; what the fields must say
beyond their shape (the checks that need AWS) is ``domain.validation``'s.

No pydantic here: the rollback reads who to answer too, and its functions do not import it."""

from __future__ import annotations

import re
from typing import Any

import msgspec

from provisioner.contract.payloads import RequestRef
from provisioner.contract.tickets import TicketRef
from provisioner.contract.vocabulary import (
    MAX_REQUESTED_BY_LENGTH,
    MAX_TICKET_ID_LENGTH,
    REQUEST_ID_PATTERN,
    TICKET_INTAKE_SOURCE,
)
from provisioner.contract.wire import printable


def request_ref_from_event(event: dict[str, Any]) -> RequestRef:
    """Who to answer, even for an event too broken to validate: the ``requestId`` when it is
    well formed, else the EventBridge event id (the documented default); ``ticketId`` and
    ``requestedBy`` only when they are valid (they go into message attributes)."""
    detail = event.get("detail") if isinstance(event.get("detail"), dict) else {}
    assert isinstance(detail, dict)
    requested = detail.get("requestId")
    request_id = (
        requested
        if isinstance(requested, str) and re.fullmatch(REQUEST_ID_PATTERN, requested)
        else str(event.get("id") or "unknown")[:128]
    )
    return RequestRef(
        request_id=request_id,
        ticket_id=_valid_text(detail.get("ticketId"), MAX_TICKET_ID_LENGTH),
        requested_by=_valid_text(detail.get("requestedBy"), MAX_REQUESTED_BY_LENGTH),
        ticket=_valid_ticket(detail.get("ticket"))
        if event.get("source") == TICKET_INTAKE_SOURCE
        else None,
    )


def _valid_ticket(value: Any) -> TicketRef | None:
    try:
        return TicketRef.from_wire(value) if isinstance(value, dict) else None
    except msgspec.ValidationError:
        return None


def _valid_text(value: Any, max_length: int) -> str | None:
    """The requester's free text (``TicketId``, ``RequestedBy``) when it keeps its rules."""
    if not isinstance(value, str) or not 1 <= len(value) <= max_length:
        return None
    try:
        return printable(value)
    except ValueError:
        return None
