"""Teardown: delete an API this control plane created, then each link it used when we created
it and nothing else references it; refuse anything we did not create."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from provisioner.contract.errors import InvalidRequest, VpcLinkTimeout
from provisioner.contract.payloads.teardown import TeardownRequest
from provisioner.contract.requests import MANAGED_BY_TAG, REQUEST_ID_TAG
from provisioner.domain import teardown, validation
from provisioner.domain.pacing import Turns
from provisioner.domain.teardown import LinkRelease
from provisioner.storage.keys import LinkKey

from .support import eventbridge_event, hold_link_deleting, stored

pytestmark = pytest.mark.unit

DELETION = "PrivateApiDeletionRequested"


def deletion_event(detail: dict[str, Any], event_id: str | None = None) -> dict[str, Any]:
    return eventbridge_event(detail, event_id=event_id, detail_type=DELETION)


def now_iso() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


def fields_of(raised: pytest.ExceptionInfo[InvalidRequest]) -> list[dict[str, str]]:
    return [field.as_dict() for field in raised.value.fields]


def teardown_of(api: Any, **overrides: Any) -> TeardownRequest:
    values: dict[str, Any] = {
        "request_id": "DEL-1",
        "rest_api_id": api.rest_api_id,
        "api_name": "orders",
        "created_by_request": api.request.request_id,
        "vpc_link_ids": [api.vpc_link_id],
        "keep_vpc_link": False,
    }
    return TeardownRequest(**{**values, **overrides})


def unmanaged_api(apigw: Any, **tags: str) -> str:
    return str(apigw.create_rest_api(name="hand-made", tags=tags)["id"])


# --- validate_teardown ---------------------------------------------------------------------------
def test_a_teardown_by_target_request_id_finds_the_api_that_request_created(
    network, provision, settings
):
    # Given two provisioned APIs
    api = provision()
    provision(api_name="billing")

    # When a teardown names the provisioning request
    request = validation.validate_teardown(
        deletion_event(
            {"requestId": "DEL-1", "ticketId": "OPS-7", "targetRequestId": api.request.request_id}
        ),
        settings=settings,
    )

    # Then it is about that request's API and the link its stage uses
    assert request == TeardownRequest(
        request_id="DEL-1",
        ticket_id="OPS-7",
        rest_api_id=api.rest_api_id,
        api_name="orders",
        created_by_request=api.request.request_id,
        vpc_link_ids=[api.vpc_link_id],
        keep_vpc_link=False,
    )


def test_a_teardown_by_rest_api_id_defaults_its_request_id_to_the_event_id(
    network, provision, settings
):
    api = provision()

    request = validation.validate_teardown(
        deletion_event({"restApiId": api.rest_api_id, "keepVpcLink": True}, event_id="evt-1"),
        settings=settings,
    )

    assert (request.request_id, request.rest_api_id) == ("evt-1", api.rest_api_id)
    assert request.created_by_request == api.request.request_id
    assert request.keep_vpc_link is True


@pytest.mark.parametrize(
    ("target", "problems"),
    [
        ({}, [{"field": "detail.targetRequestId", "rule": "required unless restApiId is given"}]),
        (
            {"targetRequestId": "OPS-1", "restApiId": "abc123"},
            [
                {
                    "field": "detail.restApiId",
                    "rule": "give only one of targetRequestId, restApiId",
                },
                # every field at fault at once: the other names no API either
                {"field": "detail.targetRequestId", "rule": "no API created by request OPS-1"},
            ],
        ),
    ],
    ids=["neither", "both"],
)
def test_a_teardown_names_exactly_one_api(aws, settings, target, problems):
    with pytest.raises(InvalidRequest) as raised:
        validation.validate_teardown(deletion_event(target), settings=settings)

    assert fields_of(raised) == problems


def test_a_teardown_of_a_request_that_created_no_api_is_invalid(network, provision, settings):
    provision()

    with pytest.raises(InvalidRequest) as raised:
        validation.validate_teardown(
            deletion_event({"targetRequestId": "OPS-404"}), settings=settings
        )

    assert fields_of(raised) == [
        {"field": "detail.targetRequestId", "rule": "no API created by request OPS-404"}
    ]


def test_a_teardown_of_an_api_that_does_not_exist_is_invalid(aws, settings):
    with pytest.raises(InvalidRequest) as raised:
        validation.validate_teardown(deletion_event({"restApiId": "abc123"}), settings=settings)

    assert fields_of(raised) == [{"field": "detail.restApiId", "rule": "no REST API abc123"}]


@pytest.mark.parametrize(
    "tags",
    [{}, {MANAGED_BY_TAG: "another-stack", REQUEST_ID_TAG: "OPS-1"}],
    ids=["untagged", "another stack's"],
)
def test_an_api_we_did_not_create_is_refused_and_nothing_is_touched(
    aws, apigw, settings, inventory, tags
):
    # Given an API this stack did not create
    api_id = unmanaged_api(apigw, **tags)
    before = inventory()

    # When a teardown names it
    with pytest.raises(InvalidRequest) as raised:
        validation.validate_teardown(deletion_event({"restApiId": api_id}), settings=settings)

    # Then restApiId is at fault, the rule says why, and the API is still there
    [problem] = raised.value.fields
    assert problem.field == "detail.restApiId"
    assert f"{MANAGED_BY_TAG}={settings.stack_name}" in problem.rule
    assert "nothing was touched" in problem.rule
    assert inventory() == before


def test_an_api_of_another_stack_is_not_found_by_target_request_id(aws, apigw, settings):
    unmanaged_api(apigw, **{MANAGED_BY_TAG: "another-stack", REQUEST_ID_TAG: "OPS-1"})

    with pytest.raises(InvalidRequest) as raised:
        validation.validate_teardown(
            deletion_event({"targetRequestId": "OPS-1"}), settings=settings
        )

    assert [f.field for f in raised.value.fields] == ["detail.targetRequestId"]


# --- stage_links / delete_api --------------------------------------------------------------------
def test_stage_links_lists_each_link_the_stages_use_once(network, provision, apigw):
    # Given an API whose stages use two links (one of them twice) and a stage with no link
    api = provision()
    for stage, variables in (("beta", {"vpcLinkId": api.vpc_link_id}), ("canary", {})):
        apigw.create_deployment(restApiId=api.rest_api_id, stageName=stage, variables=variables)
    apigw.create_deployment(
        restApiId=api.rest_api_id, stageName="blue", variables={"vpcLinkId": "other1"}
    )

    links = validation.stage_links(api.rest_api_id)

    assert sorted(links) == sorted([api.vpc_link_id, "other1"])


def test_delete_api_deletes_once_and_then_reports_it_gone(
    network, provision, inventory, missing_api_deletion_not_found, settings
):
    api = provision()
    request = teardown_of(api)

    assert teardown.delete_api(request, Turns(settings, request.request_id)) is True
    assert inventory().rest_api_ids == []
    assert teardown.delete_api(request, Turns(settings, request.request_id)) is False


# --- release_links -------------------------------------------------------------------------------
def test_our_unreferenced_link_is_deleted_and_the_nlb_claim_forgotten(
    network, provision, inventory, settings
):
    # Given a torn-down API whose link we created
    api = provision()
    request = teardown_of(api)
    teardown.delete_api(request, Turns(settings, request.request_id))

    # When its links are released
    first = teardown.release_links(
        request, Turns(settings, request.request_id), started_at=now_iso()
    ).releases

    # Then the link is being deleted and the NLB no longer names it
    assert first == [
        LinkRelease(vpc_link_id=api.vpc_link_id, state="DELETING", reason="being deleted")
    ]
    assert stored(LinkKey.of_nlb(network.nlb_arn).item_key) is None

    # And a later call sees it gone
    later = teardown.release_links(
        request, Turns(settings, request.request_id), started_at=now_iso()
    ).releases
    assert later == [LinkRelease(vpc_link_id=api.vpc_link_id, state="DELETED", reason="deleted")]
    assert inventory().vpc_link_ids == []


def test_a_link_another_api_uses_is_kept_with_aws_reason(network, provision, inventory, settings):
    # AWS refuses to delete a referenced link; bare moto does not, emulator.fidelity (installed
    # for every unit test) does.
    # Given two APIs on the same link, the first created it
    first = provision()
    second = provision(api_name="billing")
    assert second.vpc_link_id == first.vpc_link_id

    # When the first is torn down
    request = teardown_of(first)
    teardown.delete_api(request, Turns(settings, request.request_id))
    [release] = teardown.release_links(
        request, Turns(settings, request.request_id), started_at=now_iso()
    ).releases

    # Then the link is kept with AWS's refusal, and the NLB's claim still names it
    assert (release.vpc_link_id, release.state) == (first.vpc_link_id, "KEPT")
    assert "referenced" in release.reason
    assert second.rest_api_id in release.reason
    assert inventory().vpc_link_ids == [first.vpc_link_id]
    claim = stored(LinkKey.of_nlb(network.nlb_arn).item_key)
    assert claim is not None
    assert claim["vpcLinkId"] == first.vpc_link_id


def test_a_link_we_did_not_create_is_kept(network, provision, apigw, inventory, settings):
    # Given an API provisioned on a link someone made by hand
    shared = apigw.create_vpc_link(name="hand-made", targetArns=[network.nlb_arn])
    api = provision()
    assert api.vpc_link_id == shared["id"]

    # When the API is torn down
    request = teardown_of(api)
    teardown.delete_api(request, Turns(settings, request.request_id))
    releases = teardown.release_links(
        request, Turns(settings, request.request_id), started_at=now_iso()
    ).releases

    # Then the link stays
    assert releases == [
        LinkRelease(
            vpc_link_id=shared["id"], state="KEPT", reason="not created by this control plane"
        )
    ]
    assert inventory().vpc_link_ids == [shared["id"]]


def test_keep_vpc_link_keeps_our_link(network, provision, inventory, settings):
    api = provision()
    request = teardown_of(api, keep_vpc_link=True)
    teardown.delete_api(request, Turns(settings, request.request_id))

    releases = teardown.release_links(
        request, Turns(settings, request.request_id), started_at=now_iso()
    ).releases

    assert releases == [
        LinkRelease(vpc_link_id=api.vpc_link_id, state="KEPT", reason="keepVpcLink was asked")
    ]
    assert inventory().vpc_link_ids == [api.vpc_link_id]
    assert stored(LinkKey.of_nlb(network.nlb_arn).item_key) is not None


def test_a_link_still_deleting_before_the_deadline_is_waited_for(network, provision, settings):
    api = provision()
    request = teardown_of(api)
    teardown.delete_api(request, Turns(settings, request.request_id))
    hold_link_deleting(api.vpc_link_id)

    releases = teardown.release_links(
        request, Turns(settings, request.request_id), started_at=now_iso()
    ).releases

    assert [(r.state, r.reason) for r in releases] == [("DELETING", "being deleted")]


def test_a_link_still_deleting_past_the_deadline_times_out(network, provision, settings):
    # Given a teardown that started longer ago than the deletion deadline
    api = provision()
    request = teardown_of(api)
    teardown.delete_api(request, Turns(settings, request.request_id))
    hold_link_deleting(api.vpc_link_id)
    started = datetime.now(UTC) - teardown.LINK_DELETION_DEADLINE - timedelta(minutes=1)

    # When its link is still DELETING
    with pytest.raises(VpcLinkTimeout) as raised:
        teardown.release_links(
            request, Turns(settings, request.request_id), started_at=started.isoformat()
        )

    # Then it says which link
    assert api.vpc_link_id in raised.value.message


def test_a_finished_release_past_the_deadline_is_not_a_timeout(network, provision, settings):
    api = provision()
    request = teardown_of(api, keep_vpc_link=True)
    teardown.delete_api(request, Turns(settings, request.request_id))
    started = datetime.now(UTC) - teardown.LINK_DELETION_DEADLINE * 2

    releases = teardown.release_links(
        request, Turns(settings, request.request_id), started_at=started.isoformat()
    ).releases

    assert [r.state for r in releases] == ["KEPT"]
