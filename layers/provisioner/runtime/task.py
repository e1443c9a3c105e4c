"""``lambda_task``: the way a Lambda handler is made from a task.

Every workflow function's handler, and the one an EventBridge rule invokes, is
``lambda_task(Model, task)``: the event read into the task's payload struct (a
``msgspec.ValidationError`` fails the invocation), the function's settings read from its
environment and ARN, the logs bound to the request (its id is the correlation id), the Lambda
context in every log line, and the metrics flushed when the task returns. Its two siblings do
the same for a queue (``runtime.batch.sqs_batch_task``) and a Function URL
(``runtime.function_url.function_url_task``).

The edge (the validate tasks, which read EventBridge events) uses Powertools Parser and the
request contract's pydantic models on the event's ``detail``; the workflow's internal payloads
are our own msgspec structs (``contract.wire``), so a function after the validate tasks
imports neither pydantic nor the Parser's hundred event models at its cold start.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from provisioner.contract.payloads import RequestRef
from provisioner.contract.wire import WireStruct
from provisioner.runtime.observability import bind_request, logger, metrics
from provisioner.runtime.settings import Settings

if TYPE_CHECKING:  # the type only: importing it costs a cold start 20-30 ms
    from aws_lambda_powertools.utilities.typing import LambdaContext

Handler = Callable[[dict[str, Any], "LambdaContext"], dict[str, Any]]


def lambda_task[Payload: WireStruct](
    model: type[Payload], task: Callable[[Payload, Settings], dict[str, Any]]
) -> Handler:
    @logger.inject_lambda_context(clear_state=True)
    @metrics.log_metrics
    def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
        payload = model.from_wire(event)
        settings = Settings.from_environment().running_as(context.invoked_function_arn)
        request = getattr(payload, "request", None)
        if isinstance(request, RequestRef):
            bind_request(request)
        return task(payload, settings)

    handler.__doc__ = task.__doc__
    return handler
