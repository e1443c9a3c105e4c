"""Secure by default (issue 10), end to end through the bus with the stack's default parameters:
an API is AWS_IAM unless asked otherwise and the requester is told how to call it; NONE is
refused; a PRIVATE API is invoked only through its VPC endpoints; an NLB whose owner did not
tag it private-api:expose=true is refused with ExposureNotAllowed, and nothing is created."""

from __future__ import annotations

import json

import pytest

from privateapi.network import create_sample_network
from tests.workflow.conftest import Provisioner

pytestmark = pytest.mark.workflow

EXPOSE = "private-api:expose=true"


def root_method(provisioner: Provisioner, rest_api_id: str) -> dict:
    resources = provisioner.apigateway.get_resources(restApiId=rest_api_id)["items"]
    root = next(r for r in resources if r["path"] == "/")
    return provisioner.apigateway.get_method(
        restApiId=rest_api_id, resourceId=root["id"], httpMethod="GET"
    )


def test_an_api_is_aws_iam_by_default_and_the_requester_is_told_to_sign(
    provisioner: Provisioner,
):
    # When a request says nothing about authorization
    request_id = provisioner.request(apiName="orders")
    final = provisioner.notifications(request_id)[-1].body

    # Then the API's method needs SigV4-signed requests, and the notification says so
    assert final["status"] == "SUCCEEDED"
    assert root_method(provisioner, final["restApiId"])["authorizationType"] == "AWS_IAM"
    assert final["authorization"] == "AWS_IAM"
    assert "Signature Version 4" in final["howToCall"]
    assert "execute-api" in final["howToCall"]
    assert final["howToCall"] in final["message"]


def test_an_unauthenticated_api_is_refused_naming_the_field_and_the_parameter(
    provisioner: Provisioner,
):
    request_id = provisioner.request(apiName="open", authorization="NONE")
    final = provisioner.notifications(request_id)[-1].body

    assert final["status"] == "REJECTED"
    [problem] = final["error"]["fields"]
    assert problem["field"] == "detail.authorization"
    assert "AllowUnauthenticatedApis" in problem["rule"]
    assert provisioner.rest_apis() == [] and provisioner.vpc_links() == []


def test_an_untagged_nlb_is_refused_with_exposure_not_allowed(provisioner: Provisioner):
    # Given an NLB whose owner has not tagged it private-api:expose=true
    private = create_sample_network(
        provisioner.aws.client("ec2"), provisioner.aws.client("elbv2"), "payroll", expose=False
    )

    # When it is asked for
    request_id = provisioner.request(apiName="payroll", nlbArn=private.nlb_arn)
    final = provisioner.notifications(request_id)[-1].body

    # Then the request is REJECTED, the field and the tag named, and nothing is created
    assert final["status"] == "REJECTED"
    assert final["error"]["code"] == "ExposureNotAllowed"
    [problem] = final["error"]["fields"]
    assert problem["field"] == "detail.nlbArn"
    assert EXPOSE in problem["rule"]
    assert "private-api:expose" in final["error"]["remedy"]
    assert provisioner.rest_apis() == [] and provisioner.vpc_links() == []
    assert provisioner.ledger_entry(request_id)["status"] == "REJECTED"  # type: ignore[index]
    (execution,) = provisioner.finished_executions("ProvisionStateMachineArn", count=1)
    assert execution["error"] == "ExposureNotAllowed"


def test_a_private_api_is_invoked_only_through_its_vpc_endpoints(provisioner: Provisioner):
    # Given an interface endpoint of execute-api in the service's VPC
    ec2 = provisioner.aws.client("ec2")
    endpoint = ec2.create_vpc_endpoint(
        VpcId=provisioner.network.vpc_id,
        ServiceName="com.amazonaws.us-east-1.execute-api",
        VpcEndpointType="Interface",
        SubnetIds=provisioner.network.subnet_ids,
    )["VpcEndpoint"]["VpcEndpointId"]

    # When a PRIVATE API is asked for through it
    request_id = provisioner.request(
        apiName="internal", endpointType="PRIVATE", vpcEndpointIds=[endpoint]
    )
    final = provisioner.notifications(request_id)[-1].body

    # Then the API is associated with the endpoint and invocable only through it
    assert final["status"] == "SUCCEEDED"
    api = provisioner.apigateway.get_rest_api(restApiId=final["restApiId"])
    assert api["endpointConfiguration"] == {"types": ["PRIVATE"], "vpcEndpointIds": [endpoint]}
    allow, deny = json.loads(api["policy"])["Statement"]
    assert (allow["Effect"], deny["Effect"]) == ("Allow", "Deny")
    assert allow["Condition"] == {"StringEquals": {"aws:SourceVpce": [endpoint]}}
    assert deny["Condition"] == {"StringNotEquals": {"aws:SourceVpce": [endpoint]}}
    assert (
        f"https://{api['id']}-{endpoint}.execute-api.us-east-1.amazonaws.com/prod"
        in (final["howToCall"])
    )


def test_a_private_api_without_vpc_endpoints_is_refused(provisioner: Provisioner):
    request_id = provisioner.request(apiName="internal", endpointType="PRIVATE")
    final = provisioner.notifications(request_id)[-1].body

    assert final["status"] == "REJECTED"
    assert [f["field"] for f in final["error"]["fields"]] == ["detail.vpcEndpointIds"]
    assert provisioner.rest_apis() == []
