"""What a ticket is told: a progress notification (README, "The progress contract") read as
the write-back receives it, and the comment it becomes.

A comment is short, human, and says what happened: the notification's own sentence for a
milestone; the invoke URL when the API is ready; the reason and what to do when it failed;
and, when it was rejected, every field at fault named as the ticket names it ("NLB ARN: no
load balancer ... exists"), from the labels the ticket intake sent with the request
(``ticket.fieldLabels``). What only an operator needs (error code, request id, resource ids)
goes to a separate note, which the systems that have one (ServiceNow's work notes) keep from
the requester.
"""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated

import msgspec

from provisioner.contract.progress import FINAL_STATUSES, Status
from provisioner.contract.tickets import TicketRef
from provisioner.contract.wire import WireStruct

# The ticket systems take much longer comments; a requester reads a short one.
MAX_COMMENT_CHARACTERS = 4000


class _Received(WireStruct, forbid_unknown_fields=False):
    """Read permissively: the progress contract may gain fields; the write-back must not
    refuse a notification for one it does not know."""


class FieldAtFault(_Received, kw_only=True):
    field: str
    rule: str


class NotifiedError(_Received, kw_only=True):
    code: str
    message: str = ""
    remedy: str = ""
    fields: list[FieldAtFault] = msgspec.field(default_factory=list)
    more_fields: int = 0


class Notification(_Received, kw_only=True):
    """A progress notification of a request that came from a ticket."""

    request_id: str
    status: Status
    message: str
    timestamp: Annotated[str, msgspec.Meta(min_length=1)]
    ticket: TicketRef
    ticket_id: str | None = None
    vpc_link_id: str | None = None
    rest_api_id: str | None = None
    stage_name: str | None = None
    invoke_url: str | None = None
    how_to_call: str | None = None
    error: NotifiedError | None = None

    @property
    def final(self) -> bool:
        return self.status in FINAL_STATUSES

    @property
    def milestone(self) -> str:
        """How the ledger names it: ``<timestamp>|<status>`` (see ``ledger.milestone_name``)."""
        return f"{self.timestamp}|{self.status.value}"


@dataclass(frozen=True)
class Comment:
    """``text`` for the requester; ``note`` for the operators (where the system has notes)."""

    text: str
    note: str


def compose(notification: Notification) -> Comment:
    """The comment a notification becomes."""
    if notification.status is Status.SUCCEEDED:
        text = _succeeded(notification)
    elif notification.status is Status.REJECTED:
        text = _rejected(notification)
    elif notification.status is Status.FAILED:
        text = _failed(notification)
    else:
        text = notification.message
    return Comment(text=_bounded(text), note=_bounded(operator_note(notification)))


def field_label(field: str, labels: dict[str, str]) -> str:
    """A request field as the ticket names it: ``detail.nlbArn`` -> ``NLB ARN`` when the
    ticket calls it that; ``detail.tags.team`` -> ``Tags (team)``; a field the ticket has no
    label for keeps its own name."""
    path = field.removeprefix("detail.")
    head, _, rest = path.partition(".")
    label = labels.get(head)
    if label is None:
        return field
    return f"{label} ({rest})" if rest else label


def _succeeded(notification: Notification) -> str:
    if not notification.invoke_url:  # a teardown or a relink: its sentence says it all
        return f"Done: {notification.message}"
    lines = ["Your private API is ready.", f"Invoke URL: {notification.invoke_url}"]
    if notification.how_to_call:
        lines.append(f"How to call it: {notification.how_to_call}")
    known = _resources(notification)
    if known:
        lines.append(f"({known})")
    return "\n".join(lines)


def _failed(notification: Notification) -> str:
    lines = [notification.message]
    error = notification.error
    if error is not None and error.remedy:
        lines.append(f"What to do: {error.remedy}")
    if error is not None:
        lines.append(f"Reference: request {notification.request_id}, error {error.code}.")
    return "\n".join(lines)


def _rejected(notification: Notification) -> str:
    error = notification.error
    if error is None:
        return notification.message
    labels = notification.ticket.field_labels
    if error.fields:
        lines = ["This request could not be started: these fields of the ticket need a change."]
        lines += _field_lines(error, lambda name: field_label(name, labels))
    else:
        lines = [f"This request could not be started: {error.message or error.code}"]
    if error.remedy:
        lines.append(f"What to do: {error.remedy}")
    lines.append(f"Reference: request {notification.request_id}, error {error.code}.")
    return "\n".join(lines)


def operator_note(notification: Notification) -> str:
    """For the operators: what happened, to which request, with which resources."""
    lines = [
        f"Private API Provisioner: {notification.status.value} for request "
        f"{notification.request_id} at {notification.timestamp}.",
        notification.message,
    ]
    error = notification.error
    if error is not None:
        lines.append(f"Error {error.code}: {error.message}".rstrip(": "))
        lines += _field_lines(error, str)
    known = _resources(notification)
    if known:
        lines.append(f"Resources: {known}.")
    return "\n".join(lines)


def _field_lines(error: NotifiedError, label: Callable[[str], str]) -> list[str]:
    """``- <field>: <rule>`` for each field named wrong, and how many more there were."""
    lines = [f"- {label(f.field)}: {f.rule}" for f in error.fields]
    if error.more_fields:
        lines.append(f"- and {error.more_fields} more")
    return lines


def _resources(notification: Notification) -> str:
    named = (
        ("REST API", notification.rest_api_id),
        ("stage", notification.stage_name),
        ("VpcLink", notification.vpc_link_id),
    )
    return ", ".join(f"{kind} {value}" for kind, value in named if value)


def _bounded(text: str) -> str:
    if len(text) <= MAX_COMMENT_CHARACTERS:
        return text
    return text[: MAX_COMMENT_CHARACTERS - 4] + " ..."
