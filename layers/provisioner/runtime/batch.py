"""``sqs_batch_task``: a Lambda handler for an SQS event source mapping, made from a task that
handles one record.

``lambda_task`` does not fit a queue's consumer: its task gets one payload and returns the
workflow's next input, where an SQS batch is up to ten independent messages and the answer is
which of them failed (``ReportBatchItemFailures``): a record whose task raises is reported
failed (SQS delivers it again, and to the dead-letter queue after the redrive policy's
``maxReceiveCount``), the others are deleted. A batch whose every record failed is answered the
same way, not with an error: those records are retried as planned, and the function's error
metric keeps meaning "a bug".

The rest is ``lambda_task``'s: the settings from the environment and the function's ARN, the
Lambda context in every log line, metrics flushed at the end.

That protocol is the dozen lines below, as Powertools' ``BatchProcessor`` (SQS, no model, no
error for a batch that failed whole) answered it: importing Powertools' batch utility and its
record classes loaded the async processors with asyncio and every event source's data class:
the handler's import took 150 M instructions more (valgrind), 9% of ``make bench`` (a)'s
baseline.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from provisioner.runtime.observability import logger, metrics
from provisioner.runtime.settings import Settings

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext


@dataclass(frozen=True)
class QueueMessage:
    """What a task reads of one SQS record."""

    message_id: str
    body: str
    receipt_handle: str  # to change the message's visibility: when it comes back
    receive_count: int  # ApproximateReceiveCount: 1 on the first delivery

    @classmethod
    def of(cls, record: dict[str, Any]) -> QueueMessage:
        attributes = record.get("attributes") or {}
        return cls(
            message_id=record["messageId"],
            body=record["body"],
            receipt_handle=record["receiptHandle"],
            receive_count=int(attributes.get("ApproximateReceiveCount") or 1),
        )


type RecordTask = Callable[[QueueMessage, Settings, LambdaContext], None]
type Handler = Callable[[dict[str, Any], LambdaContext], dict[str, Any]]


def sqs_batch_task(
    task: RecordTask, *, in_order: Callable[[dict[str, Any]], Any] | None = None
) -> Handler:
    """A handler that runs ``task`` on each record of the batch; ``in_order`` (a sort key of
    a raw record) sets the order in which they are handled."""

    @logger.inject_lambda_context(clear_state=True)
    @metrics.log_metrics
    def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
        settings = Settings.from_environment().running_as(context.invoked_function_arn)
        records = event.get("Records")
        if not records or not isinstance(records, list):
            raise ValueError("Not an SQS event: it has no Records")
        if in_order is not None:
            records = sorted(records, key=in_order)
        failed = []
        for record in records:
            try:
                task(QueueMessage.of(record), settings, context)
            except Exception:  # SQS delivers it again: the task logged what it knew
                logger.debug("Record failed", exc_info=True)
                failed.append({"itemIdentifier": record["messageId"]})
        return {"batchItemFailures": failed}

    handler.__doc__ = task.__doc__
    return handler
