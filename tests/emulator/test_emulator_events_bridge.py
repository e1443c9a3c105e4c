"""EventBridge rules whose target is a state machine start executions (moto does not)."""

from __future__ import annotations

import json

import pytest

from emulator.engine.runtime import EmbeddedAws
from emulator.fidelity import events
from privateapi.waiting import wait_until

pytestmark = pytest.mark.unit


def _entry(aws: EmbeddedAws, detail_type: str, detail: dict) -> dict:
    return {
        "EventBusName": aws.outputs["BusName"],
        "Source": "tests.emulator",
        "DetailType": detail_type,
        "Detail": json.dumps(detail),
    }


def _put(aws: EmbeddedAws, detail_type: str, detail: dict) -> str:
    answer = aws.client("events").put_events(Entries=[_entry(aws, detail_type, detail)])
    assert answer["FailedEntryCount"] == 0
    return str(answer["Entries"][0]["EventId"])


def _executions(aws: EmbeddedAws) -> list[dict]:
    sfn = aws.client("stepfunctions")
    return sfn.list_executions(stateMachineArn=aws.outputs["WorkflowArn"])["executions"]


def _finished(aws: EmbeddedAws) -> dict:
    sfn = aws.client("stepfunctions")
    executions = wait_until(
        lambda: [e for e in _executions(aws) if e["status"] != "RUNNING"],
        timeout=30,
        what="the workflow's execution to finish",
    )
    return sfn.describe_execution(executionArn=executions[0]["executionArn"])


def test_matching_event_starts_the_workflow_with_the_event_envelope(aws: EmbeddedAws) -> None:
    event_id = _put(aws, "StubRequested", {"apiName": "orders"})

    execution = _finished(aws)
    assert execution["status"] == "SUCCEEDED"
    started_with = json.loads(execution["input"])
    assert set(started_with) == {
        "version",
        "id",
        "detail-type",
        "source",
        "account",
        "time",
        "region",
        "resources",
        "detail",
    }
    assert started_with["id"] == event_id
    assert started_with["detail-type"] == "StubRequested"
    assert started_with["detail"] == {"apiName": "orders"}
    assert started_with["time"].endswith("Z")
    output = json.loads(execution["output"])
    assert output["echo"]["event"] == started_with  # the real handler ran in the workflow


def test_handler_error_type_reaches_the_workflow_catch(aws: EmbeddedAws) -> None:
    _put(aws, "StubRequested", {"explode": True})

    execution = _finished(aws)
    assert execution["status"] == "SUCCEEDED"
    assert json.loads(execution["output"])["error"]["Error"] == "StubFailure"


def test_event_matching_no_rule_starts_nothing(aws: EmbeddedAws) -> None:
    # Given an event no rule matches, followed in the same PutEvents call by one that matches
    entries = [
        _entry(aws, "SomethingElse", {"apiName": "orders"}),
        _entry(aws, "StubRequested", {"apiName": "marker"}),
    ]

    # When both are delivered (in order: once the second has started its workflow, the first
    # has been through every rule)
    assert aws.client("events").put_events(Entries=entries)["FailedEntryCount"] == 0
    execution = _finished(aws)

    # Then only the matching one started a workflow
    assert len(_executions(aws)) == 1
    assert json.loads(execution["input"])["detail"] == {"apiName": "marker"}


# --- PutEvents refuses what EventBridge refuses ---------------------------------------------------
def test_a_detail_that_is_json_but_not_an_object_is_malformed_in_its_own_place(
    aws: EmbeddedAws,
) -> None:
    entries = [
        _entry(aws, "SomethingElse", {"a": 1}),
        {**_entry(aws, "SomethingElse", {}), "Detail": "[1, 2, 3]"},
        {**_entry(aws, "SomethingElse", {}), "Detail": "not json"},
        _entry(aws, "SomethingElse", {"b": 2}),
    ]

    answer = aws.client("events").put_events(Entries=entries)

    assert answer["FailedEntryCount"] == 2
    results = answer["Entries"]
    assert "EventId" in results[0] and "EventId" in results[3]
    for failed in results[1:3]:
        assert failed == {"ErrorCode": "MalformedDetail", "ErrorMessage": "Detail is malformed."}


def test_entries_of_256_kib_or_more_are_refused_whole(aws: EmbeddedAws) -> None:
    from botocore.exceptions import ClientError

    entry = _entry(aws, "StubRequested", {})
    room = events.MAX_ENTRIES_SIZE - events.entry_size(entry)
    just_under = {**entry, "Detail": json.dumps({"pad": "x" * (room - 10)})}
    at_the_limit = {**entry, "Detail": json.dumps({"pad": "x" * (room - 9)})}
    assert events.entry_size(just_under) == events.MAX_ENTRIES_SIZE - 1

    assert aws.client("events").put_events(Entries=[just_under])["FailedEntryCount"] == 0
    with pytest.raises(ClientError) as refused:
        aws.client("events").put_events(Entries=[at_the_limit])
    assert refused.value.response["Error"]["Code"] == "ValidationException"
    assert refused.value.response["Error"]["Message"] == (
        "Total size of the entries in the request is over the limit."
    )
