"""SQS event source mappings: the stub stack's worker consumes its work queue (BatchSize 5,
ReportBatchItemFailures, visibility timeout 1 s, maxReceiveCount 2 into a dead-letter queue).

The worker records every delivery in the table as ``<id>#<receive count>``; tests wait on
those records and on the poller's own record of each batch (``aws.event_sources.deliveries``),
never on time. Visibility timeouts run on the embedded AWS's clock, which stands still here:
a test steps it past the timeout a delivery left its message with (``_step_past``)."""

from __future__ import annotations

import base64
import hashlib
import json
from typing import Any

import pytest

from emulator.engine.event_sources import Delivery, failed_messages
from emulator.engine.lambda_runtime import InvocationResult
from emulator.engine.runtime import EmbeddedAws
from privateapi.waiting import wait_until

pytestmark = pytest.mark.unit

WAIT = 20  # real seconds: a cold start, and a redelivery or two once the clock is stepped
VISIBILITY_SECONDS = 1.1  # past the work queue's visibility timeout (1 s)


def _send(aws: EmbeddedAws, body: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    return dict(
        aws.client("sqs").send_message(
            QueueUrl=aws.outputs["WorkQueueUrl"], MessageBody=json.dumps(body), **kwargs
        )
    )


def _received(aws: EmbeddedAws) -> dict[str, dict[str, Any]]:
    """What the worker recorded: ``<id>#<receive count>`` → item."""
    table = aws.client("dynamodb")
    items = table.scan(TableName=aws.outputs["TableName"], ConsistentRead=True)["Items"]
    return {item["id"]["S"]: item for item in items}


def _wait_received(aws: EmbeddedAws, *keys: str) -> dict[str, dict[str, Any]]:
    return wait_until(
        lambda: (received := _received(aws)) and all(k in received for k in keys) and received,
        timeout=WAIT,
        what=f"the worker to receive {keys}",
    )


def _step_past(aws: EmbeddedAws, message_id: str, deliveries: int, seconds: float) -> None:
    """Once the message's ``deliveries``-th batch is settled (the function has answered, so
    its visibility is what the delivery left), step the clock ``seconds`` on."""
    wait_until(
        lambda: len(_settled(aws, message_id)) >= deliveries,
        timeout=WAIT,
        what=f"delivery {deliveries} of {message_id} to be settled",
    )
    aws.clock.advance(seconds)


def _settled(aws: EmbeddedAws, message_id: str) -> list[Delivery]:
    """The batches that carried this message so far."""
    return [d for d in aws.event_sources.deliveries if message_id in d.message_ids]


def _queue_counts(aws: EmbeddedAws, output: str) -> tuple[int, int]:
    """(waiting, in flight) in the queue a stack output names, or at a queue URL."""
    attributes = aws.client("sqs").get_queue_attributes(
        QueueUrl=aws.outputs.get(output, output),
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return (
        int(attributes["ApproximateNumberOfMessages"]),
        int(attributes["ApproximateNumberOfMessagesNotVisible"]),
    )


def test_a_message_reaches_the_function_as_lambda_sends_it_then_is_deleted(
    aws: EmbeddedAws,
) -> None:
    sent = _send(
        aws,
        {"id": "hello"},
        MessageAttributes={
            "ticket": {"DataType": "String", "StringValue": "OPS-1"},
            "attempt": {"DataType": "Number", "StringValue": "3"},
            "blob": {"DataType": "Binary", "BinaryValue": b"\x00\x01"},
        },
    )

    received = _wait_received(aws, "hello#1")
    deliveries = wait_until(lambda: _settled(aws, sent["MessageId"]), timeout=WAIT, what="it")

    record = json.loads(received["hello#1"]["record"]["S"])
    assert set(record) == {
        "messageId",
        "receiptHandle",
        "body",
        "attributes",
        "messageAttributes",
        "md5OfBody",
        "md5OfMessageAttributes",
        "eventSource",
        "eventSourceARN",
        "awsRegion",
    }
    assert record["messageId"] == sent["MessageId"]
    assert record["body"] == '{"id": "hello"}'
    assert record["md5OfBody"] == hashlib.md5(record["body"].encode()).hexdigest()
    assert record["md5OfBody"] == sent["MD5OfMessageBody"]
    assert record["md5OfMessageAttributes"] == sent["MD5OfMessageAttributes"]
    assert record["eventSource"] == "aws:sqs"
    assert record["eventSourceARN"] == "arn:aws:sqs:us-east-1:123456789012:stub-WorkQueue"
    assert record["awsRegion"] == "us-east-1"
    attributes = record["attributes"]
    assert set(attributes) == {
        "ApproximateReceiveCount",
        "SentTimestamp",
        "SenderId",
        "ApproximateFirstReceiveTimestamp",
    }
    assert attributes["ApproximateReceiveCount"] == "1"
    assert attributes["SentTimestamp"].isdigit()
    assert int(attributes["ApproximateFirstReceiveTimestamp"]) >= int(attributes["SentTimestamp"])
    assert record["messageAttributes"] == {
        "ticket": {
            "stringValue": "OPS-1",
            "stringListValues": [],
            "binaryListValues": [],
            "dataType": "String",
        },
        "attempt": {
            "stringValue": "3",
            "stringListValues": [],
            "binaryListValues": [],
            "dataType": "Number",
        },
        "blob": {
            "binaryValue": base64.b64encode(b"\x00\x01").decode(),
            "stringListValues": [],
            "binaryListValues": [],
            "dataType": "Binary",
        },
    }
    # deleted once the function succeeded: neither waiting nor in flight
    assert deliveries[0].failed_ids == ()
    assert _queue_counts(aws, "WorkQueueUrl") == (0, 0)


def test_batches_are_bounded_by_the_batch_size(aws: EmbeddedAws) -> None:
    sqs = aws.client("sqs")
    ids = [f"bulk-{n}" for n in range(12)]
    for chunk in (ids[:10], ids[10:]):
        sqs.send_message_batch(
            QueueUrl=aws.outputs["WorkQueueUrl"],
            Entries=[{"Id": i, "MessageBody": json.dumps({"id": i})} for i in chunk],
        )

    received = _wait_received(aws, *(f"{i}#1" for i in ids))

    assert all(int(item["batchSize"]["N"]) <= 5 for item in received.values())
    assert all(len(d.message_ids) <= 5 for d in aws.event_sources.deliveries)
    wait_until(
        lambda: sum(len(d.message_ids) for d in aws.event_sources.deliveries) == 12,
        timeout=WAIT,
        what="every batch to be settled",
    )
    assert _queue_counts(aws, "WorkQueueUrl") == (0, 0)


def test_batch_item_failures_are_redelivered_and_the_rest_deleted(aws: EmbeddedAws) -> None:
    fine = _send(aws, {"id": "fine"})["MessageId"]
    flaky = _send(aws, {"id": "flaky", "action": "fail", "failTimes": 1})["MessageId"]
    _step_past(aws, flaky, 1, VISIBILITY_SECONDS)

    received = _wait_received(aws, "fine#1", "flaky#1", "flaky#2")
    wait_until(
        lambda: any(not d.failed_ids for d in _settled(aws, flaky)),
        timeout=WAIT,
        what="the second delivery of the flaky message to succeed",
    )

    first = _settled(aws, flaky)[0]
    assert first.failed_ids == (flaky,)
    assert all(fine not in d.failed_ids for d in _settled(aws, fine))
    assert "fine#2" not in _received(aws)  # deleted at its first delivery
    second = json.loads(received["flaky#2"]["record"]["S"])
    assert second["attributes"]["ApproximateReceiveCount"] == "2"
    assert second["messageId"] == flaky
    assert _queue_counts(aws, "WorkQueueUrl") == (0, 0)


def test_a_function_error_leaves_the_whole_batch_for_redelivery(aws: EmbeddedAws) -> None:
    boom = _send(aws, {"id": "boom", "action": "raise"})["MessageId"]
    _step_past(aws, boom, 1, VISIBILITY_SECONDS)

    _wait_received(aws, "boom#1", "boom#2")

    first = _settled(aws, boom)[0]
    assert first.error_type == "RuntimeError"
    assert first.failed_ids == (boom,)


def test_a_message_that_keeps_failing_ends_in_the_dead_letter_queue(aws: EmbeddedAws) -> None:
    poison = _send(aws, {"id": "poison", "action": "fail"})["MessageId"]
    _step_past(aws, poison, 1, VISIBILITY_SECONDS)
    _step_past(aws, poison, 2, VISIBILITY_SECONDS)

    wait_until(
        lambda: _queue_counts(aws, "WorkDeadLettersUrl") == (1, 0),
        timeout=WAIT,
        what="the message to be moved to the dead-letter queue",
    )

    dead = aws.client("sqs").receive_message(
        QueueUrl=aws.outputs["WorkDeadLettersUrl"], MaxNumberOfMessages=10
    )["Messages"]
    assert [(m["MessageId"], json.loads(m["Body"])["id"]) for m in dead] == [(poison, "poison")]
    received = _received(aws)
    assert {"poison#1", "poison#2"} <= set(received)  # maxReceiveCount 2: two deliveries
    assert "poison#3" not in received
    assert _queue_counts(aws, "WorkQueueUrl") == (0, 0)


def test_a_handler_can_delay_its_own_retry_with_change_message_visibility(
    aws: EmbeddedAws,
) -> None:
    # the handler sets its message's visibility to 3 s (the queue's is 1 s) and reports it
    later = _send(aws, {"id": "later", "action": "delay", "seconds": 3})["MessageId"]

    # past the queue's 1 s, the message is still hidden
    _step_past(aws, later, 1, 2.5)
    assert _queue_counts(aws, "WorkQueueUrl") == (0, 1)
    assert "later#2" not in _received(aws)
    # past its own 3 s, it is delivered again
    aws.clock.advance(1)
    _wait_received(aws, "later#1", "later#2")


def test_a_mapping_created_through_the_api_is_polled_and_reset_removes_it(
    aws: EmbeddedAws,
) -> None:
    sqs, lambda_ = aws.client("sqs"), aws.client("lambda")
    url = sqs.create_queue(QueueName="extra-work", Attributes={"VisibilityTimeout": "1"})[
        "QueueUrl"
    ]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    worker = aws.stack.functions["WorkerFunction"].name  # type: ignore[union-attr]
    mapping = lambda_.create_event_source_mapping(
        EventSourceArn=arn, FunctionName=worker, BatchSize=1
    )
    sqs.send_message(QueueUrl=url, MessageBody=json.dumps({"id": "extra"}))

    _wait_received(aws, "extra#1")
    aws.reset()

    remaining = lambda_.list_event_source_mappings()["EventSourceMappings"]
    assert mapping["UUID"] not in {m["UUID"] for m in remaining}
    assert [m["UUID"] for m in remaining] == [aws.stack.resources["WorkerFunctionWork"].ref]  # type: ignore[union-attr]


def test_messages_no_filter_matches_are_deleted_without_an_invocation(
    aws: EmbeddedAws,
) -> None:
    # Given a mapping that passes only bodies whose action is "ok"
    sqs, lambda_ = aws.client("sqs"), aws.client("lambda")
    url = sqs.create_queue(QueueName="filtered-work")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    lambda_.create_event_source_mapping(
        EventSourceArn=arn,
        FunctionName=aws.stack.functions["WorkerFunction"].name,  # type: ignore[union-attr]
        FilterCriteria={"Filters": [{"Pattern": json.dumps({"body": {"action": ["ok"]}})}]},
    )

    # When a matching message, a non-matching one and a body that is not JSON are sent
    ids = [
        sqs.send_message(QueueUrl=url, MessageBody=body)["MessageId"]
        for body in (
            json.dumps({"id": "unwanted", "action": "fail"}),
            "plain text",
            json.dumps({"id": "wanted", "action": "ok"}),
        )
    ]

    # Then only the match reaches the function, and the others are gone from the queue
    _wait_received(aws, "wanted#1")
    wait_until(
        lambda: {i for d in aws.event_sources.deliveries for i in d.discarded_ids} == set(ids[:2]),
        timeout=WAIT,
        what="the two others to be discarded",
    )
    assert set(_received(aws)) == {"wanted#1"}
    assert _queue_counts(aws, url) == (0, 0)


def test_reset_empties_the_queues_messages_in_flight_included(aws: EmbeddedAws) -> None:
    # a message the worker keeps failing is in flight most of the time
    _send(aws, {"id": "stuck", "action": "fail"})
    _wait_received(aws, "stuck#1")

    aws.reset()

    assert _queue_counts(aws, "WorkQueueUrl") == (0, 0)
    assert _queue_counts(aws, "WorkDeadLettersUrl") == (0, 0)
    assert not aws.event_sources.deliveries


# --- Lambda's documented success and failure conditions for partial batch responses ------------
BATCH = ["id1", "id2", "id3"]


@pytest.mark.parametrize(
    ("payload", "left"),
    [
        (b'{"batchItemFailures": [{"itemIdentifier": "id2"}]}', {"id2"}),
        (b'{"batchItemFailures": []}', set()),  # an empty list: complete success
        (b'{"batchItemFailures": null}', set()),  # a null list
        (b"{}", set()),  # an empty response
        (b"null", set()),  # a null response
        (b"not json", set(BATCH)),  # an invalid JSON response: complete failure
        (b'{"batchItemFailures": [{"itemIdentifier": ""}]}', set(BATCH)),  # empty identifier
        (b'{"batchItemFailures": [{"itemIdentifier": null}]}', set(BATCH)),  # null identifier
        (b'{"batchItemFailures": [{"itemId": "id2"}]}', set(BATCH)),  # a bad key name
        (b'{"batchItemFailures": [{"itemIdentifier": "other"}]}', set(BATCH)),  # not in the batch
    ],
    ids=[
        "one-failure",
        "empty-list",
        "null-list",
        "empty-response",
        "null-response",
        "invalid-json",
        "empty-identifier",
        "null-identifier",
        "bad-key",
        "unknown-id",
    ],
)
def test_partial_batch_responses_follow_lambdas_conditions(payload: bytes, left: set[str]) -> None:
    result = InvocationResult(200, payload, "request-id")

    assert failed_messages(result, BATCH, report_item_failures=True) == left


def test_without_report_batch_item_failures_the_response_is_ignored() -> None:
    result = InvocationResult(200, b'{"batchItemFailures": [{"itemIdentifier": "id2"}]}', "r")

    assert failed_messages(result, BATCH, report_item_failures=False) == set()


def test_a_function_error_leaves_every_message() -> None:
    result = InvocationResult(200, b'{"errorType": "Boom"}', "r", function_error="Unhandled")

    assert failed_messages(result, BATCH, report_item_failures=True) == set(BATCH)
