"""Progress back to the ticket (README, "Progress back to the ticket"): every notification of
a request that came from a ticket becomes a comment on it, and the final one moves it.

The function reads a queue subscribed to the progress topic (raw delivery: a message's body is
the notification; filter: the ``ticketSystem`` attribute exists). It is a consumer of its own:
nothing it does or fails to do touches a provisioning.

**Exactly once per notification.** Powertools Idempotency on the ledger table (``pk`` =
``WRITEBACK#<hash of requestId, status, timestamp>``, expiring after 7 days) lets one delivery
of a notification write it back, and answers every other delivery (SNS and SQS deliver at
least once) with the first one's result. Its record is deleted when the write-back fails, so
a retry writes it back. What a notification wrote is also recorded in the ledger's
``TICKET#<requestId>`` item: ``commented`` once its comment is on the ticket (a final
notification retried after its comment, because its move failed, does not comment twice),
``settled`` once it is done with (written back, refused by the ticket system, or not to be
written back at all), ``abandoned`` once its retries are used up. The limit: if the function
stops between the ticket system's answer and those records (a crash, a timeout), the next
delivery posts the comment again; no ticket system offers an idempotency key for comments
that would close that gap.

**In order per request.** SNS to SQS (standard) may deliver a request's notifications out of
order, so a notification waits for those that came before it. The ledger's history of the
request names every milestone by the same timestamp its notification carries; before a
notification is written back, every earlier milestone of its request must be ``settled`` or
``abandoned``. If one is not, the message is answered as failed and made visible again in
10 s per receive (at most 60 s): it comes back after its predecessor had its turn. Within a
batch, notifications are handled in order (request, timestamp). The wait is bounded: from the
receive that uses up half of the queue's ``maxReceiveCount``, the notification is written
back anyway, with a warning, so a lost predecessor (a notification SNS never got) cannot hold
the ticket's comments back for ever. The order is kept as long as the predecessor is written
back within that time (about two minutes): a ticket system that keeps a predecessor waiting
longer (a long ``Retry-After``) can see its successors first.

**Retries.** A 429, a 5xx, a 408/409/425, GitHub's rate-limiting 403, or no answer: the
message is made visible again after the ``Retry-After`` the system asked for (seconds or an
HTTP date; GitHub's ``x-ratelimit-reset`` too), at most 900 s, or else after an exponential
backoff by receive count with jitter, and reported failed. At the last receive the redrive
policy allows, an ERROR line ``Ticket write-back gave up`` (system, ticket, request, status;
never a credential) is logged for an alarm, the notification is ``abandoned`` (its successors
stop waiting for it) and SQS moves the message to the dead-letter queue, from where an
operator may redrive it. A 4xx that no retry can fix (404: the ticket is gone; 401/403: wrong
credentials or no permission; 400/422) is logged as an ERROR and dropped. So are malformed
credentials; credentials not configured yet are a WARNING (once per execution environment).
"""

from __future__ import annotations

import json
import math
import random
from typing import TYPE_CHECKING, Any

import msgspec
from aws_lambda_powertools.metrics import MetricUnit

from provisioner.aws import queues
from provisioner.contract import errors
from provisioner.contract.progress import Status
from provisioner.contract.vocabulary import TicketSystem
from provisioner.runtime.batch import QueueMessage
from provisioner.runtime.observability import logger, metrics
from provisioner.runtime.settings import Settings
from provisioner.storage.keys import WRITEBACK_KEY_PREFIX
from provisioner.storage.tickets import Tickets, WriteBacks, milestone_name
from provisioner.tickets import mapping as ticket_mapping
from provisioner.tickets.clients import (
    Final,
    TicketClient,
    TicketRefused,
    TicketSystemBusy,
    client_for,
)
from provisioner.tickets.comments import Notification, compose
from provisioner.tickets.credentials import (
    CredentialsMalformed,
    CredentialsNotConfigured,
    read_credentials,
)

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext

IDEMPOTENCY_EXPIRY_SECONDS = 7 * 24 * 3600
IDEMPOTENCY_KEY = "[requestId, status, timestamp]"
MAX_RETRY_DELAY_SECONDS = 900
BACKOFF_BASE_SECONDS = 10
ORDER_WAIT_SECONDS = 10  # per receive, at most ORDER_MAX_WAIT_SECONDS
ORDER_MAX_WAIT_SECONDS = 60
IN_PROGRESS_WAIT_SECONDS = 10  # another delivery of the same notification is writing it back
# History statuses that a notification told (DELETED is the ledger's only).
_NOTIFIED = frozenset(Status) - {Status.DELETED}
_RECORD_KEYS = ["request_id", "ticket_system", "ticket", "status", "message_id"]
_warned_not_configured: set[TicketSystem] = set()


class Deferred(Exception):
    """Write this notification back later: in ``seconds``."""

    def __init__(self, reason: str, seconds: int) -> None:
        super().__init__(reason)
        self.seconds = seconds


# --- the queue's side -----------------------------------------------------------------------------
def delivery_order(record: dict[str, Any]) -> tuple[str, str]:
    """Sort key of a raw SQS record: its notification's request, then its moment."""
    try:
        body = json.loads(record.get("body") or "")
        return str(body.get("requestId", "")), str(body.get("timestamp", ""))
    except (ValueError, AttributeError):
        return "", ""


def write_back(record: QueueMessage, settings: Settings, context: LambdaContext) -> None:
    """Write one notification back to its ticket; raise to have SQS deliver it again."""
    logger.remove_keys(_RECORD_KEYS)
    logger.append_keys(message_id=record.message_id)
    receive = record.receive_count
    try:
        notification = msgspec.json.decode(record.body, type=Notification)
    except msgspec.DecodeError as invalid:  # its ValidationError too: the path and the rule
        problems = [str(invalid)]
        logger.error("Not a ticket's progress notification; dropped", extra={"problems": problems})
        return
    logger.set_correlation_id(notification.request_id)
    logger.append_keys(
        request_id=notification.request_id,
        ticket_system=notification.ticket.system.value,
        ticket=notification.ticket.key,
        status=notification.status.value,
    )
    try:
        _written_back_once(settings, context)(
            notification=json.loads(record.body), settings=settings, receive=receive
        )
    except Exception as failure:
        last = receive >= settings.ticket_writeback_max_receives
        if last:
            _give_up(notification, failure, settings)
            _delay(settings, record, 0)  # the next receive moves it to the dead-letter queue
        else:
            _defer(failure, settings, record, receive)
        raise


def _written_back_once(settings: Settings, context: LambdaContext) -> Any:
    """``_write_back`` made idempotent on the ledger table (its own ``WRITEBACK#`` items)."""
    from aws_lambda_powertools.utilities.idempotency import (
        DynamoDBPersistenceLayer,
        IdempotencyConfig,
        idempotent_function,
    )

    from provisioner.aws import clients

    config = IdempotencyConfig(
        event_key_jmespath=IDEMPOTENCY_KEY,
        raise_on_no_idempotency_key=True,
        expires_after_seconds=IDEMPOTENCY_EXPIRY_SECONDS,
    )
    config.register_lambda_context(context)
    store = DynamoDBPersistenceLayer(
        table_name=settings.ledger_table, key_attr="pk", boto3_client=clients.dynamodb()
    )
    return idempotent_function(
        _write_back,
        data_keyword_argument="notification",
        persistence_store=store,
        config=config,
        key_prefix=WRITEBACK_KEY_PREFIX,
    )


def _defer(failure: Exception, settings: Settings, record: QueueMessage, receive: int) -> None:
    from aws_lambda_powertools.utilities.idempotency.exceptions import (
        IdempotencyAlreadyInProgressError,
    )

    if isinstance(failure, Deferred):
        seconds = failure.seconds
        logger.info("Ticket write-back deferred", extra={"reason": str(failure), "wait": seconds})
    elif isinstance(failure, IdempotencyAlreadyInProgressError):
        seconds = IN_PROGRESS_WAIT_SECONDS
        logger.info("Another delivery is writing this notification back", extra={"wait": seconds})
    else:  # a fault of ours or of AWS: retried like a busy ticket system
        seconds = retry_delay(None, receive)
        logger.exception("Ticket write-back failed; it will be retried", extra={"wait": seconds})
    metrics.add_metric(name="TicketWriteBacksDeferred", unit=MetricUnit.Count, value=1)
    _delay(settings, record, seconds)


def _give_up(notification: Notification, failure: Exception, settings: Settings) -> None:
    """The last receive the redrive policy allows: say so loudly, let successors go on."""
    logger.error(
        "Ticket write-back gave up",
        extra={
            "system": notification.ticket.system.value,
            "ticket": notification.ticket.key,
            "requestId": notification.request_id,
            "notificationStatus": notification.status.value,
            "reason": f"{type(failure).__name__}: {failure}",
        },
    )
    metrics.add_metric(name="TicketWriteBacksGivenUp", unit=MetricUnit.Count, value=1)
    try:
        settings.ledger.tickets.record_write_back(
            notification.request_id,
            notification.milestone,
            step="abandoned",
        )
    except errors.ProvisionerError:
        logger.exception("Could not record the abandoned write-back")


def _delay(settings: Settings, record: QueueMessage, seconds: int) -> None:
    if not settings.ticket_writeback_queue_url:
        logger.warning("No queue URL: the queue's visibility timeout decides when it comes back")
        return
    try:
        queues.delay_redelivery(settings.ticket_writeback_queue_url, record.receipt_handle, seconds)
    except errors.ProvisionerError:
        logger.exception("Could not change the message's visibility")


def retry_delay(asked: float | None, receive: int) -> int:
    """Seconds until the next attempt: what the system asked for (at most 900 s), else an
    exponential backoff by receive count (10 s, 20 s, 40 s, ... at most 900 s) with jitter
    (between half and all of it)."""
    if asked is not None:
        return int(min(MAX_RETRY_DELAY_SECONDS, max(1, math.ceil(asked))))
    ceiling = min(MAX_RETRY_DELAY_SECONDS, BACKOFF_BASE_SECONDS * 2 ** max(0, receive - 1))
    return int(ceiling // 2 + random.randint(0, ceiling // 2))


# --- one notification -----------------------------------------------------------------------------
def _write_back(notification: dict[str, Any], settings: Settings, receive: int) -> dict[str, str]:
    """Comment (and, when final, move) the ticket; the result is what the idempotency record
    keeps for the other deliveries of this notification."""
    told = Notification.from_wire(notification)
    tickets = settings.ledger.tickets
    done = tickets.write_backs(told.request_id)
    if told.milestone in done.settled:
        return {"writtenBack": "before"}  # its idempotency record expired, not the ledger's
    try:
        client = _client(told, settings)
    except CredentialsNotConfigured as missing:
        _not_configured(told, str(missing))
        return _settled(tickets, told, "notConfigured")
    except CredentialsMalformed as malformed:
        logger.error(
            "Ticket write-back credentials are malformed; dropped",
            extra={"problems": malformed.problems},
        )
        return _settled(tickets, told, "malformedCredentials")
    _wait_for_predecessors(told, done, settings, receive)
    final = _final(told, settings) if told.final else None
    try:
        if told.milestone not in done.commented:
            client.comment(told.ticket.key, compose(told), final)
            if final is not None:  # the move may fail after the comment: never comment twice
                tickets.record_write_back(told.request_id, told.milestone, step="commented")
            metrics.add_metric(name="TicketCommentsPosted", unit=MetricUnit.Count, value=1)
        if final is not None:
            client.move(told.ticket.key, final)
    except TicketRefused as refused:
        logger.error(
            "Ticket system refused the write-back; dropped",
            extra={"httpStatus": refused.status, "answer": refused.detail},
        )
        metrics.add_metric(name="TicketWriteBacksRefused", unit=MetricUnit.Count, value=1)
        return _settled(tickets, told, "refused")
    except TicketSystemBusy as busy:
        wait = retry_delay(busy.retry_after, receive)
        raise Deferred(f"{busy.system.value} answered {busy.status or 'nothing'}", wait) from busy
    logger.info("Written back to the ticket", extra={"moved_to": final.target if final else None})
    return _settled(tickets, told, "posted")


def _settled(tickets: Tickets, told: Notification, how: str) -> dict[str, str]:
    tickets.record_write_back(told.request_id, told.milestone, step="settled")
    return {"writtenBack": how}


def _not_configured(told: Notification, why: str) -> None:
    system = told.ticket.system
    metrics.add_metric(name="TicketWriteBacksNotConfigured", unit=MetricUnit.Count, value=1)
    if system not in _warned_not_configured:
        _warned_not_configured.add(system)
        logger.warning(
            "Ticket write-back is not configured for this system; its notifications are dropped",
            extra={"reason": why},
        )


def _wait_for_predecessors(
    told: Notification, done: WriteBacks, settings: Settings, receive: int
) -> None:
    """Raise :class:`Deferred` while an earlier milestone of the request is not written back,
    until half the queue's receives are used up."""
    request = settings.ledger.requests.get(told.request_id)
    earlier = {
        milestone_name(entry.timestamp, entry.status.value)
        for entry in (request.history if request else ())
        if entry.timestamp < told.timestamp and entry.status in _NOTIFIED
    }
    waiting = sorted(earlier - done.settled - done.abandoned)
    if not waiting:
        return
    patience = max(1, settings.ticket_writeback_max_receives // 2)
    if receive < patience:
        wait = min(ORDER_MAX_WAIT_SECONDS, ORDER_WAIT_SECONDS * receive)
        raise Deferred(f"{len(waiting)} earlier notification(s) not written back yet", wait)
    logger.warning(
        "Writing back out of order: earlier notifications were not written back in time",
        extra={"waitingFor": waiting},
    )


def _mapping(settings: Settings) -> ticket_mapping.TicketMapping | None:
    if not settings.ticket_mapping_parameter:
        return None
    return ticket_mapping.load_mapping(settings.ticket_mapping_parameter)


def _client(told: Notification, settings: Settings) -> TicketClient:
    system = told.ticket.system
    secret_id = {
        TicketSystem.JIRA: settings.jira_credentials,
        TicketSystem.SERVICENOW: settings.servicenow_credentials,
        TicketSystem.GITHUB: settings.github_credentials,
    }[system]
    credentials = read_credentials(system, secret_id)
    service_desk = True
    if system is TicketSystem.JIRA:
        jira = (_mapping(settings) or ticket_mapping.TicketMapping()).jira
        service_desk = jira.service_desk if jira is not None else True
    return client_for(credentials, jira_service_desk=service_desk)


def _final(told: Notification, settings: Settings) -> Final:
    """Where the mapping sends the ticket for this outcome (its defaults when it has none)."""
    system = told.ticket.system
    mapping = _mapping(settings)
    outcomes = (mapping.outcomes(system) if mapping else None) or ticket_mapping.DEFAULT_OUTCOMES[
        system
    ]
    target = {
        Status.SUCCEEDED: outcomes.succeeded,
        Status.FAILED: outcomes.failed,
        Status.REJECTED: outcomes.rejected,
    }[told.status]
    return Final(status=told.status, target=target)
