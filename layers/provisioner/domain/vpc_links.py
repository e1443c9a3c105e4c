"""ensure_vpc_link and check_vpc_link: find or create the link, then wait for it.

Links are a scarce quota (20 per account and region by default), so a link that already
targets the NLB and is in service is reused, never duplicated, even when N requests for the
same NLB arrive at the same moment: the ledger's NLB claim lets exactly one of them create
the link; the others raise ``LinkCreationInProgress``, which the state machine retries, and
find the new link on their next attempt.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import UTC, datetime, timedelta

from provisioner.aws import apigateway
from provisioner.contract.errors import (
    AwsRequestRejected,
    LinkCreationInProgress,
    ProvisionerError,
    VpcLinkFailed,
    VpcLinkTimeout,
)
from provisioner.contract.payloads import LinkRelease, LinkRequest, VpcLinkState
from provisioner.domain.ownership import created_by, managed_here, ownership_tags
from provisioner.runtime.settings import Settings
from provisioner.storage import ledger


def ensure_vpc_link(request: LinkRequest, *, started_at: str, settings: Settings) -> VpcLinkState:
    """The link this request will use: the one it named, one it created on an earlier attempt,
    one already serving its NLB, or a new one tagged with the request id."""
    deadline = _parse_time(started_at) + timedelta(seconds=request.timeout_seconds)
    if request.vpc_link_id:
        named = apigateway.get_vpc_link(request.vpc_link_id)
        if named is None:
            raise VpcLinkFailed(f"VpcLink {request.vpc_link_id} no longer exists")
        return _state(named, created=False, deadline=deadline, settings=settings)
    if not request.nlb_arn:
        raise VpcLinkFailed("the request names neither a VpcLink nor an NLB")
    nlb_arn = request.nlb_arn

    existing = _link_in_service(request, nlb_arn, settings)
    if existing is not None:
        link, created = existing
        return _state(link, created=created, deadline=deadline, settings=settings)

    claim = ledger.claim_nlb(settings.ledger_table, nlb_arn, request.request_id)
    if not claim.won and claim.vpc_link_id:
        recorded = apigateway.get_vpc_link(claim.vpc_link_id)
        if recorded is not None and recorded.status in apigateway.LINK_STATUSES_IN_SERVICE:
            # Created by the holder since we listed the links: reuse it.
            return _state(recorded, created=False, deadline=deadline, settings=settings)
        # The holder's link is gone or FAILED: take over from it.
        claim = ledger.claim_nlb(
            settings.ledger_table, nlb_arn, request.request_id, replacing_link=claim.vpc_link_id
        )
    if not claim.won:
        raise LinkCreationInProgress(
            f"request {claim.holder} is creating the VpcLink for {nlb_arn}; it will be reused"
        )
    try:
        created_link = apigateway.create_vpc_link(
            name=f"{request.api_name}-{request.request_id}"[:128],
            nlb_arn=nlb_arn,
            description=f"Private integration for request {request.request_id}",
            tags=ownership_tags(request.request_id, request.tags, settings),
        )
    except ProvisionerError:
        # Nothing was created: let the next request for this NLB try at once, not after the lease.
        ledger.release_unused_claim(settings.ledger_table, nlb_arn, request.request_id)
        raise
    ledger.record_nlb_link(settings.ledger_table, nlb_arn, request.request_id, created_link.id)
    return _state(created_link, created=True, deadline=deadline, settings=settings)


def release_link(vpc_link_id: str, *, ignoring: Collection[str], settings: Settings) -> LinkRelease:
    """Delete a link this control plane created, unless a request still uses it.

    Every integration reaches its link through the ``vpcLinkId`` stage variable, so AWS cannot
    know which stages use a link, and may let it be deleted under them: the ledger knows
    (``ledger.link_users``). ``ignoring``: the requests on whose behalf the link is let go.
    AWS's own refusal (an integration naming the link) is honoured too.
    """
    link = apigateway.get_vpc_link(vpc_link_id)
    if link is None:
        return LinkRelease(vpc_link_id=vpc_link_id, state="DELETED", reason="deleted")
    if link.status == "DELETING":
        return LinkRelease(vpc_link_id=vpc_link_id, state="DELETING", reason="being deleted")
    if not managed_here(link.tags, settings):
        return LinkRelease(
            vpc_link_id=vpc_link_id, state="KEPT", reason="not created by this control plane"
        )
    users = sorted(set(ledger.link_users(settings.ledger_table, vpc_link_id)) - set(ignoring))
    if users:
        return LinkRelease(
            vpc_link_id=vpc_link_id, state="KEPT", reason=f"still used by {', '.join(users)}"
        )
    try:
        apigateway.delete_vpc_link(vpc_link_id)
    except ProvisionerError as refused:
        if not isinstance(refused, AwsRequestRejected):
            raise
        return LinkRelease(vpc_link_id=vpc_link_id, state="KEPT", reason=refused.message)
    for nlb_arn in link.target_arns:
        ledger.release_nlb(settings.ledger_table, nlb_arn, vpc_link_id)
    return LinkRelease(vpc_link_id=vpc_link_id, state="DELETING", reason="being deleted")


def _link_in_service(
    request: LinkRequest, nlb_arn: str, settings: Settings
) -> tuple[apigateway.VpcLink, bool] | None:
    """A PENDING or AVAILABLE link on the NLB, and whether this request created it."""
    candidates = [
        link
        for link in apigateway.vpc_links()
        if nlb_arn in link.target_arns and link.status in apigateway.LINK_STATUSES_IN_SERVICE
    ]
    for link in candidates:  # a retry of this very request: it created the link already
        if created_by(link.tags, request.request_id, settings):
            return link, True
    if candidates:  # prefer a link that is ready now
        return min(candidates, key=lambda link: (link.status != "AVAILABLE", link.id)), False
    return None


def check_vpc_link(link: VpcLinkState, *, settings: Settings) -> VpcLinkState:
    """The link's status now. FAILED and a passed deadline are errors with a remedy."""
    current = apigateway.get_vpc_link(link.vpc_link_id)
    if current is None:
        raise VpcLinkFailed(f"VpcLink {link.vpc_link_id} was deleted while we waited for it")
    if current.status == "FAILED":
        raise VpcLinkFailed(
            f"VpcLink {link.vpc_link_id} FAILED: {current.status_message or 'no reason given'}"
        )
    if current.status not in apigateway.LINK_STATUSES_IN_SERVICE:
        raise VpcLinkFailed(f"VpcLink {link.vpc_link_id} is {current.status}")
    deadline = _parse_time(link.deadline)
    if current.status == "PENDING" and datetime.now(UTC) >= deadline:
        raise VpcLinkTimeout(
            f"VpcLink {link.vpc_link_id} was still PENDING at the deadline {link.deadline}"
        )
    return _state(
        current, created=link.created_by_this_request, deadline=deadline, settings=settings
    )


def _state(
    link: apigateway.VpcLink, *, created: bool, deadline: datetime, settings: Settings
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
    )


def _parse_time(value: str) -> datetime:
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
