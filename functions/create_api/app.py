"""Create the REST API with its HTTP_PROXY / VPC_LINK integration on ${stageVariables.vpcLinkId}."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from provisioner.contract.payloads import CreateApiTask
from provisioner.runtime.observability import logger, metrics, tracer
from provisioner.runtime.task import task_payload
from provisioner.tasks import provisioning as tasks


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
@tracer.capture_lambda_handler
@task_payload(CreateApiTask)
def handler(task: CreateApiTask, context: LambdaContext) -> dict[str, Any]:
    return tasks.create_api(task)
