"""What the workflow's tasks pass to each other through the state machine (the ASL's
``Parameters`` and ``ResultSelector``): validated requests with every default filled in, and
the state of what was found or made. camelCase on the wire, like the request contract.
"""

from datetime import datetime
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from provisioner.contract.requests import (
    Authorization,
    EndpointType,
    HttpMethod,
    TicketRef,
    VpcLinkVersion,
)
from provisioner.contract.wire import WireModel


class WorkflowKind(StrEnum):
    PROVISION = "PROVISION"
    TEARDOWN = "TEARDOWN"
    RELINK = "RELINK"


class RequestRef(WireModel):
    """What every notification echoes; known even when a request is rejected."""

    model_config = ConfigDict(extra="ignore")

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


class ProvisionRequest(RequestRef):
    """A validated request with every default filled in: what every later task works from.

    ``nlb_arn`` is the target load balancer, named so since the first contract: a network one,
    or (with a VPC link V2) an application one too."""

    api_name: str
    stage_name: str
    endpoint_type: EndpointType
    nlb_arn: str
    vpc_link_id: str | None = None
    endpoint_url: str
    http_method: HttpMethod
    proxy_all_paths: bool
    timeout_seconds: int
    tags: dict[str, str] = Field(default_factory=dict)
    authorization: Authorization = Authorization.AWS_IAM
    cognito_user_pool_arns: list[str] = Field(default_factory=list)
    authorizer_function_arn: str | None = None
    vpc_endpoint_ids: list[str] = Field(default_factory=list)
    # VPC links V2 (issue 13): the link's version and, for V2, its network.
    vpc_link_version: VpcLinkVersion = VpcLinkVersion.V1
    subnet_ids: list[str] | None = None
    security_group_ids: list[str] | None = None


class LinkRequest(RequestRef):
    """What finding, creating and waiting for a VpcLink needs: read from a provisioning or a
    relink request alike (their other fields are ignored)."""

    api_name: str = "private-api"
    nlb_arn: str | None = None
    vpc_link_id: str | None = None
    timeout_seconds: int
    tags: dict[str, str] = Field(default_factory=dict)
    vpc_link_version: VpcLinkVersion = VpcLinkVersion.V1
    subnet_ids: list[str] | None = None
    security_group_ids: list[str] | None = None


class VpcLinkState(WireModel):
    vpc_link_id: str
    status: str
    status_message: str | None = None
    created_by_this_request: bool
    deadline: str  # ISO 8601, UTC
    next_poll_seconds: int
    vpc_link_version: VpcLinkVersion = VpcLinkVersion.V1
    # What the requester should know about the choice (an INACTIVE link passed over, ...).
    note: str | None = None


class LinkRelease(WireModel):
    """What became of a link this control plane was asked to let go of."""

    vpc_link_id: str
    state: Literal["DELETING", "DELETED", "KEPT"]
    reason: str


class ApiState(WireModel):
    rest_api_id: str
    root_resource_id: str
    created_by_this_request: bool


class DeploymentState(WireModel):
    deployment_id: str
    stage_name: str
    invoke_url: str


class ApiGatewayTurn(WireModel):
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
        return self.model_copy(update={"queued_at": earlier.queued_at or earlier.reserved_at})


def _epoch_seconds(moment: str) -> float:
    return datetime.fromisoformat(moment.replace("Z", "+00:00")).timestamp()


class AwsError(BaseModel):
    """What a Step Functions ``Catch`` puts at ``ResultPath``."""

    model_config = ConfigDict(extra="ignore", frozen=True, defer_build=True)

    Error: str
    Cause: str | None = None


# --- task payloads (what the ASL passes to each function) --------------------------------------
class ValidateTask(WireModel):
    model_config = ConfigDict(extra="ignore")
    event: dict[str, Any]
    execution_arn: str


class PacedTask(WireModel):
    """A task whose API Gateway call is paced (domain.pacing): ``turn`` is the turn it waited
    for (none on its first call), ``retryCount`` the ASL's ``$$.State.RetryCount``."""

    model_config = ConfigDict(extra="ignore")
    turn: ApiGatewayTurn | None = None
    retry_count: int = 0


class EnsureVpcLinkTask(PacedTask):
    """A V2 link's CreateVpcLink is paced; ``turn`` may also be the turn of the request that
    creates the link this one will share (``ApiGatewayTurn.holder``)."""

    request: LinkRequest
    started_at: str


class GetVpcLinkStatusTask(WireModel):
    model_config = ConfigDict(extra="ignore")
    request: LinkRequest
    link: VpcLinkState


class CreateApiTask(PacedTask):
    request: ProvisionRequest


class DeployApiTask(PacedTask):
    request: ProvisionRequest
    link: VpcLinkState
    api: ApiState


class BranchFailure(BaseModel):
    """What a Parallel branch that failed ends with (``{"failure": {Error, Cause}}``)."""

    model_config = ConfigDict(extra="ignore", frozen=True, defer_build=True)

    failure: AwsError | None = None


class FailedState(BaseModel):
    """The workflow state at the moment something failed.

    A validate task that failed leaves its error and the event id (the error names the request
    to answer); a later failure leaves the validated ``request`` and the ``error``, or, after
    the Parallel state, its ``branches``, one of which ended with its failure.
    """

    model_config = ConfigDict(extra="ignore", frozen=True, defer_build=True)

    request: RequestRef | None = None
    id: str | None = None
    detail: Any = None
    error: AwsError | None = None
    branches: list[BranchFailure] = Field(default_factory=list)

    @property
    def the_error(self) -> AwsError:
        """The error that ended the workflow: the state's, else the first failed branch's."""
        failures = [branch.failure for branch in self.branches if branch.failure]
        error = self.error or (failures[0] if failures else None)
        return error or AwsError(Error="States.Runtime", Cause="the workflow lost its error")


class RolledBack(WireModel):
    """What a rollback has done so far, when it waits for a turn before going on (a paced
    DeleteRestApi or DeleteVpcLink): what it deleted and kept is gone from AWS's listings by
    the time it is called again, so it is told."""

    deleted: list[str] = Field(default_factory=list)
    kept: list[str] = Field(default_factory=list)
    known: dict[str, str] = Field(default_factory=dict)  # restApiId, vpcLinkId


class RollbackTask(PacedTask):
    workflow: WorkflowKind
    execution_arn: str
    state: FailedState
    rolled_back: RolledBack | None = None  # by its earlier calls, before a wait for a turn


class TeardownRequest(RequestRef):
    rest_api_id: str
    api_name: str
    created_by_request: str | None = None
    vpc_link_ids: list[str]
    keep_vpc_link: bool


class TeardownTask(PacedTask):
    request: TeardownRequest
    # ReleaseVpcLinks: when the API was deleted; the links' deletion deadline counts from it
    # (not from the execution's start: a wait for a DeleteRestApi turn must not eat it), and
    # the release answers it moved on by its waits for DeleteVpcLink (V2) turns.
    started_at: str = ""


class RelinkRequest(RequestRef):
    """Readable as a ``LinkRequest`` too: the link tasks of provisioning serve relink as is."""

    api_name: str
    rest_api_id: str
    stage_name: str
    old_vpc_link_id: str | None = None
    provisioned_by: str | None = None  # the request that created the API, from its tag
    nlb_arn: str | None = None
    vpc_link_id: str | None = None
    timeout_seconds: int
    delete_old_link: bool
    tags: dict[str, str] = Field(default_factory=dict)
    # VPC links V2 (issue 13), as in ProvisionRequest (``nlb_arn``: the new target, ALB or NLB).
    vpc_link_version: VpcLinkVersion = VpcLinkVersion.V1
    subnet_ids: list[str] | None = None
    security_group_ids: list[str] | None = None


class StageSwitched(WireModel):
    """The stage points at its new link: what the switch did, when the relink then waits for
    a turn to delete the old link (a V2 link's DeleteVpcLink is paced) and is called again."""

    redeployed: str | None = None  # the integrations redeployed for a change of link version


class RelinkTask(PacedTask):
    request: RelinkRequest
    link: VpcLinkState
    switched: StageSwitched | None = None  # by its earlier call, before a wait for a turn
