"""The request contract (README, "The request contract"): the fields a requester may put in the
``detail`` of each kind of event, and the rules each field follows. Every rule a field breaks
is reported with the field's documented name. The ``detail`` models that put them together
are ``contract.details``' (only the functions that read a request event import them).
"""

import re
import unicodedata
from enum import StrEnum
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import (
    AfterValidator,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
)

# The tag keys (ours, whose prefix a requester's tags may not use, and the load balancer
# owner's consent) are contract.vocabulary's, imported from here as well.
from provisioner.contract.vocabulary import EXPOSE_TAG as EXPOSE_TAG
from provisioner.contract.vocabulary import EXPOSE_TAG_VALUE as EXPOSE_TAG_VALUE
from provisioner.contract.vocabulary import MANAGED_BY_TAG as MANAGED_BY_TAG
from provisioner.contract.vocabulary import REQUEST_ID_TAG as REQUEST_ID_TAG
from provisioner.contract.vocabulary import TAG_PREFIX
from provisioner.contract.wire import WireModel

REQUEST_ID_PATTERN = r"^[A-Za-z0-9._-]{1,64}$"
STAGE_NAME_PATTERN = r"^[A-Za-z0-9_-]{1,128}$"
VPC_LINK_ID_PATTERN = r"^[a-z0-9]{1,32}$"
NLB_ARN_PATTERN = (
    r"^arn:aws[a-z-]*:elasticloadbalancing:(?P<region>[a-z0-9-]+):(?P<account>\d{12}):"
    r"loadbalancer/(?P<kind>[a-z]+)/[A-Za-z0-9-]{1,32}/[0-9a-f]{16}$"
)
# An application or a network load balancer's ARN (``targetArn``): the same shape; the kind
# (``app`` or ``net``) is checked against DescribeLoadBalancers, not trusted from the ARN.
LOAD_BALANCER_ARN_PATTERN = NLB_ARN_PATTERN
SUBNET_ID_PATTERN = r"^subnet-[0-9a-f]{8,17}$"
SECURITY_GROUP_ID_PATTERN = r"^sg-[0-9a-f]{8,17}$"
# Our bound on subnetIds / securityGroupIds (AWS documents none for a VPC link V2): a request
# stays small, and so does the ledger key of the link it may share (storage.keys.LinkKey).
MAX_LINK_SUBNETS = 16
MAX_LINK_SECURITY_GROUPS = 16
# The longest a request may have its link waited for (timeoutSeconds): a day. The workflows'
# backstop timeouts are counted from it (statemachine.workflows).
MAX_TIMEOUT_SECONDS = 86_400
MAX_REQUESTER_TAGS = 40  # API Gateway allows 50 per resource; we add ours
# What API Gateway's tag pattern allows besides letters, numbers and separators (spaces):
# ^([\p{L}\p{Z}\p{N}_.:/=+\-@]*)$
_TAG_PUNCTUATION = frozenset("_.:/=+-@")

RequestId = Annotated[str, StringConstraints(pattern=REQUEST_ID_PATTERN)]


def _printable(text: str) -> str:
    """No control characters: the text reaches AWS APIs and SNS message attributes, which
    refuse them (SNS allows only #x9 | #xA | #xD | #x20-#xD7FF | ... in attribute values)."""
    if any(unicodedata.category(char) == "Cc" for char in text):
        raise ValueError("must not contain control characters (tab, newline, ...)")
    return text


def _tag_text_allowed(text: str) -> bool:
    return all(unicodedata.category(char)[0] in "LNZ" or char in _TAG_PUNCTUATION for char in text)


def _shown(text: str, limit: int = 40) -> str:
    """A requester's text quoted in a rule, never longer than ``limit`` characters."""
    return repr(text if len(text) <= limit else text[:limit] + "...")


def _api_gateway_tags(tags: dict[str, str]) -> dict[str, str]:
    for key, value in tags.items():
        if not 1 <= len(key) <= 128 or len(value) > 256:
            raise ValueError(f"tag {_shown(key)}: keys are 1-128 characters, values at most 256")
        if key.lower().startswith(("aws:", TAG_PREFIX)):
            raise ValueError(
                f"tag {_shown(key)}: the prefixes 'aws:' and {TAG_PREFIX!r} are reserved"
            )
        if not _tag_text_allowed(key + value):
            raise ValueError(
                f"tag {_shown(key)}: only letters, numbers, spaces and _ . : / = + - @ are allowed"
            )
    return tags


# The requester's tags, added to everything created: API Gateway's rules, checked up front.
Tags = Annotated[
    dict[str, str], Field(max_length=MAX_REQUESTER_TAGS), AfterValidator(_api_gateway_tags)
]


REST_API_ID_PATTERN = r"^[a-z0-9]{1,32}$"
RestApiId = Annotated[str, StringConstraints(pattern=REST_API_ID_PATTERN)]


class EndpointType(StrEnum):
    REGIONAL = "REGIONAL"
    EDGE = "EDGE"
    PRIVATE = "PRIVATE"


class Authorization(StrEnum):
    """How callers of the created API are authorized (its methods' ``authorizationType``)."""

    AWS_IAM = "AWS_IAM"  # the default: SigV4-signed requests, execute-api:Invoke in IAM
    NONE = "NONE"  # only when the stack allows it (AllowUnauthenticatedApis)
    COGNITO_USER_POOLS = "COGNITO_USER_POOLS"  # an authorizer on cognitoUserPoolArns
    CUSTOM = "CUSTOM"  # a Lambda (TOKEN) authorizer on authorizerFunctionArn


VPC_ENDPOINT_ID_PATTERN = r"^vpce-[0-9a-f]{8,17}$"
LAMBDA_FUNCTION_ARN_PATTERN = (
    r"^arn:aws[a-z-]*:lambda:(?P<region>[a-z0-9-]+):(?P<account>\d{12}):"
    r"function:[A-Za-z0-9_-]{1,64}(:[A-Za-z0-9_$-]{1,128})?$"
)
USER_POOL_ARN_PATTERN = (
    r"^arn:aws[a-z-]*:cognito-idp:(?P<region>[a-z0-9-]+):(?P<account>\d{12}):"
    r"userpool/[a-z0-9-]+_[A-Za-z0-9]{1,55}$"
)
VpcEndpointId = Annotated[str, StringConstraints(pattern=VPC_ENDPOINT_ID_PATTERN)]
LambdaFunctionArn = Annotated[str, StringConstraints(pattern=LAMBDA_FUNCTION_ARN_PATTERN)]
UserPoolArn = Annotated[str, StringConstraints(pattern=USER_POOL_ARN_PATTERN)]


class VpcLinkVersion(StrEnum):
    """V1 (legacy: one NLB, through a VPC endpoint service) or V2 (``apigatewayv2``: network
    interfaces in the subnets, for any ALB or NLB they reach)."""

    V1 = "V1"
    V2 = "V2"


def _distinct(ids: list[str]) -> list[str]:
    if len(set(ids)) != len(ids):
        raise ValueError("must not name the same id twice")
    return ids


LoadBalancerArn = Annotated[str, StringConstraints(pattern=LOAD_BALANCER_ARN_PATTERN)]
SubnetIds = Annotated[
    list[Annotated[str, StringConstraints(pattern=SUBNET_ID_PATTERN)]],
    Field(min_length=1, max_length=MAX_LINK_SUBNETS),
    AfterValidator(_distinct),
]
SecurityGroupIds = Annotated[
    list[Annotated[str, StringConstraints(pattern=SECURITY_GROUP_ID_PATTERN)]],
    Field(min_length=1, max_length=MAX_LINK_SECURITY_GROUPS),
    AfterValidator(_distinct),
]

HttpMethod = Literal["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "ANY"]


def _http_url(url: str) -> str:
    """An ``http://`` or ``https://`` URL with a host (checked with the standard library:
    pydantic's URL types cost every cold start the import of its networks module)."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("must be an http:// or https:// URL with a host")
    if any(char.isspace() for char in url):
        raise ValueError("must not contain spaces or control characters")
    return url


# The backend behind the load balancer, as the integration's URI names it.
EndpointUrl = Annotated[str, StringConstraints(max_length=2048), AfterValidator(_http_url)]

# A requester's free text, echoed in every notification: printable, bounded.
TicketId = Annotated[
    str, StringConstraints(min_length=1, max_length=128), AfterValidator(_printable)
]
RequestedBy = Annotated[
    str, StringConstraints(min_length=1, max_length=256), AfterValidator(_printable)
]
ApiName = Annotated[
    str,
    StringConstraints(min_length=1, max_length=128, pattern=r"\S"),
    AfterValidator(_printable),
]


# The EventBridge source of the requests the ticket intake puts on the bus. Only its events
# may carry ``ticket`` (where progress is written back); the intake's role may put events
# with no other source, and no other role may put events with this one.
TICKET_INTAKE_SOURCE = "private-api-provisioner.ticket-intake"


class TicketSystem(StrEnum):
    JIRA = "jira"
    SERVICENOW = "servicenow"
    GITHUB = "github"


# How each system names a ticket for its REST API: a Jira issue key, a ServiceNow record's
# sys_id, a GitHub repository and issue number.
TICKET_KEY_PATTERNS = {
    TicketSystem.JIRA: r"^[A-Z][A-Z0-9_]{0,19}-[0-9]{1,12}$",
    TicketSystem.SERVICENOW: r"^[0-9a-f]{32}$",
    TicketSystem.GITHUB: r"^[A-Za-z0-9-]{1,39}/[A-Za-z0-9._-]{1,100}#[0-9]{1,12}$",
}


class TicketRef(WireModel):
    """The ticket a request came from (set by the ticket intake): where its progress is
    written back. The system's base URL and credentials are the stack's, never the request's."""

    model_config = ConfigDict(validate_by_name=False, validate_by_alias=True)

    system: TicketSystem
    key: Annotated[str, StringConstraints(min_length=1, max_length=160)]
    # How the ticket names the request's fields ({"nlbArn": "NLB ARN"}): a REJECTED answer
    # names the ticket's fields, not the event's, whatever the mapping says by then.
    field_labels: Annotated[
        dict[
            Annotated[str, StringConstraints(pattern=r"^[a-z][A-Za-z]{0,63}$")],
            Annotated[
                str, StringConstraints(min_length=1, max_length=128), AfterValidator(_printable)
            ],
        ],
        Field(max_length=20),
    ] = Field(default_factory=dict)

    @field_validator("key")
    @classmethod
    def _key_of_its_system(cls, key: str, info: Any) -> str:
        system = info.data.get("system")
        pattern = TICKET_KEY_PATTERNS.get(system) if system else None
        if pattern and not re.fullmatch(pattern, key):
            raise ValueError(f"must match {pattern} for a {system.value} ticket")
        return key
