"""Workflow tests: the real statemachine/provision.asl.json, executed by moto's interpreter,
with our real handlers (in warm worker processes) answering every Lambda task.

One embedded AWS per module, wiped and redeployed from template.yaml before each test.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from boto3.dynamodb.types import TypeDeserializer

from emulator import fidelity
from emulator.runtime import EmbeddedAws
from privateapi.network import SampleNetwork, create_sample_network
from privateapi.progress import Notification, ProgressFollower
from privateapi.submit import put_request

POLL_INTERVAL_SECONDS = 1
EXECUTION_TIMEOUT_SECONDS = 90


@pytest.fixture(scope="module")
def embedded_aws() -> Iterator[EmbeddedAws]:
    with EmbeddedAws(
        parameters={"PollIntervalSeconds": POLL_INTERVAL_SECONDS},
        vpc_link_pending_seconds=2.5,
        vpc_link_deleting_seconds=0.5,
    ) as aws:
        yield aws


@dataclass
class Provisioner:
    """The control plane as a requester sees it, plus the inspection a test needs."""

    aws: EmbeddedAws
    network: SampleNetwork
    follower: ProgressFollower

    def __post_init__(self) -> None:
        self.apigateway = self.aws.client("apigateway")
        self.sfn = self.aws.client("stepfunctions")

    def request(self, **detail: Any) -> str:
        detail.setdefault("apiName", "orders")
        if "vpcLinkId" not in detail:
            detail.setdefault("nlbArn", self.network.nlb_arn)
        return self.put("PrivateApiRequested", detail)

    def put(self, detail_type: str, detail: dict[str, Any]) -> str:
        return put_request(
            self.aws.client("events"),
            self.aws.outputs["RequestBusName"],
            detail,
            detail_type=detail_type,
        )

    def put_copies(self, detail_type: str, detail: dict[str, Any], copies: int) -> None:
        """``copies`` events in one PutEvents call: they arrive at the same moment."""
        entry = {
            "EventBusName": self.aws.outputs["RequestBusName"],
            "Source": "tests",
            "DetailType": detail_type,
            "Detail": json.dumps(detail),
        }
        answer = self.aws.client("events").put_events(Entries=[entry] * copies)
        assert answer["FailedEntryCount"] == 0

    def finished_executions(self, machine_output: str, count: int) -> list[dict[str, Any]]:
        """Wait until ``count`` executions of a state machine exist and none runs."""
        machine = self.aws.outputs[machine_output]
        deadline = time.monotonic() + EXECUTION_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            executions = self.sfn.list_executions(stateMachineArn=machine)["executions"]
            if len(executions) >= count and all(e["status"] != "RUNNING" for e in executions):
                return [
                    dict(self.sfn.describe_execution(executionArn=e["executionArn"]))
                    for e in executions
                ]
            time.sleep(0.3)
        raise TimeoutError(f"{count} executions of {machine_output} did not finish")

    def ledger(self, request_id: str) -> dict[str, Any] | None:
        table = self.aws.outputs["LedgerTableName"]
        item = self.aws.client("dynamodb").get_item(
            TableName=table, Key={"pk": {"S": f"REQUEST#{request_id}"}}
        )
        if "Item" not in item:
            return None
        deserializer = TypeDeserializer()
        return {key: deserializer.deserialize(value) for key, value in item["Item"].items()}

    def notifications(self, request_id: str) -> list[Notification]:
        try:
            return self.follower.until_final(request_id, timeout_seconds=EXECUTION_TIMEOUT_SECONDS)
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
        machine = self.aws.outputs["ProvisionStateMachineArn"]
        deadline = time.monotonic() + EXECUTION_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            executions = self.sfn.list_executions(stateMachineArn=machine)["executions"]
            if executions and all(e["status"] != "RUNNING" for e in executions):
                assert len(executions) == 1, executions
                return dict(self.sfn.describe_execution(executionArn=executions[0]["executionArn"]))
            time.sleep(0.2)
        raise TimeoutError("the execution did not finish")

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
    network = create_sample_network(embedded_aws.client("ec2"), embedded_aws.client("elbv2"))
    with ProgressFollower(
        embedded_aws.client("sns"),
        embedded_aws.client("sqs"),
        embedded_aws.outputs["ProgressTopicArn"],
    ) as follower:
        yield Provisioner(embedded_aws, network, follower)
    fidelity.reset_hooks()
