"""Reuse the VpcLink serving the request's NLB, or create one tagged with the request id."""

from provisioner.contract.payloads import EnsureVpcLinkTask
from provisioner.runtime.task import lambda_task
from provisioner.tasks import links

handler = lambda_task(EnsureVpcLinkTask, links.ensure_link)
