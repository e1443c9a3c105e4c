"""What the ledger keeps for ticket self-service.

* ``DELIVERY#<system>#<id>``: a ticket delivery already turned into a request (replays and
  redeliveries are answered as duplicates); expires after a day (TTL ``expiration``).
* ``TICKET#<requestId>``: which of a ticket's request's notifications the write-back has
  settled (written back, or given up on) and which it has commented already; each
  notification is named by its ``<timestamp>|<status>``, as the request's history names it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Literal

from provisioner.contract import errors
from provisioner.storage.keys import delivery_key, ticket_key
from provisioner.storage.table import Table, now_iso, utcnow

type WriteBackStep = Literal["commented", "settled", "abandoned"]


@dataclass(frozen=True)
class WriteBacks:
    """What the ticket write-back did with a request's notifications, each named
    ``<timestamp>|<status>``: ``settled`` ones are done with (written back, refused by the
    ticket system, or not to be written back), ``abandoned`` ones used up their retries (a
    redrive from the dead-letter queue may still write them back), ``commented`` ones have
    their comment on the ticket."""

    settled: frozenset[str] = frozenset()
    commented: frozenset[str] = frozenset()
    abandoned: frozenset[str] = frozenset()


def milestone_name(timestamp: str, status: str) -> str:
    """How the write-back names a notification and the history entry that recorded it."""
    return f"{timestamp}|{status}"


class Tickets:
    """Ticket deliveries and write-backs in one ledger table."""

    def __init__(self, table: Table) -> None:
        self.table = table

    def remember_delivery(
        self, system: str, delivery_id: str, *, request_id: str, keep_for: timedelta
    ) -> str | None:
        """Record a ticket delivery as received: ``None`` the first time, else the requestId
        the first one became (a redelivery or a replay is answered with it and goes no
        further).

        The item expires (TTL attribute ``expiration``); DynamoDB deletes expired items
        within days, not at once, so an expired item counts as absent here."""
        now = utcnow()
        item = {
            **delivery_key(system, delivery_id),
            "requestId": request_id,
            "receivedAt": now_iso(),
            "expiration": int((now + keep_for).timestamp()),
        }
        try:
            self.table.put(
                item,
                "attribute_not_exists(pk) OR expiration < :now",
                {":now": int(now.timestamp())},
            )
            return None
        except errors.ConditionFailed:
            found = self.table.get(delivery_key(system, delivery_id)) or {}
            return str(found.get("requestId") or request_id)

    def forget_delivery(self, system: str, delivery_id: str) -> None:
        """A delivery that could not be put on the bus: its retry must not count as a replay."""
        self.table.delete(delivery_key(system, delivery_id))

    def write_backs(self, request_id: str) -> WriteBacks:
        found = self.table.get(ticket_key(request_id)) or {}
        return WriteBacks(
            settled=frozenset(found.get("settled", ())),
            commented=frozenset(found.get("commented", ())),
            abandoned=frozenset(found.get("abandoned", ())),
        )

    def record_write_back(self, request_id: str, milestone: str, *, step: WriteBackStep) -> None:
        """Add the notification to the request's ``commented``, ``settled`` or ``abandoned``."""
        self.table.update(
            ticket_key(request_id),
            "ADD #step :milestone SET requestId = :id, updatedAt = :now",
            names={"#step": step},
            values={":milestone": {milestone}, ":id": request_id, ":now": now_iso()},
        )
