"""The request ledger: requests run exactly once, and one request at a time creates an NLB's
link (and ensure_vpc_link under that claim)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from provisioner.aws import clients
from provisioner.contract import errors
from provisioner.contract.errors import (
    DuplicateRequest,
    DuplicateRequestConflict,
    LinkCreationInProgress,
)
from provisioner.domain import vpc_links
from provisioner.domain.pacing import Turns
from provisioner.domain.vpc_links import ensure_vpc_link
from provisioner.storage import table
from provisioner.storage.keys import LinkKey
from provisioner.storage.ledger import Ledger
from provisioner.storage.link_claims import CLAIM_LEASE, LinkClaim
from provisioner.storage.requests import RequestClaim, body_hash

from .support import ACCOUNT, LEDGER_TABLE, REGION, FrozenClock, stored, stored_request

pytestmark = pytest.mark.unit
LEDGER = Ledger(LEDGER_TABLE)

NLB = f"arn:aws:elasticloadbalancing:{REGION}:{ACCOUNT}:loadbalancer/net/orders/0123456789abcdef"
BODY = {"requestId": "OPS-1", "apiName": "orders", "nlbArn": NLB}
T0 = datetime(2030, 1, 1, 10, 0, 0, tzinfo=UTC)


def execution(name: str) -> str:
    return f"arn:aws:states:{REGION}:{ACCOUNT}:execution:provision:{name}"


def claim(
    request_id: str = "OPS-1",
    *,
    run: str = "run-1",
    body: Any = None,
    kind: str = "PROVISION",
) -> RequestClaim:
    """Validate's claim: this execution runs this request."""
    return LEDGER.requests.claim(
        request_id=request_id,
        kind=kind,
        fingerprint=body_hash(BODY if body is None else body),
        execution_arn=execution(run),
        ticket_id="OPS-1",
        requested_by="ana@example.com",
    )


def item(request_id: str = "OPS-1") -> dict[str, Any]:
    found = stored_request(request_id)
    assert found is not None, f"no ledger item for {request_id}"
    return found


def nlb_item(nlb_arn: str = NLB) -> dict[str, Any] | None:
    return stored(LinkKey.of_nlb(nlb_arn).item_key)


def at_once[T](calls: list[Callable[[], T]]) -> list[T | errors.ProvisionerError]:
    """Run every call in its own thread, all released at the same moment; errors are results."""
    clients.dynamodb()  # one shared client, made before the threads race for it
    start = threading.Barrier(len(calls))

    def run(call: Callable[[], T]) -> T | errors.ProvisionerError:
        start.wait(timeout=10)
        try:
            return call()
        except errors.ProvisionerError as error:
            return error

    with ThreadPoolExecutor(max_workers=len(calls)) as pool:
        return list(pool.map(run, calls))


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> FrozenClock:
    """The ledger's clock (timestamps, claim leases), under the test's control."""
    frozen = FrozenClock(T0)
    monkeypatch.setattr(table, "datetime", frozen)
    return frozen


# --- claim_request -------------------------------------------------------------------------------
def test_the_first_delivery_creates_an_accepted_item(aws):
    # When a request is claimed for the first time
    claimed = claim()

    # Then it is the first attempt, recorded ACCEPTED with who runs it and what it is
    assert claimed == RequestClaim("OPS-1", "PROVISION", 1)
    recorded = item()
    assert {key: recorded[key] for key in ("status", "kind", "attempt", "executionArn")} == {
        "status": "ACCEPTED",
        "kind": "PROVISION",
        "attempt": 1,
        "executionArn": execution("run-1"),
    }
    assert recorded["bodyHash"] == body_hash(BODY)
    assert (recorded["ticketId"], recorded["requestedBy"]) == ("OPS-1", "ana@example.com")
    assert (recorded["resources"], recorded["history"]) == ({}, [])
    assert recorded["createdAt"] == recorded["updatedAt"]
    assert "duplicatesIgnored" not in recorded


def test_the_body_hash_ignores_key_order():
    assert body_hash({"a": 1, "b": [1, 2]}) == body_hash({"b": [1, 2], "a": 1})
    assert body_hash({"a": 1}) != body_hash({"a": 2})


def test_the_same_execution_claiming_again_is_a_retried_task_and_allowed(aws):
    # Given an execution that claimed the request
    claim(run="run-1")
    before = item()

    # When its Validate task is retried and claims again
    again = claim(run="run-1")

    # Then it is allowed as the same attempt, and nothing is counted as a duplicate
    assert again.attempt == 1
    assert item() == before


def test_the_same_body_from_another_execution_is_an_ignored_duplicate(aws):
    # Given a request claimed by one execution
    claim(run="run-1")

    # When EventBridge delivers it twice more (two more executions)
    for run in ("run-2", "run-3"):
        with pytest.raises(DuplicateRequest) as raised:
            claim(run=run)
        assert "ACCEPTED" in raised.value.message
        assert execution("run-1") in raised.value.message

    # Then the first execution still owns it and the ledger counts the copies
    recorded = item()
    assert recorded["executionArn"] == execution("run-1")
    assert recorded["status"] == "ACCEPTED"
    assert recorded["duplicatesIgnored"] == 2


def test_a_succeeded_request_sent_again_is_an_ignored_duplicate(aws):
    claim(run="run-1")
    LEDGER.requests.record_progress("OPS-1", status="SUCCEEDED", message="ready")

    with pytest.raises(DuplicateRequest):
        claim(run="run-2")

    assert item()["status"] == "SUCCEEDED"
    assert item()["attempt"] == 1
    assert item()["duplicatesIgnored"] == 1


@pytest.mark.parametrize(
    ("body", "kind"),
    [({**BODY, "apiName": "billing"}, "PROVISION"), (BODY, "TEARDOWN")],
    ids=["another body", "another kind"],
)
def test_another_request_under_the_same_request_id_is_a_conflict(aws, body, kind):
    # Given a request claimed under OPS-1
    claim(run="run-1")
    before = item()

    # When another request arrives under the same requestId
    with pytest.raises(DuplicateRequestConflict) as raised:
        claim(run="run-2", body=body, kind=kind)

    # Then it is refused, naming what the id is used for, and the item is untouched
    assert "OPS-1" in raised.value.message
    assert "PROVISION" in raised.value.message
    assert item() == before


@pytest.mark.parametrize("ended", ["FAILED", "REJECTED"])
def test_a_request_sent_again_after_it_ended_badly_is_a_new_attempt(aws, ended):
    # Given a request whose first attempt ended FAILED / REJECTED
    claim(run="run-1")
    first = item()
    LEDGER.requests.record_progress("OPS-1", status=ended, message="it broke")

    # When it is sent again
    second = claim(run="run-2")

    # Then the new execution runs it as attempt 2, from ACCEPTED, created when it first came
    assert second == RequestClaim("OPS-1", "PROVISION", 2)
    recorded = item()
    assert (recorded["status"], recorded["attempt"]) == ("ACCEPTED", 2)
    assert recorded["executionArn"] == execution("run-2")
    assert recorded["createdAt"] == first["createdAt"]

    # And a third attempt after another failure counts on
    LEDGER.requests.record_progress("OPS-1", status="FAILED", message="again")
    assert claim(run="run-3").attempt == 3


@pytest.mark.parametrize(
    "body", [BODY, {**BODY, "apiName": "orders-corrected"}], ids=["same body", "corrected body"]
)
def test_a_request_rejected_by_validation_may_be_sent_again(aws, body):
    # Given a request REJECTED by validation, before it was ever claimed: Rollback records it
    LEDGER.requests.record_rejection(
        "OPS-1", "PROVISION", {"status": "REJECTED", "message": "no NLB"}
    )

    # When it is sent again (once the NLB exists, or with the field corrected)
    again = claim(run="run-2", body=body)

    # Then it runs, as a new attempt, owned by the new execution
    assert again.attempt == 2
    recorded = item()
    assert (recorded["status"], recorded["executionArn"]) == ("ACCEPTED", execution("run-2"))
    assert recorded["bodyHash"] == body_hash(body)


def test_ten_simultaneous_deliveries_run_once(aws):
    # When ten executions of the same request claim it at the same moment
    results = at_once([lambda run=f"run-{n}": claim(run=run) for n in range(10)])

    # Then exactly one wins; the nine others are ignored duplicates, and counted
    winners = [r for r in results if isinstance(r, RequestClaim)]
    assert len(winners) == 1
    assert winners[0].attempt == 1
    assert all(isinstance(r, DuplicateRequest) for r in results if r not in winners)
    winner_run = f"run-{results.index(winners[0])}"
    assert item()["executionArn"] == execution(winner_run)
    assert item()["duplicatesIgnored"] == 9


def test_of_simultaneous_reruns_of_a_failed_request_only_one_runs(aws):
    # Given a request that FAILED
    claim(run="run-0")
    LEDGER.requests.record_progress("OPS-1", status="FAILED", message="it broke")

    # When it is sent again and delivered ten times at once
    results = at_once([lambda run=f"rerun-{n}": claim(run=run) for n in range(10)])

    # Then exactly one delivery runs it as attempt 2; the others end as duplicates
    winners = [r for r in results if isinstance(r, RequestClaim)]
    assert [w.attempt for w in winners] == [2]
    assert all(isinstance(r, DuplicateRequest) for r in results if r not in winners)
    assert item()["executionArn"] == execution(f"rerun-{results.index(winners[0])}")
    assert item()["attempt"] == 2


# --- record_progress / record_rejection -----------------------------------------------------------
def test_progress_is_appended_in_order_and_resources_accumulate(aws):
    # Given a claimed request
    claim()

    # When three milestones are recorded, each with what it learnt
    LEDGER.requests.record_progress(
        "OPS-1",
        status="VPC_LINK_PENDING",
        message="link pending",
        resources={"vpcLinkId": "l1", "createdVpcLink": True},
    )
    LEDGER.requests.record_progress(
        "OPS-1", status="API_CREATED", message="api", resources={"restApiId": "a1"}
    )
    LEDGER.requests.record_progress(
        "OPS-1",
        status="SUCCEEDED",
        message="ready",
        resources={"stageName": "prod", "invokeUrl": None},
        outcome={"message": "ready"},
    )

    # Then the history lists them in order, and the resources of every step are kept
    recorded = item()
    assert [(h["status"], h["message"]) for h in recorded["history"]] == [
        ("VPC_LINK_PENDING", "link pending"),
        ("API_CREATED", "api"),
        ("SUCCEEDED", "ready"),
    ]
    stamps = [h["timestamp"] for h in recorded["history"]]
    assert stamps == sorted(stamps)
    assert recorded["resources"] == {
        "vpcLinkId": "l1",
        "createdVpcLink": True,
        "restApiId": "a1",
        "stageName": "prod",
    }
    assert recorded["status"] == "SUCCEEDED"
    assert recorded["outcome"] == {"message": "ready"}
    assert recorded["updatedAt"] == stamps[-1]


def test_progress_of_an_unknown_request_is_refused_and_creates_nothing(aws):
    with pytest.raises(errors.ConditionFailed):
        LEDGER.requests.record_progress("NOPE-1", status="API_CREATED", message="api")

    assert stored_request("NOPE-1") is None


def test_a_rejection_leaves_a_trace(aws):
    outcome = {"status": "REJECTED", "message": "1 field is invalid: detail.apiName: required"}

    LEDGER.requests.record_rejection("OPS-9", "RELINK", outcome)

    recorded = item("OPS-9")
    assert (recorded["status"], recorded["kind"], recorded["outcome"]) == (
        "REJECTED",
        "RELINK",
        outcome,
    )
    assert [(h["status"], h["message"]) for h in recorded["history"]] == [
        ("REJECTED", outcome["message"])
    ]


def test_a_rejection_does_not_overwrite_an_accepted_request(aws):
    # Given a request accepted and under way
    claim(run="run-1")
    LEDGER.requests.record_progress("OPS-1", status="API_CREATED", message="api")
    before = item()

    # When a malformed event with the same requestId is rejected
    LEDGER.requests.record_rejection("OPS-1", "PROVISION", {"message": "bad"})

    # Then the accepted request's item is as it was
    assert item() == before


# --- claim_nlb -----------------------------------------------------------------------------------
def test_the_first_request_wins_the_nlb_and_the_second_sees_the_holder(aws):
    first = LEDGER.link_claims.claim(LinkKey.of_nlb(NLB), "req-a")
    second = LEDGER.link_claims.claim(LinkKey.of_nlb(NLB), "req-b")

    assert first == LinkClaim(won=True, holder="req-a", vpc_link_id=None)
    assert second == LinkClaim(won=False, holder="req-a", vpc_link_id=None)
    assert nlb_item()["holder"] == "req-a"


def test_a_loser_sees_the_link_the_holder_recorded(aws):
    LEDGER.link_claims.claim(LinkKey.of_nlb(NLB), "req-a")
    LEDGER.link_claims.record_link(LinkKey.of_nlb(NLB), "req-a", "link1")

    assert LEDGER.link_claims.claim(LinkKey.of_nlb(NLB), "req-b") == LinkClaim(
        won=False, holder="req-a", vpc_link_id="link1"
    )


def test_only_the_holder_may_record_the_link(aws):
    LEDGER.link_claims.claim(LinkKey.of_nlb(NLB), "req-a")

    with pytest.raises(errors.ConditionFailed):
        LEDGER.link_claims.record_link(LinkKey.of_nlb(NLB), "req-b", "link-b")

    assert "vpcLinkId" not in nlb_item()


def test_the_holder_may_claim_again(aws):
    LEDGER.link_claims.claim(LinkKey.of_nlb(NLB), "req-a")

    assert LEDGER.link_claims.claim(LinkKey.of_nlb(NLB), "req-a").won


def test_a_claim_without_a_link_protects_its_holder_only_for_the_lease(aws, clock):
    # Given a request that claimed the NLB and then crashed before creating the link
    LEDGER.link_claims.claim(LinkKey.of_nlb(NLB), "req-a")

    # Then within the lease nobody else may take the claim
    clock.advance(CLAIM_LEASE - timedelta(seconds=1))
    assert not LEDGER.link_claims.claim(LinkKey.of_nlb(NLB), "req-b").won

    # And once the lease has passed, another request takes it over
    clock.advance(timedelta(seconds=2))
    assert LEDGER.link_claims.claim(LinkKey.of_nlb(NLB), "req-b") == LinkClaim(
        won=True, holder="req-b", vpc_link_id=None
    )
    assert nlb_item()["holder"] == "req-b"


def test_a_claim_with_a_link_is_not_taken_after_the_lease(aws, clock):
    LEDGER.link_claims.claim(LinkKey.of_nlb(NLB), "req-a")
    LEDGER.link_claims.record_link(LinkKey.of_nlb(NLB), "req-a", "link1")

    clock.advance(CLAIM_LEASE * 10)

    assert LEDGER.link_claims.claim(LinkKey.of_nlb(NLB), "req-b") == LinkClaim(
        won=False, holder="req-a", vpc_link_id="link1"
    )


def test_a_claim_is_taken_over_only_when_replacing_the_link_it_recorded(aws):
    # Given a holder that recorded link1
    LEDGER.link_claims.claim(LinkKey.of_nlb(NLB), "req-a")
    LEDGER.link_claims.record_link(LinkKey.of_nlb(NLB), "req-a", "link1")

    # When another request replaces a link the claim does not name, it loses
    assert not LEDGER.link_claims.claim(LinkKey.of_nlb(NLB), "req-b", replacing_link="link0").won
    assert nlb_item()["holder"] == "req-a"

    # And when it replaces link1 (found FAILED or gone), it wins, with no link recorded yet
    assert LEDGER.link_claims.claim(LinkKey.of_nlb(NLB), "req-b", replacing_link="link1").won
    assert nlb_item()["holder"] == "req-b"
    assert "vpcLinkId" not in nlb_item()


def test_of_ten_simultaneous_claims_on_an_nlb_exactly_one_wins(aws):
    results = at_once(
        [lambda me=f"req-{n}": LEDGER.link_claims.claim(LinkKey.of_nlb(NLB), me) for n in range(10)]
    )

    winners = [r for r in results if isinstance(r, LinkClaim) and r.won]
    assert len(winners) == 1
    assert all(isinstance(r, LinkClaim) for r in results)
    assert {r.holder for r in results if isinstance(r, LinkClaim)} == {winners[0].holder}
    assert nlb_item()["holder"] == winners[0].holder


def test_release_forgets_the_claim_only_for_the_link_it_names(aws):
    LEDGER.link_claims.claim(LinkKey.of_nlb(NLB), "req-a")
    LEDGER.link_claims.record_link(LinkKey.of_nlb(NLB), "req-a", "link1")

    LEDGER.link_claims.release(LinkKey.of_nlb(NLB), "link0")  # an older link of the NLB
    assert nlb_item()["vpcLinkId"] == "link1"

    LEDGER.link_claims.release(LinkKey.of_nlb(NLB), "link1")
    assert nlb_item() is None


def test_an_unused_claim_is_given_up_only_by_its_holder_and_only_without_a_link(aws):
    LEDGER.link_claims.claim(LinkKey.of_nlb(NLB), "req-a")

    LEDGER.link_claims.release_unused(LinkKey.of_nlb(NLB), "req-b")  # not the holder
    assert nlb_item()["holder"] == "req-a"

    LEDGER.link_claims.record_link(LinkKey.of_nlb(NLB), "req-a", "link1")
    LEDGER.link_claims.release_unused(LinkKey.of_nlb(NLB), "req-a")  # it has a link now
    assert nlb_item()["vpcLinkId"] == "link1"

    LEDGER.link_claims.release(LinkKey.of_nlb(NLB), "link1")
    LEDGER.link_claims.claim(LinkKey.of_nlb(NLB), "req-c")
    LEDGER.link_claims.release_unused(LinkKey.of_nlb(NLB), "req-c")
    assert nlb_item() is None


# --- ensure_vpc_link under the NLB claim ---------------------------------------------------------
def now_iso() -> str:
    return datetime.now(UTC).isoformat()


def links_on(apigw: Any, nlb_arn: str) -> list[str]:
    return [link["id"] for link in apigw.get_vpc_links()["items"] if nlb_arn in link["targetArns"]]


@pytest.fixture
def listed_too_early(monkeypatch: pytest.MonkeyPatch) -> None:
    """The race: this request listed the links before the holder's link existed."""
    monkeypatch.setattr(vpc_links, "_link_in_service", lambda *_: None)


def test_a_request_that_listed_too_early_reuses_the_holders_recorded_link(
    network, apigw, make_request, settings, listed_too_early
):
    # Given a holder that created and recorded the NLB's link after we listed the links
    holder = make_request()
    holders_link = ensure_vpc_link(holder, Turns(settings, holder.request_id), started_at=now_iso())
    assert nlb_item(network.nlb_arn)["vpcLinkId"] == holders_link.vpc_link_id

    # When our request ensures its link
    request = make_request()
    ours = ensure_vpc_link(request, Turns(settings, request.request_id), started_at=now_iso())

    # Then it reuses the holder's link without owning it; no second link, the claim unchanged
    assert (ours.vpc_link_id, ours.created_by_this_request) == (holders_link.vpc_link_id, False)
    assert links_on(apigw, network.nlb_arn) == [holders_link.vpc_link_id]
    assert nlb_item(network.nlb_arn)["holder"] == holder.request_id


@pytest.mark.parametrize("fate", ["FAILED", "deleted"])
def test_a_request_takes_over_a_claim_whose_link_failed_or_is_gone(
    network, apigw, make_request, settings, link_status, fate
):
    # Given a holder whose recorded link then FAILED, or was deleted
    holder = make_request()
    dead = ensure_vpc_link(
        holder, Turns(settings, holder.request_id), started_at=now_iso()
    ).vpc_link_id
    if fate == "FAILED":
        link_status(dead, "FAILED", "NLB is already associated with another VPC Endpoint Service")
    else:
        apigw.delete_vpc_link(vpcLinkId=dead)

    # When another request ensures its link
    request = make_request()
    ours = ensure_vpc_link(request, Turns(settings, request.request_id), started_at=now_iso())

    # Then it creates a new link, and the claim names it and its creator
    assert ours.vpc_link_id != dead
    assert ours.created_by_this_request is True
    assert nlb_item(network.nlb_arn) == {
        "pk": LinkKey.of_nlb(network.nlb_arn).pk,
        "nlbArn": network.nlb_arn,
        "holder": request.request_id,
        "claimedAt": nlb_item(network.nlb_arn)["claimedAt"],
        "vpcLinkId": ours.vpc_link_id,
    }


def test_a_holder_without_a_link_makes_others_wait_until_its_lease_ends(
    network, apigw, make_request, settings, clock
):
    # Given a holder that claimed the NLB and has not created the link (yet, or ever)
    holder = make_request()
    assert LEDGER.link_claims.claim(LinkKey.of_nlb(network.nlb_arn), holder.request_id).won

    # When another request ensures its link within the lease, it is told to wait
    request = make_request()
    with pytest.raises(LinkCreationInProgress) as raised:
        ensure_vpc_link(request, Turns(settings, request.request_id), started_at=now_iso())
    assert holder.request_id in raised.value.message
    assert apigw.get_vpc_links()["items"] == []

    # And after the lease it takes over and creates the link itself
    clock.advance(CLAIM_LEASE + timedelta(seconds=1))
    ours = ensure_vpc_link(request, Turns(settings, request.request_id), started_at=now_iso())
    assert ours.created_by_this_request is True
    assert links_on(apigw, network.nlb_arn) == [ours.vpc_link_id]
    assert nlb_item(network.nlb_arn)["holder"] == request.request_id
