"""Find or create the VpcLink and wait for it: shared by provisioning and relink."""

from __future__ import annotations

from typing import Any

from provisioner.contract.payloads import (
    ApiGatewayTurn,
    EnsureVpcLinkTask,
    GetVpcLinkStatusTask,
    LinkRequest,
)
from provisioner.contract.progress import Status, progress
from provisioner.contract.vocabulary import VpcLinkVersion
from provisioner.domain import milestones, pacing, vpc_links
from provisioner.runtime.observability import logger
from provisioner.runtime.settings import Settings
from provisioner.tasks import common


def ensure_link(task: EnsureVpcLinkTask, settings: Settings) -> dict[str, Any]:
    """``{"link", "turn": None, "progress"}``, or ``{"link": None, "turn", "progress"}`` while
    a V2 link's CreateVpcLink turn has not come, this request's own or the one of the request
    that creates the link this one will share (the workflow waits for it and calls again)."""
    link = vpc_links.ensure_vpc_link(
        task.request, pacing.Turns.of(task, settings), started_at=task.started_at
    )
    if isinstance(link, ApiGatewayTurn):
        return {
            "link": None,
            **common.wait_for_turn(settings, task.request.ref, link, _what(task.request, link)),
        }
    origin = "Created" if link.created_by_this_request else "Reusing"
    name = f"VpcLink {link.vpc_link_id}"
    if link.vpc_link_version is VpcLinkVersion.V2:
        name = f"VPC link V2 {link.vpc_link_id}"
    if link.status == "AVAILABLE":
        status = Status.VPC_LINK_AVAILABLE
        message = f"{origin} {name}: AVAILABLE."
    else:
        status = Status.VPC_LINK_PENDING
        typically = (
            "a few minutes, up to about 10"
            if link.vpc_link_version is VpcLinkVersion.V2
            else "typically 2-4 minutes"
        )
        message = (
            f"{origin} {name}: {link.status}; waiting until "
            f"{link.deadline} for it to become AVAILABLE ({typically})."
        )
    if link.note:
        message += f" {link.note}."
    logger.info("VpcLink chosen", extra={"vpc_link": link.to_wire()})
    milestones.announce(
        settings,
        progress_note := progress(task.request.ref, status, message, vpcLinkId=link.vpc_link_id),
        vpcLinkId=link.vpc_link_id,
        createdVpcLink=link.created_by_this_request,
    )
    return {"link": link.to_wire(), "turn": None, "progress": progress_note}


def _what(request: LinkRequest, turn: ApiGatewayTurn) -> str:
    """What waits for the turn, in the requester's words."""
    network = vpc_links.WantedLink.of(request).described
    if turn.holder is None:
        return f"the VPC link V2 for {network} is created"
    return (
        f"the VPC link V2 for {network}, which request {turn.holder} creates and this "
        "request will share, is created"
    )


def check_link(task: GetVpcLinkStatusTask, settings: Settings) -> dict[str, Any]:
    link = vpc_links.check_vpc_link(task.link, settings=settings)
    status = Status.VPC_LINK_AVAILABLE if link.status == "AVAILABLE" else Status.VPC_LINK_PENDING
    note = progress(
        task.request.ref,
        status,
        f"VpcLink {link.vpc_link_id} is {link.status}.",
        vpcLinkId=link.vpc_link_id,
    )
    if status is Status.VPC_LINK_AVAILABLE:  # not every PENDING poll: it was told at the first
        milestones.announce(settings, note, vpcLinkId=link.vpc_link_id)
    # No turn, ever: the Choice that follows reads EnsureVpcLink's, which may have one.
    return {"link": link.to_wire(), "turn": None, "progress": note}
