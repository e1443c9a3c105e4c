"""Follow a request's progress: an SQS queue subscribed to the progress topic.

The queue gets raw message delivery, so each SQS message body is the notification itself and
its SNS message attributes arrive as SQS message attributes.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from provisioner.contract.vocabulary import FINAL_STATUSES


@dataclass
class Notification:
    body: dict[str, Any]
    attributes: dict[str, str]

    @property
    def status(self) -> str:
        return str(self.body.get("status"))

    @property
    def request_id(self) -> str:
        return str(self.body.get("requestId"))

    @property
    def final(self) -> bool:
        return self.status in FINAL_STATUSES


@dataclass
class ProgressFollower:
    """Subscribes on ``open()``, reads with ``poll()`` / ``follow()``, cleans up on ``close()``."""

    sns: Any
    sqs: Any
    topic_arn: str
    queue_url: str = ""
    subscription_arn: str = ""
    seen: list[Notification] = field(default_factory=list)
    unclaimed: dict[str, list[Notification]] = field(default_factory=dict)

    def open(self) -> ProgressFollower:
        name = f"privateapi-follow-{uuid.uuid4().hex[:12]}"
        self.queue_url = self.sqs.create_queue(QueueName=name)["QueueUrl"]
        queue_arn = self.sqs.get_queue_attributes(
            QueueUrl=self.queue_url, AttributeNames=["QueueArn"]
        )["Attributes"]["QueueArn"]
        self.sqs.set_queue_attributes(
            QueueUrl=self.queue_url,
            Attributes={"Policy": json.dumps(_queue_policy(queue_arn, self.topic_arn))},
        )
        self.subscription_arn = self.sns.subscribe(
            TopicArn=self.topic_arn,
            Protocol="sqs",
            Endpoint=queue_arn,
            Attributes={"RawMessageDelivery": "true"},
            ReturnSubscriptionArn=True,
        )["SubscriptionArn"]
        return self

    def close(self) -> None:
        if self.subscription_arn:
            self.sns.unsubscribe(SubscriptionArn=self.subscription_arn)
            self.subscription_arn = ""
        if self.queue_url:
            self.sqs.delete_queue(QueueUrl=self.queue_url)
            self.queue_url = ""

    def __enter__(self) -> ProgressFollower:
        return self.open()

    def __exit__(self, *_: object) -> None:
        self.close()

    def poll(self, wait_seconds: int = 1) -> list[Notification]:
        """Whatever arrived (waits up to ``wait_seconds`` for the first message)."""
        answer = self.sqs.receive_message(
            QueueUrl=self.queue_url,
            MaxNumberOfMessages=10,
            WaitTimeSeconds=wait_seconds,
            MessageAttributeNames=["All"],
        )
        arrived = []
        for message in answer.get("Messages", []):
            attributes = {
                name: value.get("StringValue", "")
                for name, value in message.get("MessageAttributes", {}).items()
            }
            arrived.append(Notification(body=json.loads(message["Body"]), attributes=attributes))
            self.sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"])
        self.seen.extend(arrived)
        return arrived

    def follow(self, request_id: str, timeout_seconds: float) -> Iterator[Notification]:
        """Yield the notifications of one request as they arrive, until its final one.

        Other requests' notifications that arrive meanwhile are kept for their own ``follow``.
        """
        deadline = time.monotonic() + timeout_seconds
        while True:
            pending = self.unclaimed.pop(request_id, [])
            while pending:
                notification = pending.pop(0)
                yield notification
                if notification.final:
                    if pending:  # e.g. a duplicate's: left for whoever asks next
                        self.unclaimed[request_id] = pending
                    return
            if time.monotonic() >= deadline:
                break
            for notification in self.poll():
                self.unclaimed.setdefault(notification.request_id, []).append(notification)
        raise TimeoutError(f"no final notification for {request_id} within {timeout_seconds} s")

    def until_final(self, request_id: str, timeout_seconds: float = 60) -> list[Notification]:
        return list(self.follow(request_id, timeout_seconds))


def _queue_policy(queue_arn: str, topic_arn: str) -> dict[str, Any]:
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "sns.amazonaws.com"},
                "Action": "sqs:SendMessage",
                "Resource": queue_arn,
                "Condition": {"ArnEquals": {"aws:SourceArn": topic_arn}},
            }
        ],
    }
