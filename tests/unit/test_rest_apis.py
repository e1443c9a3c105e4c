"""create_api, deploy_api, point_stage_at_link: the REST API half of the tutorial."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from provisioner.contract.errors import ResourceNotFound, StageNotSafe
from provisioner.contract.payloads import VpcLinkState
from provisioner.contract.payloads.provisioning import ApiState
from provisioner.contract.requests import (
    MANAGED_BY_TAG,
    REQUEST_ID_TAG,
    Authorization,
    EndpointType,
)
from provisioner.domain.pacing import Turns
from provisioner.domain.rest_apis import create_api, deploy_api, how_to_call, point_stage_at_link

from .support import REGION, STACK_NAME

pytestmark = pytest.mark.unit

STAGE_VARIABLE_REFERENCE = "${stageVariables.vpcLinkId}"


def link_state(vpc_link_id: str, status: str = "AVAILABLE") -> VpcLinkState:
    return VpcLinkState(
        vpc_link_id=vpc_link_id,
        status=status,
        created_by_this_request=True,
        deadline=(datetime.now(UTC) + timedelta(minutes=10)).isoformat(),
        next_poll_seconds=15,
    )


@pytest.fixture
def available_link(network, apigw, link_status) -> VpcLinkState:
    link = apigw.create_vpc_link(name="orders", targetArns=[network.nlb_arn])
    link_status(link["id"], "AVAILABLE", "Your vpc link is ready for use")
    return link_state(link["id"])


def resource_by_path(apigw, rest_api_id: str) -> dict[str, dict]:
    return {r["path"]: r for r in apigw.get_resources(restApiId=rest_api_id)["items"]}


# --- create_api ---------------------------------------------------------------------------------
def test_the_api_gets_the_tutorials_private_integration_on_its_root(
    network, apigw, make_request, settings
):
    # Given a validated request
    request = make_request()

    # When the API is created
    api = create_api(request, Turns(settings, request.request_id))

    # Then it is one tagged REGIONAL REST API ...
    [described] = apigw.get_rest_apis()["items"]
    assert described["id"] == api.rest_api_id
    assert described["name"] == "orders"
    assert described["endpointConfiguration"]["types"] == ["REGIONAL"]
    assert described["tags"] == {
        "team": "orders",
        REQUEST_ID_TAG: request.request_id,
        MANAGED_BY_TAG: STACK_NAME,
    }
    assert "policy" not in described or not described["policy"]
    assert api.created_by_this_request is True
    assert resource_by_path(apigw, api.rest_api_id)["/"]["id"] == api.root_resource_id

    # ... whose root GET needs signed requests (secure by default) and proxies to the NLB
    # over the stage's link
    method = apigw.get_method(
        restApiId=api.rest_api_id, resourceId=api.root_resource_id, httpMethod="GET"
    )
    assert method["authorizationType"] == "AWS_IAM"
    integration = apigw.get_integration(
        restApiId=api.rest_api_id, resourceId=api.root_resource_id, httpMethod="GET"
    )
    assert integration["type"] == "HTTP_PROXY"
    assert integration["connectionType"] == "VPC_LINK"
    assert integration["uri"] == f"http://{network.nlb_dns_name}"
    assert integration["httpMethod"] == "GET"  # the integration's method (moto's name for it)
    # moto 5.2 forgets connectionId on put_integration; emulator.fidelity (installed for every
    # unit test) keeps it, as AWS does.
    assert integration["connectionId"] == STAGE_VARIABLE_REFERENCE


def test_the_requested_method_and_endpoint_url_are_used(network, apigw, make_request, settings):
    request = make_request(http_method="POST", endpoint_url="https://orders.internal:8443/v1")

    api = create_api(request, Turns(settings, request.request_id))

    methods = apigw.get_resource(restApiId=api.rest_api_id, resourceId=api.root_resource_id)
    assert set(methods.get("resourceMethods", {})) == {"POST"}
    integration = apigw.get_integration(
        restApiId=api.rest_api_id, resourceId=api.root_resource_id, httpMethod="POST"
    )
    assert (integration["type"], integration["connectionType"], integration["uri"]) == (
        "HTTP_PROXY",
        "VPC_LINK",
        "https://orders.internal:8443/v1",
    )


def test_proxy_all_paths_adds_a_greedy_any_resource(network, apigw, make_request, settings):
    # Given a request for every path
    request = make_request(proxy_all_paths=True)

    # When the API is created
    api = create_api(request, Turns(settings, request.request_id))

    # Then /{proxy+} ANY passes the path on to the NLB through the link
    resources = resource_by_path(apigw, api.rest_api_id)
    assert set(resources) == {"/", "/{proxy+}"}
    proxy = resources["/{proxy+}"]
    method = apigw.get_method(restApiId=api.rest_api_id, resourceId=proxy["id"], httpMethod="ANY")
    assert method["requestParameters"] == {"method.request.path.proxy": True}
    integration = apigw.get_integration(
        restApiId=api.rest_api_id, resourceId=proxy["id"], httpMethod="ANY"
    )
    assert integration["type"] == "HTTP_PROXY"
    assert integration["connectionType"] == "VPC_LINK"
    assert integration["uri"] == f"http://{network.nlb_dns_name}/{{proxy}}"
    assert integration["requestParameters"] == {
        "integration.request.path.proxy": "method.request.path.proxy"
    }


def test_without_proxy_all_paths_only_the_root_exists(network, apigw, make_request, settings):
    request = make_request()
    api = create_api(request, Turns(settings, request.request_id))
    assert set(resource_by_path(apigw, api.rest_api_id)) == {"/"}


def test_creating_the_api_again_for_the_same_request_creates_nothing_new(
    network, apigw, make_request, settings
):
    # Given a request whose API was created, then the task was retried
    request = make_request(proxy_all_paths=True)
    first = create_api(request, Turns(settings, request.request_id))

    # When it runs again
    second = create_api(request, Turns(settings, request.request_id))

    # Then the same API is returned, with one proxy resource
    assert second == first
    assert [api["id"] for api in apigw.get_rest_apis()["items"]] == [first.rest_api_id]
    assert set(resource_by_path(apigw, first.rest_api_id)) == {"/", "/{proxy+}"}


def test_another_request_gets_its_own_api(network, apigw, make_request, settings):
    first_request, second_request = make_request(), make_request()
    first = create_api(first_request, Turns(settings, first_request.request_id))
    second = create_api(second_request, Turns(settings, second_request.request_id))
    assert first.rest_api_id != second.rest_api_id
    assert len(apigw.get_rest_apis()["items"]) == 2


def test_a_private_api_may_be_invoked_only_through_its_vpc_endpoints(
    network, apigw, make_request, settings, execute_api_endpoint
):
    # Given a PRIVATE API request naming an execute-api interface endpoint
    request = make_request(
        endpoint_type=EndpointType.PRIVATE, vpc_endpoint_ids=[execute_api_endpoint]
    )

    # When the API is created
    api = create_api(request, Turns(settings, request.request_id))

    # Then the endpoint is on its endpoint configuration ...
    described = apigw.get_rest_api(restApiId=api.rest_api_id)
    assert described["endpointConfiguration"]["types"] == ["PRIVATE"]
    assert described["endpointConfiguration"]["vpcEndpointIds"] == [execute_api_endpoint]
    # ... and its resource policy allows this account's principals through that endpoint only,
    # and denies everyone anywhere else: nothing allows "*" without aws:SourceVpce
    allow, deny = json.loads(described["policy"])["Statement"]
    invoke = {"Action": "execute-api:Invoke", "Resource": "execute-api:/*"}
    assert allow == {
        "Sid": "InvokeOnlyThroughTheseVpcEndpoints",
        "Effect": "Allow",
        "Principal": {"AWS": "arn:aws:iam::123456789012:root"},
        **invoke,
        "Condition": {"StringEquals": {"aws:SourceVpce": [execute_api_endpoint]}},
    }
    assert deny == {
        "Sid": "DenyInvokeFromAnywhereElse",
        "Effect": "Deny",
        "Principal": "*",
        **invoke,
        "Condition": {"StringNotEquals": {"aws:SourceVpce": [execute_api_endpoint]}},
    }


def test_a_private_api_without_iam_lets_anonymous_callers_in_through_its_endpoints_only(
    network, apigw, make_request, settings, execute_api_endpoint
):
    request = make_request(
        endpoint_type=EndpointType.PRIVATE,
        vpc_endpoint_ids=[execute_api_endpoint],
        authorization=Authorization.NONE,
    )

    api = create_api(request, Turns(settings, request.request_id))

    allow, deny = json.loads(apigw.get_rest_api(restApiId=api.rest_api_id)["policy"])["Statement"]
    assert allow["Principal"] == "*"
    assert allow["Condition"] == {"StringEquals": {"aws:SourceVpce": [execute_api_endpoint]}}
    assert deny["Effect"] == "Deny"
    assert deny["Condition"] == {"StringNotEquals": {"aws:SourceVpce": [execute_api_endpoint]}}


@pytest.mark.parametrize("authorization", [Authorization.AWS_IAM, Authorization.NONE])
def test_every_method_gets_the_requested_authorization_without_an_authorizer(
    network, apigw, make_request, settings, authorization
):
    request = make_request(authorization=authorization, proxy_all_paths=True)
    api = create_api(request, Turns(settings, request.request_id))

    resources = resource_by_path(apigw, api.rest_api_id)
    for path, verb in (("/", "GET"), ("/{proxy+}", "ANY")):
        method = apigw.get_method(
            restApiId=api.rest_api_id, resourceId=resources[path]["id"], httpMethod=verb
        )
        assert method["authorizationType"] == authorization.value
        assert not method.get("authorizerId")
    assert apigw.get_authorizers(restApiId=api.rest_api_id).get("items", []) == []


def test_cognito_authorization_gets_the_apis_own_authorizer_on_every_method(
    network, apigw, make_request, settings
):
    # Given a request for COGNITO_USER_POOLS with a pool
    pool_arn = "arn:aws:cognito-idp:us-east-1:123456789012:userpool/us-east-1_Orders1"
    request = make_request(
        authorization=Authorization.COGNITO_USER_POOLS,
        cognito_user_pool_arns=[pool_arn],
        proxy_all_paths=True,
    )

    # When the API is created (twice: a retry creates nothing twice)
    api = create_api(request, Turns(settings, request.request_id))
    create_api(request, Turns(settings, request.request_id))

    # Then the API has one authorizer on that pool, used by every method
    [authorizer] = apigw.get_authorizers(restApiId=api.rest_api_id)["items"]
    assert authorizer["type"] == "COGNITO_USER_POOLS"
    assert authorizer["providerARNs"] == [pool_arn]
    assert authorizer["identitySource"] == "method.request.header.Authorization"
    resources = resource_by_path(apigw, api.rest_api_id)
    for path, verb in (("/", "GET"), ("/{proxy+}", "ANY")):
        method = apigw.get_method(
            restApiId=api.rest_api_id, resourceId=resources[path]["id"], httpMethod=verb
        )
        assert method["authorizationType"] == "COGNITO_USER_POOLS"
        assert method["authorizerId"] == authorizer["id"]


def test_custom_authorization_gets_a_lambda_token_authorizer(
    network, apigw, make_request, settings
):
    function_arn = "arn:aws:lambda:us-east-1:123456789012:function:orders-authorizer"
    request = make_request(authorization=Authorization.CUSTOM, authorizer_function_arn=function_arn)

    api = create_api(request, Turns(settings, request.request_id))

    [authorizer] = apigw.get_authorizers(restApiId=api.rest_api_id)["items"]
    assert authorizer["type"] == "TOKEN"
    assert authorizer["authorizerUri"] == (
        f"arn:aws:apigateway:{REGION}:lambda:path/2015-03-31/functions/{function_arn}/invocations"
    )
    method = apigw.get_method(
        restApiId=api.rest_api_id, resourceId=api.root_resource_id, httpMethod="GET"
    )
    assert (method["authorizationType"], method["authorizerId"]) == ("CUSTOM", authorizer["id"])


@pytest.mark.parametrize(
    ("overrides", "says"),
    [
        ({}, ["Signature Version 4", "execute-api", "execute-api:Invoke"]),
        ({"authorization": Authorization.NONE}, ["No authentication"]),
    ],
)
def test_how_to_call_says_what_a_caller_must_do(make_request, overrides, says):
    request = make_request(**overrides)

    how = how_to_call(request, "a1b2c3", REGION, "prod")

    for words in says:
        assert words in how
    if not overrides:
        assert "arn:aws:execute-api:us-east-1:123456789012:a1b2c3/prod/*" in how


def test_how_to_call_a_private_api_names_its_endpoints_and_their_url(
    make_request, execute_api_endpoint
):
    request = make_request(
        endpoint_type=EndpointType.PRIVATE, vpc_endpoint_ids=[execute_api_endpoint]
    )

    how = how_to_call(request, "a1b2c3", REGION, "prod")

    assert f"https://a1b2c3-{execute_api_endpoint}.execute-api.{REGION}.amazonaws.com/prod" in how


# --- deploy_api ---------------------------------------------------------------------------------
def test_the_stage_is_created_with_its_vpc_link_variable_in_the_same_deployment(
    network, apigw, make_request, settings, available_link
):
    # Given an API and an AVAILABLE link
    request = make_request(stage_name="v1")
    api = create_api(request, Turns(settings, request.request_id))

    # When the API is deployed
    deployment = deploy_api(request, available_link, api, Turns(settings, request.request_id))

    # Then the stage points at the link, carries our tags, and the invoke URL names it
    stage = apigw.get_stage(restApiId=api.rest_api_id, stageName="v1")
    assert stage["variables"] == {"vpcLinkId": available_link.vpc_link_id}
    assert stage["deploymentId"] == deployment.deployment_id
    assert stage["tags"][REQUEST_ID_TAG] == request.request_id
    assert stage["tags"][MANAGED_BY_TAG] == STACK_NAME
    assert deployment.stage_name == "v1"
    assert deployment.invoke_url == (
        f"https://{api.rest_api_id}.execute-api.{REGION}.amazonaws.com/v1"
    )


def test_deploying_again_for_the_same_request_reuses_the_deployment(
    network, apigw, make_request, settings, available_link
):
    request = make_request()
    api = create_api(request, Turns(settings, request.request_id))
    first = deploy_api(request, available_link, api, Turns(settings, request.request_id))

    second = deploy_api(request, available_link, api, Turns(settings, request.request_id))

    assert second.deployment_id == first.deployment_id
    assert len(apigw.get_deployments(restApiId=api.rest_api_id)["items"]) == 1


@pytest.mark.parametrize(
    ("status", "message"), [("PENDING", "Your vpc link is being created"), ("FAILED", "nope")]
)
def test_no_stage_is_deployed_while_the_link_is_not_available(
    network, apigw, make_request, settings, link_status, status, message
):
    # Given an API and a link that is not AVAILABLE
    request = make_request()
    api = create_api(request, Turns(settings, request.request_id))
    link = apigw.create_vpc_link(name="l", targetArns=[network.nlb_arn])
    link_status(link["id"], status, message)

    # When a deployment is attempted, Then it is refused and no stage exists
    with pytest.raises(StageNotSafe, match=f"is {status}"):
        deploy_api(
            request, link_state(link["id"], status), api, Turns(settings, request.request_id)
        )
    assert apigw.get_stages(restApiId=api.rest_api_id)["item"] == []


def test_no_stage_is_deployed_for_a_link_that_does_not_exist(
    network, apigw, make_request, settings
):
    request = make_request()
    api = create_api(request, Turns(settings, request.request_id))

    with pytest.raises(StageNotSafe, match="is missing"):
        deploy_api(request, link_state("gone123"), api, Turns(settings, request.request_id))
    assert apigw.get_stages(restApiId=api.rest_api_id)["item"] == []


# --- point_stage_at_link --------------------------------------------------------------------------
def test_pointing_the_stage_at_another_available_link_updates_the_variable(
    network, second_nlb_arn, apigw, make_request, settings, available_link, link_status
):
    # Given a deployed stage on one link, and another AVAILABLE link
    request = make_request()
    api = create_api(request, Turns(settings, request.request_id))
    deploy_api(request, available_link, api, Turns(settings, request.request_id))
    other = apigw.create_vpc_link(name="other", targetArns=[second_nlb_arn])
    link_status(other["id"], "AVAILABLE", "Your vpc link is ready for use")

    # When the stage is pointed at it
    point_stage_at_link(api.rest_api_id, "prod", link_state(other["id"]))

    # Then the stage variable names the new link
    stage = apigw.get_stage(restApiId=api.rest_api_id, stageName="prod")
    assert stage["variables"] == {"vpcLinkId": other["id"]}


def test_pointing_the_stage_at_its_own_link_again_is_harmless(
    network, apigw, make_request, settings, available_link
):
    request = make_request()
    api = create_api(request, Turns(settings, request.request_id))
    deploy_api(request, available_link, api, Turns(settings, request.request_id))

    point_stage_at_link(api.rest_api_id, "prod", available_link)

    stage = apigw.get_stage(restApiId=api.rest_api_id, stageName="prod")
    assert stage["variables"] == {"vpcLinkId": available_link.vpc_link_id}


def test_the_stage_is_not_pointed_at_a_link_that_is_not_available(
    network, second_nlb_arn, apigw, make_request, settings, available_link, link_status
):
    request = make_request()
    api = create_api(request, Turns(settings, request.request_id))
    deploy_api(request, available_link, api, Turns(settings, request.request_id))
    pending = apigw.create_vpc_link(name="pending", targetArns=[second_nlb_arn])
    link_status(pending["id"], "PENDING", "Your vpc link is being created")

    with pytest.raises(StageNotSafe):
        point_stage_at_link(api.rest_api_id, "prod", link_state(pending["id"], "PENDING"))

    stage = apigw.get_stage(restApiId=api.rest_api_id, stageName="prod")
    assert stage["variables"] == {"vpcLinkId": available_link.vpc_link_id}


def test_a_stage_that_does_not_exist_is_not_safe(network, apigw, available_link):
    api_id = apigw.create_rest_api(name="bare")["id"]
    root = apigw.get_resources(restApiId=api_id)["items"][0]["id"]
    api = ApiState(rest_api_id=api_id, root_resource_id=root, created_by_this_request=True)

    with pytest.raises(ResourceNotFound):
        point_stage_at_link(api.rest_api_id, "prod", available_link)
