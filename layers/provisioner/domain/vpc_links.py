"""ensure_vpc_link and check_vpc_link: find or create the link, then wait for it.

Links are a scarce quota (20 per account and region by default), so a link in service that
already serves the request is reused, never duplicated: a V1 link that targets its NLB, or a
V2 link in the same subnets with the same security groups (a V2 link is not tied to a load
balancer: it serves every ALB and NLB they reach). Even when N requests for the same link
arrive at the same moment: the ledger's claim on the link's key (``storage.keys.LinkKey``) lets
exactly one of them create the link; the others raise ``LinkCreationInProgress``, which the
state machine retries, and find the new link on their next attempt.

A V2 link that went INACTIVE (60 days without traffic) is not gone: it is not reused (no stage
may point at it until traffic has made it AVAILABLE again, and traffic needs a stage), nor
deleted; the requester is told about it.

A V2 link's CreateVpcLink is paced (1 call every 15 s per account, ``domain.pacing``); a V1
link's has no rate of its own and is made at once, as before. The claim and the turn:

* **The claim comes first, the turn second.** A request that finds no link in service claims
  the link's key, and only the winner asks for a CreateVpcLink turn: N requests for one
  network take one turn, not N. A winner whose turn is free creates the link at once, in the
  same invocation, as before pacing.
* **A winner that must wait holds its claim through the wait.** It records its turn on the
  claim (``LinkClaims.hold``, ``turnAt``): the lease (``link_claims.CLAIM_LEASE``,
  60 s) then counts from the turn, not from the claim, so no other request takes the claim
  over while the holder waits in its Wait state, however far the turn. The task answers the
  turn; at it, the workflow calls the task again (``EnsureVpcLinkInTurn``), which looks for a
  link and claims again like any attempt (the claim is still its own: taken again, it counts
  from now) and creates the link in its turn. A turn that does not come (a late predecessor,
  a refused call) is a new turn, held the same way.
* **The others wait for the holder's turn, not for their retries to run out.** A request that
  loses the claim to a holder waiting for its turn answers that turn as one it waits for
  (``ApiGatewayTurn.holder``: no turn of its own, see ``pacing.others_turn``), a moment after
  it, and looks again then: it finds the holder's link and reuses it. A holder that has no
  turn recorded is creating its link now: ``LinkCreationInProgress`` as before, retried by the
  state machine within seconds.
* **Why never two links for one key.** A request creates a link only in the invocation in
  which its claim was written (taken, or taken again at its turn), within the function's
  timeout (30 s) of that write, and the lease protects the claim for 60 s after it (or after
  the turn it holds). So a takeover, only after the lease, comes after any link the holder
  created, and the one taking over lists the links after that (its list and its claim are
  in one invocation, also within 30 s): it sees the holder's link and reuses it. A holder
  whose Wait ended more than a lease after its turn (Step Functions or Lambda that late) may
  have lost its claim: its claim is then refused, it creates nothing and waits for the new
  holder's link like any other request. An execution that stops in its Wait holds the key
  until its turn and the lease have passed; then the next request takes the claim over.
* **Deadlines do not count the wait.** The link's deadline (``timeoutSeconds``) is moved on
  by the time waited for CreateVpcLink turns, its own or the holder's
  (``ApiGatewayTurn.waited_seconds``, from the first wait).

A V2 link's DeleteVpcLink (1 call every 30 s) is paced too (:func:`release_link`, for the
teardown, the relink and the rollback): the task answers its turn, the workflow waits.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from datetime import UTC, datetime, timedelta
from typing import NamedTuple

from provisioner.aws import apigateway, apigatewayv2
from provisioner.contract.errors import (
    AwsRequestRejected,
    LinkCreationInProgress,
    ProvisionerError,
    VpcLinkFailed,
    VpcLinkInactive,
    VpcLinkTimeout,
)
from provisioner.contract.payloads import ApiGatewayTurn, LinkRelease, LinkRequest, VpcLinkState
from provisioner.contract.vocabulary import VpcLinkVersion, parse_timestamp
from provisioner.domain import pacing
from provisioner.domain.ownership import created_by, managed_here, ownership_tags
from provisioner.runtime.settings import Settings
from provisioner.storage.keys import LinkKey

# A V2 link that FAILED: what the requester can check (AWS fails it when its network
# interfaces cannot be made: a subnet or security group gone, no free address, ...).
_V2_FAILED_REMEDY = (
    "Check that the subnets and security groups exist, lie in the load balancer's VPC and have "
    "free addresses (name others with subnetIds / securityGroupIds); then request again."
)
# A request waiting for another's CreateVpcLink turn looks again this long after that turn:
# the holder's Wait ends on the next whole second, then it creates the link and records it.
HOLDERS_CALL_SECONDS = 3


class WantedLink(NamedTuple):
    """The link a request wants: V1 on its NLB, or V2 in its subnets and security groups."""

    version: VpcLinkVersion
    key: LinkKey
    nlb_arn: str | None = None
    subnet_ids: tuple[str, ...] = ()
    security_group_ids: tuple[str, ...] = ()

    @classmethod
    def of(cls, request: LinkRequest) -> WantedLink:
        if request.vpc_link_version is VpcLinkVersion.V2:
            subnets, groups = request.subnet_ids or [], request.security_group_ids or []
            return cls(
                VpcLinkVersion.V2,
                LinkKey.of_v2(subnets, groups),
                subnet_ids=tuple(sorted(set(subnets))),
                security_group_ids=tuple(sorted(set(groups))),
            )
        if not request.nlb_arn:
            raise VpcLinkFailed("the request names neither a VpcLink nor an NLB")
        return cls(VpcLinkVersion.V1, LinkKey.of_nlb(request.nlb_arn), request.nlb_arn)

    @property
    def described(self) -> str:
        if self.version is VpcLinkVersion.V1:
            return str(self.nlb_arn)
        groups = ", ".join(self.security_group_ids) or "none"
        return f"subnets {', '.join(self.subnet_ids)} (security groups {groups})"

    def serves(self, link: apigateway.VpcLink) -> bool:
        if self.version is VpcLinkVersion.V1:
            return link.version == "V1" and self.nlb_arn in link.target_arns
        return (
            link.version == "V2"
            and tuple(sorted(set(link.subnet_ids))) == self.subnet_ids
            and tuple(sorted(set(link.security_group_ids))) == self.security_group_ids
        )

    def links(self) -> Iterable[apigateway.VpcLink]:
        return (
            apigateway.vpc_links()
            if self.version is VpcLinkVersion.V1
            else apigatewayv2.vpc_links()
        )

    def get(self, vpc_link_id: str) -> apigateway.VpcLink | None:
        return apigatewayv2.find_link(vpc_link_id, self.version.value)

    def create(
        self, request: LinkRequest, turns: pacing.Turns
    ) -> apigateway.VpcLink | ApiGatewayTurn:
        """A new link; a V2 link in its CreateVpcLink turn, or the turn to wait for."""
        name = f"{request.api_name}-{request.request_id}"[:128]
        tags = ownership_tags(request.request_id, request.tags, turns.settings)
        if self.version is VpcLinkVersion.V2:
            return turns.call(
                pacing.Paced.CREATE_VPC_LINK_V2,
                lambda in_turn: apigatewayv2.create_vpc_link(
                    name,
                    list(self.subnet_ids),
                    list(self.security_group_ids),
                    tags,
                    in_turn=in_turn,
                ),
            )
        return apigateway.create_vpc_link(
            name=name,
            nlb_arn=str(self.nlb_arn),
            description=f"Private integration for request {request.request_id}",
            tags=tags,
        )


def ensure_vpc_link(
    request: LinkRequest, turns: pacing.Turns, *, started_at: str
) -> VpcLinkState | ApiGatewayTurn:
    """The link this request will use: the one it named, one it created on an earlier attempt,
    one already serving it, or a new one tagged with the request id; or the turn to wait for
    (a V2 link's CreateVpcLink turn, this request's own or the holder's of the link's claim).

    ``turns``: the task's (``pacing.Turns.of``: the turn the workflow waited for, and whether
    this attempt is an ASL retry, its own turn spent). The deadline leaves out the time waited
    for turns."""
    settings, turn = turns.settings, turns.turn
    waited = turn.waited_seconds if turn is not None else 0.0
    deadline = parse_timestamp(started_at) + timedelta(seconds=request.timeout_seconds + waited)
    if request.vpc_link_id:
        named = apigatewayv2.find_link(request.vpc_link_id)
        if named is None:
            raise VpcLinkFailed(f"VpcLink {request.vpc_link_id} no longer exists")
        return _state(named, created=False, deadline=deadline, settings=settings)
    wanted = WantedLink.of(request)

    inactive: list[apigateway.VpcLink] = []
    existing = _link_in_service(request, wanted, settings, inactive)
    note = _inactive_note(inactive)
    if existing is not None:
        link, created = existing
        return _state(link, created=created, deadline=deadline, settings=settings, note=note)

    claims, key, me = settings.ledger.link_claims, wanted.key, request.request_id
    claim = claims.claim(key, me)
    if not claim.won and claim.vpc_link_id:
        recorded = wanted.get(claim.vpc_link_id)
        if recorded is not None and recorded.status in apigateway.LINK_STATUSES_IN_SERVICE:
            # Created by the holder since we listed the links: reuse it.
            return _state(recorded, created=False, deadline=deadline, settings=settings)
        # The holder's link is gone, FAILED or INACTIVE: take over from it.
        claim = claims.claim(key, me, replacing_link=claim.vpc_link_id)
    if not claim.won:
        if claim.turn_at is not None and claim.turn_at > _now():
            # The holder waits for its CreateVpcLink turn: wait for it too, then look again.
            at = claim.turn_at.timestamp() + HOLDERS_CALL_SECONDS
            queue = pacing.Paced.CREATE_VPC_LINK_V2
            return pacing.others_turn(queue, holder=claim.holder, at=at, earlier=turn)
        raise LinkCreationInProgress(
            f"request {claim.holder} is creating the VpcLink for {wanted.described}; "
            "it will be reused"
        )
    created_link = _create_claimed(request, wanted, turns)
    if isinstance(created_link, ApiGatewayTurn):
        return created_link
    return _state(created_link, created=True, deadline=deadline, settings=settings, note=note)


def _create_claimed(
    request: LinkRequest, wanted: WantedLink, turns: pacing.Turns
) -> apigateway.VpcLink | ApiGatewayTurn:
    """Create the link whose key this request has just claimed (in this invocation), and
    record it on the claim; or, when a V2 link's CreateVpcLink turn is not now, hold the claim
    until the lease after that turn and answer the turn."""
    claims, key, me = turns.settings.ledger.link_claims, wanted.key, request.request_id
    try:
        created = wanted.create(request, turns)
    except ProvisionerError:
        # Nothing was created: let the next request for this key try at once, not after the lease.
        claims.release_unused(key, me)
        raise
    if isinstance(created, ApiGatewayTurn):
        if not claims.hold(key, me, turn_at=_moment(created.at_seconds)):
            # Taken over meanwhile (only if this invocation outlived the lease): not ours to make
            raise LinkCreationInProgress(
                f"another request is creating the VpcLink for {wanted.described}; it will be reused"
            )
        return created
    claims.record_link(key, me, created.id)
    return created


def release_link(
    vpc_link_id: str, turns: pacing.Turns, *, ignoring: Collection[str]
) -> LinkRelease | ApiGatewayTurn:
    """Delete a link (V1 or V2) this control plane created, unless a request still uses it;
    or, for a V2 link whose DeleteVpcLink turn is not now, the turn to wait for (``turns``:
    the task's, see ``pacing.Turns``).

    Every integration reaches its link through the ``vpcLinkId`` stage variable, so AWS cannot
    know which stages use a link, and may let it be deleted under them: the ledger knows
    (``Requests.link_users``). ``ignoring``: the requests on whose behalf the link is let go.
    AWS's own refusal (an integration naming the link) is honoured too.
    """
    settings = turns.settings
    link = apigatewayv2.find_link(vpc_link_id)
    if link is None:
        return LinkRelease(vpc_link_id=vpc_link_id, state="DELETED", reason="deleted")
    if link.status == "DELETING":
        return LinkRelease(vpc_link_id=vpc_link_id, state="DELETING", reason="being deleted")
    if not managed_here(link.tags, settings):
        return LinkRelease(
            vpc_link_id=vpc_link_id, state="KEPT", reason="not created by this control plane"
        )
    users = sorted(set(settings.ledger.requests.link_users(vpc_link_id)) - set(ignoring))
    if users:
        return LinkRelease(
            vpc_link_id=vpc_link_id, state="KEPT", reason=f"still used by {', '.join(users)}"
        )
    try:
        if link.version == "V2":
            waiting = turns.call(
                pacing.Paced.DELETE_VPC_LINK_V2,
                lambda in_turn: apigatewayv2.delete_vpc_link(vpc_link_id, in_turn=in_turn),
            )
            if waiting is not None:
                return waiting
        else:
            apigateway.delete_vpc_link(vpc_link_id)
    except ProvisionerError as refused:
        if not isinstance(refused, AwsRequestRejected):
            raise
        return LinkRelease(vpc_link_id=vpc_link_id, state="KEPT", reason=refused.message)
    for key in _keys_of(link):
        settings.ledger.link_claims.release(key, vpc_link_id)
    return LinkRelease(vpc_link_id=vpc_link_id, state="DELETING", reason="being deleted")


def _keys_of(link: apigateway.VpcLink) -> list[LinkKey]:
    """The ledger keys under which a link may have been claimed."""
    if link.version == "V2":
        return [LinkKey.of_v2(link.subnet_ids, link.security_group_ids)]
    return [LinkKey.of_nlb(nlb_arn) for nlb_arn in link.target_arns]


def all_links() -> Iterable[apigateway.VpcLink]:
    """Every V1 and V2 link of the account and region."""
    yield from apigateway.vpc_links()
    yield from apigatewayv2.vpc_links()


def _link_in_service(
    request: LinkRequest,
    wanted: WantedLink,
    settings: Settings,
    inactive: list[apigateway.VpcLink],
) -> tuple[apigateway.VpcLink, bool] | None:
    """A PENDING or AVAILABLE link that serves the request, and whether this request created
    it; the INACTIVE links that would have served it are added to ``inactive``."""
    serving = [link for link in wanted.links() if wanted.serves(link)]
    candidates = [link for link in serving if link.status in apigateway.LINK_STATUSES_IN_SERVICE]
    inactive += [link for link in serving if link.status == "INACTIVE"]
    for link in candidates:  # a retry of this very request: it created the link already
        if created_by(link.tags, request.request_id, settings):
            return link, True
    if candidates:  # prefer a link that is ready now
        return min(candidates, key=lambda link: (link.status != "AVAILABLE", link.id)), False
    return None


def _inactive_note(inactive: list[apigateway.VpcLink]) -> str | None:
    if not inactive:
        return None
    ids = ", ".join(link.id for link in inactive)
    return (
        f"VpcLink {ids} in the same subnets and security groups is INACTIVE, so it was not "
        f"reused ({apigatewayv2.INACTIVE_HELP}; delete it if nothing needs it)"
    )


def check_vpc_link(link: VpcLinkState, *, settings: Settings) -> VpcLinkState:
    """The link's status now. FAILED, INACTIVE and a passed deadline are errors with a remedy."""
    current = apigatewayv2.find_link(link.vpc_link_id, link.vpc_link_version.value)
    if current is None:
        raise VpcLinkFailed(f"VpcLink {link.vpc_link_id} was deleted while we waited for it")
    if current.status == "FAILED":
        remedy = _V2_FAILED_REMEDY if current.version == "V2" else None
        raise VpcLinkFailed(
            f"VpcLink {link.vpc_link_id} FAILED: {current.status_message or 'no reason given'}",
            remedy=remedy,
        )
    if current.status == "INACTIVE":
        why = current.status_message or apigatewayv2.INACTIVE_HELP
        raise VpcLinkInactive(f"VpcLink {link.vpc_link_id} is INACTIVE: {why}")
    if current.status not in apigateway.LINK_STATUSES_IN_SERVICE:
        raise VpcLinkFailed(f"VpcLink {link.vpc_link_id} is {current.status}")
    deadline = parse_timestamp(link.deadline)
    if current.status == "PENDING" and datetime.now(UTC) >= deadline:
        raise VpcLinkTimeout(
            f"VpcLink {link.vpc_link_id} was still PENDING at the deadline {link.deadline}"
        )
    return _state(
        current,
        created=link.created_by_this_request,
        deadline=deadline,
        settings=settings,
        note=link.note,
    )


def _state(
    link: apigateway.VpcLink,
    *,
    created: bool,
    deadline: datetime,
    settings: Settings,
    note: str | None = None,
) -> VpcLinkState:
    remaining = (deadline - datetime.now(UTC)).total_seconds()
    # Never sleep past the deadline, never poll faster than once a second.
    next_poll = max(1, min(settings.poll_interval_seconds, int(remaining + 0.999)))
    return VpcLinkState(
        vpc_link_id=link.id,
        status=link.status,
        status_message=link.status_message,
        created_by_this_request=created,
        deadline=deadline.isoformat(),
        next_poll_seconds=next_poll,
        vpc_link_version=VpcLinkVersion(link.version),
        note=note,
    )


def _now() -> datetime:
    """Now, on the clock of the turns (``pacing.now``: the tests move it)."""
    return _moment(pacing.now())


def _moment(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)
