"""Specification of the provisioning workflow, end to end through the bus.

Given a network load balancer, when a PrivateApiRequested event is put on the bus, then the
real state machine and handlers turn it into a VpcLink, a deployed REST API and a
``vpcLinkId`` stage variable, and every step is announced on SNS.
"""

from __future__ import annotations

import itertools
import json

import pytest

from emulator import fidelity
from tests.workflow.conftest import Provisioner

pytestmark = pytest.mark.workflow


def statuses(notifications: list) -> list[str]:
    return [n.status for n in notifications]


def event_types(history: list[dict]) -> list[str]:
    return [event["type"] for event in history]


def failed_task_errors(history: list[dict]) -> list[str]:
    errors = []
    for event in history:
        for key in ("lambdaFunctionFailedEventDetails", "taskFailedEventDetails"):
            if key in event:
                errors.append(event[key].get("error"))
    return errors


def test_happy_path_link_pending_for_a_few_polls_then_available(provisioner: Provisioner):
    # Given a new NLB whose link AWS will keep PENDING for three polls
    fidelity.script_vpc_links(provisioner.network.nlb_arn, pending_polls=3)

    # When
    request_id = provisioner.request(apiName="orders", ticketId="OPS-42", requestedBy="ana")
    notifications = provisioner.notifications(request_id)

    # Then the requester hears every milestone, in an order that respects causality
    seen = statuses(notifications)
    assert seen[0] == "ACCEPTED"
    assert seen[-1] == "SUCCEEDED"
    assert {"VPC_LINK_PENDING", "VPC_LINK_AVAILABLE", "API_CREATED", "API_DEPLOYED"} <= set(seen)
    assert seen.index("VPC_LINK_PENDING") < seen.index("VPC_LINK_AVAILABLE")
    assert seen.index("API_DEPLOYED") > max(
        seen.index("VPC_LINK_AVAILABLE"), seen.index("API_CREATED")
    )
    for notification in notifications:
        assert notification.body["requestId"] == request_id
        assert notification.body["ticketId"] == "OPS-42"
        assert notification.body["requestedBy"] == "ana"
        assert notification.body["timestamp"].endswith("Z")
        assert notification.attributes == {
            "requestId": request_id,
            "status": notification.status,
            "ticketId": "OPS-42",
        }

    # ... and the final one says where the API is
    final = notifications[-1].body
    (link,) = provisioner.vpc_links()
    (api,) = provisioner.rest_apis()
    assert final["vpcLinkId"] == link["id"]
    assert final["restApiId"] == api["id"]
    assert final["stageName"] == "prod"
    assert final["invokeUrl"] == f"https://{api['id']}.execute-api.us-east-1.amazonaws.com/prod"

    # ... the link was created for this NLB, tagged with the request, and is AVAILABLE
    assert link["status"] == "AVAILABLE"
    assert link["targetArns"] == [provisioner.network.nlb_arn]
    assert link["tags"]["provisioner:request-id"] == request_id

    # ... the stage points at it through the stage variable, as the tutorial does
    stage = provisioner.apigateway.get_stage(restApiId=api["id"], stageName="prod")
    assert stage["variables"] == {"vpcLinkId": link["id"]}
    root = next(
        r
        for r in provisioner.apigateway.get_resources(restApiId=api["id"])["items"]
        if r["path"] == "/"
    )
    integration = provisioner.apigateway.get_integration(
        restApiId=api["id"], resourceId=root["id"], httpMethod="GET"
    )
    assert integration["type"] == "HTTP_PROXY"
    assert integration["connectionType"] == "VPC_LINK"
    assert integration["connectionId"] == "${stageVariables.vpcLinkId}"
    assert integration["uri"] == f"http://{provisioner.network.nlb_dns_name}"

    # ... and the execution waited and polled exactly as often as the link stayed PENDING,
    # then deployed
    execution = provisioner.execution()
    assert execution["status"] == "SUCCEEDED"
    assert json.loads(execution["output"])["status"] == "SUCCEEDED"
    history = provisioner.history(execution["executionArn"])
    entered = provisioner.entered_states(execution["executionArn"])
    assert entered.count("WaitForLink") == 4  # three PENDING polls, the fourth reads AVAILABLE
    assert entered.count("GetVpcLinkStatus") == 4
    assert entered.index("DeployApi") > entered.index("LinkReady")
    assert "ParallelStateSucceeded" in event_types(history)
    waits = [e for e in history if e["type"] == "WaitStateExited"]
    assert len(waits) == 4


def test_an_existing_link_on_the_same_nlb_is_reused_not_duplicated(provisioner: Provisioner):
    # Given a link someone already made for this NLB
    existing = provisioner.apigateway.create_vpc_link(
        name="shared", targetArns=[provisioner.network.nlb_arn]
    )

    # When
    request_id = provisioner.request(apiName="billing", proxyAllPaths=True)
    notifications = provisioner.notifications(request_id)

    # Then it is used, and no second link exists
    assert notifications[-1].status == "SUCCEEDED"
    assert notifications[-1].body["vpcLinkId"] == existing["id"]
    assert [link["id"] for link in provisioner.vpc_links()] == [existing["id"]]
    (api,) = provisioner.rest_apis()
    paths = {r["path"] for r in provisioner.apigateway.get_resources(restApiId=api["id"])["items"]}
    assert paths == {"/", "/{proxy+}"}


def test_a_failed_link_rolls_back_the_api_created_in_parallel(provisioner: Provisioner):
    # Given an NLB that already backs a VPC endpoint service (AWS then fails the link)
    provisioner.aws.client("ec2").create_vpc_endpoint_service_configuration(
        NetworkLoadBalancerArns=[provisioner.network.nlb_arn], AcceptanceRequired=False
    )

    # When
    request_id = provisioner.request(apiName="inventory", ticketId="OPS-7")
    notifications = provisioner.notifications(request_id)

    # Then the FAILED notification carries AWS's statusMessage verbatim and a remedy
    final = notifications[-1]
    assert final.status == "FAILED"
    assert final.body["error"]["code"] == "VpcLinkFailed"
    assert fidelity.ALREADY_ASSOCIATED in final.body["error"]["message"]
    assert final.body["error"]["remedy"]
    assert final.attributes["ticketId"] == "OPS-7"
    assert "API_CREATED" in statuses(notifications)  # the API was made while the link failed
    api_created = next(n for n in notifications if n.status == "API_CREATED")
    assert final.body["restApiId"] == api_created.body["restApiId"]  # named, though deleted
    assert final.body["vpcLinkId"]

    # ... and nothing this request created is left behind
    assert provisioner.rest_apis() == []
    assert [link for link in provisioner.vpc_links() if link["status"] != "DELETING"] == []

    execution = provisioner.execution()
    assert execution["status"] == "FAILED"
    assert execution["error"] == "VpcLinkFailed"


def test_a_link_that_never_becomes_available_times_out(provisioner: Provisioner):
    # Given a link that will stay PENDING past the request's deadline
    fidelity.hold_vpc_links(provisioner.network.nlb_arn)

    # When the request allows a minute for it (polled every 15 s)
    request_id = provisioner.request(apiName="slow", timeoutSeconds=60)
    notifications = provisioner.notifications(request_id)

    # Then
    final = notifications[-1]
    assert final.status == "FAILED"
    assert final.body["error"]["code"] == "VpcLinkTimeout"
    assert "timeoutSeconds" in final.body["error"]["remedy"]
    assert provisioner.rest_apis() == []
    assert [link for link in provisioner.vpc_links() if link["status"] != "DELETING"] == []
    execution = provisioner.execution()
    assert execution["error"] == "VpcLinkTimeout"
    # ... after polling it every 15 s until the deadline, the last poll landing on it
    entered = provisioner.entered_states(execution["executionArn"])
    assert entered.count("GetVpcLinkStatus") >= 4
    started = execution["startDate"]
    timed_out = next(
        e["timestamp"]
        for e in provisioner.history(execution["executionArn"])
        if e.get("lambdaFunctionFailedEventDetails", {}).get("error") == "VpcLinkTimeout"
        or e.get("taskFailedEventDetails", {}).get("error") == "VpcLinkTimeout"
    )
    assert (timed_out - started).total_seconds() >= 60


def test_throttled_create_deployment_takes_new_turns_and_succeeds(provisioner: Provisioner):
    # Given API Gateway throttles CreateDeployment four times (another tool of the account
    # took its rate)
    fidelity.throttle("CreateDeployment", times=4)

    # When
    request_id = provisioner.request(apiName="busy")
    notifications = provisioner.notifications(request_id)

    # Then each refused call took a new turn, waited for in a Wait state, and was made once
    # there (no botocore retry inside the next turn), and the request succeeded
    assert notifications[-1].status == "SUCCEEDED"
    execution = provisioner.execution()
    states = provisioner.entered_states(execution["executionArn"])
    assert states.count("WaitForCreateDeploymentTurn") == 4
    assert states.count("DeployApiInTurn") == 4
    calls = [c.time for c in fidelity.rate_limits.calls("CreateDeployment")]
    assert len(calls) == 5
    assert all(later - earlier >= 5 for earlier, later in itertools.pairwise(calls))
    (api,) = provisioner.rest_apis()
    deployments = provisioner.apigateway.get_deployments(restApiId=api["id"])["items"]
    assert len(deployments) == 1


def test_a_throttled_call_botocore_gives_up_on_is_retried_by_the_state_machine(
    provisioner: Provisioner,
):
    # Given API Gateway throttles GetStage more often than botocore retries in one call
    fidelity.throttle("GetStage", times=4)

    # When
    request_id = provisioner.request(apiName="busy")
    notifications = provisioner.notifications(request_id)

    # Then the state machine retried the named error (with backoff and jitter) and the request
    # succeeded, with one deployment
    assert notifications[-1].status == "SUCCEEDED"
    execution = provisioner.execution()
    history = provisioner.history(execution["executionArn"])
    assert "TooManyRequests" in failed_task_errors(history)
    (api,) = provisioner.rest_apis()
    deployments = provisioner.apigateway.get_deployments(restApiId=api["id"])["items"]
    assert len(deployments) == 1


@pytest.mark.parametrize(
    ("detail", "bad_fields"),
    [
        (
            {"apiName": "", "stageName": "no spaces", "endpointType": "GLOBAL"},
            {"detail.apiName", "detail.stageName", "detail.endpointType"},
        ),
        ({"apiName": "x", "nlbArn": None, "colour": "blue"}, {"detail.nlbArn", "detail.colour"}),
        (
            {
                "apiName": "x",
                "nlbArn": "arn:aws:elasticloadbalancing:us-east-1:123456789012:"
                "loadbalancer/net/ghost/0123456789abcdef",
            },
            {"detail.nlbArn"},
        ),
    ],
    ids=["shape", "missing-target-and-unknown-field", "nlb-does-not-exist"],
)
def test_invalid_requests_are_rejected_with_every_field_and_create_nothing(
    provisioner: Provisioner, detail: dict, bad_fields: set[str]
):
    # When
    request_id = provisioner.request(**detail)
    notifications = provisioner.notifications(request_id)

    # Then
    assert statuses(notifications) == ["REJECTED"]
    error = notifications[0].body["error"]
    assert error["code"] == "InvalidRequest"
    assert {f["field"] for f in error["fields"]} == bad_fields
    assert all(f["rule"] for f in error["fields"])
    assert provisioner.rest_apis() == []
    assert provisioner.vpc_links() == []
    execution = provisioner.execution()
    assert execution["status"] == "FAILED"
    assert execution["error"] == "InvalidRequest"
