"""Teardown: delete an API this control plane created, and its link when nothing else uses it.

Only what carries our ``provisioner:managed-by`` tag is ever touched; anything else is
REJECTED before a single call that changes AWS (``domain.validation.validate_teardown``).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import NamedTuple

from provisioner.aws import apigateway
from provisioner.contract import errors
from provisioner.contract.payloads import ApiGatewayTurn, LinkRelease
from provisioner.contract.payloads.teardown import TeardownRequest
from provisioner.contract.vocabulary import parse_timestamp, timestamp
from provisioner.domain import pacing, vpc_links

# A link normally leaves DELETING within a minute; past this the teardown reports it.
LINK_DELETION_DEADLINE = timedelta(minutes=10)


def delete_api(request: TeardownRequest, turns: pacing.Turns) -> bool | ApiGatewayTurn:
    """Delete the API (its stages, resources and integrations go with it); False if it was
    gone already; or, when DeleteRestApi's turn is not now, the turn to wait for."""

    def delete(in_turn: bool) -> bool:
        try:
            apigateway.delete_rest_api(request.rest_api_id, in_turn=in_turn)
        except errors.ResourceNotFound:
            return False
        return True

    return turns.call(pacing.Paced.DELETE_REST_API, delete)


class LinkReleases(NamedTuple):
    """What became of the API's links; ``turn``: a V2 link's DeleteVpcLink turn to wait for
    before the rest (the task is called again with it). ``started_at``: from when the links'
    deletion deadline counts, moved on by the waits for turns."""

    releases: list[LinkRelease]
    turn: ApiGatewayTurn | None
    started_at: str


def release_links(
    request: TeardownRequest, turns: pacing.Turns, *, started_at: str
) -> LinkReleases:
    """Delete each link the API used if we created it and nothing references it any more;
    called again while any is DELETING, so the NLB is free when the teardown reports done.
    A V2 link is deleted in its DeleteVpcLink turn (``turns.turn``, once waited for); the
    deadline (``LINK_DELETION_DEADLINE`` from ``started_at``) does not count that wait."""
    if turns.turn is not None:
        started_at = timestamp(
            parse_timestamp(started_at) + timedelta(seconds=turns.turn.waited_seconds)
        )
    started = parse_timestamp(started_at)
    releases: list[LinkRelease] = []
    for link_id in request.vpc_link_ids:
        release = _release(link_id, request, turns)
        if isinstance(release, ApiGatewayTurn):
            return LinkReleases(releases, release, started_at)
        releases.append(release)
    if any(r.state == "DELETING" for r in releases) and (
        datetime.now(UTC) > started + LINK_DELETION_DEADLINE
    ):
        raise errors.VpcLinkTimeout(
            f"VpcLinks {request.vpc_link_ids} were still DELETING after {LINK_DELETION_DEADLINE}"
        )
    return LinkReleases(releases, None, started_at)


def _release(
    link_id: str, request: TeardownRequest, turns: pacing.Turns
) -> LinkRelease | ApiGatewayTurn:
    if request.keep_vpc_link:
        return LinkRelease(vpc_link_id=link_id, state="KEPT", reason="keepVpcLink was asked")
    # The API is gone: its provisioning request no longer uses the link.
    ignoring = [request.request_id, *filter(None, [request.created_by_request])]
    return vpc_links.release_link(link_id, turns, ignoring=ignoring)
