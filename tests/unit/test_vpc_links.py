"""ensure_vpc_link / check_vpc_link: find or create the link, then wait for it."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from provisioner.contract.errors import LinkCreationInProgress, VpcLinkFailed, VpcLinkTimeout
from provisioner.contract.payloads import ApiGatewayTurn, LinkRequest, VpcLinkState
from provisioner.contract.requests import MANAGED_BY_TAG, REQUEST_ID_TAG
from provisioner.domain.pacing import Turns
from provisioner.domain.vpc_links import check_vpc_link, ensure_vpc_link
from provisioner.runtime.settings import Settings
from provisioner.storage.keys import LinkKey
from provisioner.storage.ledger import Ledger

from .support import LEDGER_TABLE, STACK_NAME

pytestmark = pytest.mark.unit
LEDGER = Ledger(LEDGER_TABLE)

IN_SERVICE = {"PENDING", "AVAILABLE"}
ALREADY_ASSOCIATED = "NLB is already associated with another VPC Endpoint Service"


def now_iso() -> str:
    return datetime.now(UTC).isoformat()


def state_of(vpc_link_id: str, *, deadline: datetime, created: bool = True) -> VpcLinkState:
    return VpcLinkState(
        vpc_link_id=vpc_link_id,
        status="PENDING",
        created_by_this_request=created,
        deadline=deadline.isoformat(),
        next_poll_seconds=15,
    )


def ensure(
    request: LinkRequest, settings: Settings, started_at: str | None = None
) -> VpcLinkState | ApiGatewayTurn:
    """``ensure_vpc_link`` as the request's EnsureVpcLink task calls it first: in the
    request's own turns (none waited for yet), the execution started now unless told."""
    turns = Turns(settings, request.request_id)
    return ensure_vpc_link(request, turns, started_at=started_at or now_iso())


def links_on(apigw, nlb_arn: str) -> list[dict]:
    return [link for link in apigw.get_vpc_links()["items"] if nlb_arn in link["targetArns"]]


# --- ensure_vpc_link -----------------------------------------------------------------------------
def test_a_new_link_is_created_and_tagged_when_none_serves_the_nlb(
    network, apigw, make_request, settings
):
    # Given no link exists
    request = make_request()

    # When the request ensures its link
    state = ensure(request, settings)

    # Then one link targets the NLB, tagged with the request and the stack, and it is ours
    [link] = apigw.get_vpc_links()["items"]
    assert link["id"] == state.vpc_link_id
    assert link["targetArns"] == [network.nlb_arn]
    assert link["tags"] == {
        "team": "orders",
        REQUEST_ID_TAG: request.request_id,
        MANAGED_BY_TAG: STACK_NAME,
    }
    assert state.created_by_this_request is True
    assert state.status in IN_SERVICE


def test_the_deadline_is_the_start_plus_the_timeout(network, make_request, settings):
    request = make_request(timeout_seconds=300)

    # Step Functions' $$.Execution.StartTime reads like this
    state = ensure(request, settings, started_at="2030-01-01T10:00:00.250Z")

    assert datetime.fromisoformat(state.deadline) == datetime(2030, 1, 1, 10, 5, 0, 250_000, UTC)
    assert 1 <= state.next_poll_seconds <= settings.poll_interval_seconds


def test_a_link_already_serving_the_nlb_is_reused_not_duplicated(
    network, apigw, make_request, settings
):
    # Given a link someone else made for the same NLB
    existing = apigw.create_vpc_link(name="shared", targetArns=[network.nlb_arn])

    # When a request ensures its link
    state = ensure(make_request(), settings)

    # Then that link is used, and no second link is created
    assert state.vpc_link_id == existing["id"]
    assert state.created_by_this_request is False
    assert [link["id"] for link in apigw.get_vpc_links()["items"]] == [existing["id"]]


def test_a_pending_link_on_the_nlb_is_reused_too(
    network, apigw, make_request, settings, link_status
):
    existing = apigw.create_vpc_link(name="shared", targetArns=[network.nlb_arn])
    link_status(existing["id"], "PENDING", "Your vpc link is being created")

    state = ensure(make_request(), settings)

    assert (state.vpc_link_id, state.status) == (existing["id"], "PENDING")
    assert len(apigw.get_vpc_links()["items"]) == 1


def test_a_failed_link_on_the_nlb_is_not_reused(
    network, apigw, make_request, settings, link_status
):
    broken = apigw.create_vpc_link(name="broken", targetArns=[network.nlb_arn])
    link_status(broken["id"], "FAILED", ALREADY_ASSOCIATED)

    state = ensure(make_request(), settings)

    assert state.vpc_link_id != broken["id"]
    assert state.created_by_this_request is True


def test_a_link_on_another_nlb_is_not_reused(
    network, second_nlb_arn, apigw, make_request, settings
):
    other = apigw.create_vpc_link(name="billing", targetArns=[second_nlb_arn])

    state = ensure(make_request(), settings)

    assert state.vpc_link_id != other["id"]
    assert [link["id"] for link in links_on(apigw, network.nlb_arn)] == [state.vpc_link_id]


def test_a_retry_of_the_same_request_returns_the_link_it_created(
    network, apigw, make_request, settings
):
    # Given a request that created its link, then crashed before recording it
    request = make_request()
    first = ensure(request, settings)

    # When the same request ensures its link again
    second = ensure(request, settings)

    # Then it gets that link back, still marked as its own, and there is still one link
    assert second.vpc_link_id == first.vpc_link_id
    assert second.created_by_this_request is True
    assert len(apigw.get_vpc_links()["items"]) == 1


def test_another_request_on_the_same_nlb_reuses_the_link_without_owning_it(
    network, apigw, make_request, settings
):
    first = ensure(make_request(), settings)

    second = ensure(make_request(), settings)

    assert second.vpc_link_id == first.vpc_link_id
    assert second.created_by_this_request is False
    assert len(apigw.get_vpc_links()["items"]) == 1


def test_a_named_vpc_link_is_used_as_is(network, apigw, make_request, settings):
    # Given two links on the NLB, the second of which the requester names
    apigw.create_vpc_link(name="first", targetArns=[network.nlb_arn])
    named = apigw.create_vpc_link(name="named", targetArns=[network.nlb_arn])

    # When the request ensures its link
    state = ensure(make_request(vpc_link_id=named["id"]), settings)

    # Then the named link is used, not owned, and nothing is created
    assert state.vpc_link_id == named["id"]
    assert state.created_by_this_request is False
    assert len(apigw.get_vpc_links()["items"]) == 2


def test_a_named_vpc_link_that_vanished_is_a_failure(network, apigw, make_request, settings):
    with pytest.raises(VpcLinkFailed) as raised:
        ensure(make_request(vpc_link_id="gone123"), settings)
    assert "gone123" in raised.value.message
    assert apigw.get_vpc_links()["items"] == []


def test_a_request_waits_while_another_is_creating_the_nlbs_link(
    network, apigw, make_request, settings
):
    # Given another request has claimed the NLB and not created its link yet
    holder = make_request()
    assert LEDGER.link_claims.claim(LinkKey.of_nlb(network.nlb_arn), holder.request_id).won

    # When a second request for the same NLB ensures its link
    with pytest.raises(LinkCreationInProgress) as raised:
        ensure(make_request(), settings)

    # Then it creates nothing and names the holder (the ASL retries it, then it reuses)
    assert holder.request_id in raised.value.message
    assert raised.value.retryable
    assert apigw.get_vpc_links()["items"] == []


def test_the_waiting_request_reuses_the_link_once_it_exists(network, apigw, make_request, settings):
    first = ensure(make_request(), settings)

    second = ensure(make_request(), settings)

    assert (second.vpc_link_id, second.created_by_this_request) == (first.vpc_link_id, False)
    assert len(apigw.get_vpc_links()["items"]) == 1


def test_a_claim_whose_link_failed_is_taken_over(
    network, apigw, make_request, settings, link_status
):
    # Given the NLB's claim names a link that FAILED
    first = ensure(make_request(), settings)
    link_status(first.vpc_link_id, "FAILED", ALREADY_ASSOCIATED)

    # When another request ensures a link for the NLB
    second = ensure(make_request(), settings)

    # Then it creates a new one instead of waiting forever
    assert second.vpc_link_id != first.vpc_link_id
    assert second.created_by_this_request is True


# --- check_vpc_link ------------------------------------------------------------------------------
def test_a_failed_link_raises_with_aws_status_message_verbatim(
    network, apigw, settings, link_status
):
    # Given a link AWS made FAILED, with its reason
    link = apigw.create_vpc_link(name="l", targetArns=[network.nlb_arn])
    link_status(link["id"], "FAILED", ALREADY_ASSOCIATED)

    # When its status is checked
    with pytest.raises(VpcLinkFailed) as raised:
        check_vpc_link(
            state_of(link["id"], deadline=datetime.now(UTC) + timedelta(minutes=5)),
            settings=settings,
        )

    # Then the error carries AWS's statusMessage verbatim, and a remedy
    document = json.loads(str(raised.value))
    assert document["message"] == f"VpcLink {link['id']} FAILED: {ALREADY_ASSOCIATED}"
    assert "another VPC endpoint service" in document["remedy"]


def test_a_failed_link_without_a_reason_still_says_failed(network, apigw, settings, link_status):
    link = apigw.create_vpc_link(name="l", targetArns=[network.nlb_arn])
    link_status(link["id"], "FAILED", None)

    with pytest.raises(VpcLinkFailed, match="FAILED: no reason given"):
        check_vpc_link(
            state_of(link["id"], deadline=datetime.now(UTC) + timedelta(minutes=5)),
            settings=settings,
        )


def test_a_link_pending_past_its_deadline_times_out(network, apigw, settings, link_status):
    link = apigw.create_vpc_link(name="l", targetArns=[network.nlb_arn])
    link_status(link["id"], "PENDING", "Your vpc link is being created")
    deadline = datetime.now(UTC) - timedelta(seconds=1)

    with pytest.raises(VpcLinkTimeout) as raised:
        check_vpc_link(state_of(link["id"], deadline=deadline), settings=settings)

    assert deadline.isoformat() in raised.value.message
    assert "timeoutSeconds" in raised.value.remedy


def test_a_link_pending_before_its_deadline_is_waited_for(network, apigw, settings, link_status):
    link = apigw.create_vpc_link(name="l", targetArns=[network.nlb_arn])
    link_status(link["id"], "PENDING", "Your vpc link is being created")

    state = check_vpc_link(
        state_of(link["id"], deadline=datetime.now(UTC) + timedelta(minutes=10), created=True),
        settings=settings,
    )

    assert state.status == "PENDING"
    assert state.status_message == "Your vpc link is being created"
    assert state.created_by_this_request is True
    assert state.next_poll_seconds == settings.poll_interval_seconds


def test_a_link_available_after_its_deadline_is_still_good(network, apigw, settings, link_status):
    link = apigw.create_vpc_link(name="l", targetArns=[network.nlb_arn])
    link_status(link["id"], "AVAILABLE", "Your vpc link is ready for use")

    state = check_vpc_link(
        state_of(link["id"], deadline=datetime.now(UTC) - timedelta(minutes=1), created=False),
        settings=settings,
    )

    assert (state.status, state.created_by_this_request) == ("AVAILABLE", False)


def test_a_link_deleted_while_waiting_is_a_failure(network, apigw, settings):
    link = apigw.create_vpc_link(name="l", targetArns=[network.nlb_arn])
    apigw.delete_vpc_link(vpcLinkId=link["id"])

    with pytest.raises(VpcLinkFailed, match="deleted while we waited"):
        check_vpc_link(
            state_of(link["id"], deadline=datetime.now(UTC) + timedelta(minutes=5)),
            settings=settings,
        )


@hypothesis_settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    seconds_left=st.floats(min_value=-3600, max_value=3600, allow_nan=False),
    poll_interval=st.integers(min_value=1, max_value=120),
)
def test_the_next_poll_never_overshoots_the_deadline_by_a_whole_second(
    network, apigw, link_status, seconds_left, poll_interval
):
    # Given a link in service and a deadline `seconds_left` from now
    link = apigw.create_vpc_link(name="l", targetArns=[network.nlb_arn])
    link_status(link["id"], "AVAILABLE", "Your vpc link is ready for use")
    settings = Settings.from_variables(
        {
            "PROVISIONER_STACK_NAME": STACK_NAME,
            "PROVISIONER_LEDGER_TABLE": LEDGER_TABLE,
            "PROVISIONER_POLL_INTERVAL_SECONDS": poll_interval,
        }
    )
    deadline = datetime.now(UTC) + timedelta(seconds=seconds_left)

    # When it is checked
    state = check_vpc_link(state_of(link["id"], deadline=deadline), settings=settings)

    # Then the Wait is at least a second, at most the poll interval, and ends no later than the
    # whole second in which the deadline falls (Wait takes whole seconds: the last poll lands
    # on the deadline, so a link still PENDING then times out rather than polling again)
    assert 1 <= state.next_poll_seconds <= poll_interval
    assert state.next_poll_seconds <= max(1, math.ceil(seconds_left))
