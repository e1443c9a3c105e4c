"""The ticket a request came from (``ticket``, set by the ticket intake): where its progress is
written back. A workflow payload (``RequestRef.ticket``), so a msgspec struct; the request
contract's pydantic models read it too (``__get_pydantic_core_schema__``)."""

import re
from typing import TYPE_CHECKING, Annotated, Any

import msgspec

from provisioner.contract.vocabulary import TicketSystem
from provisioner.contract.wire import WireStruct, printable

if TYPE_CHECKING:
    from pydantic import GetCoreSchemaHandler
    from pydantic_core import CoreSchema

# How each system names a ticket for its REST API: a Jira issue key, a ServiceNow record's
# sys_id, a GitHub repository and issue number.
TICKET_KEY_PATTERNS = {
    TicketSystem.JIRA: r"^[A-Z][A-Z0-9_]{0,19}-[0-9]{1,12}$",
    TicketSystem.SERVICENOW: r"^[0-9a-f]{32}$",
    TicketSystem.GITHUB: r"^[A-Za-z0-9-]{1,39}/[A-Za-z0-9._-]{1,100}#[0-9]{1,12}$",
}
MAX_FIELD_LABELS = 20

FieldName = Annotated[str, msgspec.Meta(pattern=r"^[a-z][A-Za-z]{0,63}$")]
FieldLabel = Annotated[str, msgspec.Meta(min_length=1, max_length=128)]
FieldLabels = Annotated[dict[FieldName, FieldLabel], msgspec.Meta(max_length=MAX_FIELD_LABELS)]


class TicketRef(WireStruct, kw_only=True):
    """The ticket a request came from (set by the ticket intake): where its progress is
    written back. The system's base URL and credentials are the stack's, never the request's."""

    system: TicketSystem
    key: Annotated[str, msgspec.Meta(min_length=1, max_length=160)]
    # How the ticket names the request's fields ({"nlbArn": "NLB ARN"}): a REJECTED answer
    # names the ticket's fields, not the event's, whatever the mapping says by then.
    field_labels: FieldLabels = msgspec.field(default_factory=dict)

    def __post_init__(self) -> None:
        pattern = TICKET_KEY_PATTERNS[self.system]
        if not re.fullmatch(pattern, self.key):
            raise ValueError(f"key must match {pattern} for a {self.system.value} ticket")
        for label in self.field_labels.values():
            printable(label)

    @classmethod
    def __get_pydantic_core_schema__(
        cls, source: Any, handler: "GetCoreSchemaHandler"
    ) -> "CoreSchema":
        """A field of a pydantic model may be a ``TicketRef``: read with msgspec (its message
        names the part at fault: ``Expected `str` of length <= 160 - at `$.key```), written
        in its JSON form."""
        from pydantic_core import core_schema

        def read(value: Any) -> TicketRef:
            if isinstance(value, TicketRef):
                return value
            try:
                return cls.from_wire(value)
            except msgspec.ValidationError as invalid:
                raise ValueError(str(invalid)) from None

        return core_schema.no_info_plain_validator_function(
            read,
            serialization=core_schema.plain_serializer_function_ser_schema(
                lambda ticket: ticket.to_wire()
            ),
        )
