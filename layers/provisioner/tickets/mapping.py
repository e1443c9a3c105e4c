"""The ticket mapping: which tickets become which requests, where each request field comes
from, and where the write-back moves a ticket at the end. Operators set it without code: it
is JSON in an SSM parameter (the template parameter ``TicketMapping`` fills it; README,
"Requests from tickets").

Field sources, by system:

* Jira: a field id of ``issue.fields`` (``customfield_10103``, ``summary``, ``labels``);
  a select list gives its ``value``, a user its ``accountId``, a list its items.
* ServiceNow: a catalog variable ``variables.<name>``, or a field of the item
  (``short_description``).
* GitHub: the label of an issue form field (its ``### <label>`` section of the body).
"""

from typing import Annotated, Literal, Self

from pydantic import Field, StringConstraints, model_validator

from provisioner.contract.details import (
    RelinkDetail,
    RequestDetail,
    RequesterFields,
    TeardownDetail,
)
from provisioner.contract.requests import TicketSystem, WireModel
from provisioner.contract.vocabulary import (
    PROVISION_REQUESTED,
    RELINK_REQUESTED,
    TEARDOWN_REQUESTED,
)

type RequestKind = Literal["provision", "teardown", "relink"]

# The request fields a ticket may fill, by kind: the detail's own, not the requester's (the
# intake sets requestId, ticketId, requestedBy and ticket itself).
_OWN = {alias for alias in (f.alias for f in RequesterFields.model_fields.values()) if alias}
REQUEST_FIELDS: dict[str, frozenset[str]] = {
    kind: frozenset(f.alias or name for name, f in model.model_fields.items()) - _OWN
    for kind, model in (
        ("provision", RequestDetail),
        ("teardown", TeardownDetail),
        ("relink", RelinkDetail),
    )
}
DETAIL_TYPES: dict[str, str] = {
    "provision": PROVISION_REQUESTED,
    "teardown": TEARDOWN_REQUESTED,
    "relink": RELINK_REQUESTED,
}

Text = Annotated[str, StringConstraints(min_length=1, max_length=256)]


class FieldSource(WireModel):
    """Where a request field comes from in the ticket, and the ticket's name for it."""

    source: Text
    label: Text


class KindRule(WireModel):
    """Tickets of this type ask for this kind of request, their fields from these sources.

    ``when``: Jira, the request type's name (Jira Service Management) or else the issue type's;
    ServiceNow, the catalog item's name; GitHub, a label the issue carries.
    """

    kind: RequestKind
    when: Text
    fields: dict[str, FieldSource]

    @model_validator(mode="after")
    def _known_fields(self) -> Self:
        unknown = sorted(set(self.fields) - REQUEST_FIELDS[self.kind])
        if unknown:
            raise ValueError(f"a {self.kind} request has no field {', '.join(unknown)}")
        return self


class Outcomes(WireModel):
    """Where a ticket goes when its request ends: a Jira status name (the transition leading
    there is looked up), a ServiceNow state's display value, a GitHub label (the issue is
    closed as ``completed`` after SUCCEEDED, ``not_planned`` otherwise)."""

    succeeded: Text
    failed: Text
    rejected: Text


class JiraMapping(WireModel):
    approved_status: Text = "Approved"
    # Also a request when an issue is created with a matching request type (no approval step).
    on_create: bool = False
    request_type_field: Text = "customfield_10010"
    projects: list[Text] = Field(default_factory=list)  # empty: every project
    # Comments through Jira Service Management (public, the customer sees them) or plain Jira.
    service_desk: bool = True
    kinds: list[KindRule]
    outcomes: Outcomes = Outcomes(succeeded="Done", failed="Declined", rejected="Declined")


class ServiceNowMapping(WireModel):
    approval: Text = "approved"
    # The item's states (values) in which an approval is a request: not closed.
    open_states: list[Text] = Field(default_factory=lambda: ["-5", "1", "2"])
    kinds: list[KindRule]
    outcomes: Outcomes = Outcomes(
        succeeded="Closed Complete", failed="Closed Incomplete", rejected="Closed Incomplete"
    )


class GitHubMapping(WireModel):
    trigger_label: Text = "approved"
    repositories: list[Text] = Field(default_factory=list)  # owner/name; empty: every one
    kinds: list[KindRule]
    outcomes: Outcomes = Outcomes(
        succeeded="private-api-ready", failed="private-api-failed", rejected="needs-changes"
    )


class TicketMapping(WireModel):
    """Every system is optional: a system without a mapping has its deliveries ignored."""

    jira: JiraMapping | None = None
    servicenow: ServiceNowMapping | None = None
    github: GitHubMapping | None = None

    def rules(self, system: TicketSystem) -> list[KindRule]:
        mapping = getattr(self, system.value)
        return list(mapping.kinds) if mapping is not None else []

    def outcomes(self, system: TicketSystem) -> Outcomes | None:
        mapping = getattr(self, system.value)
        return mapping.outcomes if mapping is not None else None


def load_mapping(parameter_name: str, *, max_age: int = 300) -> TicketMapping:
    """The mapping in the SSM parameter, cached ``max_age`` seconds (Powertools Parameters):
    an operator's change applies within five minutes, without a deployment."""
    from aws_lambda_powertools.utilities import parameters

    raw = parameters.get_parameter(parameter_name, max_age=max_age)
    return TicketMapping.model_validate_json(str(raw))
