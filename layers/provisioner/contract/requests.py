"""The request contract (README, "The request contract"): the fields a requester may put in the
``detail`` of each kind of event, and the rules each field follows. Every rule a field breaks
is reported with the field's documented name. The ``detail`` models that put them together
are ``contract.details``' (only the functions that read a request event import them).
"""

import unicodedata
from typing import Annotated, Any
from urllib.parse import urlsplit

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
)
from pydantic.alias_generators import to_camel

from provisioner.contract.tickets import TICKET_KEY_PATTERNS as TICKET_KEY_PATTERNS
from provisioner.contract.tickets import TicketRef as TicketRef

# The tag keys (ours, whose prefix a requester's tags may not use, and the load balancer
# owner's consent) are contract.vocabulary's, imported from here as well.
from provisioner.contract.vocabulary import EXPOSE_TAG as EXPOSE_TAG
from provisioner.contract.vocabulary import EXPOSE_TAG_VALUE as EXPOSE_TAG_VALUE
from provisioner.contract.vocabulary import MANAGED_BY_TAG as MANAGED_BY_TAG
from provisioner.contract.vocabulary import (
    MAX_REQUESTED_BY_LENGTH,
    MAX_TICKET_ID_LENGTH,
    TAG_PREFIX,
)
from provisioner.contract.vocabulary import REQUEST_ID_PATTERN as REQUEST_ID_PATTERN
from provisioner.contract.vocabulary import REQUEST_ID_TAG as REQUEST_ID_TAG
from provisioner.contract.vocabulary import TICKET_INTAKE_SOURCE as TICKET_INTAKE_SOURCE
from provisioner.contract.vocabulary import Authorization as Authorization
from provisioner.contract.vocabulary import EndpointType as EndpointType
from provisioner.contract.vocabulary import HttpMethod as HttpMethod
from provisioner.contract.vocabulary import TicketSystem as TicketSystem
from provisioner.contract.vocabulary import VpcLinkVersion as VpcLinkVersion
from provisioner.contract.wire import printable

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
    str,
    StringConstraints(min_length=1, max_length=MAX_TICKET_ID_LENGTH),
    AfterValidator(printable),
]
RequestedBy = Annotated[
    str,
    StringConstraints(min_length=1, max_length=MAX_REQUESTED_BY_LENGTH),
    AfterValidator(printable),
]
ApiName = Annotated[
    str,
    StringConstraints(min_length=1, max_length=128, pattern=r"\S"),
    AfterValidator(printable),
]


class WireModel(BaseModel):
    """The request contract's models: camelCase on the wire, snake_case in Python, unknown
    fields refused (as the workflow's payloads, ``contract.wire.WireStruct``), with pydantic's
    rules and the messages a REJECTED answer lists."""

    # defer_build: a handler builds the validators of the models it uses, on first use, not
    # those of every model of the package at import (a cold start cost).
    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        extra="forbid",
        frozen=True,
        defer_build=True,
    )

    def to_wire(self) -> dict[str, Any]:
        return self.model_dump(by_alias=True, mode="json", exclude_none=True)
