"""Specification of the local control plane, as a user of ``make local`` meets it.

Given ``python -m emulator serve`` running on a free port, when requests are put on its bus over
HTTP, then they become private APIs (or are refused, or fail and are rolled back) exactly as the
product promises, observed only through the AWS APIs.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest

from tests.e2e.conftest import LINK_DELETING_SECONDS, REPO_ROOT, LocalServer, Progress

pytestmark = pytest.mark.e2e

MISSING_NLB_ARN = (
    "arn:aws:elasticloadbalancing:us-east-1:123456789012:"
    "loadbalancer/net/ghost-nlb/0123456789abcdef"
)


def statuses(notifications: list) -> list[str]:
    return [n.status for n in notifications]


def root_integration(server: LocalServer, api_id: str) -> dict:
    apigateway = server.client("apigateway")
    root = next(r for r in apigateway.get_resources(restApiId=api_id)["items"] if r["path"] == "/")
    return dict(
        apigateway.get_integration(restApiId=api_id, resourceId=root["id"], httpMethod="GET")
    )


def test_a_request_becomes_a_private_api(local_server: LocalServer, progress: Progress):
    # Given an internal NLB of our own
    network = local_server.requester.create_network("e2e-happy")

    # When
    request_id = local_server.requester.request(apiName="orders", nlbArn=network.nlb_arn)
    notifications = progress.until_final(request_id)

    # Then
    assert statuses(notifications)[0] == "ACCEPTED"
    assert statuses(notifications)[-1] == "SUCCEEDED"
    final = notifications[-1].body
    link_id, api_id = final["vpcLinkId"], final["restApiId"]
    link = local_server.client("apigateway").get_vpc_link(vpcLinkId=link_id)
    assert link["status"] == "AVAILABLE"
    assert link["targetArns"] == [network.nlb_arn]
    stage = local_server.client("apigateway").get_stage(restApiId=api_id, stageName="prod")
    assert stage["variables"]["vpcLinkId"] == link_id
    integration = root_integration(local_server, api_id)
    assert integration["type"] == "HTTP_PROXY"
    assert integration["connectionType"] == "VPC_LINK"
    assert integration["connectionId"] == "${stageVariables.vpcLinkId}"
    assert final["invokeUrl"] == f"https://{api_id}.execute-api.us-east-1.amazonaws.com/prod"


def test_a_request_for_a_missing_nlb_is_rejected_and_creates_nothing(
    local_server: LocalServer, progress: Progress
):
    # When
    request_id = local_server.requester.request(apiName="ghost", nlbArn=MISSING_NLB_ARN)
    notifications = progress.until_final(request_id)

    # Then
    assert statuses(notifications) == ["REJECTED"]
    error = notifications[0].body["error"]
    assert error["code"] == "InvalidRequest"
    assert [f["field"] for f in error["fields"]] == ["detail.nlbArn"]
    assert local_server.requester.tagged_with(request_id) == []


def test_an_nlb_behind_another_endpoint_service_fails_the_link_and_rolls_back(
    local_server: LocalServer, progress: Progress
):
    # Given an NLB that already backs a VPC endpoint service
    network = local_server.requester.create_network("e2e-taken")
    local_server.client("ec2").create_vpc_endpoint_service_configuration(
        NetworkLoadBalancerArns=[network.nlb_arn], AcceptanceRequired=False
    )

    # When
    request_id = local_server.requester.request(apiName="taken", nlbArn=network.nlb_arn)
    notifications = progress.until_final(request_id)

    # Then the FAILED notification carries AWS's statusMessage
    final = notifications[-1]
    assert final.status == "FAILED"
    assert final.body["error"]["code"] == "VpcLinkFailed"
    assert (
        "NLB is already associated with another VPC Endpoint Service"
        in (final.body["error"]["message"])
    )
    assert "API_CREATED" in statuses(notifications)

    # ... and nothing tagged with the request is left once the link has finished deleting
    deleting = local_server.links_to(network.nlb_arn)
    assert [link["status"] for link in deleting] in ([], ["DELETING"])
    local_server.control("clock", advance=LINK_DELETING_SECONDS)
    assert local_server.requester.tagged_with(request_id) == []


def test_two_apis_for_the_same_nlb_share_one_link(local_server: LocalServer, progress: Progress):
    # Given a first request whose link exists (still PENDING)
    network = local_server.requester.create_network("e2e-shared")
    first = local_server.requester.request(apiName="first", nlbArn=network.nlb_arn)
    progress.wait_until(first, lambda seen: any("vpcLinkId" in n.body for n in seen))

    # When a second API is requested for the same NLB
    second = local_server.requester.request(apiName="second", nlbArn=network.nlb_arn)
    first_final = progress.until_final(first)[-1]
    second_final = progress.until_final(second)[-1]

    # Then both succeed through one and the same link
    assert (first_final.status, second_final.status) == ("SUCCEEDED", "SUCCEEDED")
    (link,) = local_server.links_to(network.nlb_arn)
    assert first_final.body["vpcLinkId"] == second_final.body["vpcLinkId"] == link["id"]
    assert first_final.body["restApiId"] != second_final.body["restApiId"]


def test_an_event_no_rule_matches_starts_nothing(local_server: LocalServer, progress: Progress):
    # Given
    before = local_server.execution_arns()

    # When an event of another detail type is put on the bus, then a request that is rejected
    local_server.requester.put({"apiName": "unrelated"}, detail_type="SomethingElse")
    marker = local_server.requester.request(apiName="marker")  # no nlbArn: REJECTED at once
    progress.until_final(marker)

    # Then only the request started an execution (the bus handles its events in order)
    started = local_server.execution_arns() - before
    assert len(started) == 1


def test_the_printed_put_events_line_works_as_is(local_server: LocalServer, progress: Progress):
    # Given the line serve printed, and the example request file it names
    printed = local_server.output()
    command = re.search(r"aws --endpoint-url (\S+) events put-events --entries (\S+)", printed)
    assert command is not None, printed
    assert command.group(1) == local_server.endpoint_url
    assert command.group(2) == "file://events/provision.json"
    entries = json.loads((REPO_ROOT / "events" / "provision.json").read_text())

    # When it is sent (what `aws events put-events --entries file://...` sends)
    answer = local_server.client("events").put_events(Entries=entries)
    assert answer["FailedEntryCount"] == 0
    # the file names its requestId (so events/teardown.json can name it); else the event id
    request_id = (
        json.loads(entries[0]["Detail"]).get("requestId") or answer["Entries"][0]["EventId"]
    )

    # Then the sample NLB serve created gets its private API
    notifications = progress.until_final(request_id)
    assert notifications[-1].status == "SUCCEEDED", notifications[-1].body


def test_serve_refuses_a_busy_port(local_server: LocalServer):
    # When a second server is started on the same port
    finished = subprocess.run(
        [sys.executable, "-m", "emulator", "serve", "--port", str(local_server.port)],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=30,
    )

    # Then it says why and exits non-zero, and the first one keeps serving
    assert finished.returncode == 2
    assert f"port {local_server.port} is already in use" in finished.stdout
    assert local_server.is_ready()


def test_the_printed_put_events_line_for_the_sample_alb_works_as_is(
    local_server: LocalServer, progress: Progress
):
    # Given the line serve printed for its sample ALB, and the example file it names
    printed = local_server.output()
    command = re.search(
        r"aws --endpoint-url (\S+) events put-events --entries (\S+provision-alb\S*)", printed
    )
    assert command is not None, printed
    assert command.group(2) == "file://events/provision-alb.json"
    entries = json.loads((REPO_ROOT / "events" / "provision-alb.json").read_text())

    # When it is sent
    answer = local_server.client("events").put_events(Entries=entries)
    assert answer["FailedEntryCount"] == 0
    request_id = json.loads(entries[0]["Detail"])["requestId"]

    # Then the sample ALB gets its private API, through a VPC link V2 that names it
    notifications = progress.until_final(request_id)
    assert notifications[-1].status == "SUCCEEDED", notifications[-1].body
    final = notifications[-1].body
    link = local_server.client("apigatewayv2").get_vpc_link(VpcLinkId=final["vpcLinkId"])
    assert (link["VpcLinkVersion"], link["VpcLinkStatus"]) == ("V2", "AVAILABLE")
    target = json.loads(entries[0]["Detail"])["targetArn"]
    assert root_integration(local_server, final["restApiId"])["integrationTarget"] == target
