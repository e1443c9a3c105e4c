"""Relink: point an API's stage at another VpcLink, the reason the tutorial uses a stage
variable. The new link is found or created and awaited like a provisioning's; the stage
variable changes only once it is AVAILABLE, so no caller ever goes through a link that is not.

From a V1 link to a V1 link only the variable changes, as it always did. When a VPC link V2 is
on either side, the integrations' ``integrationTarget`` must change too (V2 needs the load
balancer's ARN, V1 none), and a stage serves the integrations of its deployment: the stage gets
a new deployment and its new ``vpcLinkId`` in one call (``rest_apis.move_stage_to_link``).

The old link, when asked to be deleted and it is a V2 link, is deleted in its DeleteVpcLink
turn (``domain.pacing``): when the turn is not now, the stage has been switched already; the
task answers the turn with what the switch did, the workflow waits for it and calls the task
again with both, which then only deletes the old link.
"""

from __future__ import annotations

from contextlib import suppress
from typing import NamedTuple

from provisioner.aws import apigatewayv2
from provisioner.contract import errors
from provisioner.contract.payloads import ApiGatewayTurn, VpcLinkState
from provisioner.contract.payloads.relink import RelinkRequest, StageSwitched
from provisioner.contract.progress import Status
from provisioner.contract.vocabulary import VpcLinkVersion
from provisioner.domain import pacing, vpc_links
from provisioner.domain.rest_apis import integration_target, move_stage_to_link, point_stage_at_link
from provisioner.runtime.settings import Settings


class Relinked(NamedTuple):
    """The stage switched (``switched``: what that did); ``waiting``: the old link's
    DeleteVpcLink turn to wait for, else ``news`` (what else the requester should be told:
    the integrations redeployed, what became of the old link; or None)."""

    switched: StageSwitched
    news: str | None = None
    waiting: ApiGatewayTurn | None = None


def relink_stage(
    request: RelinkRequest,
    link: VpcLinkState,
    turns: pacing.Turns,
    *,
    switched: StageSwitched | None = None,
) -> Relinked:
    """Switch the stage (unless ``switched`` says an earlier call did), then (if asked) delete
    the old link when we made it and it is unused, in its turn (``turns``: the task's, see
    ``pacing.Turns.of``). Safe to run again.
    """
    if switched is None:
        switched = StageSwitched(redeployed=_switch_stage(request, link, turns.settings))
    old_link = _release_old_link(request, link, turns)
    if isinstance(old_link, ApiGatewayTurn):
        return Relinked(switched, waiting=old_link)
    news = "; ".join(filter(None, [switched.redeployed, old_link])) or None
    return Relinked(switched, news=news)


def _switch_stage(request: RelinkRequest, link: VpcLinkState, settings: Settings) -> str | None:
    """Record the new link's use, then point the stage at it; what was redeployed, if any."""
    if request.provisioned_by:
        # The ledger learns first that the API uses the new link: a rollback from here on
        # cannot delete it from under the stage.
        with suppress(errors.ConditionFailed):  # provisioned before the ledger existed
            settings.ledger.requests.record_progress(
                request.provisioned_by,
                status=Status.SUCCEEDED,
                message=f"Relinked to VpcLink {link.vpc_link_id} by request {request.request_id}.",
                resources={"vpcLinkId": link.vpc_link_id},
            )
    return _switch(request, link)


def _switch(request: RelinkRequest, link: VpcLinkState) -> str | None:
    """Point the stage at the link: by its variable alone from V1 to V1, else by a new
    deployment whose integrations name the new link's target. Says what was redeployed."""
    old = apigatewayv2.find_link(request.old_vpc_link_id) if request.old_vpc_link_id else None
    old_version = old.version if old is not None else None
    if link.vpc_link_version is VpcLinkVersion.V1 and old_version == VpcLinkVersion.V1.value:
        point_stage_at_link(request.rest_api_id, request.stage_name, link)
        return None
    target = integration_target(link.vpc_link_version, request.nlb_arn)
    changed = move_stage_to_link(
        request.rest_api_id,
        request.stage_name,
        link,
        target,
        description=f"Relink to VpcLink {link.vpc_link_id} (request {request.request_id})",
    )
    before = f"a {old_version} link" if old_version else "a link that is gone"
    after = f"integrationTarget {target}" if target else "no integrationTarget (V1)"
    integrations = ", ".join(changed) or "none"
    return (
        f"it moved from {before} to a {link.vpc_link_version.value} link: its integrations now "
        f"name {after} ({integrations}) and the stage was redeployed with them"
    )


def _release_old_link(
    request: RelinkRequest, link: VpcLinkState, turns: pacing.Turns
) -> str | ApiGatewayTurn | None:
    old = request.old_vpc_link_id
    if not request.delete_old_link or not old or old == link.vpc_link_id:
        return None
    release = vpc_links.release_link(
        old, turns, ignoring=[request.request_id, *filter(None, [request.provisioned_by])]
    )
    if isinstance(release, ApiGatewayTurn):
        return release
    fate = {"DELETED": "was already gone", "DELETING": "is being deleted"}
    return f"old VpcLink {old} {fate.get(release.state, f'kept: {release.reason}')}"
