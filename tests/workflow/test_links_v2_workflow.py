"""Specification of VPC links V2 through the bus and the real workflows (issue 13).

Given an internal ALB (or an NLB asked for a V2 link), the provisioning creates or reuses a V2
link in the load balancer's subnets with its security groups, the integrations name the load
balancer (``integrationTarget``), and the stage is created with the link once it is AVAILABLE.
V2 links' lives are pinned in polls with ``fidelity.script_vpc_links_v2`` (keyed by a subnet);
the conftest's check that no stage ever pointed at a link that was not AVAILABLE covers V2
links too.
"""

from __future__ import annotations

import itertools
import json
import uuid
from typing import Any

import pytest

from emulator import fidelity
from privateapi.network import SampleAlb, create_sample_alb, create_sample_network
from tests.workflow.conftest import Provisioner

pytestmark = pytest.mark.workflow

STAGE_LINK = "${stageVariables.vpcLinkId}"


# --- helpers -----------------------------------------------------------------------------------
def put_request(provisioner: Provisioner, **detail: Any) -> str:
    """A PrivateApiRequested event with exactly these fields (and a requestId)."""
    detail.setdefault("apiName", "orders")
    return provisioner.put(detail, detail_type="PrivateApiRequested")


def final_of(provisioner: Provisioner, request_id: str) -> dict[str, Any]:
    notifications = provisioner.notifications(request_id)
    return dict(notifications[-1].body, statuses=[n.status for n in notifications])


def succeeded(provisioner: Provisioner, **detail: Any) -> dict[str, Any]:
    final = final_of(provisioner, put_request(provisioner, **detail))
    assert final["status"] == "SUCCEEDED", final
    return final


def sample_alb(provisioner: Provisioner, name: str = "payments", **options: Any) -> SampleAlb:
    return create_sample_alb(
        provisioner.aws.client("ec2"),
        provisioner.aws.client("elbv2"),
        provisioner.network,
        name,
        **options,
    )


def v2_links(provisioner: Provisioner) -> list[dict[str, Any]]:
    return list(provisioner.aws.client("apigatewayv2").get_vpc_links()["Items"])


def integrations(provisioner: Provisioner, rest_api_id: str) -> dict[str, dict[str, Any]]:
    apigateway = provisioner.apigateway
    found = {}
    for resource in apigateway.get_resources(restApiId=rest_api_id)["items"]:
        for method in resource.get("resourceMethods") or {}:
            found[f"{method} {resource['path']}"] = apigateway.get_integration(
                restApiId=rest_api_id, resourceId=resource["id"], httpMethod=method
            )
    return found


def stage_link(provisioner: Provisioner, rest_api_id: str) -> str | None:
    stage = provisioner.apigateway.get_stage(restApiId=rest_api_id, stageName="prod")
    return stage.get("variables", {}).get("vpcLinkId")


def first_subnet(provisioner: Provisioner) -> str:
    return provisioner.network.subnet_ids[0]


# --- ALB -> V2 ---------------------------------------------------------------------------------
def test_an_alb_gets_a_v2_link_and_integrations_that_name_it(provisioner: Provisioner):
    # Given an internal ALB, and V2 links in its subnets kept PENDING for three polls
    alb = sample_alb(provisioner)
    fidelity.script_vpc_links_v2(first_subnet(provisioner), pending_polls=3)

    # When an API is requested for it by targetArn, every path proxied
    final = succeeded(provisioner, apiName="payments", targetArn=alb.arn, proxyAllPaths=True)

    # Then one V2 link exists, in the ALB's subnets with its security group, tagged; no V1 link
    (link,) = v2_links(provisioner)
    assert provisioner.vpc_links() == []
    assert link["VpcLinkStatus"] == "AVAILABLE"
    assert sorted(link["SubnetIds"]) == sorted(provisioner.network.subnet_ids)
    assert link["SecurityGroupIds"] == alb.security_group_ids
    assert link["Tags"]["provisioner:request-id"] == final["requestId"]
    assert final["vpcLinkId"] == link["VpcLinkId"]
    # ... the stage points at it through the stage variable, and every integration names the ALB
    assert stage_link(provisioner, final["restApiId"]) == link["VpcLinkId"]
    found = integrations(provisioner, final["restApiId"])
    assert set(found) == {"GET /", "ANY /{proxy+}"}
    for integration in found.values():
        assert (integration["connectionType"], integration["connectionId"]) == (
            "VPC_LINK",
            STAGE_LINK,
        )
        assert integration["integrationTarget"] == alb.arn
    assert found["GET /"]["uri"] == f"http://{alb.dns_name}"
    # ... and the requester heard it was a V2 link
    assert any("VPC link V2" in m for m in messages(provisioner, final["requestId"]))

    # ... through the same states as a V1 provisioning: no extra state transition
    execution = provisioner.execution()
    entered = provisioner.entered_states(execution["executionArn"])
    assert entered.count("GetVpcLinkStatus") == 4  # three PENDING polls, then AVAILABLE
    assert sorted(entered) == sorted(v1_shape(polls=4))


def messages(provisioner: Provisioner, request_id: str) -> list[str]:
    entry = provisioner.ledger_entry(request_id) or {}
    return [step["message"] for step in entry.get("history", [])]


def v1_shape(*, polls: int) -> list[str]:
    """The states a V1 provisioning enters when its link answers PENDING ``polls - 1`` times
    (compared as a multiset: the two Parallel branches interleave)."""
    link = ["EnsureVpcLink", "IsLinkAvailable"]
    link += ["WaitForLink", "GetVpcLinkStatus", "IsLinkAvailable"] * polls + ["LinkReady"]
    # CreateApi and DeployApi are paced: each is followed by the Choice that finds its turn
    # free (the API branch then ends in ApiReady)
    api = ["CreateApi", "IsCreateRestApiTurnLater", "ApiReady"]
    deploy = ["DeployApi", "IsCreateDeploymentTurnLater"]
    return ["ValidateRequest", "Provision", *link, *api, "DidBothBranchesSucceed", *deploy,
            "Succeeded"]  # fmt: skip


def test_an_alb_with_an_https_listener_is_reached_over_https(provisioner: Provisioner):
    acm = provisioner.aws.client("acm")
    certificate = acm.request_certificate(DomainName="secure.internal.example.com")
    alb = sample_alb(provisioner, "secure", https_certificate_arn=certificate["CertificateArn"])

    final = succeeded(provisioner, apiName="secure", targetArn=alb.arn)

    (integration,) = integrations(provisioner, final["restApiId"]).values()
    assert integration["uri"] == f"https://{alb.dns_name}"
    assert integration["integrationTarget"] == alb.arn


# --- NLB -> V1 by default, V2 when asked --------------------------------------------------------
def test_an_nlb_gets_a_v1_link_by_default_and_a_v2_link_when_asked(provisioner: Provisioner):
    nlb = provisioner.network.nlb_arn

    v1 = succeeded(provisioner, apiName="legacy", nlbArn=nlb)
    v2 = succeeded(provisioner, apiName="modern", targetArn=nlb, vpcLinkVersion="V2")

    (v1_link,) = provisioner.vpc_links()
    (v2_link,) = v2_links(provisioner)
    assert (v1["vpcLinkId"], v1_link["targetArns"]) == (v1_link["id"], [nlb])
    assert v2["vpcLinkId"] == v2_link["VpcLinkId"]
    # The NLB has no security groups: the V2 link has none either
    assert sorted(v2_link["SubnetIds"]) == sorted(provisioner.network.subnet_ids)
    assert v2_link.get("SecurityGroupIds", []) == []
    (v1_integration,) = integrations(provisioner, v1["restApiId"]).values()
    (v2_integration,) = integrations(provisioner, v2["restApiId"]).values()
    assert "integrationTarget" not in v1_integration
    assert v2_integration["integrationTarget"] == nlb


# --- reuse ---------------------------------------------------------------------------------------
def test_two_load_balancers_in_the_same_subnets_and_security_groups_share_one_v2_link(
    provisioner: Provisioner,
):
    # Given two ALBs in the same subnets with the same security group
    orders = sample_alb(provisioner, "orders")
    billing = sample_alb(provisioner, "billing", security_group_ids=orders.security_group_ids)

    # When an API is requested for each
    first = succeeded(provisioner, apiName="orders", targetArn=orders.arn)
    second = succeeded(provisioner, apiName="billing", targetArn=billing.arn)

    # Then one V2 link serves both; each API's integrations name its own ALB
    (link,) = v2_links(provisioner)
    assert first["vpcLinkId"] == second["vpcLinkId"] == link["VpcLinkId"]
    assert "Reusing VPC link V2" in " ".join(messages(provisioner, second["requestId"]))
    for final, alb in ((first, orders), (second, billing)):
        assert stage_link(provisioner, final["restApiId"]) == link["VpcLinkId"]
        (integration,) = integrations(provisioner, final["restApiId"]).values()
        assert integration["integrationTarget"] == alb.arn


def test_ten_requests_at_once_for_one_network_make_one_v2_link(provisioner: Provisioner):
    # Given ten different APIs wanted behind the same ALB, requested at the same moment
    alb = sample_alb(provisioner)
    fidelity.script_vpc_links_v2(first_subnet(provisioner), pending_polls=2)
    ids = [f"race-{index}-{uuid.uuid4().hex[:6]}" for index in range(10)]
    entries = [
        {
            "EventBusName": provisioner.aws.outputs["RequestBusName"],
            "Source": "tests",
            "DetailType": "PrivateApiRequested",
            "Detail": json.dumps({"requestId": rid, "apiName": f"api-{rid}", "targetArn": alb.arn}),
        }
        for rid in ids
    ]

    # When
    assert provisioner.aws.client("events").put_events(Entries=entries)["FailedEntryCount"] == 0
    finals = {rid: provisioner.notifications(rid)[-1] for rid in ids}

    # Then exactly one V2 link exists, and all ten APIs point at it
    (link,) = v2_links(provisioner)
    assert {n.status for n in finals.values()} == {"SUCCEEDED"}
    assert {n.body["vpcLinkId"] for n in finals.values()} == {link["VpcLinkId"]}
    apis = provisioner.rest_apis()
    assert len(apis) == 10
    assert {stage_link(provisioner, api["id"]) for api in apis} == {link["VpcLinkId"]}
    creators = [rid for rid in ids if "Created VPC link V2" in " ".join(messages(provisioner, rid))]
    assert len(creators) == 1


# --- FAILED --------------------------------------------------------------------------------------
def test_a_failed_v2_link_rolls_back_with_its_status_message(provisioner: Provisioner):
    # Given V2 links in these subnets that AWS will fail after two polls
    alb = sample_alb(provisioner)
    reason = "Failed to create ENIs: insufficient free IP addresses in subnet"
    fidelity.script_vpc_links_v2(
        first_subnet(provisioner), pending_polls=2, then="FAILED", status_message=reason
    )

    # When
    request_id = put_request(provisioner, apiName="payments", targetArn=alb.arn, ticketId="OPS-9")
    final = final_of(provisioner, request_id)

    # Then the FAILED notification carries AWS's statusMessage and a V2 remedy
    assert final["status"] == "FAILED"
    assert final["error"]["code"] == "VpcLinkFailed"
    assert reason in final["error"]["message"]
    assert "securityGroupIds" in final["error"]["remedy"]
    assert "API_CREATED" in final["statuses"]
    # ... and what it created (the API made in parallel, the link) is rolled back
    assert provisioner.rest_apis() == []
    assert [link for link in v2_links(provisioner) if link["VpcLinkStatus"] != "DELETING"] == []
    assert f"VpcLink {final['vpcLinkId']}" in final["message"]
    assert provisioner.execution()["error"] == "VpcLinkFailed"


# --- relink between versions ---------------------------------------------------------------------
def test_a_relink_from_v1_to_v2_and_back_updates_the_integration_target(provisioner: Provisioner):
    # Given an API on a V1 link to the NLB, and an ALB whose V2 link stays PENDING for 3 polls
    created = succeeded(provisioner, apiName="orders", nlbArn=provisioner.network.nlb_arn)
    v1_link = created["vpcLinkId"]
    alb = sample_alb(provisioner)
    fidelity.script_vpc_links_v2(first_subnet(provisioner), pending_polls=3)

    # When the stage is relinked to the ALB
    to_v2 = relinked(provisioner, targetRequestId=created["requestId"], targetArn=alb.arn)

    # Then the stage uses the V2 link, and the integration names the ALB
    (v2_link,) = v2_links(provisioner)
    assert to_v2["vpcLinkId"] == v2_link["VpcLinkId"]
    assert stage_link(provisioner, created["restApiId"]) == v2_link["VpcLinkId"]
    (integration,) = integrations(provisioner, created["restApiId"]).values()
    assert integration["integrationTarget"] == alb.arn
    # ... and the notification says what changed
    assert "from a V1 link to a V2 link" in to_v2["message"]
    assert f"integrationTarget {alb.arn}" in to_v2["message"]
    assert "redeployed" in to_v2["message"]

    # When it is relinked back to the NLB's V1 link
    back = relinked(
        provisioner, targetRequestId=created["requestId"], nlbArn=provisioner.network.nlb_arn
    )

    # Then the stage uses the V1 link again, and the integration names no target
    assert back["vpcLinkId"] == v1_link
    assert stage_link(provisioner, created["restApiId"]) == v1_link
    (integration,) = integrations(provisioner, created["restApiId"]).values()
    assert "integrationTarget" not in integration
    assert "from a V2 link to a V1 link" in back["message"]
    # ... and, as API Gateway saw it, the stage went V1 -> V2 -> V1, each AVAILABLE then (the
    # conftest checks no stage ever pointed at a link that was not)
    changes = [
        change.vpc_link_id
        for change in fidelity.stage_link_changes()
        if change.rest_api_id == created["restApiId"]
    ]
    assert changes == [v1_link, v2_link["VpcLinkId"], v1_link]
    deployments = provisioner.apigateway.get_deployments(restApiId=created["restApiId"])["items"]
    assert len(deployments) == 3


def relinked(provisioner: Provisioner, **detail: Any) -> dict[str, Any]:
    final = final_of(provisioner, provisioner.put(detail, detail_type="PrivateApiRelinkRequested"))
    assert final["status"] == "SUCCEEDED", final
    return final


# --- teardown ------------------------------------------------------------------------------------
def test_teardown_keeps_a_shared_v2_link_while_used_and_deletes_it_with_the_last_api(
    provisioner: Provisioner,
):
    # Given two APIs on two ALBs sharing one V2 link
    orders = sample_alb(provisioner, "orders")
    billing = sample_alb(provisioner, "billing", security_group_ids=orders.security_group_ids)
    first = succeeded(provisioner, apiName="orders", targetArn=orders.arn)
    second = succeeded(provisioner, apiName="billing", targetArn=billing.arn)
    link_id = first["vpcLinkId"]

    # When the first (which created the link) is torn down
    kept = torn_down(provisioner, first["requestId"])

    # Then the link is kept, still AVAILABLE, for the second
    assert f"still used by {second['requestId']}" in kept["message"]
    (link,) = v2_links(provisioner)
    assert (link["VpcLinkId"], link["VpcLinkStatus"]) == (link_id, "AVAILABLE")
    assert stage_link(provisioner, second["restApiId"]) == link_id

    # When the second is torn down (it did not create the link, but we did, for the first)
    gone = torn_down(provisioner, second["requestId"])

    # Then the link is deleted, and gone (not DELETING) when SUCCEEDED is told
    assert f"VpcLink {link_id} deleted" in gone["message"]
    assert v2_links(provisioner) == []
    assert provisioner.rest_apis() == []


def torn_down(provisioner: Provisioner, request_id: str) -> dict[str, Any]:
    final = final_of(
        provisioner,
        provisioner.put({"targetRequestId": request_id}, detail_type="PrivateApiDeletionRequested"),
    )
    assert final["status"] == "SUCCEEDED", final
    return final


# --- under API Gateway's real rates (issue 11) ---------------------------------------------------
def v2_requests_at_once(provisioner: Provisioner, targets: list[str], **detail: Any) -> list[str]:
    """One request per target (an NLB asked for a V2 link), put on the bus in one call."""
    ids = [f"v2-{index}-{uuid.uuid4().hex[:6]}" for index in range(len(targets))]
    entries = [
        {
            "EventBusName": provisioner.aws.outputs["RequestBusName"],
            "Source": "tests",
            "DetailType": "PrivateApiRequested",
            "Detail": json.dumps(
                {
                    "requestId": rid,
                    "apiName": f"api-{index}",
                    "targetArn": target,
                    "vpcLinkVersion": "V2",
                    **detail,
                }
            ),
        }
        for index, (rid, target) in enumerate(zip(ids, targets, strict=True))
    ]
    assert provisioner.aws.client("events").put_events(Entries=entries)["FailedEntryCount"] == 0
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
