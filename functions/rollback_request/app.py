"""Delete what a failed request created (found by its tags) and explain the failure."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from provisioner.contract.payloads import RollbackTask
from provisioner.runtime.observability import logger, metrics, tracer
from provisioner.runtime.task import task_payload
from provisioner.tasks import rollback as tasks


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
@tracer.capture_lambda_handler
@task_payload(RollbackTask)
def handler(task: RollbackTask, context: LambdaContext) -> dict[str, Any]:
    return tasks.rollback(task)
