"""Point the stage's vpcLinkId at the new, AVAILABLE link; optionally delete the old one."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from provisioner.contract.payloads import RelinkTask
from provisioner.runtime.observability import logger, metrics, tracer
from provisioner.runtime.task import task_payload
from provisioner.tasks import relink as tasks


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
@tracer.capture_lambda_handler
@task_payload(RelinkTask)
def handler(task: RelinkTask, context: LambdaContext) -> dict[str, Any]:
    return tasks.relink_stage(task)
