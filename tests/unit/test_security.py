"""Secure by default (issue 10): who may call a new API, through which endpoints, and the load
balancer owner's consent to its exposure. Each rule is checked at the edge, with every other
field error, and refuses the request before anything is created."""

from __future__ import annotations

from typing import Any

import boto3
import msgspec
import pytest

from provisioner.contract.errors import ExposureNotAllowed, InvalidRequest
from provisioner.domain import validation
from provisioner.domain.validation import validate_request

from .support import ACCOUNT, REGION, eventbridge_event

pytestmark = pytest.mark.unit

EXPOSE = "private-api:expose=true"


def validate(settings: Any, **detail: Any) -> Any:
    detail.setdefault("apiName", "orders")
    event = eventbridge_event(detail)
    return validate_request(event, settings=settings)


def refused(settings: Any, error: type[InvalidRequest] = InvalidRequest, **detail: Any):
    """``{field: [rule, ...]}`` of the error the request must raise (exactly ``error``)."""
    with pytest.raises(InvalidRequest) as raised:
        validate(settings, **detail)
    assert type(raised.value) is error, raised.value
    by_field: dict[str, list[str]] = {}
    for problem in raised.value.fields:
        by_field.setdefault(problem.field, []).append(problem.rule)
    return by_field


def allowing(settings: Any, **changes: Any) -> Any:
    return msgspec.structs.replace(settings, **changes)


# --- authorization ---------------------------------------------------------------------------
def test_a_request_that_says_nothing_gets_aws_iam(network, settings):
    request = validate(settings, nlbArn=network.nlb_arn)

    assert request.authorization.value == "AWS_IAM"


def test_none_is_refused_naming_the_field_and_the_stack_parameter(network, settings):
    fields = refused(settings, nlbArn=network.nlb_arn, authorization="NONE")

    [rule] = fields.pop("detail.authorization")
    assert "AllowUnauthenticatedApis" in rule
    assert fields == {}


def test_none_is_accepted_where_the_stack_allows_it(network, settings):
    permissive = allowing(settings, allow_unauthenticated_apis=True)

    request = validate(permissive, nlbArn=network.nlb_arn, authorization="NONE")

    assert request.authorization.value == "NONE"


@pytest.mark.parametrize("value", ["IAM", "aws_iam", "API_KEY", 3])
def test_an_unknown_authorization_is_refused(network, settings, value):
    assert set(refused(settings, nlbArn=network.nlb_arn, authorization=value)) == {
        "detail.authorization"
    }


def test_cognito_needs_user_pools_of_this_account_that_exist(network, settings, user_pool_arn):
    missing = user_pool_arn.rsplit("_", 1)[0] + "_Missing0"
    other_account = user_pool_arn.replace(f":{ACCOUNT}:", ":210987654321:")

    assert set(refused(settings, nlbArn=network.nlb_arn, authorization="COGNITO_USER_POOLS")) == {
        "detail.cognitoUserPoolArns"
    }
    for arns, says in (([missing], "no Cognito user pool"), ([other_account], "this account")):
        fields = refused(
            settings,
            nlbArn=network.nlb_arn,
            authorization="COGNITO_USER_POOLS",
            cognitoUserPoolArns=arns,
        )
        assert says in fields["detail.cognitoUserPoolArns"][0]
    request = validate(
        settings,
        nlbArn=network.nlb_arn,
        authorization="COGNITO_USER_POOLS",
        cognitoUserPoolArns=[user_pool_arn],
    )
    assert request.cognito_user_pool_arns == [user_pool_arn]


def test_custom_needs_a_function_whose_owner_lets_api_gateway_invoke_it(
    network, settings, authorizer_functions
):
    assert set(refused(settings, nlbArn=network.nlb_arn, authorization="CUSTOM")) == {
        "detail.authorizerFunctionArn"
    }
    fields = refused(
        settings,
        nlbArn=network.nlb_arn,
        authorization="CUSTOM",
        authorizerFunctionArn=authorizer_functions.unpermitted,
    )
    assert "add-permission" in fields["detail.authorizerFunctionArn"][0]
    gone = authorizer_functions.permitted.replace("orders-authorizer", "gone-authorizer")
    fields = refused(
        settings, nlbArn=network.nlb_arn, authorization="CUSTOM", authorizerFunctionArn=gone
    )
    assert "no Lambda function" in fields["detail.authorizerFunctionArn"][0]

    request = validate(
        settings,
        nlbArn=network.nlb_arn,
        authorization="CUSTOM",
        authorizerFunctionArn=authorizer_functions.permitted,
    )
    assert request.authorizer_function_arn == authorizer_functions.permitted


def test_an_authorizers_fields_go_only_with_its_authorization(
    network, settings, user_pool_arn, authorizer_functions
):
    fields = refused(
        settings,
        nlbArn=network.nlb_arn,
        cognitoUserPoolArns=[user_pool_arn],
        authorizerFunctionArn=authorizer_functions.permitted,
    )

    assert fields == {
        "detail.cognitoUserPoolArns": ["only with authorization COGNITO_USER_POOLS"],
        "detail.authorizerFunctionArn": ["only with authorization CUSTOM"],
    }


def test_an_existing_authorizer_id_is_not_part_of_the_contract(network, settings):
    # an authorizer belongs to one REST API: the new API's cannot exist yet
    fields = refused(settings, nlbArn=network.nlb_arn, authorizerId="abc123")

    assert set(fields) == {"detail.authorizerId"}


# --- PRIVATE APIs ------------------------------------------------------------------------------
def test_a_private_api_without_vpc_endpoints_is_refused(network, settings):
    fields = refused(settings, nlbArn=network.nlb_arn, endpointType="PRIVATE")

    [rule] = fields["detail.vpcEndpointIds"]
    assert rule.startswith("required for a PRIVATE API")


def test_vpc_endpoints_are_only_for_a_private_api(network, settings, execute_api_endpoint):
    for endpoint_type in ("REGIONAL", "EDGE", None):
        detail = {"nlbArn": network.nlb_arn, "vpcEndpointIds": [execute_api_endpoint]}
        if endpoint_type:
            detail["endpointType"] = endpoint_type

        assert set(refused(settings, **detail)) == {"detail.vpcEndpointIds"}


def test_a_vpc_endpoint_that_is_not_an_execute_api_interface_endpoint_is_refused(
    network, settings, gateway_endpoint, execute_api_endpoint
):
    fields = refused(
        settings,
        nlbArn=network.nlb_arn,
        endpointType="PRIVATE",
        vpcEndpointIds=[execute_api_endpoint, gateway_endpoint, "vpce-0123456789abcdef0"],
    )

    wrong_type, missing = fields["detail.vpcEndpointIds"]
    assert f"{gateway_endpoint} is a Gateway endpoint of com.amazonaws.{REGION}.s3" in wrong_type
    assert f"com.amazonaws.{REGION}.execute-api" in wrong_type
    assert missing == "no VPC endpoint vpce-0123456789abcdef0 in this account and region"


@pytest.mark.parametrize("ids", [[], "vpce-0123456789abcdef0", ["vpce-XYZ"], ["vpce-1"] * 11])
def test_malformed_vpc_endpoint_ids_are_refused(network, settings, ids):
    fields = refused(settings, nlbArn=network.nlb_arn, endpointType="PRIVATE", vpcEndpointIds=ids)

    assert {field.split(".")[1] for field in fields} == {"vpcEndpointIds"}


def test_a_private_api_with_its_execute_api_endpoint_is_accepted(
    network, settings, execute_api_endpoint
):
    request = validate(
        settings,
        nlbArn=network.nlb_arn,
        endpointType="PRIVATE",
        vpcEndpointIds=[execute_api_endpoint],
    )

    assert request.vpc_endpoint_ids == [execute_api_endpoint]


# --- the load balancer owner's consent -------------------------------------------------------
def test_an_untagged_nlb_is_refused_with_exposure_not_allowed(settings, untagged_nlb_arn):
    fields = refused(settings, ExposureNotAllowed, nlbArn=untagged_nlb_arn)

    [rule] = fields.pop("detail.nlbArn")
    assert EXPOSE in rule
    assert fields == {}


def test_an_untagged_nlb_and_other_faults_are_listed_together(settings, untagged_nlb_arn):
    fields = refused(settings, nlbArn=untagged_nlb_arn, stageName="no spaces")

    assert set(fields) == {"detail.nlbArn", "detail.stageName"}
    assert EXPOSE in fields["detail.nlbArn"][0]


def test_an_untagged_alb_named_by_target_arn_is_refused_too(settings, network):
    # An application load balancer is exposed through a VPC link V2 just the same: its owner
    # consents with the same tag
    elbv2 = boto3.client("elbv2", region_name=REGION)
    untagged_alb = elbv2.create_load_balancer(
        Name="private-alb", Subnets=network.subnet_ids, Scheme="internal", Type="application"
    )["LoadBalancers"][0]["LoadBalancerArn"]

    fields = refused(settings, ExposureNotAllowed, targetArn=untagged_alb)

    [rule] = fields.pop("detail.targetArn")
    assert EXPOSE in rule
    assert fields == {}


def test_a_link_to_an_untagged_nlb_is_refused_naming_the_link(settings, untagged_nlb_arn, apigw):
    link = apigw.create_vpc_link(name="private", targetArns=[untagged_nlb_arn])

    fields = refused(settings, ExposureNotAllowed, vpcLinkId=link["id"])

    assert set(fields) == {"detail.vpcLinkId"}
    assert EXPOSE in fields["detail.vpcLinkId"][0]


def test_the_stack_parameter_turns_the_consent_check_off(settings, untagged_nlb_arn):
    trusting = allowing(settings, require_exposure_tag=False)

    request = validate(trusting, nlbArn=untagged_nlb_arn)

    assert request.nlb_arn == untagged_nlb_arn


def test_relink_to_an_untagged_nlb_is_refused_too(settings, provision, untagged_nlb_arn):
    provisioned = provision()
    detail = {"targetRequestId": provisioned.request.request_id, "nlbArn": untagged_nlb_arn}
    event = eventbridge_event(detail, detail_type="PrivateApiRelinkRequested")

    with pytest.raises(ExposureNotAllowed) as raised:
        validation.validate_relink(event, settings=settings)

    [problem] = raised.value.fields
    assert problem.field == "detail.nlbArn"
    assert EXPOSE in problem.rule
