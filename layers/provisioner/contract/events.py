"""Reading a request event (EventBridge): who to answer, even for an event too broken to
validate (:func:`request_ref_from_event`), and its ``detail`` as a request contract's model with
every field error at once (:func:`parse_detail`). What the fields must say beyond their shape
(the checks that need AWS) is ``domain.validation``'s."""

from __future__ import annotations

import re
from typing import Any, NamedTuple

from pydantic import BaseModel, TypeAdapter, ValidationError

from provisioner.contract.errors import ExposureNotAllowed, FieldError, InvalidRequest
from provisioner.contract.payloads import RequestRef
from provisioner.contract.requests import (
    REQUEST_ID_PATTERN,
    TICKET_INTAKE_SOURCE,
    RequestedBy,
    TicketId,
    TicketRef,
)


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
        ticket_id=_valid(TicketId, detail.get("ticketId")),
        requested_by=_valid(RequestedBy, detail.get("requestedBy")),
        ticket=_valid_ticket(detail.get("ticket"))
        if event.get("source") == TICKET_INTAKE_SOURCE
        else None,
    )


def _valid_ticket(value: Any) -> TicketRef | None:
    try:
        return TicketRef.model_validate(value) if isinstance(value, dict) else None
    except ValidationError:
        return None


def _valid(kind: Any, value: Any) -> str | None:
    try:
        return str(TypeAdapter(kind).validate_python(value, strict=True))
    except ValidationError:
        return None


class ParsedDetail[DetailModel: BaseModel](NamedTuple):
    """An event's ``detail`` as far as its shape goes: the model when every field is right,
    and every shape problem; :meth:`well_formed` gives a field that is right by itself, so the
    checks that need AWS still run and every problem is reported at once."""

    event_id: str
    raw: dict[str, Any]
    detail: DetailModel | None
    problems: list[FieldError]

    def well_formed(self, name: str, pattern: str) -> str | None:
        value = self.raw.get(name)
        flagged = {problem.field for problem in self.problems}
        if f"detail.{name}" in flagged or not isinstance(value, str):
            return None
        return value if re.fullmatch(pattern, value) else None

    def flagged(self, name: str) -> bool:
        """Whether the shape check found ``name`` (or an item of it) wrong."""
        field_name = f"detail.{name}"
        return any(
            problem.field == field_name or problem.field.startswith(field_name + ".")
            for problem in self.problems
        )

    def well_formed_as(self, name: str, kind: Any) -> Any:
        """The field as ``kind`` (an annotated type of the contract) when it is given and
        right by itself, else None."""
        value = self.raw.get(name)
        if value is None or self.flagged(name):
            return None
        try:
            return TypeAdapter(kind).validate_python(value)
        except ValidationError:
            return None

    def given(self, name: str) -> bool:
        return self.raw.get(name) is not None

    def reference(self, detail: Any) -> dict[str, Any]:
        """The fields every request has (``RequestRef``'s) from its valid detail: its id (the
        event's when it names none), ticket and requester."""
        return {
            "request_id": detail.request_id or self.event_id,
            "ticket_id": detail.ticket_id,
            "requested_by": detail.requested_by,
            "ticket": detail.ticket,
        }

    def answer(
        self, found: list[FieldError], exposure: list[FieldError] | None = None
    ) -> DetailModel:
        """The detail, or ``InvalidRequest`` listing the shape problems, ``found`` and
        ``exposure``; ``ExposureNotAllowed`` when a missing consent is all that is wrong."""
        problems = self.problems + found
        if problems or self.detail is None:
            listed = problems + (exposure or [])
            raise InvalidRequest.of(listed or [FieldError("detail", "is not a valid request")])
        if exposure:
            raise ExposureNotAllowed.of(exposure)
        return self.detail


def parse_detail[DetailModel: BaseModel](
    event: dict[str, Any],
    model: type[DetailModel],
    *,
    one_of: tuple[tuple[str, ...], ...] = (),
) -> ParsedDetail[DetailModel]:
    """The event's ``detail`` as ``model`` and every field error. Each group in ``one_of``
    names fields of which exactly one must be given."""
    # Imported here: only the functions that read EventBridge events pay for the Parser's
    # models at cold start.
    from aws_lambda_powertools.utilities.parser import parse
    from aws_lambda_powertools.utilities.parser.models import EventBridgeModel

    event_id = str(event.get("id") or "")
    raw = event.get("detail")
    if not isinstance(raw, dict):
        return ParsedDetail(event_id, {}, None, [FieldError("detail", "must be a JSON object")])
    try:
        event_id = parse(event=event, model=EventBridgeModel).id
    except ValidationError as error:
        return ParsedDetail(event_id, raw, None, _field_errors(error, prefix=""))
    problems = [problem for group in one_of for problem in _exactly_one(raw, group)]
    if "ticket" in raw and event.get("source") != TICKET_INTAKE_SOURCE:
        problems.append(
            FieldError("detail.ticket", f"set only by the ticket intake ({TICKET_INTAKE_SOURCE})")
        )
    try:
        detail = model.model_validate(raw)
    except ValidationError as error:
        return ParsedDetail(event_id, raw, None, _field_errors(error, prefix="detail.") + problems)
    return ParsedDetail(event_id, raw, None if problems else detail, problems)


def _exactly_one(detail: dict[str, Any], group: tuple[str, ...]) -> list[FieldError]:
    """Checked beside the model, so it is reported together with every other field error."""
    given = [name for name in group if detail.get(name) is not None]
    if len(given) == 1:
        return []
    first, *others = group
    if not given:
        return [FieldError(f"detail.{first}", f"required unless {' or '.join(others)} is given")]
    return [FieldError(f"detail.{given[1]}", f"give only one of {', '.join(group)}")]


def _field_errors(error: ValidationError, *, prefix: str) -> list[FieldError]:
    found = []
    for item in error.errors():
        location = ".".join(str(part) for part in item["loc"])
        rule = str(item["msg"]).removeprefix("Value error, ")
        if item["type"] == "extra_forbidden":
            rule = "unknown field (check its spelling against the request contract)"
        elif item["type"] == "string_pattern_mismatch":
            rule = f"must match {item.get('ctx', {}).get('pattern', 'the documented pattern')}"
        found.append(FieldError(field=f"{prefix}{location}".rstrip("."), rule=rule))
    return found
