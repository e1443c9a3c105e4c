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
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from provisioner.aws import apigateway, apigatewayv2
from provisioner.contract.errors import (
    AwsRequestRejected,
    LinkCreationInProgress,
    ProvisionerError,
    VpcLinkFailed,
    VpcLinkInactive,
    VpcLinkTimeout,
)
from provisioner.contract.payloads import LinkRelease, LinkRequest, VpcLinkState
from provisioner.contract.requests import VpcLinkVersion
from provisioner.domain.ownership import created_by, managed_here, ownership_tags
from provisioner.domain.validation import INACTIVE_HELP, find_link
from provisioner.runtime.settings import Settings
from provisioner.storage.keys import LinkKey

# A V2 link that FAILED: what the requester can check (AWS fails it when its network
# interfaces cannot be made: a subnet or security group gone, no free address, ...).
_V2_FAILED_REMEDY = (
    "Check that the subnets and security groups exist, lie in the load balancer's VPC and have "
    "free addresses (name others with subnetIds / securityGroupIds); then request again."
)


@dataclass(frozen=True)
class WantedLink:
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
        return find_link(vpc_link_id, self.version.value)

    def create(self, request: LinkRequest, settings: Settings) -> apigateway.VpcLink:
        name = f"{request.api_name}-{request.request_id}"[:128]
        tags = ownership_tags(request.request_id, request.tags, settings)
        if self.version is VpcLinkVersion.V2:
            return apigatewayv2.create_vpc_link(
                name, list(self.subnet_ids), list(self.security_group_ids), tags
            )
        return apigateway.create_vpc_link(
            name=name,
            nlb_arn=str(self.nlb_arn),
            description=f"Private integration for request {request.request_id}",
            tags=tags,
        )


def ensure_vpc_link(request: LinkRequest, *, started_at: str, settings: Settings) -> VpcLinkState:
    """The link this request will use: the one it named, one it created on an earlier attempt,
    one already serving it, or a new one tagged with the request id."""
    deadline = _parse_time(started_at) + timedelta(seconds=request.timeout_seconds)
    if request.vpc_link_id:
        named = find_link(request.vpc_link_id)
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

    claim = settings.ledger.link_claims.claim(wanted.key, request.request_id)
    if not claim.won and claim.vpc_link_id:
        recorded = wanted.get(claim.vpc_link_id)
        if recorded is not None and recorded.status in apigateway.LINK_STATUSES_IN_SERVICE:
            # Created by the holder since we listed the links: reuse it.
            return _state(recorded, created=False, deadline=deadline, settings=settings)
        # The holder's link is gone, FAILED or INACTIVE: take over from it.
        claim = settings.ledger.link_claims.claim(
            wanted.key, request.request_id, replacing_link=claim.vpc_link_id
        )
    if not claim.won:
        raise LinkCreationInProgress(
            f"request {claim.holder} is creating the VpcLink for {wanted.described}; "
            "it will be reused"
        )
    try:
        created_link = wanted.create(request, settings)
    except ProvisionerError:
        # Nothing was created: let the next request for this key try at once, not after the lease.
        settings.ledger.link_claims.release_unused(wanted.key, request.request_id)
        raise
    settings.ledger.link_claims.record_link(wanted.key, request.request_id, created_link.id)
    return _state(created_link, created=True, deadline=deadline, settings=settings, note=note)


def release_link(vpc_link_id: str, *, ignoring: Collection[str], settings: Settings) -> LinkRelease:
    """Delete a link (V1 or V2) this control plane created, unless a request still uses it.

    Every integration reaches its link through the ``vpcLinkId`` stage variable, so AWS cannot
    know which stages use a link, and may let it be deleted under them: the ledger knows
    (``Requests.link_users``). ``ignoring``: the requests on whose behalf the link is let go.
    AWS's own refusal (an integration naming the link) is honoured too.
    """
    link = find_link(vpc_link_id)
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
            apigatewayv2.delete_vpc_link(vpc_link_id)
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
        f"reused ({INACTIVE_HELP}; delete it if nothing needs it)"
    )


def check_vpc_link(link: VpcLinkState, *, settings: Settings) -> VpcLinkState:
    """The link's status now. FAILED, INACTIVE and a passed deadline are errors with a remedy."""
    current = find_link(link.vpc_link_id, link.vpc_link_version.value)
    if current is None:
        raise VpcLinkFailed(f"VpcLink {link.vpc_link_id} was deleted while we waited for it")
    if current.status == "FAILED":
        remedy = _V2_FAILED_REMEDY if current.version == "V2" else None
        raise VpcLinkFailed(
            f"VpcLink {link.vpc_link_id} FAILED: {current.status_message or 'no reason given'}",
            remedy=remedy,
        )
    if current.status == "INACTIVE":
        raise VpcLinkInactive(
            f"VpcLink {link.vpc_link_id} is INACTIVE: {current.status_message or INACTIVE_HELP}"
        )
    if current.status not in apigateway.LINK_STATUSES_IN_SERVICE:
        raise VpcLinkFailed(f"VpcLink {link.vpc_link_id} is {current.status}")
    deadline = _parse_time(link.deadline)
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


def _parse_time(value: str) -> datetime:
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
