"""Create the REST API with its HTTP_PROXY / VPC_LINK integration on ${stageVariables.vpcLinkId}."""

from provisioner.contract.payloads.provisioning import CreateApiTask
from provisioner.runtime.task import lambda_task
from provisioner.tasks import provisioning

handler = lambda_task(CreateApiTask, provisioning.create_api)
