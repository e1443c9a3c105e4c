"""The API Gateway / ELBv2 fidelity fixes, checked with boto3 over HTTP.

The embedded AWS's clock stands still in these tests; each steps it to where it needs to be.
"""

from __future__ import annotations

import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from emulator import fidelity
from emulator.engine.runtime import EmbeddedAws
from tests.emulator.conftest import LINK_DELETING_SECONDS, LINK_PENDING_SECONDS
from tests.emulator.emulator_helpers import load_balancer

pytestmark = pytest.mark.unit


def _status(aws: EmbeddedAws, link_id: str) -> dict:
    return aws.client("apigateway").get_vpc_link(vpcLinkId=link_id)


def _settled(aws: EmbeddedAws, link_id: str) -> dict:
    """The link once its PENDING period is over."""
    aws.clock.advance(LINK_PENDING_SECONDS)
    return _status(aws, link_id)


def _gone(aws: EmbeddedAws, link_id: str) -> bool:
    try:
        _status(aws, link_id)
    except ClientError as error:
        return error.response["Error"]["Code"] == "NotFoundException"
    return False


def test_network_load_balancer_arn_reads_net_and_is_found_by_arn(aws: EmbeddedAws) -> None:
    nlb = load_balancer(aws, "nlb")
    alb = load_balancer(aws, "alb", "application")

    assert ":loadbalancer/net/nlb/" in nlb
    assert ":loadbalancer/app/alb/" in alb
    found = aws.client("elbv2").describe_load_balancers(LoadBalancerArns=[nlb])["LoadBalancers"]
    assert found[0]["Type"] == "network"


def test_new_link_is_pending_until_the_clock_passes_the_configured_delay(
    aws: EmbeddedAws,
) -> None:
    aws.control("vpclinks", pendingSeconds=60)
    nlb = load_balancer(aws, "nlb")
    apigw = aws.client("apigateway")

    created = apigw.create_vpc_link(name="link", targetArns=[nlb])
    assert created["status"] == "PENDING"
    aws.control("clock", advance=59.5)  # over HTTP, as an out-of-process test would
    assert _status(aws, created["id"])["status"] == "PENDING"

    aws.control("clock", advance=0.5)
    link = _status(aws, created["id"])
    assert link["status"] == "AVAILABLE"
    assert link["statusMessage"] == "Your vpc link is ready for use"
    services = aws.client("ec2").describe_vpc_endpoint_service_configurations()
    assert [s["NetworkLoadBalancerArns"] for s in services["ServiceConfigurations"]] == [[nlb]]


def test_a_scripted_link_is_pending_for_exactly_its_polls_whatever_the_clock(
    aws: EmbeddedAws,
) -> None:
    nlb = load_balancer(aws, "nlb")
    aws.control("vpclinks", script={nlb: {"pendingPolls": 3, "deletingPolls": 2}})
    apigw = aws.client("apigateway")
    link_id = apigw.create_vpc_link(name="l", targetArns=[nlb])["id"]
    aws.clock.advance(3600)  # time does not matter to a scripted link

    polled = [_status(aws, link_id)["status"] for _ in range(5)]
    assert polled == ["PENDING", "PENDING", "PENDING", "AVAILABLE", "AVAILABLE"]
    assert apigw.get_vpc_links()["items"][0]["status"] == "AVAILABLE"  # listing is no poll

    apigw.delete_vpc_link(vpcLinkId=link_id)
    assert [_status(aws, link_id)["status"] for _ in range(2)] == ["DELETING", "DELETING"]
    assert _gone(aws, link_id)


def test_a_scripted_link_can_fail_after_its_polls_with_a_message(aws: EmbeddedAws) -> None:
    nlb = load_balancer(aws, "nlb")
    fidelity.script_vpc_links(
        nlb, pending_polls=1, then="FAILED", status_message="Internal failure, try again"
    )
    link_id = aws.client("apigateway").create_vpc_link(name="l", targetArns=[nlb])["id"]

    assert _status(aws, link_id)["status"] == "PENDING"
    failed = _status(aws, link_id)
    assert (failed["status"], failed["statusMessage"]) == ("FAILED", "Internal failure, try again")


def test_a_bad_script_is_refused_with_a_reason(aws: EmbeddedAws) -> None:
    import json
    import urllib.error

    with pytest.raises(urllib.error.HTTPError) as refused:
        aws.control("vpclinks", script={"arn:x": {"pendingPolls": -1}})
    assert refused.value.code == 400
    assert "non-negative" in json.loads(refused.value.read())["message"]


def test_link_to_missing_load_balancer_fails_with_status_message(aws: EmbeddedAws) -> None:
    nlb = load_balancer(aws, "nlb").replace("/nlb/", "/gone/")
    link_id = aws.client("apigateway").create_vpc_link(name="l", targetArns=[nlb])["id"]

    link = _settled(aws, link_id)
    assert link["status"] == "FAILED"
    assert link["statusMessage"] == (
        f"Failed to create VPC endpoint service: load balancer {nlb} was not found"
    )


def test_link_to_application_load_balancer_is_created_then_fails_as_malformed(
    aws: EmbeddedAws,
) -> None:
    # AWS accepts the ALB's ARN, then the link is FAILED with "NLB ARN is malformed"
    # (hashicorp/terraform-provider-aws#30910 and #45230): a V1 link is for NLBs only.
    alb = load_balancer(aws, "alb", "application")
    created = aws.client("apigateway").create_vpc_link(name="l", targetArns=[alb])
    assert created["status"] == "PENDING"

    link = _settled(aws, created["id"])
    assert (link["status"], link["statusMessage"]) == ("FAILED", "NLB ARN is malformed")


def test_second_link_on_the_same_nlb_fails_like_aws(aws: EmbeddedAws) -> None:
    nlb = load_balancer(aws, "nlb")
    apigw = aws.client("apigateway")
    first = apigw.create_vpc_link(name="first", targetArns=[nlb])["id"]
    second = apigw.create_vpc_link(name="second", targetArns=[nlb])["id"]

    assert _settled(aws, first)["status"] == "AVAILABLE"
    failed = _status(aws, second)
    assert failed["status"] == "FAILED"
    assert failed["statusMessage"] == "NLB is already associated with another VPC Endpoint Service"


def test_nlb_with_an_existing_endpoint_service_fails(aws: EmbeddedAws) -> None:
    nlb = load_balancer(aws, "nlb")
    aws.client("ec2").create_vpc_endpoint_service_configuration(NetworkLoadBalancerArns=[nlb])
    link_id = aws.client("apigateway").create_vpc_link(name="l", targetArns=[nlb])["id"]

    assert _settled(aws, link_id)["statusMessage"] == fidelity.ALREADY_ASSOCIATED


def test_hooks_hold_a_link_pending_or_fail_it_over_http(aws: EmbeddedAws) -> None:
    held, failing = load_balancer(aws, "held"), load_balancer(aws, "failing")
    aws.control("vpclinks", hold=[held], fail={failing: "Internal failure, try again"})
    apigw = aws.client("apigateway")
    held_id = apigw.create_vpc_link(name="h", targetArns=[held])["id"]
    failing_id = apigw.create_vpc_link(name="f", targetArns=[failing])["id"]

    assert _settled(aws, failing_id)["statusMessage"] == "Internal failure, try again"
    aws.clock.advance(10 * LINK_PENDING_SECONDS)
    assert _status(aws, held_id)["status"] == "PENDING"
    aws.control("vpclinks", release=[held])
    assert _status(aws, held_id)["status"] == "AVAILABLE"


def test_link_with_two_targets_is_rejected(aws: EmbeddedAws) -> None:
    arns = [load_balancer(aws, "one"), load_balancer(aws, "two")]
    with pytest.raises(ClientError) as caught:
        aws.client("apigateway").create_vpc_link(name="l", targetArns=arns)

    assert caught.value.response["Error"]["Code"] == "BadRequestException"
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


def _api_with_private_integration(aws: EmbeddedAws, connection_id: str) -> tuple[str, str]:
    apigw = aws.client("apigateway")
    api = apigw.create_rest_api(name="api", tags={"requestId": "r-1"})
    root = api["rootResourceId"]
    apigw.put_method(
        restApiId=api["id"], resourceId=root, httpMethod="GET", authorizationType="NONE"
    )
    apigw.put_integration(
        restApiId=api["id"],
        resourceId=root,
        httpMethod="GET",
        type="HTTP_PROXY",
        integrationHttpMethod="GET",
        uri="http://nlb.example.com",
        connectionType="VPC_LINK",
        connectionId=connection_id,
    )
    return api["id"], root


def test_put_integration_keeps_connection_id(aws: EmbeddedAws) -> None:
    api_id, root = _api_with_private_integration(aws, "${stageVariables.vpcLinkId}")

    got = aws.client("apigateway").get_integration(
        restApiId=api_id, resourceId=root, httpMethod="GET"
    )
    assert got["connectionType"] == "VPC_LINK"
    assert got["connectionId"] == "${stageVariables.vpcLinkId}"


def test_link_referenced_literally_cannot_be_deleted(aws: EmbeddedAws) -> None:
    apigw = aws.client("apigateway")
    link_id = apigw.create_vpc_link(name="l", targetArns=[load_balancer(aws, "nlb")])["id"]
    api_id, _ = _api_with_private_integration(aws, link_id)

    with pytest.raises(ClientError) as caught:
        apigw.delete_vpc_link(vpcLinkId=link_id)
    assert caught.value.response["Error"]["Code"] == "BadRequestException"
    assert caught.value.response["Error"]["Message"] == (
        f"Cannot delete vpc link {link_id} because it is referenced in {api_id}"
    )


def test_link_referenced_through_stage_variable_cannot_be_deleted(aws: EmbeddedAws) -> None:
    apigw = aws.client("apigateway")
    link_id = apigw.create_vpc_link(name="l", targetArns=[load_balancer(aws, "nlb")])["id"]
    other_id = apigw.create_vpc_link(name="o", targetArns=[load_balancer(aws, "other")])["id"]
    api_id, _ = _api_with_private_integration(aws, "${stageVariables.vpcLinkId}")
    apigw.create_deployment(restApiId=api_id, stageName="prod", variables={"vpcLinkId": link_id})

    with pytest.raises(ClientError) as caught:
        apigw.delete_vpc_link(vpcLinkId=link_id)
    assert api_id in caught.value.response["Error"]["Message"]
    apigw.delete_vpc_link(vpcLinkId=other_id)  # not referenced by any stage


def test_deleted_link_is_deleting_then_gone(aws: EmbeddedAws) -> None:
    apigw = aws.client("apigateway")
    nlb = load_balancer(aws, "nlb")
    link_id = apigw.create_vpc_link(name="l", targetArns=[nlb])["id"]
    assert _settled(aws, link_id)["status"] == "AVAILABLE"

    apigw.delete_vpc_link(vpcLinkId=link_id)
    assert _status(aws, link_id)["status"] == "DELETING"
    aws.clock.advance(LINK_DELETING_SECONDS - 1)
    assert _status(aws, link_id)["status"] == "DELETING"

    aws.clock.advance(1)
    assert _gone(aws, link_id)
    services = aws.client("ec2").describe_vpc_endpoint_service_configurations()
    assert services["ServiceConfigurations"] == []
    replacement = apigw.create_vpc_link(name="again", targetArns=[nlb])["id"]
    assert _settled(aws, replacement)["status"] == "AVAILABLE"


def test_zero_deleting_seconds_removes_the_link_at_once(aws: EmbeddedAws) -> None:
    aws.control("vpclinks", deletingSeconds=0)
    apigw = aws.client("apigateway")
    link_id = apigw.create_vpc_link(name="l", targetArns=[load_balancer(aws, "nlb")])["id"]

    apigw.delete_vpc_link(vpcLinkId=link_id)
    with pytest.raises(apigw.exceptions.NotFoundException):
        apigw.get_vpc_link(vpcLinkId=link_id)


def test_tags_on_rest_apis_and_vpc_links(aws: EmbeddedAws) -> None:
    apigw = aws.client("apigateway")
    api = apigw.create_rest_api(name="api", tags={"requestId": "r-1"})
    link = apigw.create_vpc_link(
        name="l", targetArns=[load_balancer(aws, "nlb")], tags={"requestId": "r-1"}
    )
    api_arn = f"arn:aws:apigateway:us-east-1::/restapis/{api['id']}"
    link_arn = f"arn:aws:apigateway:us-east-1::/vpclinks/{link['id']}"

    assert apigw.get_rest_apis()["items"][0]["tags"] == {"requestId": "r-1"}
    assert apigw.get_vpc_links()["items"][0]["tags"] == {"requestId": "r-1"}
    apigw.tag_resource(resourceArn=api_arn, tags={"ticketId": "T-9"})
    apigw.tag_resource(resourceArn=link_arn, tags={"ticketId": "T-9"})
    apigw.untag_resource(resourceArn=link_arn, tagKeys=["requestId"])
    assert apigw.get_tags(resourceArn=api_arn)["tags"] == {"requestId": "r-1", "ticketId": "T-9"}
    assert apigw.get_tags(resourceArn=link_arn)["tags"] == {"ticketId": "T-9"}


def test_throttled_create_deployment_answers_429(aws: EmbeddedAws) -> None:
    api_id, _ = _api_with_private_integration(aws, "abc123")
    aws.control("throttle", operation="CreateDeployment", count=1)

    with pytest.raises(ClientError) as caught:
        aws.client("apigateway").create_deployment(restApiId=api_id, stageName="prod")
    assert caught.value.response["Error"]["Code"] == "TooManyRequestsException"
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 429


def test_throttled_create_deployment_is_retried_and_succeeds(aws: EmbeddedAws) -> None:
    api_id, _ = _api_with_private_integration(aws, "abc123")
    fidelity.throttle("CreateDeployment", times=2)
    retrying = aws.client(
        "apigateway", config=Config(retries={"total_max_attempts": 3, "mode": "standard"})
    )

    deployment = retrying.create_deployment(restApiId=api_id, stageName="prod")
    assert deployment["ResponseMetadata"]["RetryAttempts"] == 2
    assert fidelity.settings.throttled["CreateDeployment"] == 0


def test_stage_link_changes_record_the_link_status_at_each_change(aws: EmbeddedAws) -> None:
    apigw = aws.client("apigateway")
    nlb = load_balancer(aws, "nlb")
    link_id = apigw.create_vpc_link(name="l", targetArns=[nlb])["id"]
    api_id, _ = _api_with_private_integration(aws, "${stageVariables.vpcLinkId}")

    apigw.create_deployment(restApiId=api_id, stageName="prod", variables={"vpcLinkId": link_id})
    aws.clock.advance(LINK_PENDING_SECONDS)
    apigw.update_stage(
        restApiId=api_id,
        stageName="prod",
        patchOperations=[{"op": "replace", "path": "/variables/vpcLinkId", "value": "other"}],
    )
    apigw.update_stage(
        restApiId=api_id,
        stageName="prod",
        patchOperations=[{"op": "replace", "path": "/variables/vpcLinkId", "value": link_id}],
    )

    changes = aws.control("stage-links")["changes"]
    assert [(c["vpc_link_id"], c["link_status"]) for c in changes] == [
        (link_id, "PENDING"),
        ("other", "MISSING"),
        (link_id, "AVAILABLE"),
    ]
