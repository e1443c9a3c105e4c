"""Pacing of VPC links V2 and of the rollback (issue 11): a V2 link's CreateVpcLink (1 call
every 15 s per account) and DeleteVpcLink (1 every 30 s), and the rollback's DeleteRestApi
(1 every 30 s), taken in turn like CreateRestApi and CreateDeployment (test_pacing.py).

The hard part is the link key's claim (``LinkClaims.claim``): exactly one of the requests for
one network creates its V2 link, and that one may now wait for its turn, longer than the
claim's lease. One clock (:class:`SharedClock`) is both the turns' (``pacing``) and the
claims' (the ledger's ``datetime``), moved by the test or by a task that pauses for a turn.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

import boto3
import msgspec
import pytest

from privateapi.network import SampleAlb, create_sample_alb
from provisioner.aws import clients
from provisioner.contract.errors import LinkCreationInProgress
from provisioner.contract.payloads import ApiGatewayTurn, VpcLinkState
from provisioner.contract.payloads.relink import RelinkRequest
from provisioner.contract.payloads.rollback import RollbackTask
from provisioner.contract.payloads.teardown import TeardownRequest
from provisioner.contract.progress import timestamp
from provisioner.contract.requests import VpcLinkVersion
from provisioner.domain import pacing, relink, rest_apis, teardown, vpc_links
from provisioner.domain.pacing import MARGIN_SECONDS, Paced, Turns
from provisioner.runtime.settings import Settings
from provisioner.storage import table
from provisioner.storage.keys import LinkKey
from provisioner.storage.ledger import Ledger
from provisioner.storage.link_claims import CLAIM_LEASE
from provisioner.storage.pace import PaceRecord
from provisioner.tasks import rollback as rollback_tasks

from .support import LEDGER_TABLE, REGION, FakeLambdaContext, stored

pytestmark = pytest.mark.unit
LEDGER = Ledger(LEDGER_TABLE)

T0 = datetime(2030, 1, 1, 10, 0, 0, tzinfo=UTC)
CREATE = Paced.CREATE_VPC_LINK_V2
DELETE = Paced.DELETE_VPC_LINK_V2
CREATE_SPACING = 15 + MARGIN_SECONDS  # CreateVpcLink (V2): 1 call every 15 s, plus the margin
DELETE_SPACING = 30 + MARGIN_SECONDS  # DeleteVpcLink (V2), DeleteRestApi: 1 every 30 s


class SharedClock:
    """The turns' clock (``pacing._now``, ``pacing._pause``) and the ledger's (its
    ``datetime``, for the claims' leases) at once."""

    def __init__(self, at: datetime) -> None:
        self.at = at.timestamp()
        self.paused: list[float] = []

    def now(self, tz: Any = None) -> datetime:  # the ledger's datetime.now(UTC)
        return datetime.fromtimestamp(self.at, UTC)

    fromisoformat = staticmethod(datetime.fromisoformat)

    def seconds(self) -> float:
        return self.at

    def pause(self, seconds: float) -> None:
        self.paused.append(round(seconds, 3))
        self.at += seconds


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> SharedClock:
    shared = SharedClock(T0)
    monkeypatch.setattr(pacing, "_now", shared.seconds)
    monkeypatch.setattr(pacing, "_pause", shared.pause)
    monkeypatch.setattr(table, "datetime", shared)
    return shared


@pytest.fixture
def paced(settings: Settings) -> Settings:
    """The functions' settings with pacing on (the template's default)."""
    return msgspec.structs.replace(settings, **{"api_gateway_pacing": True})


@pytest.fixture
def alb(network: Any) -> SampleAlb:
    ec2 = boto3.client("ec2", region_name=REGION)
    elbv2 = boto3.client("elbv2", region_name=REGION)
    return create_sample_alb(ec2, elbv2, network, "payments")


def another_network(number: int) -> dict[str, list[str]]:
    """The subnet and security group of a VPC of its own: another V2 link's key."""
    ec2 = boto3.client("ec2", region_name=REGION)
    vpc = ec2.create_vpc(CidrBlock=f"10.{100 + number}.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.{100 + number}.1.0/24")["Subnet"]
    group = ec2.create_security_group(GroupName=f"net-{number}", Description="x", VpcId=vpc)
    return {"subnet_ids": [subnet["SubnetId"]], "security_group_ids": [group["GroupId"]]}


def v2_request(make_request: Callable[..., Any], alb: SampleAlb, **network: Any) -> Any:
    """A provisioning request for a V2 link to the ALB, in its subnets unless told others."""
    network.setdefault("subnet_ids", list(alb_subnets(alb)))
    network.setdefault("security_group_ids", alb.security_group_ids)
    return make_request(
        nlb_arn=alb.arn,
        endpoint_url=f"http://{alb.dns_name}",
        vpc_link_version=VpcLinkVersion.V2,
        **network,
    )


def alb_subnets(alb: SampleAlb) -> list[str]:
    elbv2 = boto3.client("elbv2", region_name=REGION)
    found = elbv2.describe_load_balancers(LoadBalancerArns=[alb.arn])["LoadBalancers"][0]
    return [zone["SubnetId"] for zone in found["AvailabilityZones"]]


def ensure(
    request: Any, settings: Settings, turn: ApiGatewayTurn | None = None, *, started: float = 0
) -> VpcLinkState | ApiGatewayTurn:
    """EnsureVpcLink (``startedAt``: the execution's start, T0 unless told)."""
    started_at = datetime.fromtimestamp(started or T0.timestamp(), UTC).isoformat()
    return vpc_links.ensure_vpc_link(
        request, Turns(settings, request.request_id, turn=turn), started_at=started_at
    )


def links_in(subnet_ids: list[str]) -> list[str]:
    """The V2 links in these subnets (not being deleted)."""
    items = boto3.client("apigatewayv2", region_name=REGION).get_vpc_links()["Items"]
    return [
        link["VpcLinkId"]
        for link in items
        if sorted(link["SubnetIds"]) == sorted(subnet_ids) and link["VpcLinkStatus"] != "DELETING"
    ]


def claim_of(request: Any) -> dict[str, Any]:
    key = LinkKey.of_v2(request.subnet_ids, request.security_group_ids)
    return stored(key.item_key) or {}


def at_once[T](calls: list[Callable[[], T]]) -> list[T | Exception]:
    """Every call in its own thread, all released at the same moment; an error is answered."""
    clients.dynamodb(), clients.apigatewayv2()  # shared clients, made before the threads race
    start = threading.Barrier(len(calls))

    def run(call: Callable[[], T]) -> T | Exception:
        start.wait(timeout=10)
        try:
            return call()
        except LinkCreationInProgress as waiting:
            return waiting

    with ThreadPoolExecutor(max_workers=len(calls)) as pool:
        return list(pool.map(run, calls))


def created_elsewhere(make_request: Any, alb: SampleAlb, settings: Settings, number: int) -> Any:
    """A V2 link created in another network now, in a free turn: CreateVpcLink's turn is taken."""
    made = ensure(v2_request(make_request, alb, **another_network(number)), settings)
    assert isinstance(made, VpcLinkState) and made.created_by_this_request
    return made


# --- CreateVpcLink (V2) in turn, and the link key's claim ----------------------------------------
def test_a_v2_link_is_created_at_once_when_its_turn_is_free(alb, make_request, paced, clock):
    # When the first request of the account creates a V2 link
    request = v2_request(make_request, alb)
    made = ensure(request, paced)

    # Then it is created in the same invocation, as before pacing, and the turn is recorded
    assert isinstance(made, VpcLinkState) and made.created_by_this_request
    assert links_in(request.subnet_ids) == [made.vpc_link_id]
    assert LEDGER.pace.record(CREATE).last_call_at == clock.at
    assert claim_of(request)["vpcLinkId"] == made.vpc_link_id
    assert "turnAt" not in claim_of(request)


def test_a_v2_link_waits_for_its_turn_holding_its_claim_past_the_lease_and_the_others_wait_too(
    alb, make_request, paced, clock
):
    # Given a V2 link created just now in another network, and four more networks queued
    # behind it for CreateVpcLink (1 call every 15 s): the next turn is 76 s away
    created_elsewhere(make_request, alb, paced, 0)
    for number in range(1, 5):
        queued = ensure(v2_request(make_request, alb, **another_network(number)), paced)
        assert isinstance(queued, ApiGatewayTurn)

    # When a request for the ALB's network ensures its link
    holder = v2_request(make_request, alb)
    turn = ensure(holder, paced)

    # Then it claims the network's link and answers its own turn, creating nothing yet
    assert isinstance(turn, ApiGatewayTurn) and turn.holder is None
    assert turn.at_seconds == pytest.approx(clock.at + 5 * CREATE_SPACING)
    assert turn.wait_seconds == 76
    assert links_in(holder.subnet_ids) == []
    # ... its claim held until the lease after that turn, not the lease after the claim
    claim = claim_of(holder)
    assert claim["holder"] == holder.request_id and "vpcLinkId" not in claim
    assert datetime.fromisoformat(claim["turnAt"]).timestamp() == pytest.approx(turn.at_seconds)

    # When nine more requests for the same network arrive at the same moment
    others = [v2_request(make_request, alb) for _ in range(9)]
    waits = at_once([lambda request=request: ensure(request, paced) for request in others])

    # Then each waits for the holder's turn (a moment after it), none with a turn of its own:
    # the network takes one CreateVpcLink turn, not ten
    assert all(isinstance(wait, ApiGatewayTurn) for wait in waits), waits
    assert {wait.holder for wait in waits if isinstance(wait, ApiGatewayTurn)} == {
        holder.request_id
    }
    after_holder = turn.at_seconds + vpc_links.HOLDERS_CALL_SECONDS
    assert [wait.at_seconds for wait in waits if isinstance(wait, ApiGatewayTurn)] == [
        pytest.approx(after_holder)
    ] * len(waits)
    assert LEDGER.pace.record(CREATE).next_free_at == pytest.approx(
        turn.at_seconds + CREATE_SPACING
    )

    # When one more comes 70 s later: past the 60 s lease since the holder's claim
    clock.at += 70
    late = ensure(v2_request(make_request, alb), paced, started=clock.at)

    # Then the claim is still the holder's, waiting for its turn: the late one waits with it
    assert isinstance(late, ApiGatewayTurn) and late.holder == holder.request_id
    assert claim_of(holder)["holder"] == holder.request_id

    # When the holder's Wait ends, at its turn
    clock.at = turn.at_seconds
    made = ensure(holder, paced, turn)

    # Then it creates the network's link, in its turn, and records it on the claim
    assert isinstance(made, VpcLinkState) and made.created_by_this_request
    assert links_in(holder.subnet_ids) == [made.vpc_link_id]
    assert claim_of(holder)["vpcLinkId"] == made.vpc_link_id
    # ... with a deadline that does not count the 76 s it waited
    assert datetime.fromisoformat(made.deadline) == datetime.fromtimestamp(
        T0.timestamp() + 900 + 76, UTC
    )

    # When the others look again, after the holder's turn
    clock.at = after_holder
    found = [ensure(request, paced, wait) for request, wait in zip(others, waits, strict=True)]  # type: ignore[arg-type]

    # Then each reuses that link; the network has one link
    assert {state.vpc_link_id for state in found if isinstance(state, VpcLinkState)} == {
        made.vpc_link_id
    }
    assert not any(
        isinstance(state, ApiGatewayTurn) or state.created_by_this_request for state in found
    )
    assert links_in(holder.subnet_ids) == [made.vpc_link_id]
    # ... their deadlines, too, leave out the wait for the holder's turn
    assert isinstance(found[0], VpcLinkState)
    assert datetime.fromisoformat(found[0].deadline) == datetime.fromtimestamp(
        T0.timestamp() + 900 + 76 + vpc_links.HOLDERS_CALL_SECONDS, UTC
    )


def test_ten_requests_for_one_network_at_once_take_one_createvpclink_turn(
    alb, make_request, paced, clock
):
    # Given CreateVpcLink's turn taken by another network just now
    created_elsewhere(make_request, alb, paced, 0)
    before = LEDGER.pace.record(CREATE)

    # When ten requests for one network ensure their link at the same moment
    requests = [v2_request(make_request, alb) for _ in range(10)]
    answers = at_once([lambda request=request: ensure(request, paced) for request in requests])

    # Then exactly one holds a turn of its own; the others wait for it (or, if they read the
    # claim before its turn was on it, are told to retry: LinkCreationInProgress)
    own = [a for a in answers if isinstance(a, ApiGatewayTurn) and a.holder is None]
    assert len(own) == 1, answers
    (holder,) = [r for r, a in zip(requests, answers, strict=True) if a is own[0]]
    for answer in answers:
        if answer is not own[0]:
            assert isinstance(answer, LinkCreationInProgress) or (
                isinstance(answer, ApiGatewayTurn) and answer.holder == holder.request_id
            ), answer
    # ... one turn was reserved, and no link created
    assert LEDGER.pace.record(CREATE).next_free_at == pytest.approx(
        before.last_call_at + 2 * CREATE_SPACING
    )
    assert links_in(holder.subnet_ids) == []


def test_a_holder_whose_wait_ends_past_its_lease_may_have_lost_its_claim_and_creates_nothing(
    alb, make_request, paced, clock, monkeypatch
):
    # Given a holder waiting for its CreateVpcLink turn
    created_elsewhere(make_request, alb, paced, 0)
    holder = v2_request(make_request, alb)
    turn = ensure(holder, paced)
    assert isinstance(turn, ApiGatewayTurn)

    # When its Wait has not ended a lease after its turn (Step Functions or Lambda that late,
    # or its execution stopped), and another request for the network comes while CreateVpcLink
    # is taken again by a third network
    clock.at = turn.at_seconds + CLAIM_LEASE.total_seconds() + 1
    created_elsewhere(make_request, alb, paced, 1)
    newcomer = v2_request(make_request, alb)
    its_turn = ensure(newcomer, paced, started=clock.at)

    # Then the newcomer takes the claim over and waits for a turn of its own
    assert isinstance(its_turn, ApiGatewayTurn) and its_turn.holder is None
    assert claim_of(holder)["holder"] == newcomer.request_id

    # When the first holder's Wait ends at last, with its (long past) turn
    late = ensure(holder, paced, turn)

    # Then it creates nothing: it waits for the newcomer's turn like any other request
    assert isinstance(late, ApiGatewayTurn) and late.holder == newcomer.request_id
    assert links_in(holder.subnet_ids) == []

    # When the newcomer's turn comes, it creates the link; and the first holder, looking again
    # (even having listed the links before that link existed), reuses it
    clock.at = its_turn.at_seconds
    made = ensure(newcomer, paced, its_turn)
    assert isinstance(made, VpcLinkState) and made.created_by_this_request
    monkeypatch.setattr(vpc_links, "_link_in_service", lambda *_: None)
    clock.at = late.at_seconds
    reused = ensure(holder, paced, late)
    assert isinstance(reused, VpcLinkState)
    assert (reused.vpc_link_id, reused.created_by_this_request) == (made.vpc_link_id, False)
    assert links_in(holder.subnet_ids) == [made.vpc_link_id]


def test_a_v1_link_is_not_paced(network, make_request, paced, clock):
    # When two V1 links are created at the same moment (API Gateway gives V1 no fixed rate)
    first = ensure(make_request(), paced)
    other = boto3.client("elbv2", region_name=REGION).create_load_balancer(
        Name="other-nlb", Subnets=network.subnet_ids, Scheme="internal", Type="network"
    )["LoadBalancers"][0]["LoadBalancerArn"]
    second = ensure(make_request(nlb_arn=other), paced)

    # Then both are made at once, and no V2 turn is taken
    assert isinstance(first, VpcLinkState) and isinstance(second, VpcLinkState)
    assert LEDGER.pace.record(CREATE) == PaceRecord(0, 0)


# --- DeleteVpcLink (V2) in turn: teardown, relink ------------------------------------------------
def available_v2_link(make_request: Any, alb: SampleAlb, settings: Settings, number: int) -> Any:
    """A V2 link in a network of its own, AVAILABLE, made without pacing."""
    request = v2_request(make_request, alb, **another_network(number))
    made = vpc_links.ensure_vpc_link(
        request, Turns(settings, request.request_id), started_at=T0.isoformat()
    )
    assert isinstance(made, VpcLinkState)
    settle(made.vpc_link_id)
    return msgspec.structs.replace(made, **{"status": "AVAILABLE"})


def settle(link_id: str) -> None:
    link = boto3.client("apigatewayv2", region_name=REGION).get_vpc_link(VpcLinkId=link_id)
    assert link["VpcLinkStatus"] == "AVAILABLE"


def teardown_of(link_id: str, request_id: str) -> TeardownRequest:
    return TeardownRequest(
        request_id=request_id,
        rest_api_id="gone000000",
        api_name="gone",
        vpc_link_ids=[link_id],
        keep_vpc_link=False,
    )


def test_teardowns_delete_their_v2_links_in_turn_and_the_deadline_leaves_out_the_wait(
    alb, make_request, settings, paced, clock
):
    # Given two V2 links, each the last link of an API being torn down
    first = available_v2_link(make_request, alb, settings, 1)
    second = available_v2_link(make_request, alb, settings, 2)
    started = timestamp(T0)

    # When both teardowns release their links at the same moment
    first_teardown = teardown_of(first.vpc_link_id, "del-1")
    second_teardown = teardown_of(second.vpc_link_id, "del-2")
    one = teardown.release_links(
        first_teardown, Turns(paced, first_teardown.request_id), started_at=started
    )
    two = teardown.release_links(
        second_teardown, Turns(paced, second_teardown.request_id), started_at=started
    )

    # Then the first deletes its link at once; the second answers its turn, 30.2 s later,
    # having deleted nothing
    assert one.turn is None and [r.state for r in one.releases] == ["DELETING"]
    assert two.turn is not None and two.releases == []
    assert two.turn.at_seconds == pytest.approx(T0.timestamp() + DELETE_SPACING)
    assert links_in(v2_link_subnets(second.vpc_link_id)) == [second.vpc_link_id]

    # When its Wait ends and it is called again with its turn
    clock.at = two.turn.at_seconds
    again = teardown.release_links(
        second_teardown,
        Turns(paced, second_teardown.request_id, turn=two.turn),
        started_at=two.started_at,
    )

    # Then it deletes its link, and the links' deadline counts from the API's deletion plus
    # the wait: startedAt moved on by 30.2 s
    assert again.turn is None and [r.state for r in again.releases] == ["DELETING"]
    assert again.started_at == timestamp(
        datetime.fromtimestamp(T0.timestamp() + DELETE_SPACING, UTC)
    )
    record = LEDGER.pace.record(DELETE)
    assert record.last_call_at == pytest.approx(T0.timestamp() + DELETE_SPACING)


def v2_link_subnets(link_id: str) -> list[str]:
    link = boto3.client("apigatewayv2", region_name=REGION).get_vpc_link(VpcLinkId=link_id)
    return list(link["SubnetIds"])


def test_a_relink_switches_the_stage_once_and_deletes_the_old_v2_link_in_its_turn(
    alb, apigw, make_request, settings, paced, clock
):
    # Given an API on a V2 link, a new AVAILABLE V2 link in another network, and DeleteVpcLink
    # taken by a teardown just now
    old = available_v2_link(make_request, alb, settings, 1)
    request = v2_request(make_request, alb, **another_network(9))
    api = rest_apis.create_api(request, Turns(settings, request.request_id))
    rest_apis.deploy_api(request, old, api, Turns(settings, request.request_id))
    new = available_v2_link(make_request, alb, settings, 2)
    teardown_called(DELETE, paced, clock)
    relinking = RelinkRequest(
        request_id="relink-1",
        api_name=request.api_name,
        rest_api_id=api.rest_api_id,
        stage_name="prod",
        old_vpc_link_id=old.vpc_link_id,
        provisioned_by=request.request_id,
        nlb_arn=alb.arn,
        timeout_seconds=900,
        delete_old_link=True,
        vpc_link_version=VpcLinkVersion.V2,
    )

    # When RelinkStage runs
    first = relink.relink_stage(relinking, new, Turns(paced, relinking.request_id))

    # Then the stage is switched (a new deployment, the new link), and the old link's deletion
    # waits for its turn
    assert first.waiting is not None and first.waiting.operation == "DeleteVpcLink"
    stage = apigw.get_stage(restApiId=api.rest_api_id, stageName="prod")
    assert stage["variables"]["vpcLinkId"] == new.vpc_link_id
    deployments = apigw.get_deployments(restApiId=api.rest_api_id)["items"]
    assert len(deployments) == 2
    assert links_in(v2_link_subnets(old.vpc_link_id)) == [old.vpc_link_id]

    # When it is called again in its turn, with what the switch did
    clock.at = first.waiting.at_seconds
    done = relink.relink_stage(
        relinking,
        new,
        Turns(paced, relinking.request_id, turn=first.waiting),
        switched=first.switched,
    )

    # Then only the old link is deleted: no second deployment; the news is the whole story
    assert done.waiting is None
    assert len(apigw.get_deployments(restApiId=api.rest_api_id)["items"]) == 2
    assert done.news is not None
    assert first.switched.redeployed is not None and first.switched.redeployed in done.news
    assert f"old VpcLink {old.vpc_link_id} is being deleted" in done.news


def claimed_by(execution: str, request_id: str) -> None:
    """The provisioning ``request_id``, claimed in the ledger by ``execution``."""
    LEDGER.requests.claim(
        request_id=request_id,
        kind="PROVISION",
        fingerprint="x",
        execution_arn=execution,
        ticket_id=None,
        requested_by=None,
    )


def teardown_called(queue: Paced, paced: Settings, clock: SharedClock) -> None:
    """A teardown made ``queue``'s call just now, in its turn (free), and it came back."""
    assert pacing.take_turn(queue, None, settings=paced, caller="teardown") is None
    LEDGER.pace.record_returned(queue, now=clock.at, caller="teardown")


# --- the rollback's DeleteRestApi and DeleteVpcLink (V2) in turn ---------------------------------
def test_a_rollback_waits_for_each_turn_and_tells_everything_it_deleted(
    alb, make_request, settings, paced, clock
):
    # Given a request that created an API and a V2 link, then failed
    request = v2_request(make_request, alb)
    link = vpc_links.ensure_vpc_link(
        request, Turns(settings, request.request_id), started_at=T0.isoformat()
    )
    assert isinstance(link, VpcLinkState)
    api = rest_apis.create_api(request, Turns(settings, request.request_id))
    execution = "arn:aws:states:us-east-1:123456789012:execution:provision:failed-1"
    claimed_by(execution, request.request_id)
    # ... and a teardown just made its DeleteRestApi call
    teardown_called(Paced.DELETE_REST_API, paced, clock)
    task: dict[str, Any] = {
        "workflow": "PROVISION",
        "executionArn": execution,
        "state": {
            "request": {"requestId": request.request_id},
            "error": {"Error": "VpcLinkFailed", "Cause": "the link FAILED"},
        },
        "retryCount": 0,
    }
    running = paced.running_as(FakeLambdaContext.invoked_function_arn)

    # When the rollback runs
    first = rollback_tasks.rollback(RollbackTask.from_wire(task), running)

    # Then it deletes nothing yet and answers DeleteRestApi's turn
    assert first["outcome"] is None
    assert first["turn"]["operation"] == "DeleteRestApi"
    assert first["rolledBack"] == {"deleted": [], "kept": [], "known": {}}
    assert [a["id"] for a in apigw_apis()] == [api.rest_api_id]

    # When, at its turn, it runs again, and a teardown takes DeleteVpcLink just before
    clock.at = ApiGatewayTurn.from_wire(first["turn"]).at_seconds
    teardown_called(DELETE, paced, clock)
    second = rollback_tasks.rollback(
        RollbackTask.from_wire({**task, "turn": first["turn"], "rolledBack": first["rolledBack"]}),
        running,
    )

    # Then it deletes the API in its turn, and answers the link's turn with what it did
    assert apigw_apis() == []
    assert second["outcome"] is None
    assert second["turn"]["operation"] == "DeleteVpcLink"
    assert second["rolledBack"]["deleted"] == [f"REST API {api.rest_api_id}"]

    # When, at that turn, it runs again with what it did
    clock.at = ApiGatewayTurn.from_wire(second["turn"]).at_seconds
    done = rollback_tasks.rollback(
        RollbackTask.from_wire(
            {**task, "turn": second["turn"], "rolledBack": second["rolledBack"]}
        ),
        running,
    )

    # Then the link is deleted, and the outcome tells all that was rolled back
    assert (done["turn"], done["rolledBack"]) == (None, None)
    assert done["outcome"]["status"] == "FAILED"
    assert done["outcome"]["deleted"] == [
        f"REST API {api.rest_api_id}",
        f"VpcLink {link.vpc_link_id}",
    ]
    assert links_in(request.subnet_ids) == []
    # ... each call in its turn: DeleteRestApi 30.2 s after the teardown's, DeleteVpcLink too
    assert LEDGER.pace.record(DELETE).last_call_at == pytest.approx(clock.at)


def apigw_apis() -> list[dict[str, Any]]:
    return list(boto3.client("apigateway", region_name=REGION).get_rest_apis()["items"])


def test_the_answer_to_a_stopped_execution_pauses_for_a_near_turn_in_its_function(
    alb, make_request, settings, paced, clock
):
    # Given a request that created an API, whose execution stopped without answering, and a
    # DeleteRestApi call made by a teardown just now
    request = v2_request(make_request, alb)
    api = rest_apis.create_api(request, Turns(settings, request.request_id))
    execution = "arn:aws:states:us-east-1:123456789012:execution:provision:stopped-1"
    claimed_by(execution, request.request_id)
    teardown_called(Paced.DELETE_REST_API, paced, clock)
    from provisioner.domain.rollback import STOPPED_PAUSE_SECONDS, rollback_request

    # When its rollback runs where no Wait state can wait for a turn
    report = rollback_request(
        RollbackTask.from_wire(
            {
                "workflow": "PROVISION",
                "executionArn": execution,
                "state": {
                    "request": {"requestId": request.request_id},
                    "error": {"Error": "States.Timeout"},
                },
            }
        ),
        settings=paced,
        pause_within=STOPPED_PAUSE_SECONDS,
    )

    # Then it paused for its turn, 30.2 s, and deleted the API in it
    assert report.waiting is None
    assert report.deleted == [f"REST API {api.rest_api_id}"]
    assert sum(clock.paused) == pytest.approx(DELETE_SPACING)
    assert LEDGER.pace.record(Paced.DELETE_REST_API).last_call_at == pytest.approx(
        T0.timestamp() + DELETE_SPACING
    )
