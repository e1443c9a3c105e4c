"""VPC links V2 for REST APIs in the embedded AWS, checked with boto3 over HTTP.

What AWS does, and where it says so, is in :mod:`emulator.fidelity.apigatewayv2`. The clock
stands still in these tests; each steps it to where it needs to be.
"""

from __future__ import annotations

import json
import urllib.error
from typing import Any

import pytest
from botocore.exceptions import ClientError

from emulator import fidelity
from emulator.engine.runtime import EmbeddedAws
from tests.emulator.conftest import LINK_DELETING_SECONDS, LINK_PENDING_SECONDS
from tests.emulator.emulator_helpers import load_balancer

pytestmark = pytest.mark.unit

LINK_VARIABLE = "${stageVariables.vpcLinkV2Id}"


# --- helpers -----------------------------------------------------------------------------------
def _network(aws: EmbeddedAws) -> tuple[str, str]:
    """A subnet and a security group that exist."""
    ec2 = aws.client("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.1.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.1.1.0/24")["Subnet"]["SubnetId"]
    group = ec2.create_security_group(GroupName="link", Description="link", VpcId=vpc)
    return subnet, group["GroupId"]


def _create_link(aws: EmbeddedAws, name: str = "link", **overrides: Any) -> dict[str, Any]:
    subnet, group = _network(aws)
    arguments = {"Name": name, "SubnetIds": [subnet], "SecurityGroupIds": [group]} | overrides
    return dict(aws.client("apigatewayv2").create_vpc_link(**arguments))


def _link(aws: EmbeddedAws, link_id: str) -> dict[str, Any]:
    """One poll: GetVpcLink."""
    return dict(aws.client("apigatewayv2").get_vpc_link(VpcLinkId=link_id))


def _status(aws: EmbeddedAws, link_id: str) -> tuple[str, str]:
    link = _link(aws, link_id)
    return link["VpcLinkStatus"], link["VpcLinkStatusMessage"]


def _available_link(aws: EmbeddedAws, name: str = "link") -> str:
    link_id = str(_create_link(aws, name)["VpcLinkId"])
    aws.clock.advance(LINK_PENDING_SECONDS)
    assert _status(aws, link_id)[0] == "AVAILABLE"
    return link_id


def _gone(aws: EmbeddedAws, link_id: str) -> bool:
    try:
        _link(aws, link_id)
    except ClientError as error:
        return error.response["Error"]["Code"] == "NotFoundException"
    return False


def _rest_api(aws: EmbeddedAws) -> tuple[str, str]:
    apigw = aws.client("apigateway")
    api = apigw.create_rest_api(name="api")
    root = api["rootResourceId"]
    apigw.put_method(
        restApiId=api["id"], resourceId=root, httpMethod="GET", authorizationType="NONE"
    )
    return api["id"], root


def _put_private_integration(
    aws: EmbeddedAws, api_id: str, resource_id: str, connection_id: str, **target: str
) -> dict[str, Any]:
    """``target``: ``integrationTarget=<load balancer ARN>``, or nothing."""
    return dict(
        aws.client("apigateway").put_integration(
            restApiId=api_id,
            resourceId=resource_id,
            httpMethod="GET",
            type="HTTP_PROXY",
            integrationHttpMethod="GET",
            uri="https://orders.example.com",
            connectionType="VPC_LINK",
            connectionId=connection_id,
            **target,
        )
    )


def _refusal(caught: pytest.ExceptionInfo[ClientError]) -> tuple[str, str]:
    error = caught.value.response["Error"]
    return error["Code"], error["Message"]


# --- lifecycle ---------------------------------------------------------------------------------
def test_a_new_link_is_pending_for_the_v1_period_then_available(aws: EmbeddedAws) -> None:
    created = _create_link(aws, Tags={"requestId": "r-1"})
    link_id = created["VpcLinkId"]
    assert (created["VpcLinkStatus"], created["VpcLinkVersion"]) == ("PENDING", "V2")
    assert created["VpcLinkStatusMessage"] == "VPC link is provisioning ENIs"

    aws.clock.advance(LINK_PENDING_SECONDS - 1)
    assert _status(aws, link_id)[0] == "PENDING"
    aws.clock.advance(1)
    assert _status(aws, link_id) == ("AVAILABLE", "VPC link is ready to route traffic")
    assert _link(aws, link_id)["Tags"] == {"requestId": "r-1"}


def test_the_v2_period_is_set_over_http_and_listing_settles_links_too(aws: EmbeddedAws) -> None:
    answer = aws.control("vpclinks", v2PendingSeconds=600)
    assert (answer["v2PendingSeconds"], answer["pendingSeconds"]) == (600, LINK_PENDING_SECONDS)
    link_id = _create_link(aws)["VpcLinkId"]

    aws.control("clock", advance=599)
    assert _status(aws, link_id)[0] == "PENDING"
    aws.control("clock", advance=1)
    listed = aws.client("apigatewayv2").get_vpc_links()["Items"]
    assert [(i["VpcLinkId"], i["VpcLinkStatus"]) for i in listed] == [(link_id, "AVAILABLE")]


@pytest.mark.parametrize(
    ("missing", "message"),
    [
        ({"SubnetIds": ["subnet-0123456789abcdef0"]}, "The subnet ID 'subnet-0123456789abcdef0'"),
        (
            {"SecurityGroupIds": ["sg-0123456789abcdef0"]},
            "The security group 'sg-0123456789abcdef0'",
        ),
    ],
)
def test_a_link_to_a_subnet_or_group_that_does_not_exist_fails_with_a_message(
    aws: EmbeddedAws, missing: dict[str, list[str]], message: str
) -> None:
    link_id = _create_link(aws, **missing)["VpcLinkId"]
    assert _status(aws, link_id)[0] == "PENDING"  # created: AWS fails it later, not at once

    aws.clock.advance(LINK_PENDING_SECONDS)
    assert _status(aws, link_id) == ("FAILED", f"Failed to create ENIs: {message} does not exist")


def test_a_script_pins_the_link_to_polls_by_name_or_subnet(aws: EmbeddedAws) -> None:
    subnet, group = _network(aws)
    aws.control(
        "vpclinks",
        v2Script={
            "named": {"pendingPolls": 2, "deletingPolls": 1},
            subnet: {"pendingPolls": 1, "then": "FAILED", "statusMessage": "Internal failure"},
        },
    )
    v2 = aws.client("apigatewayv2")
    named = v2.create_vpc_link(Name="named", SubnetIds=[subnet], SecurityGroupIds=[group])
    by_subnet = v2.create_vpc_link(Name="other", SubnetIds=[subnet], SecurityGroupIds=[group])
    aws.clock.advance(3600)  # time does not matter to a scripted link

    assert [_status(aws, named["VpcLinkId"])[0] for _ in range(3)] == [
        "PENDING",
        "PENDING",
        "AVAILABLE",
    ]
    assert _status(aws, by_subnet["VpcLinkId"])[0] == "PENDING"
    assert _status(aws, by_subnet["VpcLinkId"]) == ("FAILED", "Internal failure")

    v2.delete_vpc_link(VpcLinkId=named["VpcLinkId"])
    assert _status(aws, named["VpcLinkId"])[0] == "DELETING"
    assert _gone(aws, named["VpcLinkId"])


def test_a_bad_v2_control_is_refused_and_changes_nothing(aws: EmbeddedAws) -> None:
    with pytest.raises(urllib.error.HTTPError) as refused:
        aws.control("vpclinks", v2PendingSeconds=5, v2Script={"link": {"then": "GONE"}})
    assert refused.value.code == 400
    assert "AVAILABLE or FAILED" in json.loads(refused.value.read())["message"]
    assert aws.control("vpclinks")["v2PendingSeconds"] == LINK_PENDING_SECONDS


def test_a_deleted_link_is_deleting_for_the_period_then_gone(aws: EmbeddedAws) -> None:
    link_id = _available_link(aws)

    aws.client("apigatewayv2").delete_vpc_link(VpcLinkId=link_id)
    assert _status(aws, link_id) == ("DELETING", "VPC link is deleting ENIs")
    aws.clock.advance(LINK_DELETING_SECONDS - 1)
    assert _status(aws, link_id)[0] == "DELETING"
    aws.clock.advance(1)
    assert _gone(aws, link_id)


def test_a_link_goes_inactive_on_demand_and_comes_back_through_pending(aws: EmbeddedAws) -> None:
    link_id = _available_link(aws)

    aws.control("vpclinks", v2Inactive=[link_id])
    status, message = _status(aws, link_id)
    assert status == "INACTIVE"
    assert "60 days" in message
    aws.clock.advance(10 * LINK_PENDING_SECONDS)
    assert _status(aws, link_id)[0] == "INACTIVE"  # it stays so until traffic resumes

    aws.control("vpclinks", v2Reactivate=link_id)
    assert _status(aws, link_id)[0] == "PENDING"
    aws.clock.advance(LINK_PENDING_SECONDS)
    assert _status(aws, link_id)[0] == "AVAILABLE"


def test_only_an_available_link_can_be_made_inactive(aws: EmbeddedAws) -> None:
    link_id = _create_link(aws)["VpcLinkId"]

    with pytest.raises(urllib.error.HTTPError) as refused:
        aws.control("vpclinks", v2Inactive=[link_id])
    assert refused.value.code == 400
    assert "only AVAILABLE links go INACTIVE" in json.loads(refused.value.read())["message"]


# --- REST API integrations ---------------------------------------------------------------------
def test_integration_target_is_kept_and_returned(aws: EmbeddedAws) -> None:
    alb = load_balancer(aws, "alb", "application")
    link_id = _create_link(aws)["VpcLinkId"]  # PENDING: AWS lets the API be built meanwhile
    api_id, root = _rest_api(aws)

    put = _put_private_integration(aws, api_id, root, link_id, integrationTarget=alb)
    got = aws.client("apigateway").get_integration(
        restApiId=api_id, resourceId=root, httpMethod="GET"
    )
    for integration in (put, got):
        assert integration["connectionType"] == "VPC_LINK"
        assert integration["connectionId"] == link_id
        assert integration["integrationTarget"] == alb


def test_an_integration_on_a_v2_link_without_target_is_refused(aws: EmbeddedAws) -> None:
    link_id = _create_link(aws)["VpcLinkId"]
    api_id, root = _rest_api(aws)

    with pytest.raises(ClientError) as caught:
        _put_private_integration(aws, api_id, root, link_id)
    assert _refusal(caught) == (
        "BadRequestException",
        f"IntegrationTarget is required for VpcLinkV2 {link_id}.",
    )
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


def test_a_v1_link_still_needs_no_integration_target(aws: EmbeddedAws) -> None:
    nlb = load_balancer(aws, "nlb")
    v1_id = aws.client("apigateway").create_vpc_link(name="v1", targetArns=[nlb])["id"]
    api_id, root = _rest_api(aws)

    integration = _put_private_integration(aws, api_id, root, v1_id)
    assert integration["connectionId"] == v1_id
    assert "integrationTarget" not in integration


def test_a_stage_variable_naming_a_v2_link_is_checked_when_it_gets_its_value(
    aws: EmbeddedAws,
) -> None:
    apigw = aws.client("apigateway")
    link_id = _create_link(aws)["VpcLinkId"]
    api_id, root = _rest_api(aws)
    _put_private_integration(aws, api_id, root, LINK_VARIABLE)  # AWS cannot tell yet

    with pytest.raises(ClientError) as deploying:
        apigw.create_deployment(
            restApiId=api_id, stageName="prod", variables={"vpcLinkV2Id": link_id}
        )
    assert _refusal(deploying)[1] == fidelity.integration_target_required(link_id)
    assert apigw.get_stages(restApiId=api_id)["item"] == []

    apigw.create_deployment(restApiId=api_id, stageName="prod", variables={"vpcLinkV2Id": "none"})
    with pytest.raises(ClientError) as updating:
        apigw.update_stage(
            restApiId=api_id,
            stageName="prod",
            patchOperations=[{"op": "replace", "path": "/variables/vpcLinkV2Id", "value": link_id}],
        )
    assert _refusal(updating)[1] == fidelity.integration_target_required(link_id)
    assert apigw.get_stage(restApiId=api_id, stageName="prod")["variables"] == {
        "vpcLinkV2Id": "none"
    }


def test_a_stage_variable_may_name_a_v2_link_when_the_integration_has_a_target(
    aws: EmbeddedAws,
) -> None:
    apigw = aws.client("apigateway")
    alb = load_balancer(aws, "alb", "application")
    link_id = _create_link(aws)["VpcLinkId"]
    api_id, root = _rest_api(aws)
    _put_private_integration(aws, api_id, root, LINK_VARIABLE, integrationTarget=alb)

    apigw.create_deployment(restApiId=api_id, stageName="prod", variables={"vpcLinkV2Id": link_id})
    assert apigw.get_stage(restApiId=api_id, stageName="prod")["variables"] == {
        "vpcLinkV2Id": link_id
    }


def test_an_alb_is_reached_through_a_v2_link_while_a_v1_link_to_it_fails(
    aws: EmbeddedAws,
) -> None:
    alb = load_balancer(aws, "alb", "application")
    nlb = load_balancer(aws, "nlb")
    assert ":loadbalancer/app/alb/" in alb
    assert ":loadbalancer/net/nlb/" in nlb
    apigw = aws.client("apigateway")

    v1_id = apigw.create_vpc_link(name="v1", targetArns=[alb])["id"]  # accepted, as on AWS
    v2_id = _create_link(aws)["VpcLinkId"]
    aws.clock.advance(LINK_PENDING_SECONDS)

    v1 = apigw.get_vpc_link(vpcLinkId=v1_id)
    assert (v1["status"], v1["statusMessage"]) == ("FAILED", fidelity.NLB_ARN_MALFORMED)
    assert _status(aws, v2_id)[0] == "AVAILABLE"


# --- links in use ------------------------------------------------------------------------------
def test_a_link_an_integration_names_cannot_be_deleted(aws: EmbeddedAws) -> None:
    alb = load_balancer(aws, "alb", "application")
    link_id = _available_link(aws)
    api_id, root = _rest_api(aws)
    _put_private_integration(aws, api_id, root, link_id, integrationTarget=alb)
    aws.client("apigateway").create_deployment(restApiId=api_id, stageName="prod")

    with pytest.raises(ClientError) as caught:
        aws.client("apigatewayv2").delete_vpc_link(VpcLinkId=link_id)
    assert _refusal(caught) == (
        "BadRequestException",
        f"Cannot delete vpc link. Vpc link '{link_id}', is referenced in "
        f"[{api_id}:GET:{root}:prod] in format of [RESTApiId:Method:Resource:Stage].",
    )
    assert _status(aws, link_id)[0] == "AVAILABLE"


def test_a_link_a_stage_variable_names_cannot_be_deleted_until_it_names_another(
    aws: EmbeddedAws,
) -> None:
    apigw, v2 = aws.client("apigateway"), aws.client("apigatewayv2")
    alb = load_balancer(aws, "alb", "application")
    link_id, other_id = _available_link(aws, "link"), _available_link(aws, "other")
    api_id, root = _rest_api(aws)
    _put_private_integration(aws, api_id, root, LINK_VARIABLE, integrationTarget=alb)
    apigw.create_deployment(restApiId=api_id, stageName="prod", variables={"vpcLinkV2Id": link_id})

    with pytest.raises(ClientError) as caught:
        v2.delete_vpc_link(VpcLinkId=link_id)
    assert f"[{api_id}:GET:{root}:prod]" in _refusal(caught)[1]

    apigw.update_stage(
        restApiId=api_id,
        stageName="prod",
        patchOperations=[{"op": "replace", "path": "/variables/vpcLinkV2Id", "value": other_id}],
    )
    v2.delete_vpc_link(VpcLinkId=link_id)
    assert _status(aws, link_id)[0] == "DELETING"


def test_the_stage_link_record_reports_v2_links_too(aws: EmbeddedAws) -> None:
    apigw = aws.client("apigateway")
    alb = load_balancer(aws, "alb", "application")
    link_id = _create_link(aws)["VpcLinkId"]
    api_id, root = _rest_api(aws)
    _put_private_integration(aws, api_id, root, LINK_VARIABLE, integrationTarget=alb)

    apigw.create_deployment(restApiId=api_id, stageName="prod", variables={"vpcLinkV2Id": link_id})
    aws.clock.advance(LINK_PENDING_SECONDS)
    apigw.create_stage(
        restApiId=api_id,
        stageName="beta",
        deploymentId=apigw.get_deployments(restApiId=api_id)["items"][0]["id"],
        variables={"vpcLinkV2Id": link_id},
    )

    changes = aws.control("stage-links")["changes"]
    assert [(c["stage_name"], c["vpc_link_id"], c["link_status"]) for c in changes] == [
        ("prod", link_id, "PENDING"),
        ("beta", link_id, "AVAILABLE"),
    ]
