"""Lambda event source mappings for SQS: the queue polled, the function invoked, as Lambda does.

moto keeps event source mappings (Create/Get/List/Update/DeleteEventSourceMapping, so
``AWS::Lambda::EventSourceMapping`` and SAM's ``Events: {Type: SQS}``) but delivers a queue's
messages inline, inside SendMessage, through its own Lambda (Docker), and makes a failed batch
visible again at once. :func:`install` turns that off; :class:`SqsEventSources` (started and
stopped by ``EmbeddedAws``, paused while it resets) polls each enabled mapping's queue instead,
in daemon threads, and invokes the function through our Lambda runtime.

What AWS documents (AWS Lambda Developer Guide, "Using Lambda with Amazon SQS", with its
sections "Scaling and processing", "Reporting batch item failures" and "Success and failure
conditions"), and this module reproduces:

* Lambda long-polls the queue and invokes the function **synchronously** with a batch: one
  ReceiveMessage of up to ``min(BatchSize, 10)`` messages (default ``BatchSize`` 10); with a
  ``MaximumBatchingWindowInSeconds``, it keeps receiving until the window ends, the batch is
  ``BatchSize`` (up to 10,000) or the payload nears the 6 MB invocation limit. Here the long
  poll waits on the queue itself (woken by each message sent), so a message is delivered as
  soon as it is sent or becomes visible again.
* Received messages stay in the queue, hidden for the **queue's visibility timeout** (moto
  enforces it; here on the embedded AWS's clock, like every other AWS time: a poller with
  nothing visible sleeps on the clock until the next hidden message comes back, so a test on
  the ``auto`` clock skips that wait when nothing else runs). A batch the function processes
  successfully is **deleted**. If the function returns an error (or times out), **all**
  messages of the batch become visible again when their visibility timeout ends (Lambda does
  not make them visible sooner).
* The event: ``{"Records": [{"messageId", "receiptHandle", "body", "attributes":
  {"ApproximateReceiveCount", "SentTimestamp", "SenderId", "ApproximateFirstReceiveTimestamp"}
  (FIFO: also ``SequenceNumber``, ``MessageGroupId``, ``MessageDeduplicationId``),
  "messageAttributes": {name: {"stringValue" | "binaryValue" (base64), "stringListValues": [],
  "binaryListValues": [], "dataType"}}, "md5OfBody", ("md5OfMessageAttributes" when there are
  attributes), "eventSource": "aws:sqs", "eventSourceARN", "awsRegion"}]}``.
* With ``FunctionResponseTypes: [ReportBatchItemFailures]``, the function may answer
  ``{"batchItemFailures": [{"itemIdentifier": "<messageId>"}, ...]}``: Lambda deletes the other
  messages and leaves those. A complete **success**: an empty or null ``batchItemFailures``
  list, an empty or null response. A complete **failure** (nothing deleted): a response that
  is not JSON, an empty or null ``itemIdentifier``, an entry without that key, an identifier
  that is not a message of the batch, or an exception. Without the setting, the response is
  ignored and a successful batch is deleted whole.
* A message that keeps failing goes to the queue's **dead-letter queue** once its receive count
  exceeds the redrive policy's ``maxReceiveCount`` (SQS Developer Guide, "Using dead-letter
  queues"; SetQueueAttributes: "the number of times a message is delivered to the source queue
  before being moved to the dead-letter queue"). moto 5.2 does this itself in ReceiveMessage:
  a visible message already received ``maxReceiveCount`` times is moved instead of delivered.
* A handler may change its own message's visibility (ChangeMessageVisibility with the record's
  ``receiptHandle``, e.g. to honour a Retry-After) and report it failed: it is then delivered
  again when that new timeout ends, not the queue's.
* ``FilterCriteria`` ("Control which events Lambda sends to your function"; "Using event
  filtering with an Amazon SQS event source"): up to five ``Filters``, ORed, each an
  EventBridge-style ``Pattern`` on the record's ``body`` key (the body's JSON when it is JSON,
  else the string); a record no filter matches is discarded, and for SQS that means deleted
  from the queue (measured: tecRacer, "Lambda SQS Event Filters may delete your messages if
  you're not careful"). Matching uses moto's EventBridge pattern matcher.
* ``Enabled: false`` (Create/UpdateEventSourceMapping) stops the polling; deleting the mapping
  too.

Not reproduced: Lambda's scaling (AWS starts with five concurrent batches and adds up to 300
pollers a minute: here ``pollers`` threads per mapping, two by default, on a small machine),
``ScalingConfig.MaximumConcurrency``, the "effective visibility timeout" for batching windows,
the "Creating" state of a new mapping.
"""

from __future__ import annotations

import base64
import contextlib
import json
import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

from emulator.engine.clock import CLOCK
from emulator.engine.lambda_runtime import InvocationResult, LambdaRuntime

if TYPE_CHECKING:
    from moto.events.utils import EventMessageType

LOG = logging.getLogger(__name__)
REPORT_BATCH_ITEM_FAILURES = "ReportBatchItemFailures"
MAX_RECEIVE = 10  # ReceiveMessage's MaxNumberOfMessages
MAX_BATCH_BYTES = 5 * 1024 * 1024  # stop gathering well before the 6 MB invocation limit
_install_lock = threading.Lock()
_installed = False


def install() -> None:
    """Stop moto delivering SQS messages to mapped functions inside SendMessage (once per
    process): a mapping moto creates is no longer attached to its queue; it is only stored,
    and :class:`SqsEventSources` polls it."""
    global _installed
    with _install_lock:
        if _installed:
            return
        from moto.awslambda.models import LambdaBackend
        from moto.sqs.models import sqs_backends

        _sqs_on_the_clock()
        original = LambdaBackend.create_event_source_mapping

        def create_event_source_mapping(self: Any, spec: dict[str, Any]) -> Any:
            mapping = original(self, spec)
            if mapping.event_source_arn.split(":")[2] == "sqs":
                for queue in sqs_backends[self.account_id][self.region_name].queues.values():
                    if queue.queue_arn == mapping.event_source_arn:
                        queue.lambda_event_source_mappings.pop(mapping.function_arn, None)
            return mapping

        LambdaBackend.create_event_source_mapping = create_event_source_mapping  # type: ignore[method-assign]
        _installed = True


def _sqs_on_the_clock() -> None:
    """moto's SQS messages read the time with ``unix_time_millis`` (when a message becomes
    visible again, when a delay ends, its sent and first-receive timestamps): the embedded
    AWS's clock instead. Long polls (``unix_time``) stay in real time: a ReceiveMessage that
    waits is a client waiting, not AWS time passing."""
    from moto.sqs import models as sqs_models

    # moto.sqs.models' own name for moto.core.utils.unix_time_millis (imported, not exported)
    models: Any = sqs_models
    original = models.unix_time_millis

    def unix_time_millis(dt: Any = None) -> float:
        return CLOCK.time() * 1000.0 if dt is None else float(original(dt))

    models.unix_time_millis = unix_time_millis


@dataclass(frozen=True)
class Delivery:
    """One batch handed to a function, and what became of its messages."""

    mapping_uuid: str
    function_arn: str
    queue_arn: str
    message_ids: tuple[str, ...]  # given to the function (none if every one was filtered out)
    failed_ids: tuple[str, ...]  # left in the queue (all of them when the invocation failed)
    error_type: str | None  # the function's error, if it raised or timed out
    ended: float  # wall clock
    discarded_ids: tuple[str, ...] = ()  # matched no filter: deleted without an invocation


@dataclass(frozen=True)
class _Mapping:
    """What a poller needs of a mapping, read from moto at each batch."""

    uuid: str
    account_id: str
    region: str
    function_arn: str
    queue_arn: str
    batch_size: int
    batching_window: float
    report_item_failures: bool
    filters: tuple[str, ...]  # FilterCriteria patterns (JSON text)


class _Poller:
    def __init__(self, thread: threading.Thread, stop: threading.Event) -> None:
        self.thread = thread
        self.stop = stop


class SqsEventSources:
    """Polls every enabled SQS event source mapping moto holds (any account and region)."""

    def __init__(
        self,
        runtime: Callable[[], LambdaRuntime | None],
        *,
        pollers: int = 2,
        sync_interval: float = 0.2,
        max_wait: float = 0.5,
        kept_deliveries: int = 1000,
    ) -> None:
        self._runtime = runtime
        self.pollers = pollers
        self.sync_interval = sync_interval
        self.max_wait = max_wait
        self.deliveries: deque[Delivery] = deque(maxlen=kept_deliveries)
        self._pollers: dict[str, list[_Poller]] = {}
        self._lock = threading.Lock()
        self._receive_lock = threading.Lock()  # moto's ReceiveMessage is not thread-safe
        self._paused = 0
        self._stopping = threading.Event()
        self._wake = threading.Event()
        self._supervisor: threading.Thread | None = None

    # --- lifecycle ------------------------------------------------------------------------
    def start(self) -> None:
        if self._supervisor is not None:
            return
        self._stopping.clear()
        self._supervisor = threading.Thread(
            target=self._supervise, name="sqs-event-sources", daemon=True
        )
        self._supervisor.start()

    def stop(self) -> None:
        """Stop polling; a batch being delivered is finished first (bounded)."""
        self._stopping.set()
        self._wake.set()
        if self._supervisor is not None:
            self._supervisor.join(timeout=10)
            self._supervisor = None
        self._stop_pollers()

    @contextlib.contextmanager
    def paused(self) -> Iterator[None]:
        """No polling in the block (``EmbeddedAws.reset`` wipes the queues in it): every
        poller ends, after the batch it may be delivering, and none starts until the end."""
        with self._lock:
            self._paused += 1
        try:
            self._stop_pollers()
            yield
        finally:
            with self._lock:
                self._paused -= 1
            self._wake.set()

    def _supervise(self) -> None:
        while not self._stopping.is_set():
            try:
                self._sync()
            except Exception:  # moto's state changing under us: the next round sees it whole
                LOG.debug("event source sync failed", exc_info=True)
            self._wake.wait(self.sync_interval)
            self._wake.clear()

    def _sync(self) -> None:
        wanted = {mapping.uuid: mapping for mapping in _enabled_sqs_mappings()}
        with self._lock:
            if self._paused or self._stopping.is_set():
                return
            for uuid in list(self._pollers):
                alive = [p for p in self._pollers[uuid] if p.thread.is_alive()]
                if uuid not in wanted or len(alive) < len(self._pollers[uuid]):
                    for poller in self._pollers.pop(uuid):
                        poller.stop.set()
            for uuid, mapping in wanted.items():
                if uuid not in self._pollers:
                    started = [self._start_poller(mapping, i) for i in range(self.pollers)]
                    self._pollers[uuid] = started

    def _start_poller(self, mapping: _Mapping, index: int) -> _Poller:
        stop = threading.Event()
        thread = threading.Thread(
            target=self._poll,
            args=(mapping.uuid, mapping.account_id, mapping.region, stop),
            name=f"sqs-poller-{mapping.uuid[:8]}-{index}",
            daemon=True,
        )
        thread.start()
        return _Poller(thread, stop)

    def _stop_pollers(self, timeout: float = 60.0) -> None:
        with self._lock:
            pollers = [p for group in self._pollers.values() for p in group]
            self._pollers = {}
        for poller in pollers:
            poller.stop.set()
        _notify_every_queue()
        deadline = time.monotonic() + timeout
        for poller in pollers:
            poller.thread.join(timeout=max(0.0, deadline - time.monotonic()))
            if poller.thread.is_alive():
                LOG.warning("%s still delivering a batch after %gs", poller.thread.name, timeout)

    # --- polling --------------------------------------------------------------------------
    def _poll(self, uuid: str, account_id: str, region: str, stop: threading.Event) -> None:
        while not stop.is_set():
            mapping = _mapping(uuid, account_id, region)
            if mapping is None:
                return  # deleted or disabled: the supervisor starts pollers again if re-enabled
            queue = _queue(mapping.queue_arn)
            if queue is None:
                stop.wait(self.max_wait)
                continue
            try:
                batch = self._receive(mapping, queue, stop)
            except Exception:  # the queue deleted meanwhile, or moto's state changing
                LOG.debug("receive from %s failed", mapping.queue_arn, exc_info=True)
                stop.wait(self.max_wait)
                continue
            if batch:
                with CLOCK.active():  # a batch in hand is work under way
                    self._deliver(mapping, queue, batch)

    def _receive(self, mapping: _Mapping, queue: Any, stop: threading.Event) -> list[Any]:
        messages = self._receive_once(mapping, queue, min(MAX_RECEIVE, mapping.batch_size))
        if not messages:
            hidden = _until_next_visible(queue)
            if hidden != float("inf") and not queue.messages:
                # A message comes back when its visibility timeout ends, a moment of the
                # clock: sleep on it (woken early by a message sent meanwhile, or the stop).
                CLOCK.sleep(hidden, cancelled=lambda: stop.is_set() or bool(queue.messages))
            else:
                self._wait_for_messages(queue, stop, self.max_wait)
            return []
        if mapping.batching_window <= 0:
            return messages
        deadline = time.monotonic() + mapping.batching_window
        size = sum(len(m.body) for m in messages)
        while len(messages) < mapping.batch_size and size < MAX_BATCH_BYTES and not stop.is_set():
            wanted = min(MAX_RECEIVE, mapping.batch_size - len(messages))
            more = self._receive_once(mapping, queue, wanted)
            if more:
                messages.extend(more)
                size += sum(len(m.body) for m in more)
                continue
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            self._wait_for_messages(queue, stop, remaining)
        return messages

    def _receive_once(self, mapping: _Mapping, queue: Any, count: int) -> list[Any]:
        from moto.sqs.models import sqs_backends

        backend = sqs_backends[mapping.account_id][mapping.region]
        with self._receive_lock:
            return list(
                backend.receive_message(
                    queue.name, count, 0, int(queue.visibility_timeout or 0), ["All"]
                )
            )

    def _wait_for_messages(self, queue: Any, stop: threading.Event, limit: float) -> None:
        """The long poll: until a message is sent or becomes visible again, or ``limit``."""
        timeout = max(0.01, min(limit, self.max_wait, _until_next_visible(queue)))
        lock = queue._messages_lock
        with lock:
            if queue.messages:  # visible but not delivered (a FIFO group in flight)
                lock.wait(timeout=min(timeout, 0.05))
            else:
                lock.wait_for(lambda: stop.is_set() or bool(queue.messages), timeout=timeout)

    # --- delivering -----------------------------------------------------------------------
    def _deliver(self, mapping: _Mapping, queue: Any, batch: list[Any]) -> None:
        records = [sqs_record(message, queue, mapping.region) for message in batch]
        kept = [r for r in records if matches_filters(r, mapping.filters)]
        ids = [record["messageId"] for record in kept]
        discarded = [r["messageId"] for r in records if r["messageId"] not in set(ids)]
        runtime = self._runtime()
        if not kept:
            failed: set[str] = set()
            error_type = None
        elif runtime is None or runtime.resolve(mapping.function_arn) is None:
            LOG.warning("no function %s to deliver %s to", mapping.function_arn, ids)
            failed, error_type = set(ids), "ResourceNotFoundException"
        else:
            result = runtime.invoke(mapping.function_arn, json.dumps({"Records": kept}))
            failed = failed_messages(result, ids, report_item_failures=mapping.report_item_failures)
            error_type = _error_type(result)
        from moto.sqs.models import sqs_backends

        backend = sqs_backends[mapping.account_id][mapping.region]
        for message in batch:
            if message.id not in failed:  # processed, or discarded by the filters
                with contextlib.suppress(Exception):  # already deleted, or wiped by a reset
                    backend.delete_message(queue.name, message.receipt_handle)
        self.deliveries.append(
            Delivery(
                mapping.uuid,
                mapping.function_arn,
                mapping.queue_arn,
                tuple(ids),
                tuple(i for i in ids if i in failed),
                error_type,
                time.time(),
                tuple(discarded),
            )
        )


# --- the event and the answer ------------------------------------------------------------------
def sqs_record(message: Any, queue: Any, region: str) -> dict[str, Any]:
    """One moto message (as just received) as a record of Lambda's SQS event."""
    attributes = {
        "ApproximateReceiveCount": str(message.approximate_receive_count),
        "SentTimestamp": str(message.sent_timestamp),
        "SenderId": str(message.sender_id),
        "ApproximateFirstReceiveTimestamp": str(message.approximate_first_receive_timestamp),
    }
    if queue.fifo_queue:
        attributes["SequenceNumber"] = str(message.sequence_number)
        attributes["MessageGroupId"] = str(message.group_id)
        if message.deduplication_id:
            attributes["MessageDeduplicationId"] = str(message.deduplication_id)
    trace = (message.system_attributes or {}).get("AWSTraceHeader")
    if trace:
        attributes["AWSTraceHeader"] = str(
            trace.get("StringValue", "") if isinstance(trace, dict) else trace
        )
    record: dict[str, Any] = {
        "messageId": message.id,
        "receiptHandle": message.receipt_handle,
        "body": message.body,
        "attributes": attributes,
        "messageAttributes": {
            name: _lambda_attribute(value) for name, value in message.message_attributes.items()
        },
        "md5OfBody": message.body_md5,
    }
    if message.message_attributes:
        record["md5OfMessageAttributes"] = message.attribute_md5
    record.update(
        {"eventSource": "aws:sqs", "eventSourceARN": queue.queue_arn, "awsRegion": region}
    )
    return record


def _lambda_attribute(value: dict[str, Any]) -> dict[str, Any]:
    """SQS's ``{"DataType", "StringValue" | "BinaryValue"}`` in the event's camelCase."""
    attribute: dict[str, Any] = {}
    if value.get("StringValue") is not None:
        attribute["stringValue"] = str(value["StringValue"])
    if value.get("BinaryValue") is not None:
        binary = value["BinaryValue"]
        attribute["binaryValue"] = (
            base64.b64encode(binary).decode() if isinstance(binary, bytes) else str(binary)
        )
    attribute["stringListValues"] = list(value.get("StringListValues") or [])
    attribute["binaryListValues"] = list(value.get("BinaryListValues") or [])
    attribute["dataType"] = str(value.get("DataType", "String"))
    return attribute


def matches_filters(record: dict[str, Any], filters: tuple[str, ...]) -> bool:
    """Whether a record passes the mapping's ``FilterCriteria`` (no filters: every record)."""
    if not filters:
        return True
    from moto.events.models import EventPattern

    try:
        body: Any = json.loads(record["body"])
    except ValueError:
        body = record["body"]
    # moto's EventBridge matcher types what it matches as an event; any JSON object will do
    data = cast("EventMessageType", {"body": body})
    return any(EventPattern.load(pattern).matches_event(data) for pattern in filters)


def failed_messages(
    result: InvocationResult, ids: list[str], *, report_item_failures: bool
) -> set[str]:
    """The message ids of the batch left in the queue, by Lambda's documented conditions."""
    if result.function_error or result.status_code != 200:
        return set(ids)
    if not report_item_failures:
        return set()
    try:
        response = json.loads(result.payload) if result.payload.strip() else None
    except ValueError:
        return set(ids)  # an invalid JSON response
    if not response:
        return set()  # an empty or null response
    if not isinstance(response, dict):
        return set(ids)
    failures = response.get("batchItemFailures")
    if not failures:
        return set()  # an empty or null batchItemFailures list
    if not isinstance(failures, list):
        return set(ids)
    failed: set[str] = set()
    for failure in failures:
        identifier = failure.get("itemIdentifier") if isinstance(failure, dict) else None
        if not isinstance(identifier, str) or identifier not in ids:
            return set(ids)  # missing, null, empty or unknown itemIdentifier
        failed.add(identifier)
    return failed


def _error_type(result: InvocationResult) -> str | None:
    if not result.function_error:
        return None
    with contextlib.suppress(ValueError, AttributeError):
        return str(json.loads(result.payload).get("errorType"))
    return result.function_error


# --- moto's state ------------------------------------------------------------------------------
def _lambda_backends() -> Any:
    """The BackendDict moto's Lambda API uses (its "simple" backend when Docker is off)."""
    from moto.core.config import default_user_config

    if default_user_config.get("lambda", {}).get("use_docker", True) is False:
        from moto.awslambda_simple.models import lambda_simple_backends

        return lambda_simple_backends
    from moto.awslambda.models import lambda_backends

    return lambda_backends


def _enabled_sqs_mappings() -> list[_Mapping]:
    found = []
    for account_id, regions in list(_lambda_backends().items()):
        for region, backend in list(regions.items()):
            for esm in list(backend._event_source_mappings.values()):
                mapping = _read_mapping(esm, account_id, region)
                if mapping is not None:
                    found.append(mapping)
    return found


def _mapping(uuid: str, account_id: str, region: str) -> _Mapping | None:
    esm = _lambda_backends()[account_id][region]._event_source_mappings.get(uuid)
    return None if esm is None else _read_mapping(esm, account_id, region)


def _read_mapping(esm: Any, account_id: str, region: str) -> _Mapping | None:
    if esm.event_source_arn.split(":")[2] != "sqs" or not _enabled(esm.enabled):
        return None
    return _Mapping(
        uuid=esm.uuid,
        account_id=account_id,
        region=region,
        function_arn=esm.function_arn,
        queue_arn=esm.event_source_arn,
        batch_size=int(esm.batch_size or 10),
        batching_window=float(esm.max_batch_window or 0),
        report_item_failures=REPORT_BATCH_ITEM_FAILURES in (esm.function_response_types or []),
        filters=tuple(
            str(f["Pattern"])
            for f in (esm.filter_criteria or {}).get("Filters", [])
            if f.get("Pattern")
        ),
    )


def _enabled(value: Any) -> bool:
    return value is True or str(value).lower() == "true"


def _queue(queue_arn: str) -> Any:
    from moto.sqs.models import sqs_backends

    _, _, _, region, account_id, name = queue_arn.split(":", 5)
    return sqs_backends[account_id][region].queues.get(name)


def _until_next_visible(queue: Any) -> float:
    """Seconds until the first hidden or delayed message becomes visible (on the clock)."""
    now = CLOCK.time() * 1000
    upcoming = [
        max(message.visible_at, message.delayed_until)
        for message in list(queue._messages)
        if max(message.visible_at, message.delayed_until) > now
    ]
    return (min(upcoming) - now) / 1000 + 0.001 if upcoming else float("inf")


def _notify_every_queue() -> None:
    """Wake every long poll (a poller told to stop sees it at once)."""
    from moto.sqs.models import sqs_backends

    for regions in list(sqs_backends.values()):
        for backend in list(regions.values()):
            for queue in list(backend.queues.values()):
                with queue._messages_lock:
                    queue._messages_lock.notify_all()
