"""Workflow tests: the real statemachine/provision.asl.json, executed by moto's interpreter,
with our real handlers (in warm worker processes) answering every Lambda task.

One embedded AWS per module, wiped and redeployed from template.yaml before each test. It runs
with the template's own poll interval (15 s) and AWS's own timings (a new link PENDING for
three minutes), on a clock that skips a wait whenever nothing else runs (``time_scale="auto"``,
see emulator/engine/clock.py): every Wait state and every poll happens, and costs no real time.
A test that needs an exact number of polls pins it with ``fidelity.script_vpc_links``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from emulator import fidelity
from emulator.engine.runtime import EmbeddedAws
from privateapi.network import SampleNetwork, create_sample_network
from privateapi.progress import Notification, ProgressFollower
from privateapi.requester import Requester
from privateapi.waiting import wait_until

# Real seconds a test may wait for its executions to end: a bound, not an expectation.
EXECUTION_TIMEOUT_SECONDS = 120
LINK_PENDING_SECONDS = 180  # "typically 2-4 minutes"
LINK_DELETING_SECONDS = 60


@pytest.fixture(scope="module")
def embedded_aws() -> Iterator[EmbeddedAws]:
    with EmbeddedAws(
        vpc_link_pending_seconds=LINK_PENDING_SECONDS,
        vpc_link_deleting_seconds=LINK_DELETING_SECONDS,
        time_scale="auto",
        ami_catalogue=False,
        rate_limits=False,  # not about API Gateway's rates
    ) as aws:
        yield aws


@dataclass(kw_only=True)
class Provisioner(Requester):
    """The control plane as a requester sees it (the shared harness), plus the inspection a
    test needs."""

    aws: EmbeddedAws
    network: SampleNetwork
    progress: ProgressFollower  # subscribed before the test starts

    def __post_init__(self) -> None:
        self.apigateway = self.aws.client("apigateway")
        self.sfn = self.aws.client("stepfunctions")

    def request(self, **detail: Any) -> str:
        """A provisioning request for ``orders`` on the test's NLB, unless told otherwise."""
        detail.setdefault("apiName", "orders")
        if "vpcLinkId" not in detail:
            detail.setdefault("nlbArn", self.network.nlb_arn)
        return super().request(**detail)

    def finished_executions(self, machine_output: str, count: int) -> list[dict[str, Any]]:
        """Wait until ``count`` executions of a state machine exist and none runs."""
        machine = self.aws.outputs[machine_output]

        def all_finished() -> list[dict[str, Any]] | None:
            executions = self.sfn.list_executions(stateMachineArn=machine)["executions"]
            if len(executions) >= count and all(e["status"] != "RUNNING" for e in executions):
                return executions
            return None

        executions = wait_until(
            all_finished,
            timeout=EXECUTION_TIMEOUT_SECONDS,
            what=f"{count} executions of {machine_output} to finish",
        )
        return [
            dict(self.sfn.describe_execution(executionArn=e["executionArn"])) for e in executions
        ]

    def notifications(self, request_id: str) -> list[Notification]:
        try:
            return self.progress.until_final(request_id, timeout_seconds=EXECUTION_TIMEOUT_SECONDS)
        except TimeoutError as missing:
            raise AssertionError(f"{missing}; executions: {self.executions_summary()}") from None

    def executions_summary(self) -> list[str]:
        """Every execution's status, error and last states: what a failed test needs to say."""
        summary = []
        for output in (
            "ProvisionStateMachineArn",
            "TeardownStateMachineArn",
            "RelinkStateMachineArn",
        ):
            machine = self.aws.outputs[output]
            for execution in self.sfn.list_executions(stateMachineArn=machine)["executions"]:
                described = self.sfn.describe_execution(executionArn=execution["executionArn"])
                states = [
                    e["stateEnteredEventDetails"]["name"]
                    for e in self.history(execution["executionArn"])
                    if "stateEnteredEventDetails" in e
                ]
                summary.append(
                    f"{output[:-15]} {execution['status']} {described.get('error', '')} "
                    f"{described.get('input', '')[:160]} {states[-6:]}"
                )
        return summary

    def execution(self) -> dict[str, Any]:
        """The single finished execution of the provisioning state machine."""
        (execution,) = self.finished_executions("ProvisionStateMachineArn", count=1)
        return execution

    def entered_states(self, execution_arn: str) -> list[str]:
        """The names of the states the execution entered, in order (repeats included)."""
        return [
            event["stateEnteredEventDetails"]["name"]
            for event in self.history(execution_arn)
            if "stateEnteredEventDetails" in event
        ]

    def history(self, execution_arn: str) -> list[dict[str, Any]]:
        pages = self.sfn.get_paginator("get_execution_history").paginate(executionArn=execution_arn)
        return [event for page in pages for event in page["events"]]

    def rest_apis(self) -> list[dict[str, Any]]:
        return list(self.apigateway.get_rest_apis()["items"])

    def vpc_links(self) -> list[dict[str, Any]]:
        return list(self.apigateway.get_vpc_links()["items"])


@pytest.fixture
def provisioner(embedded_aws: EmbeddedAws) -> Iterator[Provisioner]:
    embedded_aws.reset()
    outputs = embedded_aws.outputs
    names = (outputs["RequestBusName"], outputs["ProgressTopicArn"], outputs["LedgerTableName"])
    network = create_sample_network(embedded_aws.client("ec2"), embedded_aws.client("elbv2"))
    with Requester(embedded_aws.client, *names).follower() as progress:
        yield Provisioner(
            embedded_aws.client, *names, aws=embedded_aws, network=network, progress=progress
        )
    # Whatever the test did: no stage ever pointed at a link that was not AVAILABLE.
    unsafe = [c for c in fidelity.stage_link_changes() if c.link_status != "AVAILABLE"]
    fidelity.reset_hooks()
    assert unsafe == [], f"stages pointed at links that were not AVAILABLE: {unsafe}"
