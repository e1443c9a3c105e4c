"""``PACE#<operation>``: the turns of one rate-limited API Gateway operation across every
running execution (``domain.pacing``): ``nextFreeAt``, the first moment no turn is reserved
from, ``lastCallAt``, when the last call was made (epoch seconds), and ``inFlightSince`` /
``inFlightCaller`` while a call that passed its gate has not come back."""

from __future__ import annotations

from contextlib import suppress
from typing import Any, NamedTuple

from provisioner.contract import errors
from provisioner.storage.keys import pace_key
from provisioner.storage.table import Table, seconds, unmarshal

# A call that passed its gate and has not come back holds the gate: API Gateway sees it at some
# moment until it comes back, and the next call must be a spacing after that. A mark older than
# this is a call whose function died before recording its end: the functions' timeout (template
# Globals) has ended it by then.
IN_FLIGHT_BOUND_SECONDS = 30
_NOT_IN_FLIGHT = "(attribute_not_exists(inFlightSince) OR inFlightSince <= :stale)"


class PaceRecord(NamedTuple):
    """An operation's turns as they stood: 0 when no turn was ever reserved or no call made.
    ``in_flight_since``: a call passed its gate then and has not come back yet (None: none)."""

    next_free_at: float
    last_call_at: float
    in_flight_since: float | None = None

    @classmethod
    def of(cls, item: dict[str, Any] | None) -> PaceRecord:
        """From DynamoDB's JSON (a ConditionalCheckFailed's ``Item``)."""
        return cls.read(unmarshal(item or {}))

    @classmethod
    def read(cls, found: dict[str, Any]) -> PaceRecord:
        since = found.get("inFlightSince")
        return cls(
            float(found.get("nextFreeAt", 0)),
            float(found.get("lastCallAt", 0)),
            None if since is None else float(since),
        )


class Pace:
    """The pacing records of one ledger table, one per operation."""

    def __init__(self, table: Table) -> None:
        self.table = table

    def record(self, operation: str) -> PaceRecord:
        return PaceRecord.read(self.table.get(pace_key(operation)) or {})

    def take_free_turn(
        self, operation: str, *, now: float, spacing: float, caller: str
    ) -> PaceRecord | None:
        """The turn is free when no turn is reserved from now on, the last call was made
        ``spacing`` ago or more and none is in flight: then record a call in flight from
        ``now`` (the next turn is ``spacing`` later) and answer None, in one conditional
        write. Otherwise nothing is written and the record is answered as it stood."""
        return self._gate(operation, now=now, spacing=spacing, caller=caller, free_turn=True)

    def queue_turn(self, operation: str, *, now: float, spacing: float) -> float | None:
        """The turn behind the last one reserved, if any is reserved from ``now`` on (one
        atomic ADD: N requests at the same moment get N successive turns, none retried);
        else None."""
        try:
            updated = self._update(
                operation,
                "ADD nextFreeAt :spacing",
                "nextFreeAt > :now",
                {":spacing": seconds(spacing), ":now": seconds(now)},
                returning="UPDATED_NEW",
            )
        except errors.ConditionFailed:
            return None
        return float(updated["nextFreeAt"]) - spacing

    def open_queue(self, operation: str, *, now: float, turn: float, spacing: float) -> bool:
        """No turn is reserved, but the turn is not free (a call was made less than
        ``spacing`` ago): reserve ``turn``, the first after that call. False if another
        request reserved one first (then :meth:`queue_turn` queues behind it)."""
        try:
            self._update(
                operation,
                "SET nextFreeAt = :next",
                "attribute_not_exists(nextFreeAt) OR nextFreeAt <= :now",
                {":next": seconds(turn + spacing), ":now": seconds(now)},
            )
        except errors.ConditionFailed:
            return False
        return True

    def pass_gate(
        self, operation: str, *, now: float, spacing: float, caller: str
    ) -> PaceRecord | None:
        """At its turn, a call may be made if the last one was made ``spacing`` ago or more
        and none is in flight: then it is recorded as in flight from ``now`` (None).
        Otherwise the record as it stood (when the last call was made; whether one is in
        flight)."""
        return self._gate(operation, now=now, spacing=spacing, caller=caller, free_turn=False)

    def _gate(
        self, operation: str, *, now: float, spacing: float, caller: str, free_turn: bool
    ) -> PaceRecord | None:
        """The one conditional write that lets a call through (the last call ``spacing`` ago
        or more, none in flight) and marks it in flight from ``now``; ``free_turn``: outside
        any turn, which also needs no turn reserved from now on, and reserves the next one."""
        update = (
            "SET lastCallAt = :now, lastCaller = :caller, inFlightSince = :now,"
            " inFlightCaller = :caller"
        )
        condition = (
            f"(attribute_not_exists(lastCallAt) OR lastCallAt <= :open) AND {_NOT_IN_FLIGHT}"
        )
        values: dict[str, Any] = {
            ":now": seconds(now),
            ":open": seconds(now - spacing),
            ":stale": seconds(now - IN_FLIGHT_BOUND_SECONDS),
            ":caller": caller,
        }
        if free_turn:
            update += ", nextFreeAt = :next"
            condition += " AND (attribute_not_exists(nextFreeAt) OR nextFreeAt <= :now)"
            values[":next"] = seconds(now + spacing)
        try:
            self._update(operation, update, condition, values)
        except errors.ConditionFailed as refused:
            return PaceRecord.of(refused.item)
        return None

    def record_returned(self, operation: str, *, now: float, caller: str) -> None:
        """The call that ``caller`` made in its turn came back at ``now``: the last call, as
        far as the next one's gate knows (API Gateway saw it at some moment before), and no
        longer in flight."""
        try:
            self._update(
                operation,
                "SET lastCallAt = :now REMOVE inFlightSince, inFlightCaller",
                "inFlightCaller = :caller AND lastCallAt < :now",
                {":now": seconds(now), ":caller": caller},
            )
            return
        except errors.ConditionFailed:
            pass
        # A call made outside any turn was recorded as later meanwhile (a rollback's), or this
        # call's mark went stale and another passed the gate: keep the latest call, then lift
        # the mark if it is still this call's.
        self.record_call(operation, now=now, caller=caller)
        with suppress(errors.ConditionFailed):
            self._update(
                operation,
                "REMOVE inFlightSince, inFlightCaller",
                "inFlightCaller = :caller",
                {":caller": caller},
            )

    def record_call(self, operation: str, *, now: float, caller: str) -> None:
        """A call made outside any turn (the rollback does not wait for one): recorded, so
        that the calls made in turns keep their distance from it."""
        with suppress(errors.ConditionFailed):
            self._update(
                operation,
                "SET lastCallAt = :now, lastCaller = :caller",
                "attribute_not_exists(lastCallAt) OR lastCallAt < :now",
                {":now": seconds(now), ":caller": caller},
            )

    def _update(
        self,
        operation: str,
        update: str,
        condition: str,
        values: dict[str, Any],
        *,
        returning: str = "NONE",
    ) -> dict[str, Any]:
        return self.table.update(
            pace_key(operation), update, condition=condition, values=values, returning=returning
        )
