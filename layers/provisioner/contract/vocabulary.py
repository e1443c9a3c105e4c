"""The contract's names that clients outside the layer use too: the statuses, the request
events' detail-types, the tag keys, the stage variable, the timestamp format, the request's
enumerations (link versions, ticket systems, endpoint types, authorization, HTTP methods), and
the request id's form.

Each is written here once and imported everywhere else: by the layer (``contract.progress``
and ``contract.requests`` re-export theirs), by the CLI (``privateapi``), the embedded AWS's
apps, the bench and the workflow definitions. Standard library only, so that a tool outside
the functions imports it without the layer's dependencies, and a function's cold start pays
for one small module.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Literal


class Status(StrEnum):
    """Every status a request has: in its notifications, and in the ledger."""

    ACCEPTED = "ACCEPTED"
    # A rate-limited API Gateway call waits its turn (domain.pacing): expectedAt, waitSeconds
    WAITING_FOR_API_GATEWAY = "WAITING_FOR_API_GATEWAY"
    VPC_LINK_PENDING = "VPC_LINK_PENDING"
    VPC_LINK_AVAILABLE = "VPC_LINK_AVAILABLE"
    API_CREATED = "API_CREATED"
    API_DEPLOYED = "API_DEPLOYED"
    API_DELETED = "API_DELETED"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    REJECTED = "REJECTED"
    # The ledger's only: a provisioning whose API a teardown deleted.
    DELETED = "DELETED"


FINAL_STATUSES = frozenset({Status.SUCCEEDED, Status.FAILED, Status.REJECTED})
# A request that ended like this may be sent again with the same requestId (after a fix).
RERUNNABLE_STATUSES = frozenset({Status.FAILED, Status.REJECTED})

# The detail-types of the request events (template.yaml's rules match them).
PROVISION_REQUESTED = "PrivateApiRequested"
TEARDOWN_REQUESTED = "PrivateApiDeletionRequested"
RELINK_REQUESTED = "PrivateApiRelinkRequested"

# Tag keys we own. A requester's tags may not use this prefix (nor AWS's).
TAG_PREFIX = "provisioner:"
# Every resource the control plane creates carries the request's id in this tag.
REQUEST_ID_TAG = f"{TAG_PREFIX}request-id"
MANAGED_BY_TAG = f"{TAG_PREFIX}managed-by"
# The tag a load balancer's owner sets to consent to its exposure through API Gateway.
EXPOSE_TAG = "private-api:expose"
EXPOSE_TAG_VALUE = "true"

# The stage variable that names an API's VpcLink, and the integrations' reference to it (their
# connectionId), so that a relink changes the variable, not the integrations.
STAGE_VARIABLE = "vpcLinkId"
STAGE_LINK_CONNECTION = f"${{stageVariables.{STAGE_VARIABLE}}}"


def timestamp(moment: datetime | None = None) -> str:
    """ISO 8601 in UTC with milliseconds and a ``Z``: every timestamp a requester sees, and
    the ledger's."""
    moment = moment or datetime.now(UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def parse_timestamp(moment: str) -> datetime:
    """A ``timestamp()`` back to an aware datetime (one without an offset is taken as UTC)."""
    parsed = datetime.fromisoformat(moment.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


class VpcLinkVersion(StrEnum):
    """V1 (legacy: one NLB, through a VPC endpoint service) or V2 (``apigatewayv2``: network
    interfaces in the subnets, for any ALB or NLB they reach)."""

    V1 = "V1"
    V2 = "V2"


class TicketSystem(StrEnum):
    JIRA = "jira"
    SERVICENOW = "servicenow"
    GITHUB = "github"


# The EventBridge source of the requests the ticket intake puts on the bus. Only its events
# may carry ``ticket`` (where progress is written back); the intake's role may put events
# with no other source, and no other role may put events with this one.
TICKET_INTAKE_SOURCE = "private-api-provisioner.ticket-intake"


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


HttpMethod = Literal["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "ANY"]


# A request's id, and the bounds of the free text it is known by (ticketId, requestedBy):
# every notification echoes them, in SNS message attributes too.
REQUEST_ID_PATTERN = r"^[A-Za-z0-9._-]{1,64}$"
MAX_TICKET_ID_LENGTH = 128
MAX_REQUESTED_BY_LENGTH = 256
