"""VPC links V2 under API Gateway's real rates (issue 11), through the bus and the real workflows:
CreateVpcLink (1 per 15 s) and DeleteVpcLink (1 per 30 s) taken in turn by every execution, the
link key's claim held through the holder's Wait, the rollback's deletions in turn.

Apart from ``test_links_v2_workflow.py`` (whose helpers it uses) so that the two files run on
two pytest workers at once.
"""

from __future__ import annotations

import itertools
import uuid
from typing import Any

import pytest

from emulator import fidelity
from privateapi.network import create_sample_network
from tests.workflow.conftest import Provisioner
from tests.workflow.test_links_v2_workflow import final_of, relinked, succeeded, torn_down, v2_links

pytestmark = pytest.mark.workflow


# --- under API Gateway's real rates (issue 11) ---------------------------------------------------
def v2_requests_at_once(provisioner: Provisioner, targets: list[str], **detail: Any) -> list[str]:
    """One request per target (an NLB asked for a V2 link), put on the bus in one call."""
    ids = [f"v2-{index}-{uuid.uuid4().hex[:6]}" for index in range(len(targets))]
    provisioner.put_all(
        [
            {
                "requestId": rid,
                "apiName": f"api-{index}",
                "targetArn": target,
                "vpcLinkVersion": "V2",
                **detail,
            }
            for index, (rid, target) in enumerate(zip(ids, targets, strict=True))
        ]
    )
    return ids


def paced_calls(operation: str, seconds: float, count: int) -> None:
    """API Gateway (V2 for the links) saw ``count`` calls of ``operation``, each accepted, none
    refused for its rate, never two closer than ``seconds`` of the embedded AWS's clock."""
    service = "apigatewayv2" if operation.endswith("VpcLink") else "apigateway"
    calls = [c for c in fidelity.rate_limits.calls(operation) if c.service == service]
    assert len([c for c in calls if c.status < 300]) == count, calls
    assert [c for c in calls if c.status == 429] == [], calls
    gaps = [later.time - earlier.time for earlier, later in itertools.pairwise(calls)]
    assert min(gaps, default=seconds) >= seconds, gaps


def test_v2_links_for_several_networks_at_once_are_created_and_deleted_in_turn(
    provisioner: Provisioner,
):
    # Given API Gateway's real rates (CreateVpcLink V2 1 per 15 s, DeleteVpcLink V2 and
    # DeleteRestApi 1 per 30 s), and three networks, each with its NLB
    fidelity.rate_limits.enable(True)
    ec2, elbv2 = provisioner.aws.client("ec2"), provisioner.aws.client("elbv2")
    networks = [create_sample_network(ec2, elbv2, name=f"team-{n}") for n in range(3)]

    # When five APIs are requested at once with V2 links: one per network, and two more in
    # the first network (which share its link)
    targets = [network.nlb_arn for network in networks] + [networks[0].nlb_arn] * 2
    ids = v2_requests_at_once(provisioner, targets)
    notes = {rid: provisioner.notifications(rid) for rid in ids}
    finals = {rid: told[-1].body for rid, told in notes.items()}

    # Then all five SUCCEEDED, on three links: one per network
    assert {rid: final["status"] for rid, final in finals.items()} == dict.fromkeys(
        ids, "SUCCEEDED"
    ), provisioner.executions_summary()
    links = v2_links(provisioner)
    assert len(links) == 3
    by_network = {tuple(sorted(link["SubnetIds"])): link["VpcLinkId"] for link in links}
    for rid, network in zip(ids, [*networks, networks[0], networks[0]], strict=True):
        assert finals[rid]["vpcLinkId"] == by_network[tuple(sorted(network.subnet_ids))]
    # ... created in turn: API Gateway saw three CreateVpcLink calls 15 s apart, none refused
    paced_calls("CreateVpcLink", 15, 3)
    # ... and the third network's requester was told it waited for its turn
    waited = [
        n.body
        for told in notes.values()
        for n in told
        if n.status == "WAITING_FOR_API_GATEWAY"
        and n.body["apiGatewayOperation"] == "CreateVpcLink"
    ]
    assert waited, "the third network's CreateVpcLink is 30 s after the first"
    # ... with a Wait state for the turn, where no Lambda ran
    entered = [
        state
        for execution in provisioner.finished_executions("ProvisionStateMachineArn", count=5)
        for state in provisioner.entered_states(execution["executionArn"])
    ]
    assert "WaitForCreateVpcLinkTurn" in entered and "EnsureVpcLinkInTurn" in entered

    # When the five APIs are torn down at once
    teardown_ids = [
        provisioner.put({"targetRequestId": rid}, detail_type="PrivateApiDeletionRequested")
        for rid in ids
    ]
    torn = {tid: provisioner.notifications(tid)[-1].status for tid in teardown_ids}

    # Then all five SUCCEEDED, nothing is left, and API Gateway saw DeleteRestApi and the
    # links' DeleteVpcLink 30 s apart, none refused
    assert torn == dict.fromkeys(teardown_ids, "SUCCEEDED"), provisioner.executions_summary()
    assert provisioner.rest_apis() == []
    assert v2_links(provisioner) == []
    paced_calls("DeleteRestApi", 30, 5)
    # (each link's deletion follows its last API's, whose turns are 30.2 s apart already: its
    # DeleteVpcLink turn is free or a moment away, paused for in the task)
    paced_calls("DeleteVpcLink", 30, 3)


def test_failed_v2_links_roll_back_in_turn(provisioner: Provisioner):
    # Given API Gateway's real rates, and two networks whose V2 links AWS will fail
    fidelity.rate_limits.enable(True)
    ec2, elbv2 = provisioner.aws.client("ec2"), provisioner.aws.client("elbv2")
    networks = [create_sample_network(ec2, elbv2, name=f"team-{n}") for n in range(2)]
    for network in networks:
        fidelity.script_vpc_links_v2(
            network.subnet_ids[0], pending_polls=1, then="FAILED", status_message="no free IPs"
        )

    # When an API is requested in each, at once
    ids = v2_requests_at_once(provisioner, [network.nlb_arn for network in networks])
    finals = {rid: final_of(provisioner, rid) for rid in ids}

    # Then both FAILED, and each rolled back its API and its link
    assert {final["status"] for final in finals.values()} == {"FAILED"}
    assert {final["error"]["code"] for final in finals.values()} == {"VpcLinkFailed"}
    for final in finals.values():
        assert f"REST API {final['restApiId']}" in final["message"]
        assert f"VpcLink {final['vpcLinkId']}" in final["message"]
    assert provisioner.rest_apis() == []
    assert [link for link in v2_links(provisioner) if link["VpcLinkStatus"] != "DELETING"] == []
    # ... each deletion in its turn, none refused; the second rollback waited for its turns
    paced_calls("DeleteRestApi", 30, 2)
    paced_calls("DeleteVpcLink", 30, 2)
    entered = [
        state
        for execution in provisioner.finished_executions("ProvisionStateMachineArn", count=2)
        for state in provisioner.entered_states(execution["executionArn"])
    ]
    assert "WaitForRollbackTurn" in entered and "RollbackInTurn" in entered


def test_refused_v2_link_calls_take_new_turns_through_each_workflows_wait(
    provisioner: Provisioner,
):
    # Given an NLB asked for a V2 link, and API Gateway refusing its CreateVpcLink once (another
    # tool of the account took the rate): the call takes a new turn, 15 s later
    nlb = provisioner.network.nlb_arn
    fidelity.throttle("CreateVpcLink", times=1)

    # When the API is requested
    created = succeeded(provisioner, apiName="orders", targetArn=nlb, vpcLinkVersion="V2")

    # Then its link was created in that turn, waited for in the workflow, and it SUCCEEDED
    (old_link,) = v2_links(provisioner)
    assert created["vpcLinkId"] == old_link["VpcLinkId"]
    provisioned = provisioner.execution()
    entered = provisioner.entered_states(provisioned["executionArn"])
    assert entered.count("WaitForCreateVpcLinkTurn") == 1
    assert entered.count("EnsureVpcLinkInTurn") == 1

    # When its stage is relinked to a V2 link in another network, deleting the old link, and
    # API Gateway refuses that DeleteVpcLink once
    other = create_sample_network(
        provisioner.aws.client("ec2"), provisioner.aws.client("elbv2"), name="elsewhere"
    )
    fidelity.throttle("DeleteVpcLink", times=1)
    moved = relinked(
        provisioner,
        targetRequestId=created["requestId"],
        targetArn=other.nlb_arn,
        vpcLinkVersion="V2",
        deleteOldLink=True,
    )

    # Then the stage was switched once (one deployment more, not two), and the old link was
    # deleted in its next turn, after a Wait
    assert moved["vpcLinkId"] != old_link["VpcLinkId"]
    assert f"old VpcLink {old_link['VpcLinkId']} is being deleted" in moved["message"]
    assert "redeployed" in moved["message"]
    deployments = provisioner.apigateway.get_deployments(restApiId=created["restApiId"])["items"]
    assert len(deployments) == 2
    (relink,) = provisioner.finished_executions("RelinkStateMachineArn", count=1)
    relink_states = provisioner.entered_states(relink["executionArn"])
    assert relink_states.count("RelinkStage") == 1
    assert relink_states.count("RelinkStageInTurn") == 1

    # When the API is torn down and its link's DeleteVpcLink is refused once too
    fidelity.throttle("DeleteVpcLink", times=1)
    torn_down(provisioner, created["requestId"])

    # Then the link was deleted after two Waits: for the turn after the relink's DeleteVpcLink
    # (made seconds before, 30 s are due), then for a new turn after the refusal; and nothing
    # is left
    assert v2_links(provisioner) == []
    assert provisioner.rest_apis() == []
    (teardown,) = provisioner.finished_executions("TeardownStateMachineArn", count=1)
    teardown_states = provisioner.entered_states(teardown["executionArn"])
    assert teardown_states.count("WaitForDeleteVpcLinkTurn") == 2
    assert teardown_states[-2:] == ["AreLinksGone", "Succeeded"]
    # ... as API Gateway saw them: the relink's and the teardown's DeleteVpcLink, each refused
    # once then made in a turn of its own, 30 s apart, refused or not
    deletions = [
        c for c in fidelity.rate_limits.calls("DeleteVpcLink") if c.service == "apigatewayv2"
    ]
    assert [c.status for c in deletions] == [429, 200, 429, 200]  # moto answers 200 (AWS 202)
    gaps = [later.time - earlier.time for earlier, later in itertools.pairwise(deletions)]
    assert min(gaps) >= 30, gaps
