"""The relink workflow's own tasks (statemachine/relink.asl.json)."""

from __future__ import annotations

from typing import Any

from provisioner.contract.payloads import WorkflowKind
from provisioner.contract.payloads.relink import RelinkTask
from provisioner.contract.progress import Status, progress
from provisioner.domain import milestones, pacing, relink
from provisioner.runtime.settings import Settings
from provisioner.tasks import common


def relink_stage(task: RelinkTask, settings: Settings) -> dict[str, Any]:
    """``{"progress", "turn": None, "switched"}``, or ``{"progress", "turn", "switched"}`` once
    the stage is switched but the old V2 link's DeleteVpcLink turn has not come (the workflow
    waits for it, then calls again with both: only the old link is deleted then)."""
    request = task.request
    relinked = relink.relink_stage(
        request,
        task.link,
        pacing.Turns.of(task, settings),
        switched=task.switched,
    )
    switched = relinked.switched.to_wire()
    if relinked.waiting is not None:
        what = f"the old VpcLink {request.old_vpc_link_id} is deleted"
        waiting = common.wait_for_turn(settings, request.ref, relinked.waiting, what)
        return {**waiting, "switched": switched}
    news = relinked.news
    message = (
        f"Stage '{request.stage_name}' of API {request.rest_api_id} now uses VpcLink "
        f"{task.link.vpc_link_id}" + (f"; {news}." if news else ".")
    )
    note = progress(
        request.ref,
        Status.SUCCEEDED,
        message,
        vpcLinkId=task.link.vpc_link_id,
        restApiId=request.rest_api_id,
        stageName=request.stage_name,
    )
    milestones.announce(
        settings,
        note,
        workflow=WorkflowKind.RELINK,
        vpcLinkId=task.link.vpc_link_id,
        outcome=note["message"],
    )
    return {"progress": note, "turn": None, "switched": switched}
