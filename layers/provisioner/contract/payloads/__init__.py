"""What the workflow's tasks pass to each other through the state machine (the ASL's
``Parameters`` and ``ResultSelector``): validated requests with every default filled in, and
the state of what was found or made. camelCase on the wire, like the request contract.

Here: what the workflows share (the request reference, API Gateway turns, VPC links and the
tasks that find them); each workflow's own are in the module named after it (``provisioning``,
``teardown``, ``relink``, ``rollback``), so a function imports only its own workflow's models.
"""

from enum import StrEnum
from typing import Any, Literal

import msgspec

from provisioner.contract.tickets import TicketRef
from provisioner.contract.vocabulary import VpcLinkVersion, parse_timestamp
from provisioner.contract.wire import WireStruct


class WorkflowKind(StrEnum):
    PROVISION = "PROVISION"
    TEARDOWN = "TEARDOWN"
    RELINK = "RELINK"


class RequestRef(WireStruct, forbid_unknown_fields=False, kw_only=True):
    """What every notification echoes; known even when a request is rejected."""

    request_id: str
    ticket_id: str | None = None
    requested_by: str | None = None
    ticket: TicketRef | None = None

    @property
    def ref(self) -> "RequestRef":
        return RequestRef(
            request_id=self.request_id,
            ticket_id=self.ticket_id,
            requested_by=self.requested_by,
            ticket=self.ticket,
        )


class LinkRequest(RequestRef, kw_only=True):
    """What finding, creating and waiting for a VpcLink needs: read from a provisioning or a
    relink request alike (their other fields are ignored)."""

    api_name: str = "private-api"
    nlb_arn: str | None = None
    vpc_link_id: str | None = None
    timeout_seconds: int
    tags: dict[str, str] = msgspec.field(default_factory=dict)
    vpc_link_version: VpcLinkVersion = VpcLinkVersion.V1
    subnet_ids: list[str] | None = None
    security_group_ids: list[str] | None = None


class VpcLinkState(WireStruct, kw_only=True):
    vpc_link_id: str
    status: str
    status_message: str | None = None
    created_by_this_request: bool
    deadline: str  # ISO 8601, UTC
    next_poll_seconds: int
    vpc_link_version: VpcLinkVersion = VpcLinkVersion.V1
    # What the requester should know about the choice (an INACTIVE link passed over, ...).
    note: str | None = None


class LinkRelease(WireStruct, kw_only=True):
    """What became of a link this control plane was asked to let go of."""

    vpc_link_id: str
    state: Literal["DELETING", "DELETED", "KEPT"]
    reason: str


class ApiGatewayTurn(WireStruct, kw_only=True):
    """A turn reserved for one call of a rate-limited API Gateway operation (domain.pacing):
    the workflow waits until ``waitUntil`` in a Wait state, then calls the task again with it.

    ``holder``: set when the turn is another request's, not this task's own: the task waits
    for that request's call, whose result it will share (a VPC link V2 that request creates
    for the same subnets and security groups, ``domain.vpc_links``), and holds no turn."""

    queue: str  # the ledger's PACE#<queue>
    operation: str  # as API Gateway names it
    at: str  # the turn, ISO 8601 UTC with milliseconds
    wait_until: str  # ``at`` rounded up to the second: the Wait state's TimestampPath
    reserved_at: str
    wait_seconds: int
    turns: int = 1  # how many turns this call has taken (a call AWS refused takes another)
    # When this call began to wait: its first turn's reservation, kept through the new turns
    # it took since (a refused call, a late predecessor, a retried attempt). None: reserved_at.
    queued_at: str | None = None
    holder: str | None = None  # the request whose turn this is, when it is not this task's

    @property
    def at_seconds(self) -> float:
        return _epoch_seconds(self.at)

    @property
    def waited_seconds(self) -> float:
        """From the first reservation to this turn: what a deadline must not count."""
        return max(0.0, self.at_seconds - _epoch_seconds(self.queued_at or self.reserved_at))

    def after(self, earlier: "ApiGatewayTurn | None") -> "ApiGatewayTurn":
        """This turn, taken by a call that was already waiting for ``earlier``: its wait
        counts from ``earlier``'s first reservation."""
        if earlier is None:
            return self
        return msgspec.structs.replace(self, queued_at=earlier.queued_at or earlier.reserved_at)


def _epoch_seconds(moment: str) -> float:
    return parse_timestamp(moment).timestamp()


class AwsError(msgspec.Struct, frozen=True, kw_only=True):
    """What a Step Functions ``Catch`` puts at ``ResultPath`` (its names as Step Functions
    writes them; other fields ignored)."""

    Error: str
    Cause: str | None = None


# --- task payloads (what the ASL passes to each function) --------------------------------------
class ValidateTask(WireStruct, forbid_unknown_fields=False, kw_only=True):
    event: dict[str, Any]
    execution_arn: str


class PacedTask(WireStruct, forbid_unknown_fields=False, kw_only=True):
    """A task whose API Gateway call is paced (domain.pacing): ``turn`` is the turn it waited
    for (none on its first call), ``retryCount`` the ASL's ``$$.State.RetryCount``."""

    turn: ApiGatewayTurn | None = None
    retry_count: int = 0


class EnsureVpcLinkTask(PacedTask, kw_only=True):
    """A V2 link's CreateVpcLink is paced; ``turn`` may also be the turn of the request that
    creates the link this one will share (``ApiGatewayTurn.holder``)."""

    request: LinkRequest
    started_at: str


class GetVpcLinkStatusTask(WireStruct, forbid_unknown_fields=False, kw_only=True):
    request: LinkRequest
    link: VpcLinkState
