"""Validate a PrivateApiRelinkRequested event: our API, its stage, and the new link or NLB."""

from typing import Any

from aws_lambda_powertools.utilities.parser import event_parser
from aws_lambda_powertools.utilities.typing import LambdaContext

from provisioner.contract.payloads import ValidateTask
from provisioner.runtime.observability import logger, metrics, tracer
from provisioner.tasks import relink as tasks


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
@tracer.capture_lambda_handler
@event_parser(model=ValidateTask)
def handler(task: ValidateTask, context: LambdaContext) -> dict[str, Any]:
    return tasks.validate_relink(task, context)
