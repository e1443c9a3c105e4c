"""Undo what a failed request created (found by its tags) and tell the requester why."""

from provisioner.contract.payloads.rollback import RollbackTask
from provisioner.runtime.task import lambda_task
from provisioner.tasks import rollback

handler = lambda_task(RollbackTask, rollback.rollback)
