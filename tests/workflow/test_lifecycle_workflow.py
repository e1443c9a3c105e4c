"""Specification of the whole lifecycle: exactly once, race-free, teardown, relink, outcomes.

EventBridge delivers at least once, tickets get resubmitted, and API Gateway allows 20
links per account and region: duplicates and simultaneous requests must create nothing twice.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest

from emulator import fidelity
from privateapi.network import create_sample_network
from tests.workflow.conftest import Provisioner

pytestmark = pytest.mark.workflow


def provision(provisioner: Provisioner, **detail: Any) -> dict[str, Any]:
    """Provision one API and return its SUCCEEDED notification body."""
    request_id = provisioner.request(**detail)
    final = provisioner.notifications(request_id)[-1]
    assert final.status == "SUCCEEDED", final.body
    return final.body


def stage_link(provisioner: Provisioner, rest_api_id: str, stage: str = "prod") -> str | None:
    variables = provisioner.apigateway.get_stage(restApiId=rest_api_id, stageName=stage)
    return variables.get("variables", {}).get("vpcLinkId")


# --- exactly once ----------------------------------------------------------------------------
def test_ten_copies_of_one_event_at_once_make_one_api_and_one_link(provisioner: Provisioner):
    # Given ten deliveries of the same request, arriving together
    request_id = f"ticket-{uuid.uuid4().hex[:8]}"
    detail = {"requestId": request_id, "apiName": "orders", "nlbArn": provisioner.network.nlb_arn}

    # When
    provisioner.put_copies(detail, copies=10)
    executions = provisioner.finished_executions("ProvisionStateMachineArn", count=10)

    # Then one provisioning ran; the nine duplicates ended quietly
    assert len(executions) == 10
    assert all(e["status"] == "SUCCEEDED" for e in executions)
    assert len(provisioner.rest_apis()) == 1
    assert len(provisioner.vpc_links()) == 1
    entry = provisioner.ledger_entry(request_id)
    assert entry is not None
    assert entry["status"] == "SUCCEEDED"
    assert entry["duplicatesIgnored"] == 9
    notifications = provisioner.notifications(request_id)
    notifications += provisioner.progress.poll(wait_seconds=2)
    notifications += provisioner.progress.unclaimed.pop(request_id, [])
    mine = [n.status for n in notifications if n.request_id == request_id]
    assert mine.count("ACCEPTED") == 1
    assert [status for status in mine if status in {"SUCCEEDED", "FAILED", "REJECTED"}] == [
        "SUCCEEDED"
    ]


def test_same_request_id_with_another_body_is_rejected_and_changes_nothing(
    provisioner: Provisioner,
):
    # Given a provisioned request
    request_id = f"ticket-{uuid.uuid4().hex[:8]}"
    first = provision(provisioner, requestId=request_id, apiName="orders")

    # When the same id arrives with a different body
    provisioner.request(requestId=request_id, apiName="something-else")
    conflict = provisioner.notifications(request_id)[-1]

    # Then it is REJECTED, and the first request's API and ledger entry are untouched
    assert conflict.status == "REJECTED"
    assert conflict.body["error"]["code"] == "DuplicateRequestConflict"
    assert [api["id"] for api in provisioner.rest_apis()] == [first["restApiId"]]
    entry = provisioner.ledger_entry(request_id)
    assert entry is not None and entry["status"] == "SUCCEEDED"


# --- race-free link reuse ----------------------------------------------------------------------
def test_five_requests_on_one_nlb_at_once_share_one_link(provisioner: Provisioner):
    # Given five different APIs wanted on the same NLB, requested at the same moment
    ids = [f"race-{index}-{uuid.uuid4().hex[:6]}" for index in range(5)]
    details = [
        {"requestId": rid, "apiName": f"api-{rid}", "nlbArn": provisioner.network.nlb_arn}
        for rid in ids
    ]

    # When (one PutEvents; it raises if the bus refuses any)
    provisioner.put_all(details)
    finals = {rid: provisioner.notifications(rid)[-1] for rid in ids}

    # Then exactly one link exists, and all five APIs point at it
    (link,) = provisioner.vpc_links()
    assert {n.status for n in finals.values()} == {"SUCCEEDED"}
    assert {n.body["vpcLinkId"] for n in finals.values()} == {link["id"]}
    apis = provisioner.rest_apis()
    assert len(apis) == 5
    assert {stage_link(provisioner, api["id"]) for api in apis} == {link["id"]}


# --- teardown ------------------------------------------------------------------------------------
def test_teardown_keeps_a_link_that_another_api_still_uses(provisioner: Provisioner):
    # Given two APIs on the same NLB, sharing one link
    first = provision(provisioner, apiName="orders")
    second = provision(provisioner, apiName="billing")
    assert first["vpcLinkId"] == second["vpcLinkId"]

    # When the first is torn down
    teardown_id = provisioner.put(
        {"targetRequestId": first["requestId"]}, detail_type="PrivateApiDeletionRequested"
    )
    final = provisioner.notifications(teardown_id)[-1]

    # Then its API is gone, the link and the other API stay
    assert final.status == "SUCCEEDED", final.body
    assert [api["id"] for api in provisioner.rest_apis()] == [second["restApiId"]]
    assert [link["id"] for link in provisioner.vpc_links()] == [first["vpcLinkId"]]
    assert provisioner.vpc_links()[0]["status"] == "AVAILABLE"
    assert f"still used by {second['requestId']}" in final.body["message"]
    assert stage_link(provisioner, second["restApiId"]) == first["vpcLinkId"]


def test_teardown_of_the_last_api_deletes_its_link_and_waits_until_it_is_gone(
    provisioner: Provisioner,
):
    # Given one API with the link it created
    created = provision(provisioner, apiName="orders")

    # When it is torn down by its API id
    teardown_id = provisioner.put(
        {"restApiId": created["restApiId"]}, detail_type="PrivateApiDeletionRequested"
    )
    notifications = provisioner.notifications(teardown_id)

    # Then when SUCCEEDED is announced, the link is already gone (not DELETING): the NLB is free
    assert [n.status for n in notifications] == ["ACCEPTED", "API_DELETED", "SUCCEEDED"]
    assert provisioner.rest_apis() == []
    assert provisioner.vpc_links() == []
    entry = provisioner.ledger_entry(created["requestId"])
    assert entry is not None and entry["status"] == "DELETED"
    provisioner.aws.client("elbv2").delete_load_balancer(
        LoadBalancerArn=provisioner.network.nlb_arn
    )


def test_teardown_of_an_api_we_did_not_create_is_rejected_and_deletes_nothing(
    provisioner: Provisioner,
):
    # Given an API someone made by hand
    foreign = provisioner.apigateway.create_rest_api(name="hand-made", tags={"team": "x"})

    # When
    teardown_id = provisioner.put(
        {"restApiId": foreign["id"]}, detail_type="PrivateApiDeletionRequested"
    )
    final = provisioner.notifications(teardown_id)[-1]

    # Then
    assert final.status == "REJECTED"
    assert final.body["error"]["fields"][0]["field"] == "detail.restApiId"
    assert "managed-by" in final.body["error"]["fields"][0]["rule"]
    assert [api["id"] for api in provisioner.rest_apis()] == [foreign["id"]]


# --- relink --------------------------------------------------------------------------------------
def test_relink_changes_the_stage_variable_only_once_the_new_link_is_available(
    provisioner: Provisioner,
):
    # Given a provisioned API, and a second NLB whose new link AWS will keep PENDING for five
    # polls
    created = provision(provisioner, apiName="orders")
    other = create_sample_network(
        provisioner.aws.client("ec2"), provisioner.aws.client("elbv2"), name="payments"
    )
    fidelity.script_vpc_links(other.nlb_arn, pending_polls=5)

    # When the relink is requested
    relink_id = provisioner.put(
        {"targetRequestId": created["requestId"], "nlbArn": other.nlb_arn},
        detail_type="PrivateApiRelinkRequested",
    )
    final = provisioner.notifications(relink_id)[-1]

    # Then the stage moved to the new link
    assert final.status == "SUCCEEDED", final.body
    new_link = final.body["vpcLinkId"]
    assert new_link != created["vpcLinkId"]
    assert stage_link(provisioner, created["restApiId"]) == new_link

    # ... only after the link was polled AVAILABLE: as API Gateway saw it, the stage pointed at
    # the first link, then at the new one, each AVAILABLE at that moment
    changes = [
        (change.vpc_link_id, change.link_status)
        for change in fidelity.stage_link_changes()
        if change.rest_api_id == created["restApiId"]
    ]
    assert changes == [(created["vpcLinkId"], "AVAILABLE"), (new_link, "AVAILABLE")]
    (relink,) = provisioner.finished_executions("RelinkStateMachineArn", count=1)
    entered = provisioner.entered_states(relink["executionArn"])
    assert entered.count("GetVpcLinkStatus") == 6  # five PENDING, then AVAILABLE
    assert entered.index("RelinkStage") > len(entered) - 1 - entered[::-1].index("GetVpcLinkStatus")


# --- outcome events ------------------------------------------------------------------------------
def test_outcome_events_reach_the_bus_and_start_nothing(provisioner: Provisioner):
    # Given a subscriber to our outcome events
    sqs = provisioner.aws.client("sqs")
    events = provisioner.aws.client("events")
    queue_url = sqs.create_queue(QueueName="outcomes")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    bus = provisioner.aws.outputs["RequestBusName"]
    events.put_rule(
        Name="outcomes",
        EventBusName=bus,
        EventPattern=json.dumps({"source": [provisioner.aws.outputs["OutcomeEventSource"]]}),
    )
    events.put_targets(Rule="outcomes", EventBusName=bus, Targets=[{"Id": "q", "Arn": queue_arn}])

    # When one API is provisioned
    body = provision(provisioner, apiName="orders")

    # Then its outcome arrives with the final notification's payload, and no workflow started
    received = sqs.receive_message(QueueUrl=queue_url, WaitTimeSeconds=5)["Messages"]
    event = json.loads(received[0]["Body"])
    assert event["detail-type"] == "PrivateApiProvisioned"
    assert event["detail"] == body
    provisioned = provisioner.finished_executions("ProvisionStateMachineArn", count=1)
    assert len(provisioned) == 1
