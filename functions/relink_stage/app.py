"""Point the stage's vpcLinkId at the AVAILABLE link; optionally delete the old one."""

from provisioner.contract.payloads.relink import RelinkTask
from provisioner.runtime.task import lambda_task
from provisioner.tasks import relink

handler = lambda_task(RelinkTask, relink.relink_stage)
