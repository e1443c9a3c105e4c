"""Point the stage's vpcLinkId variable at the AVAILABLE link and confirm it."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from provisioner.contract.payloads import SetStageVariableTask
from provisioner.runtime.observability import logger, metrics, tracer
from provisioner.runtime.task import task_payload
from provisioner.tasks import provisioning as tasks


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
@tracer.capture_lambda_handler
@task_payload(SetStageVariableTask)
def handler(task: SetStageVariableTask, context: LambdaContext) -> dict[str, Any]:
    return tasks.set_stage_variable(task)
