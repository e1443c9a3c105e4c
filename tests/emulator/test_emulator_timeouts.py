"""A state machine's ``TimeoutSeconds`` on the embedded AWS's clock: the workflows' backstop
(statemachine/workflows.py) ends an execution TIMED_OUT at its deadline, in emulated time."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from emulator.engine.runtime import EmbeddedAws
from privateapi.waiting import wait_until

pytestmark = pytest.mark.unit


@pytest.fixture(scope="module")
def aws() -> Iterator[EmbeddedAws]:
    with EmbeddedAws(
        deploy_stack=False, time_scale="auto", ami_catalogue=False, rate_limits=False
    ) as embedded:
        yield embedded


def test_a_state_machines_timeout_seconds_ends_it_timed_out_on_the_clock(aws: EmbeddedAws):
    # Given a state machine whose TimeoutSeconds (60) is shorter than its Wait (an hour), as the
    # workflows' backstop is shorter than an execution whose deadline check went wrong
    sfn = aws.client("stepfunctions")
    definition = {
        "StartAt": "WaitTooLong",
        "TimeoutSeconds": 60,
        "States": {"WaitTooLong": {"Type": "Wait", "Seconds": 3600, "End": True}},
    }
    machine = sfn.create_state_machine(
        name="backstop",
        definition=json.dumps(definition),
        roleArn="arn:aws:iam::123456789012:role/backstop",
    )["stateMachineArn"]

    # When it runs
    execution_arn = sfn.start_execution(stateMachineArn=machine)["executionArn"]
    wait_until(
        lambda: sfn.describe_execution(executionArn=execution_arn)["status"] != "RUNNING",
        timeout=30,
        what="the execution to stop",
    )

    # Then it timed out 60 emulated seconds after it started, not an hour
    assert sfn.describe_execution(executionArn=execution_arn)["status"] == "TIMED_OUT"
    history = sfn.get_execution_history(executionArn=execution_arn)["events"]
    started, ended = history[0], history[-1]
    assert ended["type"] == "ExecutionTimedOut"
    assert 60 <= ended["timestamp"].timestamp() - started["timestamp"].timestamp() < 3600
