"""Pacing: API Gateway's fixed-rate operations taken in turn by every running execution.

API Gateway answers some control-plane operations at a fixed rate per account and region that
no support case raises ("API Gateway quotas for creating, deploying and managing an API";
:data:`RATES`). Above it AWS answers ``TooManyRequestsException`` (429). Fifty requests at once
would each retry their CreateDeployment against the other forty-nine until the ASL's retries
ran out; instead, every call of a paced operation is made in a turn:

* **A turn is reserved atomically in the ledger** (item ``PACE#<operation>``,
  :mod:`provisioner.storage.pace`). A request that finds the turn free (nobody queued, the
  last call ``spacing`` ago) records its call and makes it at once, in the same invocation:
  one conditional write, no Wait state, nothing slower. Otherwise it gets the turn behind the
  last one reserved (an atomic ADD: N requests at the same moment get N successive turns) and
  the task answers that turn instead of calling.
* **The workflow waits for the turn in a Wait state** (``TimestampPath``: the turn rounded up
  to the second, since Step Functions drops a timestamp's milliseconds), so no Lambda runs
  while it waits, then calls the task again with its turn (``statemachine.workflows.paced``).
* **The gate.** Turns are ``spacing`` apart (the rate's interval plus :data:`MARGIN_SECONDS`
  for the clocks of Lambda and API Gateway), but a caller can be late: a cold start, a slow
  invocation, a whole second of rounding. So a call is made only once its record passes the
  gate, a conditional write that holds only if the last call was made ``spacing`` ago or more.
  A caller whose predecessor was late (or whose call is still in flight) by less than
  :data:`MAX_PAUSE_SECONDS` pauses for the rest in the task; past that, it takes a new turn.
  Two calls of this stack are never closer than ``spacing``, however late anyone is.
* **A call is in flight from its gate until it comes back.** API Gateway sees it at some moment
  in between, which a busy machine or network can make late: so the gate marks the call in
  flight (no other call passes the gate meanwhile), and when it comes back, the moment it came
  back becomes the last call. The next gate then counts from a moment at or after the one API
  Gateway saw, however slow the call was: two calls are a spacing apart as API Gateway sees
  them, not only as the callers do. (A mark older than the functions' timeout is a call whose
  function died: it has ended.) The one-attempt client is made before the gate, so that
  nothing slow comes between the gate and the call.
* **The work before a call is done in its turn.** A task that looks something up before its
  call (is the API there already? is the link still AVAILABLE?) first reads the queue
  (:func:`turn_ahead`): when its turn is not within :data:`MAX_PAUSE_SECONDS`, it reserves it
  and answers it at once, and looks things up in its turn, right before the call. Fifty
  requests at once then make one such lookup each, not two: those are API Gateway calls too,
  on the account's shared 10 per second.
* **A turn is used once, by the attempt it was given to.** If that attempt fails (a Lambda
  fault; a 429 or 5xx from another call of the task; the task is retried by the ASL), the
  retry takes a new turn: the old one is wasted, never shared. A paced call that AWS refuses
  (429: another tool in the account took the rate; 5xx) is not retried by botocore in the
  turn of the request behind it: it takes a new turn, at most :data:`MAX_TURNS` in all, then
  raises ``TooManyRequests`` for the ASL's backoff and full jitter.

* **A task may make several paced calls** (a rollback deletes its API, then its V2 link):
  :class:`Turns` holds the one turn the workflow waited for and gives it to the call of its
  queue, once; each other call takes the free turn or answers a turn of its own, and the task
  answers that turn with what it did so far. A turn answered in a chain of waits (a refused
  call, a late predecessor, a retried attempt, another request's turn waited for first)
  keeps the moment the first wait began (``ApiGatewayTurn.queued_at``): a deadline leaves out
  ``waited_seconds``.
* **Where no Wait state can wait** (the answer to an execution that stopped, an EventBridge
  target with no workflow), :func:`in_turn_here` pauses in the task for a turn that comes
  within a bound, and past it makes the call at once, outside any turn, and records it.

Who calls what in turn: ``rest_apis`` (CreateRestApi, CreateDeployment), ``teardown``
(DeleteRestApi), ``vpc_links`` (a V2 link's CreateVpcLink, its claim held through the wait;
a V2 link's DeleteVpcLink, for teardown, relink and rollback) and ``rollback`` (DeleteRestApi;
the workflow's Rollback task waits in ``WaitForRollbackTurn``).

The rest of API Gateway's rates (every operation together: 10 per second, bursts of 40) are
not paced: botocore's retries and the ASL's backoff absorb them. Neither is a V1 link's
CreateVpcLink or DeleteVpcLink: API Gateway gives them no rate of their own.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import NamedTuple, Protocol

import msgspec

from provisioner.aws import apigateway, apigatewayv2
from provisioner.contract import errors
from provisioner.contract.payloads import ApiGatewayTurn, RequestRef
from provisioner.contract.progress import timestamp
from provisioner.runtime.observability import logger
from provisioner.runtime.settings import Settings
from provisioner.storage.pace import IN_FLIGHT_BOUND_SECONDS, PaceRecord

# Between two turns, besides the rate's interval: Lambda's clock and API Gateway's may differ
# by a little, and a call reaches API Gateway a little after its gate.
MARGIN_SECONDS = 0.2
# A caller whose predecessor called late (or is still calling) pauses in the task for at most
# this, else queues again.
MAX_PAUSE_SECONDS = 2.0
# A paced call refused by AWS this many times (each in a turn of its own) raises TooManyRequests.
MAX_TURNS = 8
# While a predecessor's call is in flight at a caller's turn, the caller looks again this often.
IN_FLIGHT_POLL_SECONDS = 0.1
_MOST_POLLS = round(MAX_PAUSE_SECONDS / IN_FLIGHT_POLL_SECONDS)
# The requester hears that it waits its turn only when the wait is longer than this.
WAIT_NOTICE_SECONDS = 10


class PacedRate(NamedTuple):
    operation: str  # as API Gateway names it
    seconds: float  # one call every this many seconds, per account and region
    quota: str  # as the quotas page words it

    @property
    def spacing(self) -> float:
        """Seconds between two turns."""
        return self.seconds + MARGIN_SECONDS


class Paced(StrEnum):
    """The queues: one per operation and rate (an edge-optimized API has a rate of its own)."""

    CREATE_REST_API = "CreateRestApi"
    CREATE_EDGE_REST_API = "CreateRestApi.EDGE"
    CREATE_DEPLOYMENT = "CreateDeployment"
    DELETE_REST_API = "DeleteRestApi"
    CREATE_VPC_LINK_V2 = "CreateVpcLink.V2"
    DELETE_VPC_LINK_V2 = "DeleteVpcLink.V2"

    @property
    def rate(self) -> PacedRate:
        return RATES[self]

    @property
    def links_v2(self) -> bool:
        """An ``apigatewayv2`` operation (a VPC link V2's)."""
        return self in (Paced.CREATE_VPC_LINK_V2, Paced.DELETE_VPC_LINK_V2)


RATES: dict[Paced, PacedRate] = {
    Paced.CREATE_REST_API: PacedRate("CreateRestApi", 3, "1 request every 3 seconds"),
    Paced.CREATE_EDGE_REST_API: PacedRate(
        "CreateRestApi", 30, "1 request every 30 seconds (edge-optimized)"
    ),
    Paced.CREATE_DEPLOYMENT: PacedRate("CreateDeployment", 5, "1 request every 5 seconds"),
    Paced.DELETE_REST_API: PacedRate("DeleteRestApi", 30, "1 request every 30 seconds"),
    Paced.CREATE_VPC_LINK_V2: PacedRate("CreateVpcLink", 15, "1 request every 15 seconds (V2)"),
    Paced.DELETE_VPC_LINK_V2: PacedRate("DeleteVpcLink", 30, "1 request every 30 seconds (V2)"),
}
"""API Gateway's fixed control-plane rates, per account and region, not adjustable
(https://docs.aws.amazon.com/apigateway/latest/developerguide/limits.html)."""


def create_rest_api_queue(endpoint_type: str) -> Paced:
    return Paced.CREATE_EDGE_REST_API if endpoint_type == "EDGE" else Paced.CREATE_REST_API


def in_turn[Result](
    queue: Paced,
    turn: ApiGatewayTurn | None,
    *,
    retried: bool,
    settings: Settings,
    caller: str,
    call: Callable[[bool], Result],
) -> Result | ApiGatewayTurn:
    """Make ``call`` (one call of ``queue``'s operation) in this stack's turn: now if the turn
    is free (or comes within :data:`MAX_PAUSE_SECONDS`), else answer the turn to wait for:
    the workflow waits for it in a Wait state and calls again with it (``turn``).
    ``retried``: this attempt is an ASL retry, whose ``turn`` was its failed predecessor's
    (spent: a new one is taken). ``call(in_turn)`` makes the API call (``in_turn``: once, not
    retried by botocore). With pacing off (``ApiGatewayPacing=Disabled``), ``call`` is made at
    once and retried by botocore, as before pacing."""
    if not settings.api_gateway_pacing:
        return call(False)
    turns = turn.turns if turn else 0
    # nothing slow between the gate and the call
    (apigatewayv2 if queue.links_v2 else apigateway).prepare_paced_calls()
    waiting = take_turn(
        queue, None if retried else turn, settings=settings, caller=caller, turns=turns
    )
    if waiting is not None:
        return waiting.after(turn)
    try:
        return call(True)
    except (errors.TooManyRequests, errors.TransientAwsError) as error:
        refused = error
    finally:
        _record_returned(queue, settings=settings, caller=caller, at=_now())
    if turns + 1 >= MAX_TURNS:
        raise refused
    logger.warning(
        "API Gateway refused a paced call: it takes a new turn",
        extra={"operation": queue.rate.operation, "error": refused.message},
    )
    return _reserve(queue, settings=settings, turns=turns + 1).after(turn)


class PacedPayload(Protocol):
    """What :meth:`Turns.of` reads from a paced task's payload (a ``PacedTask`` with its
    request)."""

    @property
    def request(self) -> RequestRef: ...

    @property
    def turn(self) -> ApiGatewayTurn | None: ...

    @property
    def retry_count(self) -> int: ...


class Turns:
    """The paced calls of one invocation of a task, in turn (:func:`in_turn` for each).

    ``turn``: the turn the workflow waited for; the call of its queue uses it, once (a second
    call of the same queue, or a call of another queue, takes the free turn or answers a turn
    of its own). A turn with a ``holder`` is another request's, waited for by this one: it is
    nobody's turn here, but the waits that follow it count from it. ``retried``: this
    invocation is an ASL retry, whose ``turn`` was spent by its failed predecessor.
    ``pause_within``: no Wait state will wait for a turn (:func:`in_turn_here`). A task's turns
    are read from its payload (:meth:`of`; the rollback, whose caller is the failed request,
    makes its own); the domain's paced functions take them whole.

    A plain class, not a dataclass: generating a dataclass's methods costs every function that
    imports it a cold start (about 3 M instructions)."""

    __slots__ = ("_held", "caller", "pause_within", "retried", "settings", "turn")

    def __init__(
        self,
        settings: Settings,
        caller: str,
        turn: ApiGatewayTurn | None = None,
        retried: bool = False,
        pause_within: float | None = None,
    ) -> None:
        self.settings = settings
        self.caller = caller
        self.turn = turn
        self.retried = retried
        self.pause_within = pause_within
        held = turn is not None and turn.holder is None
        self._held: ApiGatewayTurn | None = turn if held else None

    @classmethod
    def of(cls, task: PacedPayload, settings: Settings) -> Turns:
        """The turns of a paced task's invocation, for its request: the turn the workflow
        waited for (none on the task's first call), and whether this invocation is an ASL
        retry (``retryCount`` above 0: the turn, if any, was its failed predecessor's)."""
        return cls(settings, task.request.request_id, task.turn, task.retry_count > 0)

    def ahead(self, queue: Paced) -> ApiGatewayTurn | None:
        """The turn to wait for before the work that prepares ``queue``'s call (see
        :func:`turn_ahead`), or None: prepare now."""
        return turn_ahead(queue, self.turn, retried=self.retried, settings=self.settings)

    def call[Result](self, queue: Paced, call: Callable[[bool], Result]) -> Result | ApiGatewayTurn:
        """Make ``call`` in its turn (see :func:`in_turn`), or answer the turn to wait for."""
        if self.pause_within is not None:
            return in_turn_here(
                queue,
                within=self.pause_within,
                settings=self.settings,
                caller=self.caller,
                call=call,
            )
        held = self._held if self._held is not None and self._held.queue == queue else None
        if held is not None:
            self._held = None  # used once
        made = in_turn(
            queue, held, retried=self.retried, settings=self.settings, caller=self.caller, call=call
        )
        return made.after(self.turn) if isinstance(made, ApiGatewayTurn) else made


def in_turn_here[Result](
    queue: Paced, *, within: float, settings: Settings, caller: str, call: Callable[[bool], Result]
) -> Result:
    """``call`` in its turn for a caller with no Wait state to wait in (the answer to an
    execution that stopped: an EventBridge target): as :func:`in_turn`, but a turn that comes
    within ``within`` seconds from now is paused for here (the function's timeout bounds it);
    a later one is given up (its slot goes unused) and the call is made at once, outside any
    turn, and recorded, so that the calls made in turns keep their distance from it."""
    if not settings.api_gateway_pacing:
        return call(False)
    until = _now() + within
    turn: ApiGatewayTurn | None = None
    for _ in range(MAX_TURNS):
        made = in_turn(queue, turn, retried=False, settings=settings, caller=caller, call=call)
        if not isinstance(made, ApiGatewayTurn):
            return made
        if made.at_seconds > until:
            break
        _pause(max(0.0, made.at_seconds - _now()))
        turn = made
    logger.warning(
        "No turn within the task's time: the call is made out of turn",
        extra={"operation": queue.rate.operation, "within": within},
    )
    called_at = _now()
    try:
        return call(False)
    finally:
        record_call(queue, settings=settings, caller=caller, at=called_at)


def others_turn(
    queue: Paced, *, holder: str, at: float, earlier: ApiGatewayTurn | None
) -> ApiGatewayTurn:
    """Another request's turn (``holder``) for a call whose result this one will share: it
    waits for it in the same Wait state as for a turn of its own, holding none. ``at``: when
    to look again (a little after that request's turn)."""
    now = _now()
    turn = _turn(queue, max(at, now), now, turns=0)
    return msgspec.structs.replace(turn, holder=holder).after(earlier)


def turn_ahead(
    queue: Paced, turn: ApiGatewayTurn | None, *, retried: bool, settings: Settings
) -> ApiGatewayTurn | None:
    """Before the work that prepares a paced call: the turn to wait for first, reserved now,
    when the task holds none (or its turn was spent: ``retried``) and the queue's next turn is
    more than :data:`MAX_PAUSE_SECONDS` away. None: prepare now, then :func:`in_turn` (which
    takes the free turn, or reserves one, as it always does)."""
    if not settings.api_gateway_pacing or (turn is not None and not retried):
        return None
    seen = settings.ledger.pace.record(queue)
    now = _now()
    due = max(now, seen.next_free_at, seen.last_call_at + queue.rate.spacing)
    if due - now <= MAX_PAUSE_SECONDS:
        return None
    turns = turn.turns if turn else 0
    return _reserve(queue, settings=settings, turns=turns + 1, seen=seen)


def take_turn(
    queue: Paced,
    holding: ApiGatewayTurn | None,
    *,
    settings: Settings,
    caller: str,
    turns: int = 0,
) -> ApiGatewayTurn | None:
    """None: the call may be made now (it is recorded as in flight from now); else the turn to
    wait for.

    Without a turn, the free turn is taken at once, or one is reserved. At its turn (paused
    for here when it is at most :data:`MAX_PAUSE_SECONDS` away), the caller passes the gate:
    its predecessor called ``spacing`` ago or more. A predecessor late by at most
    :data:`MAX_PAUSE_SECONDS` is waited for here; a later one costs a new turn."""
    spacing = queue.rate.spacing
    if holding is None:
        seen = settings.ledger.pace.take_free_turn(
            queue, now=_now(), spacing=spacing, caller=caller
        )
        if seen is None:
            return None
        holding = _reserve(queue, settings=settings, turns=turns + 1, seen=seen)
    return _at_turn(queue, holding, settings=settings, caller=caller)


def _at_turn(
    queue: Paced, holding: ApiGatewayTurn, *, settings: Settings, caller: str
) -> ApiGatewayTurn | None:
    """:func:`take_turn` for a caller that holds a turn: the gate, once the turn has come."""
    spacing = queue.rate.spacing
    pace = settings.ledger.pace
    polls = 0  # how often this caller looked again for a predecessor's call to come back
    for _ in range(MAX_TURNS * (4 + _MOST_POLLS)):
        early = holding.at_seconds - _now()
        if early > MAX_PAUSE_SECONDS:
            return holding
        if early > 0:
            _pause(early)
        now = _now()
        seen = pace.pass_gate(queue, now=now, spacing=spacing, caller=caller)
        if seen is None:
            return None
        late = seen.last_call_at + spacing - now
        if _in_flight(seen, now) and late <= 0:
            # The predecessor's call has not come back: the next gate counts from when it does.
            polls += 1
            if polls <= _MOST_POLLS:
                _pause(IN_FLIGHT_POLL_SECONDS)
                continue
            seen, late = seen._replace(last_call_at=now), spacing  # as if it came back now
        if late > MAX_PAUSE_SECONDS:
            logger.info(
                "Another call was made in this turn or is still in flight: taking a new one",
                extra={"operation": queue.rate.operation, "turn": holding.at},
            )
            holding = _reserve(queue, settings=settings, turns=holding.turns + 1, seen=seen)
            polls = 0
        elif late > 0:
            _pause(late)
    raise errors.TooManyRequests(f"no turn for {queue.rate.operation} came")


def record_call(queue: Paced, *, settings: Settings, caller: str, at: float) -> None:
    """A call made outside any turn, at ``at`` (the rollback does not wait for a turn): the
    calls made in turns keep their distance from it."""
    if settings.api_gateway_pacing:
        settings.ledger.pace.record_call(queue, now=at, caller=caller)


def _in_flight(seen: PaceRecord, now: float) -> bool:
    since = seen.in_flight_since
    return since is not None and since > now - IN_FLIGHT_BOUND_SECONDS


def _record_returned(queue: Paced, *, settings: Settings, caller: str, at: float) -> None:
    """The call made in a turn came back at ``at``: the last call is this one (later calls
    keep their distance from it), no longer in flight. Best effort: the call is made, and an
    error here must not fail the task (the mark goes stale after
    :data:`IN_FLIGHT_BOUND_SECONDS`)."""
    try:
        settings.ledger.pace.record_returned(queue, now=at, caller=caller)
    except errors.ProvisionerError as error:
        logger.warning(
            "Could not record when a paced call came back",
            extra={"operation": queue.rate.operation, "error": error.message},
        )


def now() -> float:
    """Epoch seconds on the function's clock."""
    return _now()


def _reserve(
    queue: Paced, *, settings: Settings, turns: int, seen: PaceRecord | None = None
) -> ApiGatewayTurn:
    """The next turn: behind the last one reserved, or the first after the last call."""
    spacing = queue.rate.spacing
    pace = settings.ledger.pace
    reserved_at = _now()
    for _ in range(10):  # each round, another request reserved first: ours comes after it
        now = _now()
        turn = pace.queue_turn(queue, now=now, spacing=spacing)
        if turn is not None:
            return _turn(queue, max(turn, now), reserved_at, turns)
        seen = seen or pace.record(queue)
        first = max(now, seen.last_call_at + spacing)
        if pace.open_queue(queue, now=now, turn=first, spacing=spacing):
            return _turn(queue, first, reserved_at, turns)
        seen = None
    raise errors.TooManyRequests(f"could not reserve a turn for {queue.rate.operation}")


def _turn(queue: Paced, at: float, reserved_at: float, turns: int) -> ApiGatewayTurn:
    # Step Functions drops a timestamp's milliseconds: wait until the next whole second.
    wait_until = math.ceil(at)
    return ApiGatewayTurn(
        queue=queue.value,
        operation=queue.rate.operation,
        at=timestamp(_moment(at)),
        wait_until=_moment(wait_until).strftime("%Y-%m-%dT%H:%M:%SZ"),
        reserved_at=timestamp(_moment(reserved_at)),
        wait_seconds=max(0, math.ceil(wait_until - reserved_at)),
        turns=turns,
    )


def _moment(seconds: float) -> datetime:
    return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(seconds=seconds)


def _now() -> float:
    """The function's clock (the embedded AWS's, when it runs there)."""
    return datetime.now(UTC).timestamp()


def _pause(seconds: float) -> None:
    time.sleep(seconds)
