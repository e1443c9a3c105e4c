"""Delete the API being torn down (its stages go with it)."""

from provisioner.contract.payloads.teardown import TeardownTask
from provisioner.runtime.task import lambda_task
from provisioner.tasks import teardown

handler = lambda_task(TeardownTask, teardown.delete_api)
