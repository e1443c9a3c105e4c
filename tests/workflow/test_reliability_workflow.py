"""Specification of the control plane under load: ten requests at once, against API Gateway
as it throttles and fails, and against its real control-plane rates.

The clock skips every wait (``time_scale="auto"``): a turn for CreateDeployment five seconds
away, a retry's backoff or a link PENDING for three minutes costs no real time.
"""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from emulator import fidelity
from privateapi.network import create_sample_network
from privateapi.progress import Notification
from privateapi.waiting import wait_until
from provisioner.storage.keys import pace_key
from tests.workflow.conftest import Provisioner

pytestmark = pytest.mark.workflow

REQUESTS = 10
# Real seconds ten requests may take on a busy machine: a bound, not an expectation.
BURST_TIMEOUT_SECONDS = 300


def ten_requests_at_once(provisioner: Provisioner) -> list[str]:
    """Ten provisioning requests, each for an NLB of its own, put on the bus in one call."""
    nlbs = [
        create_sample_network(
            provisioner.aws.client("ec2"), provisioner.aws.client("elbv2"), name=f"team-{n}"
        ).nlb_arn
        for n in range(REQUESTS)
    ]
    request_ids = [f"team-{n}" for n in range(REQUESTS)]
    provisioner.put_all(  # raises if the bus refuses any
        [
            {"requestId": rid, "apiName": f"api-{n}", "nlbArn": nlb}
            for n, (rid, nlb) in enumerate(zip(request_ids, nlbs, strict=True))
        ]
    )
    return request_ids


def finished(provisioner: Provisioner) -> list[dict[str, Any]]:
    """Every provisioning execution, once all ten have ended."""
    machine = provisioner.aws.outputs["ProvisionStateMachineArn"]

    def all_ended() -> list[dict[str, Any]] | None:
        executions = provisioner.sfn.list_executions(stateMachineArn=machine)["executions"]
        ended = [e for e in executions if e["status"] != "RUNNING"]
        return executions if len(ended) >= REQUESTS and len(ended) == len(executions) else None

    return wait_until(all_ended, timeout=BURST_TIMEOUT_SECONDS, what="ten provisionings")


def notified(provisioner: Provisioner, request_ids: list[str]) -> dict[str, list[Notification]]:
    """Each request's notifications, up to its final one."""
    return {rid: provisioner.notifications(rid) for rid in request_ids}


def test_ten_requests_succeed_through_throttling_and_faults_and_leave_nothing_behind(
    provisioner: Provisioner,
):
    # Given API Gateway answers 30% of every call 429 and 5% 503, at random (seeded: each
    # operation has its own draws, and seed 11 refuses one of the first four calls of
    # CreateRestApi, CreateDeployment and GetVpcLink, 429 and 503 among them, whatever order
    # the ten requests' calls arrive in)
    fidelity.rate_limits.inject_faults("*", throttle_share=0.3, error_share=0.05, seed=11)

    # When ten requests arrive at once
    request_ids = ten_requests_at_once(provisioner)
    executions = finished(provisioner)
    fidelity.rate_limits.inject_faults([])  # the test's own reads below are not refused
    told = {rid: notes[-1].body for rid, notes in notified(provisioner, request_ids).items()}

    # Then every one SUCCEEDED
    summary = provisioner.executions_summary()
    assert {rid: body["status"] for rid, body in told.items()} == dict.fromkeys(
        request_ids, "SUCCEEDED"
    ), summary
    assert all(e["status"] == "SUCCEEDED" for e in executions), summary

    # ... through faults that did happen, on every kind of call
    refused = [c for c in fidelity.rate_limits.calls() if c.cause == "fault"]
    assert {c.status for c in refused} == {429, 503}
    assert {"CreateRestApi", "CreateDeployment", "GetVpcLink"} <= {c.operation for c in refused}

    # ... and what exists is exactly what the requests report: nothing leaked, nothing twice
    reported_apis = {body["restApiId"] for body in told.values()}
    reported_links = {body["vpcLinkId"] for body in told.values()}
    apis, links = provisioner.rest_apis(), provisioner.vpc_links()
    assert {api["id"] for api in apis} == reported_apis and len(apis) == REQUESTS
    assert {link["id"] for link in links} == reported_links and len(links) == REQUESTS
    for resource in [*apis, *links]:
        assert resource["tags"]["provisioner:request-id"] in request_ids
    for api in apis:
        deployments = provisioner.apigateway.get_deployments(restApiId=api["id"])["items"]
        assert len(deployments) == 1


def test_ten_requests_under_the_real_rates_take_their_turns_and_are_never_throttled_for_them(
    provisioner: Provisioner,
):
    # Given API Gateway's real control-plane rates (CreateRestApi 1 per 3 s, CreateDeployment
    # 1 per 5 s, 10 calls per second in all, bursts of 40)
    fidelity.rate_limits.enable(True)

    # When ten requests arrive at once
    request_ids = ten_requests_at_once(provisioner)
    finished(provisioner)
    notes = notified(provisioner, request_ids)

    # Then every one SUCCEEDED
    statuses = {rid: told[-1].status for rid, told in notes.items()}
    assert statuses == dict.fromkeys(request_ids, "SUCCEEDED"), provisioner.executions_summary()

    # ... and API Gateway saw the CreateDeployment calls one turn apart: never two closer
    # than its 5 s (emulator time), none refused for its rate. Likewise CreateRestApi, 3 s.
    for operation, seconds in (("CreateDeployment", 5), ("CreateRestApi", 3)):
        calls = fidelity.rate_limits.calls(operation)
        assert len([c for c in calls if c.status < 300]) == REQUESTS, calls
        assert not [c for c in calls if c.limit == operation], calls
        gaps = [later.time - earlier.time for earlier, later in itertools.pairwise(calls)]
        assert min(gaps) >= seconds, gaps

    # ... as the ledger's turns say: the last call, and the turns reserved after it
    pace = provisioner.aws.client("dynamodb").get_item(
        TableName=provisioner.aws.outputs["LedgerTableName"],
        Key={"pk": {"S": pace_key("CreateDeployment")["pk"]}},
    )["Item"]
    last_call = float(pace["lastCallAt"]["N"])
    assert last_call == pytest.approx(
        fidelity.rate_limits.calls("CreateDeployment")[-1].time, abs=1
    )
    assert float(pace["nextFreeAt"]["N"]) >= last_call

    # ... and the requesters who waited long for their turn were told when to expect it
    waited = [
        n.body for told in notes.values() for n in told if n.status == "WAITING_FOR_API_GATEWAY"
    ]
    assert waited, "ten deployments 5 s apart: the last ones wait more than ten seconds"
    for body in waited:
        assert body["waitSeconds"] > 10
        assert body["expectedAt"].endswith("Z")
        assert body["apiGatewayOperation"] in {"CreateRestApi", "CreateDeployment"}
