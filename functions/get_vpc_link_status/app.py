"""One poll of the VpcLink's status; FAILED and a passed deadline raise named errors."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from provisioner.contract.payloads import GetVpcLinkStatusTask
from provisioner.runtime.observability import logger, metrics, tracer
from provisioner.runtime.task import task_payload
from provisioner.tasks import links as tasks


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
@tracer.capture_lambda_handler
@task_payload(GetVpcLinkStatusTask)
def handler(task: GetVpcLinkStatusTask, context: LambdaContext) -> dict[str, Any]:
    return tasks.check_link(task)
