"""create_api, deploy_api, point_stage_at_link: the REST API half of the tutorial."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from provisioner.contract.errors import ResourceNotFound, StageNotSafe
from provisioner.contract.payloads import ApiState, VpcLinkState
from provisioner.contract.requests import MANAGED_BY_TAG, REQUEST_ID_TAG, EndpointType
from provisioner.domain.rest_apis import create_api, deploy_api, point_stage_at_link

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
    network, apigw, make_request, settings, fidelity
):
    # Given a validated request
    request = make_request()

    # When the API is created
    api = create_api(request, settings=settings)

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

    # ... whose root GET needs no authorization and proxies to the NLB over the stage's link
    method = apigw.get_method(
        restApiId=api.rest_api_id, resourceId=api.root_resource_id, httpMethod="GET"
    )
    assert method["authorizationType"] == "NONE"
    integration = apigw.get_integration(
        restApiId=api.rest_api_id, resourceId=api.root_resource_id, httpMethod="GET"
    )
    assert integration["type"] == "HTTP_PROXY"
    assert integration["connectionType"] == "VPC_LINK"
    assert integration["uri"] == f"http://{network.nlb_dns_name}"
    assert integration["httpMethod"] == "GET"  # the integration's method (moto's name for it)
    # moto 5.2 forgets connectionId on put_integration; emulator.fidelity keeps it, as AWS does.
    # So connectionId is asserted only when fidelity is installed (see conftest / support).
    if fidelity is not None:
        assert integration["connectionId"] == STAGE_VARIABLE_REFERENCE


def test_the_requested_method_and_endpoint_url_are_used(network, apigw, make_request, settings):
    request = make_request(http_method="POST", endpoint_url="https://orders.internal:8443/v1")

    api = create_api(request, settings=settings)

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
    api = create_api(request, settings=settings)

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
    api = create_api(make_request(), settings=settings)
    assert set(resource_by_path(apigw, api.rest_api_id)) == {"/"}


def test_creating_the_api_again_for_the_same_request_creates_nothing_new(
    network, apigw, make_request, settings
):
    # Given a request whose API was created, then the task was retried
    request = make_request(proxy_all_paths=True)
    first = create_api(request, settings=settings)

    # When it runs again
    second = create_api(request, settings=settings)

    # Then the same API is returned, with one proxy resource
    assert second == first
    assert [api["id"] for api in apigw.get_rest_apis()["items"]] == [first.rest_api_id]
    assert set(resource_by_path(apigw, first.rest_api_id)) == {"/", "/{proxy+}"}


def test_another_request_gets_its_own_api(network, apigw, make_request, settings):
    first = create_api(make_request(), settings=settings)
    second = create_api(make_request(), settings=settings)
    assert first.rest_api_id != second.rest_api_id
    assert len(apigw.get_rest_apis()["items"]) == 2


def test_a_private_api_gets_a_resource_policy_that_allows_invoking_it(
    network, apigw, make_request, settings
):
    api = create_api(make_request(endpoint_type=EndpointType.PRIVATE), settings=settings)

    described = apigw.get_rest_api(restApiId=api.rest_api_id)
    assert described["endpointConfiguration"]["types"] == ["PRIVATE"]
    policy = json.loads(described["policy"])
    [statement] = policy["Statement"]
    assert statement["Effect"] == "Allow"
    assert statement["Action"] == "execute-api:Invoke"


# --- deploy_api ---------------------------------------------------------------------------------
def test_the_stage_is_created_with_its_vpc_link_variable_in_the_same_deployment(
    network, apigw, make_request, settings, available_link
):
    # Given an API and an AVAILABLE link
    request = make_request(stage_name="v1")
    api = create_api(request, settings=settings)

    # When the API is deployed
    deployment = deploy_api(request, available_link, api, settings=settings)

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
    api = create_api(request, settings=settings)
    first = deploy_api(request, available_link, api, settings=settings)

    second = deploy_api(request, available_link, api, settings=settings)

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
    api = create_api(request, settings=settings)
    link = apigw.create_vpc_link(name="l", targetArns=[network.nlb_arn])
    link_status(link["id"], status, message)

    # When a deployment is attempted, Then it is refused and no stage exists
    with pytest.raises(StageNotSafe, match=f"is {status}"):
        deploy_api(request, link_state(link["id"], status), api, settings=settings)
    assert apigw.get_stages(restApiId=api.rest_api_id)["item"] == []


def test_no_stage_is_deployed_for_a_link_that_does_not_exist(
    network, apigw, make_request, settings
):
    request = make_request()
    api = create_api(request, settings=settings)

    with pytest.raises(StageNotSafe, match="is missing"):
        deploy_api(request, link_state("gone123"), api, settings=settings)
    assert apigw.get_stages(restApiId=api.rest_api_id)["item"] == []


# --- point_stage_at_link --------------------------------------------------------------------------
def test_pointing_the_stage_at_another_available_link_updates_the_variable(
    network, second_nlb_arn, apigw, make_request, settings, available_link, link_status
):
    # Given a deployed stage on one link, and another AVAILABLE link
    request = make_request()
    api = create_api(request, settings=settings)
    deploy_api(request, available_link, api, settings=settings)
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
    api = create_api(request, settings=settings)
    deploy_api(request, available_link, api, settings=settings)

    point_stage_at_link(api.rest_api_id, "prod", available_link)

    stage = apigw.get_stage(restApiId=api.rest_api_id, stageName="prod")
    assert stage["variables"] == {"vpcLinkId": available_link.vpc_link_id}


def test_the_stage_is_not_pointed_at_a_link_that_is_not_available(
    network, second_nlb_arn, apigw, make_request, settings, available_link, link_status
):
    request = make_request()
    api = create_api(request, settings=settings)
    deploy_api(request, available_link, api, settings=settings)
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
