"""Every bad input gets an answer, through the bus and the real workflows (issue 12).

Given requests as a hostile or careless requester sends them (too large, with fields the
contract does not have, with characters AWS refuses), each ends with one final notification
naming every field at fault, and nothing is left behind; and an execution that stops without
answering (here: an operator stops it) is answered all the same.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, given, seed
from hypothesis import settings as hypothesis_settings

from emulator import fidelity
from emulator.fidelity import events
from privateapi.network import EXPOSE_TAG, create_sample_network
from privateapi.waiting import wait_until
from provisioner.contract.errors import MAX_LISTED_FIELDS
from tests.requests_corpus import MAX_DETAIL, SEED, Case, World, named, provision_cases
from tests.workflow.conftest import LINK_DELETING_SECONDS, Provisioner

pytestmark = pytest.mark.workflow

SOURCE = "tests"


def put_detail(provisioner: Provisioner, detail: dict[str, Any]) -> None:
    entry = {
        "EventBusName": provisioner.aws.outputs["RequestBusName"],
        "Source": SOURCE,
        "DetailType": "PrivateApiRequested",
        "Detail": json.dumps(detail),
    }
    assert events.entry_size(entry) < events.MAX_ENTRIES_SIZE
    answer = provisioner.aws.client("events").put_events(Entries=[entry])
    assert answer["FailedEntryCount"] == 0, answer


def padded_to_the_limit(detail: dict[str, Any]) -> dict[str, Any]:
    """``detail`` plus an unknown field that brings the entry to 256 KiB less one byte."""
    base = len(SOURCE) + len("PrivateApiRequested")
    size = base + len(json.dumps({**detail, "padding": ""}))
    return {**detail, "padding": "x" * (events.MAX_ENTRIES_SIZE - 1 - size)}


@pytest.mark.parametrize(
    "shape", ["2000-unknown-fields", "a-100-kb-key", "padded-to-256-kib"], ids=str
)
def test_a_large_invalid_event_is_rejected_with_a_bounded_answer(
    provisioner: Provisioner, shape: str
):
    # Given an event as large as EventBridge allows, wrong in many fields or in one huge one
    request_id = f"large-{uuid.uuid4().hex[:8]}"
    detail: dict[str, Any] = {
        "requestId": request_id,
        "apiName": "huge",
        "nlbArn": provisioner.network.nlb_arn,
    }
    if shape == "2000-unknown-fields":
        detail.update({f"field{index:04}": "x" * 8 for index in range(2000)})
    elif shape == "a-100-kb-key":
        detail["k" * 100_000] = 1
    else:
        detail = padded_to_the_limit(detail)

    # When it is put on the bus
    put_detail(provisioner, detail)
    notifications = provisioner.notifications(request_id)

    # Then the requester hears REJECTED, with the fields at fault listed within a bound
    assert [n.status for n in notifications] == ["REJECTED"]
    error = notifications[0].body["error"]
    assert error["code"] == "InvalidRequest"
    assert 1 <= len(error["fields"]) <= MAX_LISTED_FIELDS
    if shape == "2000-unknown-fields":
        assert error["moreFields"] == 2000 - MAX_LISTED_FIELDS
    assert all(len(f["field"]) <= 200 for f in error["fields"])
    assert len(json.dumps(notifications[0].body)) < 16 * 1024
    # ... nothing was created, and the workflow ended in its answered state
    assert provisioner.tagged_with(request_id) == []
    execution = provisioner.execution()
    assert execution["error"] == "InvalidRequest"
    assert provisioner.entered_states(execution["executionArn"])[-1] == "Rejected"


def test_a_relink_with_reserved_and_malformed_tags_is_rejected_and_changes_nothing(
    provisioner: Provisioner,
):
    # Given a provisioned API and another NLB
    request_id = provisioner.request(apiName="orders")
    created = provisioner.notifications(request_id)[-1].body
    other = create_sample_network(
        provisioner.aws.client("ec2"), provisioner.aws.client("elbv2"), name="payments"
    )
    links_before = provisioner.vpc_links()

    # When a relink names reserved and malformed tags
    relink_id = provisioner.put(
        {
            "targetRequestId": created["requestId"],
            "nlbArn": other.nlb_arn,
            "tags": {"aws:evil": "1", "bad\nkey": "v" * 300},
        },
        detail_type="PrivateApiRelinkRequested",
    )
    final = provisioner.notifications(relink_id)[-1]

    # Then it is rejected for them, and the stage still uses its link; no link was created
    assert final.status == "REJECTED"
    assert [f["field"] for f in final.body["error"]["fields"]] == ["detail.tags"]
    stage = provisioner.apigateway.get_stage(restApiId=created["restApiId"], stageName="prod")
    assert stage["variables"]["vpcLinkId"] == created["vpcLinkId"]
    assert provisioner.vpc_links() == links_before


def test_a_ticket_id_with_a_control_character_is_rejected_and_not_echoed(
    provisioner: Provisioner,
):
    request_id = provisioner.request(apiName="orders", ticketId="OPS\n42")
    (final,) = provisioner.notifications(request_id)

    assert final.status == "REJECTED"
    assert [f["field"] for f in final.body["error"]["fields"]] == ["detail.ticketId"]
    assert final.body["ticketId"] is None
    assert "ticketId" not in final.attributes


def test_a_snake_case_alias_is_rejected_not_honoured(provisioner: Provisioner):
    request_id = provisioner.request(apiName="a", stage_name="snake")
    (final,) = provisioner.notifications(request_id)

    assert final.status == "REJECTED"
    assert [f["field"] for f in final.body["error"]["fields"]] == ["detail.stage_name"]
    assert provisioner.rest_apis() == []


LINK_LOOP = {"EnsureVpcLink", "IsLinkAvailable", "WaitForLink", "GetVpcLinkStatus"}


def parked(history: list[dict[str, Any]]) -> bool:
    """Nothing in flight: the API branch has ended (``ApiReady``, after CreateApi in its turn),
    and the link branch's last step entered its Wait (the branches' events interleave, so the
    execution's last event may be the API branch's)."""
    named = [
        (event["type"], details["name"])
        for event in history
        for details in (
            event.get("stateEnteredEventDetails") or event.get("stateExitedEventDetails") or {},
        )
        if "name" in details
    ]
    api_done = ("SucceedStateExited", "ApiReady") in named
    link_steps = [step for step in named if step[1] in LINK_LOOP]
    return api_done and bool(link_steps) and link_steps[-1] == ("WaitStateEntered", "WaitForLink")


def test_an_execution_stopped_without_answering_is_answered_and_rolled_back(
    provisioner: Provisioner,
):
    # Given a provisioning that waits for a link that stays PENDING (its API already created)
    fidelity.hold_vpc_links(provisioner.network.nlb_arn)
    request_id = provisioner.request(apiName="orders", timeoutSeconds=86_400)
    machine = provisioner.aws.outputs["ProvisionStateMachineArn"]
    (running,) = wait_until(
        lambda: provisioner.sfn.list_executions(stateMachineArn=machine)["executions"],
        timeout=30,
        what="the provisioning to start",
    )
    wait_until(
        lambda: (
            "WaitForLink" in provisioner.entered_states(running["executionArn"])
            and len(provisioner.tagged_with(request_id)) == 2
        ),
        timeout=60,
        what="the API and the link to exist while the workflow waits",
    )

    # ... parked in that Wait: the clock stops, so no poll is in flight when it is stopped
    # (moto's interpreter cannot stop an execution cleanly in the middle of a Lambda task)
    provisioner.aws.clock.configure(0)
    try:
        wait_until(
            lambda: parked(provisioner.history(running["executionArn"])),
            timeout=60,
            what="the execution to sit in WaitForLink, its API created",
        )
        # When an operator stops the execution (it has not answered: no final notification)
        provisioner.sfn.stop_execution(executionArn=running["executionArn"], cause="operator")
    finally:
        provisioner.aws.clock.configure("auto")
    notifications = provisioner.notifications(request_id)

    # Then the requester is told, by the watch on stopped executions
    final = notifications[-1]
    assert final.status == "FAILED"
    assert final.body["error"]["code"] == "ExecutionAborted"
    assert "stopped by an operator" in final.body["error"]["remedy"]
    # ... and what the request created is rolled back, and the ledger says FAILED
    provisioner.aws.clock.advance(LINK_DELETING_SECONDS)
    assert provisioner.tagged_with(request_id) == []
    entry = provisioner.ledger_entry(request_id)
    assert entry is not None and entry["status"] == "FAILED"


def test_twenty_requests_at_once_on_twenty_nlbs_all_succeed(provisioner: Provisioner):
    # Given twenty NLBs, each wanted behind an API at the same moment (two PutEvents of ten)
    networks = [
        create_sample_network(
            provisioner.aws.client("ec2"), provisioner.aws.client("elbv2"), name=f"burst-{index}"
        )
        for index in range(20)
    ]
    for network in networks:  # the burst is what matters here, not how long links pend
        fidelity.script_vpc_links(network.nlb_arn, pending_polls=1)
    ids = [f"burst-{index}-{uuid.uuid4().hex[:6]}" for index in range(20)]
    details = [
        {"requestId": request_id, "apiName": f"api-{index}", "nlbArn": network.nlb_arn}
        for index, (request_id, network) in enumerate(zip(ids, networks, strict=True))
    ]

    # When they are all put on the bus (each put_all raises if the bus refuses any)
    for batch in (details[:10], details[10:]):
        provisioner.put_all(batch, source=SOURCE)
    finals = {request_id: provisioner.notifications(request_id)[-1] for request_id in ids}

    # Then all twenty succeed, each with a link of its own
    assert {request_id: final.status for request_id, final in finals.items()} == dict.fromkeys(
        ids, "SUCCEEDED"
    )
    assert len({final.body["vpcLinkId"] for final in finals.values()}) == 20
    assert len(provisioner.rest_apis()) == 20


# --- a generated corpus, through the bus ----------------------------------------------------------
CORPUS_SIZE = 30


def test_a_generated_corpus_each_gets_one_answer_and_nothing_leaks(provisioner: Provisioner):
    """Thirty generated provisioning requests (seeded), put on the bus one after another:
    each gets exactly one final notification, REJECTED naming its faults or SUCCEEDED; every
    API and link left is one a SUCCEEDED request reports (or the link that existed before)."""
    world = corpus_world(provisioner)
    cases: list[Case] = []

    @seed(SEED)
    @hypothesis_settings(
        max_examples=CORPUS_SIZE,
        database=None,
        deadline=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(provision_cases(world).filter(lambda c: len(json.dumps(c.detail)) <= MAX_DETAIL))
    def draw(case: Case) -> None:
        cases.append(case)

    draw()
    assert len(cases) == CORPUS_SIZE

    # When each is put on the bus (each its own PutEvents: some are near 256 KiB)
    answered_as: dict[str, Case] = {}
    for index, case in enumerate(cases):
        if isinstance(case.detail.get("requestId"), str) and "detail.requestId" not in case.faults:
            case.detail["requestId"] = f"corpus-{index}"  # unique: no two share an id
        entry = {
            "EventBusName": provisioner.aws.outputs["RequestBusName"],
            "Source": SOURCE,
            "DetailType": "PrivateApiRequested",
            "Detail": json.dumps(case.detail),
        }
        answer = provisioner.aws.client("events").put_events(Entries=[entry])
        assert answer["FailedEntryCount"] == 0, answer
        requested = case.detail.get("requestId")
        answered_as[requested if "detail.requestId" not in case.faults and requested else
                    answer["Entries"][0]["EventId"]] = case  # fmt: skip

    # Then each gets one final answer, the right one
    outcomes = {"SUCCEEDED": 0, "REJECTED": 0}
    for request_id, case in answered_as.items():
        finals = [n for n in provisioner.notifications(request_id) if n.final]
        assert len(finals) == 1, (request_id, [n.status for n in finals])
        expected = "REJECTED" if case.faults else "SUCCEEDED"
        assert finals[0].status == expected, (case.faults, finals[0].body.get("error"))
        if expected == "REJECTED":
            listed = {f["field"] for f in finals[0].body["error"]["fields"]}
            assert listed and all(
                any(f == named(fault) or f.startswith(named(fault) + ".") for fault in case.faults)
                for f in listed
            ), (listed, case.faults)
        outcomes[expected] += 1
    print(f"\ncorpus: seed {SEED}, {CORPUS_SIZE} through the bus: {outcomes}")
    assert sum(outcomes.values()) == CORPUS_SIZE

    # ... and nothing leaks: whatever exists, a SUCCEEDED request reports it
    provisioner.aws.clock.advance(LINK_DELETING_SECONDS)
    reported = {
        provisioner.ledger_entry(request_id)["resources"].get(key)  # type: ignore[index]
        for request_id, case in answered_as.items()
        if not case.faults
        for key in ("restApiId", "vpcLinkId")
    }
    assert {api["id"] for api in provisioner.rest_apis()} <= reported
    assert {link["id"] for link in provisioner.vpc_links()} <= reported | {world.link_id}
    links_v2 = provisioner.aws.client("apigatewayv2").get_vpc_links()["Items"]
    assert {link["VpcLinkId"] for link in links_v2} <= reported


def corpus_world(provisioner: Provisioner) -> World:
    """What the corpus's requests name: our NLB, an ALB, a missing NLB, another account's,
    and a link that already exists (AVAILABLE at its first poll)."""
    elbv2 = provisioner.aws.client("elbv2")
    nlb_arn = provisioner.network.nlb_arn
    subnets = provisioner.network.subnet_ids
    alb_arn = elbv2.create_load_balancer(
        Name="corpus-alb",
        Subnets=subnets,
        Scheme="internal",
        Type="application",
        Tags=[EXPOSE_TAG],
    )["LoadBalancers"][0]["LoadBalancerArn"]
    linked = create_sample_network(
        provisioner.aws.client("ec2"), provisioner.aws.client("elbv2"), name="corpus-linked"
    )
    fidelity.script_vpc_links(linked.nlb_arn, pending_polls=0)
    link_id = provisioner.apigateway.create_vpc_link(name="corpus", targetArns=[linked.nlb_arn])[
        "id"
    ]
    # AVAILABLE at the first poll: a valid request may ask for a deadline of one second, and
    # what is checked here is how its input is answered, not how a link's wait ends
    fidelity.script_vpc_links(provisioner.network.nlb_arn, pending_polls=0)
    fidelity.script_vpc_links_v2(subnets[0], pending_polls=0)  # V2 links, in these subnets
    return World(
        nlb_arn=nlb_arn,
        alb_arn=alb_arn,
        missing_nlb_arn=nlb_arn.replace("/orders-service-nlb/", "/ghost-nlb/"),
        foreign_account_nlb_arn=nlb_arn.replace(":123456789012:", ":210987654321:"),
        link_id=link_id,
        request_id="unused",
        rest_api_id="unused",
        foreign_api_id="unused",
        subnet_ids=tuple(subnets),
    )
