"""Validate a PrivateApiDeletionRequested event; refuse any API this stack did not create."""

from provisioner.contract.payloads import ValidateTask
from provisioner.runtime.task import lambda_task
from provisioner.tasks import validate

handler = lambda_task(ValidateTask, validate.validate_teardown)
