"""Validate a PrivateApiRelinkRequested event: our API only, its stage, the new link or load
balancer."""

from provisioner.contract.payloads import ValidateTask
from provisioner.runtime.task import lambda_task
from provisioner.tasks import validate

handler = lambda_task(ValidateTask, validate.validate_relink)
