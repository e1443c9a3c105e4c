"""The write-back's own queue: a message that must be tried again later stays invisible for
as long as the retry should wait (SQS has no per-message delay for a redelivery)."""

from __future__ import annotations

from provisioner.aws import clients

# SQS's limit is 12 hours; nothing here waits longer than a quarter of an hour.
MAX_VISIBILITY_SECONDS = 43_200


def delay_redelivery(queue_url: str, receipt_handle: str, seconds: int) -> None:
    """Make the received message visible again in ``seconds`` (from now)."""
    with clients.aws_errors():
        clients.sqs().change_message_visibility(
            QueueUrl=queue_url,
            ReceiptHandle=receipt_handle,
            VisibilityTimeout=max(0, min(seconds, MAX_VISIBILITY_SECONDS)),
        )
