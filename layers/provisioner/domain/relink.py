"""Relink: point an API's stage at another VpcLink, the reason the tutorial uses a stage
variable. The new link is found or created and awaited like a provisioning's; the stage
variable changes only once it is AVAILABLE, so no caller ever goes through a link that is not.
"""

from __future__ import annotations

from contextlib import suppress
from typing import Any

from provisioner.aws import apigateway
from provisioner.contract import errors
from provisioner.contract.errors import FieldError
from provisioner.contract.payloads import RelinkRequest, VpcLinkState
from provisioner.contract.requests import (
    NLB_ARN_PATTERN,
    REQUEST_ID_PATTERN,
    REQUEST_ID_TAG,
    REST_API_ID_PATTERN,
    STAGE_NAME_PATTERN,
    VPC_LINK_ID_PATTERN,
    RelinkDetail,
)
from provisioner.domain import vpc_links
from provisioner.domain.rest_apis import point_stage_at_link
from provisioner.domain.teardown import find_managed_api
from provisioner.domain.validation import (
    check_load_balancer,
    exposure_problems,
    link_problems,
    link_target_exposure,
    parse_detail,
)
from provisioner.runtime.settings import Settings
from provisioner.storage import ledger


def validate_relink(
    event: dict[str, Any], *, account: str, region: str, settings: Settings
) -> RelinkRequest:
    parsed = parse_detail(
        event,
        RelinkDetail,
        one_of=(("targetRequestId", "restApiId"), ("nlbArn", "vpcLinkId")),
    )
    api, found = find_managed_api(
        parsed.well_formed("targetRequestId", REQUEST_ID_PATTERN),
        parsed.well_formed("restApiId", REST_API_ID_PATTERN),
        settings=settings,
    )
    stage = None
    stage_name = parsed.well_formed("stageName", STAGE_NAME_PATTERN)
    if api is not None and (stage_name or parsed.raw.get("stageName") is None):
        stage, problems = _stage_of(api.id, stage_name)
        found += problems
    exposure = []
    if vpc_link_id := parsed.well_formed("vpcLinkId", VPC_LINK_ID_PATTERN):
        link = apigateway.get_vpc_link(vpc_link_id)
        found += link_problems(vpc_link_id, link)
        exposure += link_target_exposure(link, "detail.vpcLinkId", settings)
    if nlb_arn := parsed.well_formed("nlbArn", NLB_ARN_PATTERN):
        load_balancer, problems = check_load_balancer(nlb_arn, account=account, region=region)
        found += problems
        exposure += [] if problems else exposure_problems(load_balancer, "detail.nlbArn", settings)
    detail = parsed.answer(found, exposure)
    assert api is not None and stage is not None  # else a problem was found
    return RelinkRequest(
        request_id=detail.request_id or parsed.event_id,
        ticket_id=detail.ticket_id,
        requested_by=detail.requested_by,
        ticket=detail.ticket,
        api_name=api.name,
        rest_api_id=api.id,
        stage_name=stage["stageName"],
        old_vpc_link_id=stage.get("variables", {}).get("vpcLinkId"),
        provisioned_by=api.tags.get(REQUEST_ID_TAG),
        nlb_arn=detail.nlb_arn,
        vpc_link_id=detail.vpc_link_id,
        timeout_seconds=detail.timeout_seconds or settings.link_timeout_seconds,
        delete_old_link=detail.delete_old_link,
        tags=detail.tags,
    )


def _stage_of(
    rest_api_id: str, stage_name: str | None
) -> tuple[dict[str, Any] | None, list[FieldError]]:
    stages = apigateway.stages(rest_api_id)
    if stage_name is None and len(stages) == 1:
        return stages[0], []
    for stage in stages:
        if stage["stageName"] == stage_name:
            return stage, []
    names = ", ".join(sorted(s["stageName"] for s in stages)) or "none"
    rule = "required: the API has several stages" if stage_name is None else "no such stage"
    return None, [FieldError("detail.stageName", f"{rule} (stages: {names})")]


def relink_stage(request: RelinkRequest, link: VpcLinkState, *, settings: Settings) -> str | None:
    """Switch the stage, then (if asked) delete the old link when we made it and it is unused.

    Returns what became of the old link, for the notification. Safe to run again.
    """
    if request.provisioned_by:
        # The ledger learns first that the API uses the new link: a rollback from here on
        # cannot delete it from under the stage.
        with suppress(errors.ConditionFailed):  # provisioned before the ledger existed
            ledger.record_progress(
                settings.ledger_table,
                request.provisioned_by,
                status="SUCCEEDED",
                message=f"Relinked to VpcLink {link.vpc_link_id} by request {request.request_id}.",
                resources={"vpcLinkId": link.vpc_link_id},
            )
    point_stage_at_link(request.rest_api_id, request.stage_name, link)
    old = request.old_vpc_link_id
    if not request.delete_old_link or not old or old == link.vpc_link_id:
        return None
    release = vpc_links.release_link(
        old,
        ignoring=[request.request_id, *filter(None, [request.provisioned_by])],
        settings=settings,
    )
    fate = {"DELETED": "was already gone", "DELETING": "is being deleted"}
    return f"old VpcLink {old} {fate.get(release.state, f'kept: {release.reason}')}"
