"""``python -m emulator demo`` (``make demo``): from nothing to a working private API, then
failures handled as the product promises, a private API to an ALB, and requests from tickets,
in about a minute.

The demo owns the embedded AWS but otherwise behaves like any requester: every call (the
network, the request, the follow-up and every check) is boto3 over HTTP to the endpoint.

1. A VPC, two subnets and an internal NLB; a PrivateApiRequested event; each notification as it
   arrives; then API Gateway itself is asked whether the stage variable names the link and the
   root integration goes through it.
   The API is secure by default: its methods are authorized with AWS_IAM, and the notification
   says how to call it (SigV4-signed requests).
2. A request for an NLB that does not exist: REJECTED, every field listed, nothing created.
3. An NLB already behind another VPC endpoint service: the link goes FAILED, the notification
   carries AWS's statusMessage, and the API created in parallel is rolled back.
4. An NLB whose owner has not tagged it private-api:expose=true: REJECTED with
   ExposureNotAllowed, the field and the tag named, nothing created.
5. An internal ALB (``targetArn``): a VPC link V2 in its subnets with its security group, the
   integration naming the ALB (``integrationTarget``), both checked through the API Gateway API
   and shown in the summary.
6. and 7. Requests from tickets (``emulator/apps/demo_tickets.py``): an approved Jira ticket
   becomes a private API and hears every step; a GitHub issue with a wrong field is told which.

Exit status 0 only when every check passes.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from typing import Any

from emulator.apps import demo_tickets
from emulator.apps.console import Console, since
from emulator.apps.local import start_embedded_aws as _start_embedded_aws
from emulator.apps.local import start_ticket_desk
from emulator.apps.options import LocalSettings, claim_port
from emulator.apps.requester import (
    MISSING_NLB_ARN,
    FollowedRequest,
    Requester,
    Verdict,
    print_execution_failure,
    send_and_follow,
    wait_until_nothing_left,
)
from emulator.engine.clock import describe_time_scale
from privateapi.network import SampleNetwork
from privateapi.progress import ProgressFollower
from provisioner.contract.vocabulary import (
    EXPOSE_TAG,
    EXPOSE_TAG_VALUE,
    STAGE_LINK_CONNECTION,
    STAGE_VARIABLE,
    Status,
)


# --- scenario 1: a private API --------------------------------------------------------------------
def scenario_private_api(
    console: Console, requester: Requester, follower: ProgressFollower, verdict: Verdict
) -> None:
    console.heading("1. A private API for an internal NLB")
    started = time.monotonic()
    network = requester.create_network("orders-service")
    console.line(
        f"  network: {network.vpc_id}, subnets {', '.join(network.subnet_ids)} "
        f"({since(started):.1f} s)"
    )
    console.line(f"  internal NLB: {network.nlb_arn}")
    followed = send_and_follow(
        console, requester, follower, apiName="orders", nlbArn=network.nlb_arn
    )
    if not verdict.final_status(followed, Status.SUCCEEDED):
        return
    assert followed.final is not None
    body = followed.final.body
    verify_link(requester, verdict, body["vpcLinkId"], network.nlb_arn)
    verify_stage_and_integration(requester, verdict, body)
    verify_authorization(requester, verdict, body)
    print_summary(console, body, followed)


def verify_link(requester: Requester, verdict: Verdict, link_id: str, nlb_arn: str) -> None:
    link = requester.client("apigateway").get_vpc_link(vpcLinkId=link_id)
    verdict.check(link["status"] == "AVAILABLE", f"VpcLink {link_id} is AVAILABLE", link["status"])
    verdict.check(link["targetArns"] == [nlb_arn], "the link targets our NLB", link["targetArns"])


def verify_stage_and_integration(
    requester: Requester, verdict: Verdict, body: dict[str, Any]
) -> None:
    apigateway = requester.client("apigateway")
    api_id, stage_name, link_id = body["restApiId"], body["stageName"], body["vpcLinkId"]
    variables = apigateway.get_stage(restApiId=api_id, stageName=stage_name).get("variables", {})
    verdict.check(
        variables.get(STAGE_VARIABLE) == link_id,
        f"stage {stage_name}: {STAGE_VARIABLE} = {link_id}",
        variables,
    )
    resources = apigateway.get_resources(restApiId=api_id)["items"]
    root = next(r for r in resources if r["path"] == "/")
    integration = apigateway.get_integration(
        restApiId=api_id, resourceId=root["id"], httpMethod="GET"
    )
    expected = {
        "type": "HTTP_PROXY",
        "connectionType": "VPC_LINK",
        "connectionId": STAGE_LINK_CONNECTION,
    }
    for key, value in expected.items():
        got = integration.get(key)
        verdict.check(got == value, f"GET / integration {key} = {value}", f"got {got}")


def verify_authorization(requester: Requester, verdict: Verdict, body: dict[str, Any]) -> None:
    """Secure by default: AWS_IAM on the method, and the notification says to sign requests."""
    apigateway = requester.client("apigateway")
    resources = apigateway.get_resources(restApiId=body["restApiId"])["items"]
    root = next(r for r in resources if r["path"] == "/")
    method = apigateway.get_method(
        restApiId=body["restApiId"], resourceId=root["id"], httpMethod="GET"
    )
    got = method.get("authorizationType")
    verdict.check(got == "AWS_IAM", "GET / is authorized with AWS_IAM", f"got {got}")
    how = body.get("howToCall", "")
    verdict.check(
        "Signature Version 4" in how and "execute-api" in how,
        "the notification says how to call it: SigV4-signed requests (service execute-api)",
        how,
    )


def print_summary(
    console: Console,
    body: dict[str, Any],
    followed: FollowedRequest,
    extra: dict[str, str] | None = None,
) -> None:
    """The summary of a provisioning; ``extra`` fields follow the VPC link's."""
    extra = extra or {}
    width = max([14, *(len(label) for label in extra)])
    console.line()
    console.line("  Summary")
    console.field("VPC link", body["vpcLinkId"], width=width)
    for label, value in extra.items():
        console.field(label, value, width=width)
    console.field("REST API", body["restApiId"], width=width)
    console.field("Stage", body["stageName"], width=width)
    console.field("Invoke URL", body["invokeUrl"], width=width)
    console.field("Authorization", body.get("authorization", "?"), width=width)
    console.field("How to call", body.get("howToCall", "?"), width=width)
    ready = f"{followed.steps()[-1][2]:.1f} s (from the request)"
    console.field("Ready after", ready, width=width)
    console.line("  Steps (from each notification's timestamp):")
    console.steps(followed.steps())


# --- scenario 2: rejected -------------------------------------------------------------------------
def scenario_missing_nlb(
    console: Console, requester: Requester, follower: ProgressFollower, verdict: Verdict
) -> None:
    console.heading("2. A request for an NLB that does not exist")
    followed = send_and_follow(
        console, requester, follower, apiName="ghost", nlbArn=MISSING_NLB_ARN
    )
    if not verdict.final_status(followed, Status.REJECTED):
        return
    assert followed.final is not None
    error = followed.final.body.get("error", {})
    listed = {bad["field"] for bad in error.get("fields", [])}
    verdict.check(error.get("code") == "InvalidRequest", "error code InvalidRequest", error)
    verdict.check(
        listed == {"detail.nlbArn"}, "the field at fault is listed: detail.nlbArn", listed
    )
    left = requester.left_behind(followed.request_id)
    verdict.check(not left, "nothing was created", left)
    print_execution_failure(console, requester, followed.request_id)


# --- scenario 3: FAILED link, rolled back ---------------------------------------------------------
def scenario_nlb_already_associated(
    console: Console, requester: Requester, follower: ProgressFollower, verdict: Verdict
) -> None:
    console.heading("3. An NLB already associated with another VPC endpoint service")
    network = requester.create_network("legacy-service")
    service = requester.client("ec2").create_vpc_endpoint_service_configuration(
        NetworkLoadBalancerArns=[network.nlb_arn], AcceptanceRequired=False
    )["ServiceConfiguration"]
    console.line(f"  NLB {network.nlb_arn}")
    console.line(f"  already behind VPC endpoint service {service['ServiceId']}")
    followed = send_and_follow(
        console, requester, follower, apiName="legacy", nlbArn=network.nlb_arn
    )
    if not verdict.final_status(followed, Status.FAILED):
        return
    assert followed.final is not None
    error = followed.final.body.get("error", {})
    verdict.check(error.get("code") == "VpcLinkFailed", "error code VpcLinkFailed", error)
    verdict.check(
        "already associated" in error.get("message", ""),
        "the notification carries AWS's statusMessage",
        error.get("message"),
    )
    verdict.check(
        Status.API_CREATED in followed.statuses,
        "the API was created in parallel",
        followed.statuses,
    )
    left = wait_until_nothing_left(requester, followed.request_id)
    verdict.check(not left, "rolled back: nothing tagged with the request id is left", left)
    print_execution_failure(console, requester, followed.request_id)


# --- scenario 4: no consent to exposure -----------------------------------------------------------
def scenario_untagged_nlb(
    console: Console, requester: Requester, follower: ProgressFollower, verdict: Verdict
) -> None:
    console.heading("4. An NLB whose owner has not consented to its exposure")
    network = requester.create_network("payroll-service", expose=False)
    console.line(f"  NLB {network.nlb_arn}")
    console.line(f"  without the tag {EXPOSE_TAG}={EXPOSE_TAG_VALUE}")
    followed = send_and_follow(
        console, requester, follower, apiName="payroll", nlbArn=network.nlb_arn
    )
    if not verdict.final_status(followed, Status.REJECTED):
        return
    assert followed.final is not None
    error = followed.final.body.get("error", {})
    fields = error.get("fields", [])
    verdict.check(error.get("code") == "ExposureNotAllowed", "error code ExposureNotAllowed", error)
    verdict.check(
        [bad["field"] for bad in fields] == ["detail.nlbArn"]
        and EXPOSE_TAG in fields[0].get("rule", ""),
        f"the field and the tag are named: detail.nlbArn, {EXPOSE_TAG}",
        fields,
    )
    left = requester.left_behind(followed.request_id)
    verdict.check(not left, "nothing was created", left)
    print_execution_failure(console, requester, followed.request_id)


# --- scenario 5: an ALB, through a VPC link V2 ----------------------------------------------------
def scenario_alb_private_api(
    console: Console, requester: Requester, follower: ProgressFollower, verdict: Verdict
) -> None:
    console.heading("5. A private API for an internal ALB, through a VPC link V2")
    network = requester.create_network("payments-service", alb=True)
    assert network.alb is not None
    alb = network.alb
    console.line(f"  internal ALB: {alb.arn}")
    console.line(
        f"  in subnets {', '.join(network.subnet_ids)}, security group "
        f"{', '.join(alb.security_group_ids)}"
    )
    followed = send_and_follow(console, requester, follower, apiName="payments", targetArn=alb.arn)
    if not verdict.final_status(followed, Status.SUCCEEDED):
        return
    assert followed.final is not None
    body = followed.final.body
    link = verify_link_v2(requester, verdict, body["vpcLinkId"], network)
    verify_stage_and_integration(requester, verdict, body)
    target = verify_integration_target(requester, verdict, body, alb.arn)
    print_summary(
        console,
        body,
        followed,
        extra={
            "Link version": f"V2, {link.get('VpcLinkStatus')}",
            "Link subnets": ", ".join(link.get("SubnetIds", [])),
            "Link groups": ", ".join(link.get("SecurityGroupIds", [])),
            "Integration target": target,
        },
    )


def verify_link_v2(
    requester: Requester, verdict: Verdict, link_id: str, network: SampleNetwork
) -> dict[str, Any]:
    link = dict(requester.client("apigatewayv2").get_vpc_link(VpcLinkId=link_id))
    assert network.alb is not None
    verdict.check(
        (link.get("VpcLinkVersion"), link.get("VpcLinkStatus")) == ("V2", "AVAILABLE"),
        f"VPC link V2 {link_id} is AVAILABLE",
        (link.get("VpcLinkVersion"), link.get("VpcLinkStatus")),
    )
    verdict.check(
        sorted(link.get("SubnetIds", [])) == sorted(network.subnet_ids)
        and link.get("SecurityGroupIds") == network.alb.security_group_ids,
        "the link is in the ALB's subnets, with its security group",
        (link.get("SubnetIds"), link.get("SecurityGroupIds")),
    )
    return link


def verify_integration_target(
    requester: Requester, verdict: Verdict, body: dict[str, Any], alb_arn: str
) -> str:
    apigateway = requester.client("apigateway")
    resources = apigateway.get_resources(restApiId=body["restApiId"])["items"]
    root = next(r for r in resources if r["path"] == "/")
    integration = apigateway.get_integration(
        restApiId=body["restApiId"], resourceId=root["id"], httpMethod="GET"
    )
    target = str(integration.get("integrationTarget", ""))
    verdict.check(target == alb_arn, "GET / integration integrationTarget = the ALB", target)
    return target


SCENARIOS: tuple[Callable[[Console, Requester, ProgressFollower, Verdict], None], ...] = (
    scenario_private_api,
    scenario_missing_nlb,
    scenario_nlb_already_associated,
    scenario_untagged_nlb,
    scenario_alb_private_api,
    *demo_tickets.SCENARIOS,
)


# --- the whole demo -------------------------------------------------------------------------------
def run_demo(settings: LocalSettings, console: Console) -> int:
    started = time.monotonic()
    port = claim_port(settings.port, fall_back_to_free=True)
    if port != settings.port:
        console.line(f"Port {settings.port} is busy; using the free port {port} instead.")
    console.line(f"Starting the embedded AWS on 127.0.0.1:{port} and deploying template.yaml ...")
    aws = _start_embedded_aws(dataclasses.replace(settings, port=port))
    requester: Requester | None = None
    try:
        console.line(f"  ready in {since(started):.1f} s: {aws.endpoint_url}")
        if aws.time_scale != 1:
            console.line(f"  clock: {describe_time_scale(aws.time_scale)}")
        requester = Requester.over_http(aws.endpoint_url, aws.outputs)
        requester.tickets = start_ticket_desk(aws, console)
        verdict = run_scenarios(console, requester)
    finally:
        if requester is not None and requester.tickets is not None:
            requester.tickets.desk.stop()
        aws.stop()
    return conclude(console, verdict, since(started))


def run_scenarios(console: Console, requester: Requester) -> Verdict:
    verdict = Verdict(console)
    with requester.follower() as follower:
        for scenario in SCENARIOS:
            scenario(console, requester, follower, verdict)
    return verdict


def conclude(console: Console, verdict: Verdict, elapsed: float) -> int:
    console.line()
    if verdict.failures:
        console.line(console.paint(f"Demo FAILED ({len(verdict.failures)} checks):", "red"))
        for what in verdict.failures:
            console.line(f"  - {what}")
        return 1
    console.line(console.paint(f"Demo passed: every check held. Total {elapsed:.1f} s.", "green"))
    return 0
