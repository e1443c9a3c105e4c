"""``python -m emulator demo`` (``make demo``): from nothing to a working private API, then two
failures handled as the product promises, then a private API to an ALB, in well under a
minute.

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

Exit status 0 only when every check passes.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from emulator.apps.console import Console, since
from emulator.apps.local import ACCOUNT_ID, REGION, LocalSettings, claim_port, http_client
from emulator.apps.local import start_embedded_aws as _start_embedded_aws
from emulator.engine.clock import CLOCK, describe_time_scale
from privateapi.network import SampleNetwork, create_sample_network
from privateapi.progress import Notification, ProgressFollower
from privateapi.submit import put_request

FOLLOW_TIMEOUT_SECONDS = 60
CLEANUP_TIMEOUT_SECONDS = 10
ENDED_BADLY = frozenset({"FAILED", "TIMED_OUT", "ABORTED"})
REQUEST_ID_TAG = "provisioner:request-id"
EXPOSE_TAG = "private-api:expose"
STAGE_VARIABLE = "${stageVariables.vpcLinkId}"
MISSING_NLB_ARN = (
    f"arn:aws:elasticloadbalancing:{REGION}:{ACCOUNT_ID}:"
    "loadbalancer/net/ghost-nlb/0123456789abcdef"
)


# --- talking to the endpoint --------------------------------------------------------------------
@dataclass
class Requester:
    """A requester's view of the control plane: clients over HTTP, the bus and the topic."""

    endpoint_url: str
    bus_name: str
    topic_arn: str
    _clients: dict[str, Any] = field(default_factory=dict)
    _state_machine_arn: str = ""

    def client(self, service: str) -> Any:
        if service not in self._clients:
            self._clients[service] = http_client(self.endpoint_url, service)
        return self._clients[service]

    def create_network(self, name: str, *, alb: bool = False, expose: bool = True) -> SampleNetwork:
        ec2, elbv2 = self.client("ec2"), self.client("elbv2")
        return create_sample_network(ec2, elbv2, name, alb=alb, expose=expose)

    def request(self, **detail: Any) -> str:
        return put_request(self.client("events"), self.bus_name, detail)

    def left_behind(self, request_id: str) -> list[str]:
        """REST APIs and VpcLinks (V1 and V2) still tagged with ``request_id`` (DELETING links
        count)."""
        apigateway = self.client("apigateway")
        apis = apigateway.get_rest_apis()["items"]
        links = apigateway.get_vpc_links()["items"]
        links_v2 = [
            {"id": link["VpcLinkId"], "tags": link.get("Tags")}
            for link in self.client("apigatewayv2").get_vpc_links()["Items"]
        ]
        return [
            f"{kind} {item['id']}"
            for kind, items in (("rest api", apis), ("vpc link", links), ("vpc link", links_v2))
            for item in items
            if (item.get("tags") or {}).get(REQUEST_ID_TAG) == request_id
        ]

    @property
    def state_machine_arn(self) -> str:
        if not self._state_machine_arn:
            machines = self.client("stepfunctions").list_state_machines()["stateMachines"]
            self._state_machine_arn = next(
                m["stateMachineArn"] for m in machines if m["name"].endswith("-provision")
            )
        return self._state_machine_arn

    def execution_failure(self, request_id: str) -> tuple[str, str, str] | None:
        """``(name, error, cause)`` of the execution that handled ``request_id``, if it failed."""
        sfn = self.client("stepfunctions")
        executions = sfn.list_executions(stateMachineArn=self.state_machine_arn)["executions"]
        for execution in executions:
            if execution["status"] not in ENDED_BADLY:
                continue
            described = sfn.describe_execution(executionArn=execution["executionArn"])
            if request_id in described.get("input", ""):
                return execution["name"], described.get("error", ""), described.get("cause", "")
        return None


# --- following one request ----------------------------------------------------------------------
@dataclass
class FollowedRequest:
    """The notifications of one request, and when each happened relative to the request."""

    request_id: str
    sent_at: datetime
    timeline: list[tuple[Notification, float]] = field(default_factory=list)
    execution_failure: tuple[str, str, str] | None = None

    @property
    def final(self) -> Notification | None:
        last = self.timeline[-1][0] if self.timeline else None
        return last if last is not None and last.final else None

    @property
    def statuses(self) -> list[str]:
        return [notification.status for notification, _ in self.timeline]

    def seconds_since_sent(self, notification: Notification, arrival: float) -> float:
        """From the notification's own timestamp (when the step happened), else its arrival."""
        try:
            stamp = datetime.fromisoformat(notification.body["timestamp"])
        except (KeyError, TypeError, ValueError):
            return arrival
        return max(0.0, (stamp - self.sent_at).total_seconds())

    def steps(self) -> list[tuple[str, float, float]]:
        """``(status, seconds since the step before, seconds since sent)``, in the order the
        steps happened (parallel branches' notifications may arrive the other way round)."""
        moments = sorted(
            (self.seconds_since_sent(notification, arrival), notification.status)
            for notification, arrival in self.timeline
        )
        rows, previous = [], 0.0
        for at, status in moments:
            rows.append((status, at - previous, at))
            previous = at
        return rows


def follow(
    console: Console, requester: Requester, follower: ProgressFollower, followed: FollowedRequest
) -> FollowedRequest:
    """Print each notification of the request as it arrives, until its final one (or until
    its execution ended without one: then its error and cause are printed instead)."""
    started = time.monotonic()
    while since(started) < FOLLOW_TIMEOUT_SECONDS:
        arrived = [n for n in follower.poll(wait_seconds=1) if n.request_id == followed.request_id]
        for notification in arrived:
            followed.timeline.append((notification, since(started)))
            console.notification(notification, f"{since(started):5.1f} s")
        if followed.final is not None:
            break
        failure = None if arrived else requester.execution_failure(followed.request_id)
        if failure is not None:  # it ended before it could publish a final notification
            followed.execution_failure = failure
            console.execution_failed(*failure)
            break
        last = followed.statuses[-1] if followed.statuses else "sent"
        console.status(f"{since(started):5.1f} s  {last}, waiting for the next step ...")
    return followed


def send_and_follow(
    console: Console, requester: Requester, follower: ProgressFollower, **detail: Any
) -> FollowedRequest:
    sent_at = CLOCK.now()  # the embedded AWS's clock, which the notifications' timestamps use
    request_id = requester.request(**detail)
    console.line(f"  PrivateApiRequested put on {requester.bus_name}: requestId {request_id}")
    return follow(console, requester, follower, FollowedRequest(request_id, sent_at))


# --- checks ---------------------------------------------------------------------------------------
@dataclass
class Verdict:
    """Every check the demo makes; the exit status is 0 only when all of them passed."""

    console: Console
    failures: list[str] = field(default_factory=list)

    def check(self, ok: bool, what: str, detail: Any = "") -> bool:
        if not self.console.check(ok, what, str(detail)):
            self.failures.append(what)
        return ok

    def final_status(self, followed: FollowedRequest, expected: str) -> bool:
        final, failure = followed.final, followed.execution_failure
        if final:
            got = final.status
        elif failure:
            got = f"no final notification: the execution failed with {failure[1]}"
        else:
            got = f"no final notification in {FOLLOW_TIMEOUT_SECONDS} s"
        return self.check(got == expected, f"the request ended {expected}", f"got {got}")


def wait_until_nothing_left(requester: Requester, request_id: str) -> list[str]:
    """Bounded wait for rollback to finish (a deleted link stays DELETING for a moment)."""
    deadline = time.monotonic() + CLEANUP_TIMEOUT_SECONDS
    left = requester.left_behind(request_id)
    while left and time.monotonic() < deadline:
        time.sleep(0.5)
        left = requester.left_behind(request_id)
    return left


def print_execution_failure(console: Console, requester: Requester, request_id: str) -> None:
    failure = requester.execution_failure(request_id)
    if failure is not None:
        console.execution_failed(*failure)


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
    if not verdict.final_status(followed, "SUCCEEDED"):
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
        variables.get("vpcLinkId") == link_id,
        f"stage {stage_name}: vpcLinkId = {link_id}",
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
        "connectionId": STAGE_VARIABLE,
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
    if not verdict.final_status(followed, "REJECTED"):
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
    if not verdict.final_status(followed, "FAILED"):
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
        "API_CREATED" in followed.statuses, "the API was created in parallel", followed.statuses
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
    console.line(f"  without the tag {EXPOSE_TAG}=true")
    followed = send_and_follow(
        console, requester, follower, apiName="payroll", nlbArn=network.nlb_arn
    )
    if not verdict.final_status(followed, "REJECTED"):
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
    if not verdict.final_status(followed, "SUCCEEDED"):
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
)


# --- the whole demo -------------------------------------------------------------------------------
def run_demo(settings: LocalSettings, console: Console) -> int:
    started = time.monotonic()
    port = claim_port(settings.port, fall_back_to_free=True)
    if port != settings.port:
        console.line(f"Port {settings.port} is busy; using the free port {port} instead.")
    console.line(f"Starting the embedded AWS on 127.0.0.1:{port} and deploying template.yaml ...")
    aws = _start_embedded_aws(dataclasses.replace(settings, port=port))
    try:
        console.line(f"  ready in {since(started):.1f} s: {aws.endpoint_url}")
        if aws.time_scale != 1:
            console.line(f"  clock: {describe_time_scale(aws.time_scale)}")
        requester = Requester(
            aws.endpoint_url, aws.outputs["RequestBusName"], aws.outputs["ProgressTopicArn"]
        )
        verdict = run_scenarios(console, requester)
    finally:
        aws.stop()
    return conclude(console, verdict, since(started))


def run_scenarios(console: Console, requester: Requester) -> Verdict:
    verdict = Verdict(console)
    with ProgressFollower(
        requester.client("sns"), requester.client("sqs"), requester.topic_arn
    ) as follower:
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
