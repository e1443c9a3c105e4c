"""Deploy the API to its stage, with the vpcLinkId stage variable set in the same call."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from provisioner.contract.payloads import DeployApiTask
from provisioner.runtime.observability import logger, metrics, tracer
from provisioner.runtime.task import task_payload
from provisioner.tasks import provisioning as tasks


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
@tracer.capture_lambda_handler
@task_payload(DeployApiTask)
def handler(task: DeployApiTask, context: LambdaContext) -> dict[str, Any]:
    return tasks.deploy_api(task)
