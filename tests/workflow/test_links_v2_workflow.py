"""Specification of VPC links V2 through the bus and the real workflows (issue 13).

Given an internal ALB (or an NLB asked for a V2 link), the provisioning creates or reuses a V2
link in the load balancer's subnets with its security groups, the integrations name the load
balancer (``integrationTarget``), and the stage is created with the link once it is AVAILABLE.
V2 links' lives are pinned in polls with ``fidelity.script_vpc_links_v2`` (keyed by a subnet);
the conftest's check that no stage ever pointed at a link that was not AVAILABLE covers V2
links too.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from emulator import fidelity
from privateapi.network import SampleAlb, create_sample_alb
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
    details = [{"requestId": rid, "apiName": f"api-{rid}", "targetArn": alb.arn} for rid in ids]

    # When (one PutEvents; it raises if the bus refuses any)
    provisioner.put_all(details)
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
