"""Deploy the API with the vpcLinkId stage variable set in the same call; tell the requester it is
ready."""

from provisioner.contract.payloads.provisioning import DeployApiTask
from provisioner.runtime.task import lambda_task
from provisioner.tasks import provisioning

handler = lambda_task(DeployApiTask, provisioning.deploy_api)
