"""Teardown: delete an API this control plane created, and its link when nothing else uses it.

Only what carries our ``provisioner:managed-by`` tag is ever touched; anything else is
REJECTED before a single call that changes AWS.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple

from provisioner.aws import apigateway
from provisioner.contract import errors
from provisioner.contract.errors import FieldError
from provisioner.contract.payloads import ApiGatewayTurn, LinkRelease, TeardownRequest
from provisioner.contract.progress import timestamp
from provisioner.contract.requests import (
    MANAGED_BY_TAG,
    REQUEST_ID_PATTERN,
    REQUEST_ID_TAG,
    REST_API_ID_PATTERN,
    TeardownDetail,
)
from provisioner.domain import pacing, vpc_links
from provisioner.domain.ownership import managed_here
from provisioner.domain.rest_apis import api_created_by
from provisioner.domain.validation import parse_detail
from provisioner.runtime.settings import Settings

# A link normally leaves DELETING within a minute; past this the teardown reports it.
LINK_DELETION_DEADLINE = timedelta(minutes=10)


def validate_teardown(event: dict[str, Any], *, settings: Settings) -> TeardownRequest:
    parsed = parse_detail(event, TeardownDetail, one_of=(("targetRequestId", "restApiId"),))
    api, found = find_managed_api(
        parsed.well_formed("targetRequestId", REQUEST_ID_PATTERN),
        parsed.well_formed("restApiId", REST_API_ID_PATTERN),
        settings=settings,
    )
    detail = parsed.answer(found)
    assert api is not None  # one of the two is given and well formed, and found nothing wrong
    return TeardownRequest(
        **parsed.reference(detail),
        rest_api_id=api.id,
        api_name=api.name,
        created_by_request=api.tags.get(REQUEST_ID_TAG),
        vpc_link_ids=stage_links(api.id),
        keep_vpc_link=detail.keep_vpc_link,
    )


def find_managed_api(
    target_request_id: str | None, rest_api_id: str | None, *, settings: Settings
) -> tuple[apigateway.RestApi | None, list[FieldError]]:
    """The API a teardown or relink is about (by whichever of the two is given), refusing any
    we did not create; or what is wrong. Neither given: nothing to look up, nothing to say
    (the shape check has said it)."""
    if target_request_id:
        created = api_created_by(target_request_id, settings)
        if created is None:
            problem = f"no API created by request {target_request_id}"
            return None, [FieldError("detail.targetRequestId", problem)]
        return created, []
    if not rest_api_id:
        return None, []
    found = apigateway.get_rest_api(rest_api_id)
    if found is None:
        return None, [FieldError("detail.restApiId", f"no REST API {rest_api_id}")]
    if not managed_here(found.tags, settings):
        rule = (
            f"REST API {rest_api_id} is not tagged {MANAGED_BY_TAG}={settings.stack_name}:"
            " this control plane only changes what it created; nothing was touched"
        )
        return None, [FieldError("detail.restApiId", rule)]
    return found, []


def stage_links(rest_api_id: str) -> list[str]:
    """The VpcLinks the API's stages point at (their ``vpcLinkId`` variables)."""
    found = []
    for stage in apigateway.stages(rest_api_id):
        link_id = stage.get("variables", {}).get("vpcLinkId")
        if link_id and link_id not in found:
            found.append(link_id)
    return found


def delete_api(
    request: TeardownRequest,
    *,
    settings: Settings,
    turn: ApiGatewayTurn | None = None,
    retried: bool = False,
) -> bool | ApiGatewayTurn:
    """Delete the API (its stages, resources and integrations go with it); False if it was
    gone already; or, when DeleteRestApi's turn is not now, the turn to wait for."""

    def delete(in_turn: bool) -> bool:
        try:
            apigateway.delete_rest_api(request.rest_api_id, in_turn=in_turn)
        except errors.ResourceNotFound:
            return False
        return True

    turns = pacing.Turns(settings, caller=request.request_id, turn=turn, retried=retried)
    return turns.call(pacing.Paced.DELETE_REST_API, delete)


class LinkReleases(NamedTuple):
    """What became of the API's links; ``turn``: a V2 link's DeleteVpcLink turn to wait for
    before the rest (the task is called again with it). ``started_at``: from when the links'
    deletion deadline counts, moved on by the waits for turns."""

    releases: list[LinkRelease]
    turn: ApiGatewayTurn | None
    started_at: str


def release_links(
    request: TeardownRequest,
    *,
    started_at: str,
    settings: Settings,
    turn: ApiGatewayTurn | None = None,
    retried: bool = False,
) -> LinkReleases:
    """Delete each link the API used if we created it and nothing references it any more;
    called again while any is DELETING, so the NLB is free when the teardown reports done.
    A V2 link is deleted in its DeleteVpcLink turn (``turn``, once waited for); the deadline
    (``LINK_DELETION_DEADLINE`` from ``started_at``) does not count that wait."""
    if turn is not None:
        started_at = timestamp(_parse(started_at) + timedelta(seconds=turn.waited_seconds))
    started = _parse(started_at)
    turns = pacing.Turns(settings, caller=request.request_id, turn=turn, retried=retried)
    releases: list[LinkRelease] = []
    for link_id in request.vpc_link_ids:
        release = _release(link_id, request, settings, turns)
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
    link_id: str, request: TeardownRequest, settings: Settings, turns: pacing.Turns
) -> LinkRelease | ApiGatewayTurn:
    if request.keep_vpc_link:
        return LinkRelease(vpc_link_id=link_id, state="KEPT", reason="keepVpcLink was asked")
    # The API is gone: its provisioning request no longer uses the link.
    ignoring = [request.request_id, *filter(None, [request.created_by_request])]
    return vpc_links.release_link(link_id, ignoring=ignoring, settings=settings, turns=turns)


def _parse(moment: str) -> datetime:
    parsed = datetime.fromisoformat(moment.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
