"""Answer the requester of an execution that stopped without answering (see unanswered.py)."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from provisioner.domain.unanswered import StoppedExecution
from provisioner.runtime.observability import logger, metrics, tracer
from provisioner.tasks import rollback as tasks


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
@tracer.capture_lambda_handler(capture_response=False)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return tasks.answer_stopped(StoppedExecution.model_validate(event["detail"]))
