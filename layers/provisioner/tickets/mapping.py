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

from typing import Annotated, Literal

import msgspec

from provisioner.contract.vocabulary import (
    PROVISION_REQUESTED,
    RELINK_REQUESTED,
    TEARDOWN_REQUESTED,
    TicketSystem,
)
from provisioner.contract.wire import WireStruct

type RequestKind = Literal["provision", "teardown", "relink"]

# The request fields a ticket may fill, by kind: the detail's own, not the requester's (the
# intake sets requestId, ticketId, requestedBy and ticket itself). Written out, not read from
# contract.details' models: the write-back reads the mapping too, and does not import pydantic;
# a unit test holds them equal to the models' fields.
_LINK_FIELDS = frozenset(
    {
        "nlbArn",
        "targetArn",
        "vpcLinkId",
        "vpcLinkVersion",
        "subnetIds",
        "securityGroupIds",
        "timeoutSeconds",
        "tags",
        "stageName",
    }
)
REQUEST_FIELDS: dict[str, frozenset[str]] = {
    "provision": _LINK_FIELDS
    | {
        "apiName",
        "endpointType",
        "endpointUrl",
        "httpMethod",
        "proxyAllPaths",
        "authorization",
        "cognitoUserPoolArns",
        "authorizerFunctionArn",
        "vpcEndpointIds",
    },
    "teardown": frozenset({"restApiId", "targetRequestId", "keepVpcLink"}),
    "relink": _LINK_FIELDS | {"restApiId", "targetRequestId", "deleteOldLink"},
}
DETAIL_TYPES: dict[str, str] = {
    "provision": PROVISION_REQUESTED,
    "teardown": TEARDOWN_REQUESTED,
    "relink": RELINK_REQUESTED,
}

Text = Annotated[str, msgspec.Meta(min_length=1, max_length=256)]


class FieldSource(WireStruct, kw_only=True):
    """Where a request field comes from in the ticket, and the ticket's name for it."""

    source: Text
    label: Text


class KindRule(WireStruct, kw_only=True):
    """Tickets of this type ask for this kind of request, their fields from these sources.

    ``when``: Jira, the request type's name (Jira Service Management) or else the issue type's;
    ServiceNow, the catalog item's name; GitHub, a label the issue carries.
    """

    kind: RequestKind
    when: Text
    fields: dict[str, FieldSource]

    def __post_init__(self) -> None:
        unknown = sorted(set(self.fields) - REQUEST_FIELDS[self.kind])
        if unknown:
            raise ValueError(f"a {self.kind} request has no field {', '.join(unknown)}")


class Outcomes(WireStruct, kw_only=True):
    """Where a ticket goes when its request ends: a Jira status name (the transition leading
    there is looked up), a ServiceNow state's display value, a GitHub label (the issue is
    closed as ``completed`` after SUCCEEDED, ``not_planned`` otherwise)."""

    succeeded: Text
    failed: Text
    rejected: Text


# What each system's mapping says when it names no outcomes.
DEFAULT_OUTCOMES = {
    TicketSystem.JIRA: Outcomes(succeeded="Done", failed="Declined", rejected="Declined"),
    TicketSystem.SERVICENOW: Outcomes(
        succeeded="Closed Complete", failed="Closed Incomplete", rejected="Closed Incomplete"
    ),
    TicketSystem.GITHUB: Outcomes(
        succeeded="private-api-ready", failed="private-api-failed", rejected="needs-changes"
    ),
}


class JiraMapping(WireStruct, kw_only=True):
    approved_status: Text = "Approved"
    # Also a request when an issue is created with a matching request type (no approval step).
    on_create: bool = False
    request_type_field: Text = "customfield_10010"
    projects: list[Text] = msgspec.field(default_factory=list)  # empty: every project
    # Comments through Jira Service Management (public, the customer sees them) or plain Jira.
    service_desk: bool = True
    kinds: list[KindRule]
    outcomes: Outcomes = DEFAULT_OUTCOMES[TicketSystem.JIRA]


class ServiceNowMapping(WireStruct, kw_only=True):
    approval: Text = "approved"
    # The item's states (values) in which an approval is a request: not closed.
    open_states: list[Text] = msgspec.field(default_factory=lambda: ["-5", "1", "2"])
    kinds: list[KindRule]
    outcomes: Outcomes = DEFAULT_OUTCOMES[TicketSystem.SERVICENOW]


class GitHubMapping(WireStruct, kw_only=True):
    trigger_label: Text = "approved"
    repositories: list[Text] = msgspec.field(default_factory=list)  # owner/name; empty: every one
    kinds: list[KindRule]
    outcomes: Outcomes = DEFAULT_OUTCOMES[TicketSystem.GITHUB]


class TicketMapping(WireStruct, kw_only=True):
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
    return parse_mapping(str(raw))


def parse_mapping(text: str) -> TicketMapping:
    """The mapping's JSON, read leniently: an operator's ``"true"`` or ``1`` for a switch
    still reads, as it always has; ``msgspec.ValidationError`` names the path at fault."""
    return msgspec.json.decode(text, type=TicketMapping, strict=False)
