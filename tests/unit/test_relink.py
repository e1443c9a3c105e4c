"""Relink: point an API's stage at another VpcLink, only once that link is AVAILABLE, and
delete the old link when asked, we created it and nothing uses it any more."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import msgspec
import pytest

from provisioner.contract.errors import InvalidRequest, StageNotSafe
from provisioner.contract.payloads import VpcLinkState
from provisioner.contract.payloads.relink import RelinkRequest
from provisioner.contract.requests import MANAGED_BY_TAG
from provisioner.domain import relink, validation
from provisioner.domain.pacing import Turns
from provisioner.domain.vpc_links import ensure_vpc_link
from provisioner.storage.keys import LinkKey

from .support import eventbridge_event, stored

pytestmark = pytest.mark.unit

RELINK = "PrivateApiRelinkRequested"


def relink_event(detail: dict[str, Any], event_id: str | None = None) -> dict[str, Any]:
    return eventbridge_event(detail, event_id=event_id, detail_type=RELINK)


def validate(detail: dict[str, Any], settings: Any, event_id: str | None = None) -> RelinkRequest:
    return validation.validate_relink(relink_event(detail, event_id), settings=settings)


def fields_of(raised: pytest.ExceptionInfo[InvalidRequest]) -> list[dict[str, str]]:
    return [field.as_dict() for field in raised.value.fields]


def stage_link(apigw: Any, api: Any, stage: str = "prod") -> str | None:
    variables = apigw.get_stage(restApiId=api.rest_api_id, stageName=stage).get("variables", {})
    return variables.get("vpcLinkId")


def live_link_ids(apigw: Any) -> list[str]:
    """Links that exist and are not being deleted."""
    return sorted(
        link["id"] for link in apigw.get_vpc_links()["items"] if link["status"] != "DELETING"
    )


@pytest.fixture
def new_link(second_nlb_arn, make_request, settings, link_status):
    """A link of ours on the second NLB, in the status the test asks for."""

    def make(status: str = "AVAILABLE") -> VpcLinkState:
        request = make_request(nlb_arn=second_nlb_arn, api_name="orders-v2")
        started_at = datetime.now(UTC).isoformat()
        state = ensure_vpc_link(request, Turns(settings, request.request_id), started_at=started_at)
        link_status(state.vpc_link_id, status, f"the link is {status}")
        return msgspec.structs.replace(state, **{"status": status})

    return make


# --- validate_relink -----------------------------------------------------------------------------
def test_a_relink_finds_the_api_and_its_only_stage(network, second_nlb_arn, provision, settings):
    # Given a provisioned API with one stage
    api = provision()

    # When a relink names its request and another NLB
    request = validate(
        {"requestId": "REL-1", "targetRequestId": api.request.request_id, "nlbArn": second_nlb_arn},
        settings,
    )

    # Then it is about that stage, remembers the link it uses now, and has every default
    assert request == RelinkRequest(
        request_id="REL-1",
        api_name="orders",
        rest_api_id=api.rest_api_id,
        stage_name="prod",
        old_vpc_link_id=api.vpc_link_id,
        provisioned_by=api.request.request_id,
        nlb_arn=second_nlb_arn,
        timeout_seconds=settings.link_timeout_seconds,
        delete_old_link=False,
    )


def test_a_relink_by_rest_api_id_to_a_named_link(network, provision, new_link, settings):
    api = provision()
    target = new_link()

    request = validate(
        {"restApiId": api.rest_api_id, "vpcLinkId": target.vpc_link_id, "deleteOldLink": True},
        settings,
        event_id="evt-2",
    )

    assert (request.request_id, request.rest_api_id) == ("evt-2", api.rest_api_id)
    assert (request.vpc_link_id, request.nlb_arn) == (target.vpc_link_id, None)
    assert request.delete_old_link is True


def test_a_relink_needs_the_stage_name_when_the_api_has_several(
    network, second_nlb_arn, provision, apigw, settings
):
    # Given an API with two stages
    api = provision()
    apigw.create_deployment(
        restApiId=api.rest_api_id, stageName="beta", variables={"vpcLinkId": "beta1"}
    )
    detail = {"restApiId": api.rest_api_id, "nlbArn": second_nlb_arn}

    # When no stage is named, stageName is required, listing the stages
    with pytest.raises(InvalidRequest) as raised:
        validate(detail, settings)
    assert fields_of(raised) == [
        {
            "field": "detail.stageName",
            "rule": "required: the API has several stages (stages: beta, prod)",
        }
    ]

    # And a named stage is the one relinked
    request = validate({**detail, "stageName": "beta"}, settings)
    assert (request.stage_name, request.old_vpc_link_id) == ("beta", "beta1")


def test_a_relink_of_a_stage_that_does_not_exist_is_invalid(
    network, second_nlb_arn, provision, settings
):
    api = provision()

    with pytest.raises(InvalidRequest) as raised:
        validate(
            {"restApiId": api.rest_api_id, "nlbArn": second_nlb_arn, "stageName": "beta"},
            settings,
        )

    assert fields_of(raised) == [
        {"field": "detail.stageName", "rule": "no such stage (stages: prod)"}
    ]


@pytest.mark.parametrize(
    ("targets", "problem"),
    [
        (
            {},
            {"field": "detail.nlbArn", "rule": "required unless targetArn or vpcLinkId is given"},
        ),
        (
            {"nlbArn": "NLB", "vpcLinkId": "abc123"},
            {"field": "detail.vpcLinkId", "rule": "give only one of nlbArn, targetArn, vpcLinkId"},
        ),
    ],
    ids=["neither", "both"],
)
def test_a_relink_names_exactly_one_new_target(network, provision, settings, targets, problem):
    api = provision()
    if targets.get("nlbArn") == "NLB":
        targets = {**targets, "nlbArn": network.nlb_arn}

    with pytest.raises(InvalidRequest) as raised:
        validate({"restApiId": api.rest_api_id, **targets}, settings)

    assert fields_of(raised) == [problem]


def test_a_relink_to_a_failed_link_is_invalid(network, provision, new_link, settings):
    api = provision()
    broken = new_link("FAILED")

    with pytest.raises(InvalidRequest) as raised:
        validate({"restApiId": api.rest_api_id, "vpcLinkId": broken.vpc_link_id}, settings)

    assert fields_of(raised) == [
        {"field": "detail.vpcLinkId", "rule": f"VpcLink {broken.vpc_link_id} is FAILED"}
    ]


def test_a_relink_of_an_api_we_did_not_create_is_refused(
    aws, second_nlb_arn, apigw, settings, inventory
):
    api_id = apigw.create_rest_api(name="hand-made")["id"]
    before = inventory()

    with pytest.raises(InvalidRequest) as raised:
        validate({"restApiId": api_id, "nlbArn": second_nlb_arn}, settings)

    [problem] = raised.value.fields
    assert problem.field == "detail.restApiId"
    assert MANAGED_BY_TAG in problem.rule
    assert inventory() == before


# --- relink_stage --------------------------------------------------------------------------------
def relink_request(api: Any, target: VpcLinkState, *, delete_old_link: bool) -> RelinkRequest:
    return RelinkRequest(
        request_id="REL-1",
        api_name="orders",
        rest_api_id=api.rest_api_id,
        stage_name=api.stage_name,
        old_vpc_link_id=api.vpc_link_id,
        vpc_link_id=target.vpc_link_id,
        timeout_seconds=900,
        delete_old_link=delete_old_link,
    )


def test_the_stage_is_pointed_at_an_available_link_and_the_old_one_left_alone(
    network, provision, new_link, apigw, settings
):
    # Given a provisioned API and an AVAILABLE link on another NLB
    api = provision()
    target = new_link()

    # When the stage is relinked without deleteOldLink
    request = relink_request(api, target, delete_old_link=False)
    old_fate = relink.relink_stage(request, target, Turns(settings, request.request_id)).news

    # Then the stage uses the new link and the old link is untouched
    assert stage_link(apigw, api) == target.vpc_link_id
    assert old_fate is None
    assert live_link_ids(apigw) == sorted([api.vpc_link_id, target.vpc_link_id])


def test_the_stage_is_not_pointed_at_a_pending_link(network, provision, new_link, apigw, settings):
    api = provision()
    target = new_link("PENDING")

    request = relink_request(api, target, delete_old_link=True)
    with pytest.raises(StageNotSafe) as raised:
        relink.relink_stage(request, target, Turns(settings, request.request_id))

    assert "PENDING" in raised.value.message
    assert stage_link(apigw, api) == api.vpc_link_id
    assert api.vpc_link_id in live_link_ids(apigw)


def test_delete_old_link_deletes_our_link_once_unused_and_frees_its_nlb(
    network, provision, new_link, apigw, settings
):
    api = provision()
    target = new_link()

    request = relink_request(api, target, delete_old_link=True)
    old_fate = relink.relink_stage(request, target, Turns(settings, request.request_id)).news

    assert old_fate == f"old VpcLink {api.vpc_link_id} is being deleted"
    assert live_link_ids(apigw) == [target.vpc_link_id]
    assert stored(LinkKey.of_nlb(network.nlb_arn).item_key) is None


def test_delete_old_link_keeps_a_link_another_api_uses(
    network, provision, new_link, apigw, settings
):
    # Given two APIs on the same link
    api = provision()
    other = provision(api_name="billing")
    target = new_link()

    # When the first moves to a new link and asks to delete the old one
    request = relink_request(api, target, delete_old_link=True)
    old_fate = relink.relink_stage(request, target, Turns(settings, request.request_id)).news

    # Then the old link stays, with AWS's reason, and the other API still uses it
    assert old_fate is not None
    assert old_fate.startswith(f"old VpcLink {api.vpc_link_id} kept: ")
    assert other.rest_api_id in old_fate
    assert stage_link(apigw, other) == api.vpc_link_id
    assert api.vpc_link_id in live_link_ids(apigw)


def test_delete_old_link_keeps_a_link_we_did_not_create(
    network, provision, new_link, apigw, settings
):
    # Given an API provisioned on a link made by hand
    shared = apigw.create_vpc_link(name="hand-made", targetArns=[network.nlb_arn])
    api = provision()
    assert api.vpc_link_id == shared["id"]
    target = new_link()

    request = relink_request(api, target, delete_old_link=True)
    old_fate = relink.relink_stage(request, target, Turns(settings, request.request_id)).news

    assert old_fate == f"old VpcLink {shared['id']} kept: not created by this control plane"
    assert shared["id"] in live_link_ids(apigw)
    assert stage_link(apigw, api) == target.vpc_link_id
