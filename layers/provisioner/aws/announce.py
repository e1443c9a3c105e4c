"""Telling the requester: a milestone on the progress topic, a final one on the bus as an
outcome event. No ASL state publishes: every milestone is told by
``domain.milestones.announce``, which records it in the ledger and then calls these.
"""

from __future__ import annotations

import json
from typing import Any

from provisioner.aws import clients
from provisioner.contract import errors


def publish_progress(topic_arn: str, note: dict[str, Any]) -> None:
    """``note`` as :func:`provisioner.contract.progress.progress` makes it."""
    with clients.aws_errors():
        clients.sns().publish(
            TopicArn=topic_arn,
            Message=json.dumps(note["message"]),
            MessageAttributes=note["attributes"],
        )


def put_outcome(bus_name: str, source: str, detail_type: str, detail: dict[str, Any]) -> None:
    put_event(bus_name, source, detail_type, detail)


def put_event(bus_name: str, source: str, detail_type: str, detail: dict[str, Any]) -> None:
    """One event on the bus; an entry EventBridge refuses (PutEvents answers 200 with
    ``FailedEntryCount``) is an error too."""
    with clients.aws_errors():
        answer = clients.events().put_events(
            Entries=[
                {
                    "EventBusName": bus_name,
                    "Source": source,
                    "DetailType": detail_type,
                    "Detail": json.dumps(detail),
                }
            ]
        )
    if answer.get("FailedEntryCount"):
        entry = answer["Entries"][0]
        raise errors.TransientAwsError(
            f"EventBridge refused the event: {entry.get('ErrorCode')} {entry.get('ErrorMessage')}"
        )
