"""Answer the requester of an execution that stopped without answering (domain/unanswered.py)."""

from provisioner.domain.unanswered import StatusChange
from provisioner.runtime.task import lambda_task
from provisioner.tasks import rollback

handler = lambda_task(StatusChange, rollback.answer_stopped)
