"""The teardown workflow's tasks (statemachine/teardown.asl.json)."""

from __future__ import annotations

from typing import Any

from provisioner.contract.payloads import WorkflowKind
from provisioner.contract.payloads.teardown import TeardownTask
from provisioner.contract.progress import Status, progress, timestamp
from provisioner.domain import milestones, pacing, teardown
from provisioner.runtime.settings import Settings
from provisioner.tasks import common


def delete_api(task: TeardownTask, settings: Settings) -> dict[str, Any]:
    """``{"deletedAt", "turn": None, "progress"}``, or ``{"turn", "progress"}`` while
    DeleteRestApi's turn has not come (the workflow waits for it and calls again)."""
    request = task.request
    deleted = common.work_in_turn(
        task,
        settings,
        lambda turns: teardown.delete_api(request, turns),
        f"REST API {request.rest_api_id} is deleted",
        restApiId=request.rest_api_id,
    )
    if isinstance(deleted, dict):
        return {"deletedAt": None, **deleted}
    what = "deleted" if deleted else "was already gone"
    note = progress(
        request.ref,
        Status.API_DELETED,
        f"REST API {request.rest_api_id} {what}, with its stages.",
        restApiId=request.rest_api_id,
    )
    milestones.announce(settings, note, restApiId=request.rest_api_id)
    return {"deletedAt": timestamp(), "turn": None, "progress": note}


def release_links(task: TeardownTask, settings: Settings) -> dict[str, Any]:
    """``{"pending", "nextPollSeconds", "links", "turn", "startedAt", "progress"}``: ``turn``
    while a V2 link's DeleteVpcLink turn has not come (the workflow waits for it, then calls
    again with it); ``startedAt``: from when the next call counts the deletion deadline."""
    request = task.request
    released = teardown.release_links(
        request, pacing.Turns.of(task, settings), started_at=task.started_at
    )
    releases = released.releases
    pending = released.turn is not None or any(r.state == "DELETING" for r in releases)
    result: dict[str, Any] = {
        "pending": pending,
        "nextPollSeconds": settings.poll_interval_seconds,
        "links": [release.to_wire() for release in releases],
        "turn": None,
        "startedAt": released.started_at,
        "progress": None,  # the SUCCEEDED notification, once no link is DELETING
    }
    if released.turn is not None:
        what = f"REST API {request.rest_api_id}'s VPC link V2 is deleted"
        waiting = common.wait_for_turn(
            settings, request.ref, released.turn, what, restApiId=request.rest_api_id
        )
        return {**result, **waiting}
    if pending:
        return result
    fates = "; ".join(f"VpcLink {r.vpc_link_id} {r.reason}" for r in releases) or "no VpcLink"
    note = progress(
        request.ref,
        Status.SUCCEEDED,
        f"REST API {request.rest_api_id} deleted; {fates}.",
        restApiId=request.rest_api_id,
    )
    # The provisioning is DELETED in the ledger before anyone hears SUCCEEDED: a requester
    # (or a script) that asks its status on the notification finds it already so.
    if request.created_by_request:
        milestones.mark_deleted(settings, request.created_by_request, request.request_id)
    milestones.announce(settings, note, workflow=WorkflowKind.TEARDOWN, outcome=note["message"])
    return {**result, "progress": note}
