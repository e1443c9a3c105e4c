"""Parse and validate a PrivateApiRequested event (every field error at once), check the load
balancer or link it names, claim the request."""

from provisioner.contract.payloads import ValidateTask
from provisioner.runtime.task import lambda_task
from provisioner.tasks import validate

handler = lambda_task(ValidateTask, validate.validate_request)
