"""One poll of the VpcLink's status; FAILED and a passed deadline raise named errors."""

from provisioner.contract.payloads import GetVpcLinkStatusTask
from provisioner.runtime.task import lambda_task
from provisioner.tasks import links

handler = lambda_task(GetVpcLinkStatusTask, links.check_link)
