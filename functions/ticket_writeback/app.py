"""Write every progress notification of a ticket's request back to its ticket: a comment each,
the final one also moves the ticket (an SQS batch; failed items are retried by the queue)."""

from provisioner.runtime.batch import sqs_batch_task
from provisioner.tickets import writeback

handler = sqs_batch_task(writeback.write_back, in_order=writeback.delivery_order)
