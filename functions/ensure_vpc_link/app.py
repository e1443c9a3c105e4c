"""Reuse the VPC link that serves the request (V1: to its NLB; V2: into its load balancer's
network), or create one tagged with the request id."""

from provisioner.contract.payloads import EnsureVpcLinkTask
from provisioner.runtime.task import lambda_task
from provisioner.tasks import links

handler = lambda_task(EnsureVpcLinkTask, links.ensure_link)
