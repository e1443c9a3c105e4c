"""Step Functions executions, as the watch on stopped executions needs to see them."""

from __future__ import annotations

from provisioner.aws import clients


def input_of(execution_arn: str) -> str:
    with clients.aws_errors():
        return clients.stepfunctions().describe_execution(executionArn=execution_arn)["input"]


def last_state_entered(execution_arn: str) -> str | None:
    """The name of the last state the execution entered (its history is a few hundred events
    at most: the whole of it is read)."""
    last = None
    with clients.aws_errors():
        pages = (
            clients.stepfunctions()
            .get_paginator("get_execution_history")
            .paginate(executionArn=execution_arn)
        )
        for page in pages:
            for event in page["events"]:
                entered = event.get("stateEnteredEventDetails")
                if entered:
                    last = entered["name"]
    return last
