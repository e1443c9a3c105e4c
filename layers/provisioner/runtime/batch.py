"""``sqs_batch_task``: a Lambda handler for an SQS event source mapping, made from a task that
handles one record.

``lambda_task`` does not fit a queue's consumer: its task gets one payload and returns the
workflow's next input, where an SQS batch is up to ten independent messages and the answer is
which of them failed (``ReportBatchItemFailures``). So the batch goes to Powertools'
``BatchProcessor``: a record whose task raises is reported failed (SQS delivers it again, and
to the dead-letter queue after the redrive policy's ``maxReceiveCount``), the others are
deleted. A batch whose every record failed is answered the same way, not with an error: those
records are retried as planned, and the function's error metric keeps meaning "a bug".

The rest is ``lambda_task``'s: the settings from the environment and the function's ARN, the
Lambda context in every log line, metrics flushed at the end.

Powertools' batch utility is imported here, before anything of ours imports pydantic: when
pydantic is already loaded, it also imports the Parser's record models (SQS, Kinesis,
DynamoDB, Kafka), which a processor without a ``model`` never uses, and which cost the
write-back's cold start about 40 ms. A unit test holds it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.utilities.batch import (
    BatchProcessor,
    EventType,
    process_partial_response,
)

from provisioner.runtime.observability import logger, metrics
from provisioner.runtime.settings import Settings

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
    from aws_lambda_powertools.utilities.typing import LambdaContext

type RecordTask = Callable[[SQSRecord, Settings, LambdaContext], None]
type Handler = Callable[[dict[str, Any], LambdaContext], dict[str, Any]]


def sqs_batch_task(
    task: RecordTask, *, in_order: Callable[[dict[str, Any]], Any] | None = None
) -> Handler:
    """A handler that runs ``task`` on each record of the batch; ``in_order`` (a sort key of
    a raw record) sets the order in which they are handled."""
    processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)

    @logger.inject_lambda_context(clear_state=True)
    @metrics.log_metrics
    def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
        settings = Settings.from_environment().running_as(context.invoked_function_arn)
        if in_order is not None and isinstance(event.get("Records"), list):
            event = {**event, "Records": sorted(event["Records"], key=in_order)}

        def record_handler(record: SQSRecord) -> None:
            task(record, settings, context)

        return dict(
            process_partial_response(
                event=event, record_handler=record_handler, processor=processor, context=context
            )
        )

    handler.__doc__ = task.__doc__
    return handler
