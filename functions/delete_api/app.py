"""Delete the API being torn down (its stages go with it)."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from provisioner.contract.payloads import TeardownTask
from provisioner.runtime.observability import logger, metrics, tracer
from provisioner.runtime.task import task_payload
from provisioner.tasks import teardown as tasks


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
@tracer.capture_lambda_handler
@task_payload(TeardownTask)
def handler(task: TeardownTask, context: LambdaContext) -> dict[str, Any]:
    return tasks.delete_api(task)
