"""Reuse the VpcLink serving the request's NLB, or create one tagged with the request id."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from provisioner.contract.payloads import EnsureVpcLinkTask
from provisioner.runtime.observability import logger, metrics, tracer
from provisioner.runtime.task import task_payload
from provisioner.tasks import links as tasks


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
@tracer.capture_lambda_handler
@task_payload(EnsureVpcLinkTask)
def handler(task: EnsureVpcLinkTask, context: LambdaContext) -> dict[str, Any]:
    return tasks.ensure_link(task)
