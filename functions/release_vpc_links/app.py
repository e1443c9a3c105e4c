"""Delete the torn-down API's links we created and nothing else uses; wait until they are gone."""

from provisioner.contract.payloads.teardown import TeardownTask
from provisioner.runtime.task import lambda_task
from provisioner.tasks import teardown

handler = lambda_task(TeardownTask, teardown.release_links)
