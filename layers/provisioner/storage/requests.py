"""The request ledger: one item per request (``REQUEST#<requestId>``), its status, timestamps,
the resources it created or reused, its outcome and its history.

``claim`` makes a request run exactly once: EventBridge delivers at least once and tickets get
resubmitted. Items are read as :class:`RequestItem`; their status is the contract's
:class:`~provisioner.contract.progress.Status`.
"""

from __future__ import annotations

import hashlib
import json
from contextlib import suppress
from typing import Any, NamedTuple

from provisioner.contract import errors
from provisioner.contract.payloads import WorkflowKind
from provisioner.contract.progress import FINAL_STATUSES, RERUNNABLE_STATUSES, Status
from provisioner.storage.keys import REQUEST_PREFIX, answer_key, request_key
from provisioner.storage.table import Table, now_iso

# A request uses its link while it runs; a provisioning also once it SUCCEEDED (its API's
# stage points at the link) until its API is DELETED or relinked (which moves it to another).
_DONE_USING = {WorkflowKind.PROVISION: frozenset({Status.FAILED, Status.REJECTED, Status.DELETED})}


def body_hash(detail: Any) -> str:
    """Fingerprint of a request body: same requestId + same hash = the same request."""
    canonical = json.dumps(detail, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


class Milestone(NamedTuple):
    """One entry of a request's history, as its notification told it."""

    status: Status
    message: str
    timestamp: str


class RequestItem(NamedTuple):
    """A request as the ledger has it (:meth:`read`)."""

    request_id: str
    kind: WorkflowKind
    status: Status
    attempt: int  # 0: rejected before it was ever claimed
    body_hash: str | None
    execution_arn: str | None
    resources: dict[str, Any]
    history: tuple[Milestone, ...]
    outcome: Any
    ticket_id: str | None
    requested_by: str | None

    @classmethod
    def read(cls, item: dict[str, Any]) -> RequestItem:
        return cls(
            request_id=str(item["requestId"]),
            kind=WorkflowKind(item["kind"]),
            status=Status(item["status"]),
            attempt=int(item.get("attempt") or 0),
            body_hash=item.get("bodyHash"),
            execution_arn=item.get("executionArn"),
            resources=dict(item.get("resources") or {}),
            history=tuple(
                Milestone(Status(entry["status"]), str(entry["message"]), str(entry["timestamp"]))
                for entry in item.get("history") or ()
            ),
            outcome=item.get("outcome"),
            ticket_id=item.get("ticketId"),
            requested_by=item.get("requestedBy"),
        )

    def is_same_request(self, kind: WorkflowKind, fingerprint: str) -> bool:
        return self.kind is kind and self.body_hash == fingerprint

    @property
    def uses_its_link(self) -> bool:
        return self.status not in _DONE_USING.get(self.kind, FINAL_STATUSES)


class RequestClaim(NamedTuple):
    request_id: str
    kind: str
    attempt: int


class Requests:
    """The requests of one ledger table."""

    def __init__(self, table: Table) -> None:
        self.table = table

    def get(self, request_id: str) -> RequestItem | None:
        found = self.table.get(request_key(request_id))
        return RequestItem.read(found) if found else None

    def claim(
        self,
        *,
        request_id: str,
        kind: WorkflowKind,
        fingerprint: str,
        execution_arn: str,
        ticket_id: str | None,
        requested_by: str | None,
    ) -> RequestClaim:
        """Record the request as ours to run, or raise why not.

        * first delivery: the item is created, status ACCEPTED;
        * the same execution again (a retried task): allowed;
        * a rerun after FAILED / REJECTED (corrected or not): allowed, ``attempt`` counts up;
        * the same body while it runs or after it succeeded: ``DuplicateRequest`` (the
          workflow ends quietly, the ledger counts the duplicate);
        * another body under the same requestId: ``DuplicateRequestConflict``.
        """
        kind = WorkflowKind(kind)
        now = now_iso()
        item: dict[str, Any] = {
            **request_key(request_id),
            "requestId": request_id,
            "kind": kind.value,
            "status": Status.ACCEPTED.value,
            "bodyHash": fingerprint,
            "executionArn": execution_arn,
            "createdAt": now,
            "updatedAt": now,
            "attempt": 1,
            "resources": {},
            "history": [],
            **({"ticketId": ticket_id} if ticket_id else {}),
            **({"requestedBy": requested_by} if requested_by else {}),
        }
        try:
            self.table.put(item, "attribute_not_exists(pk)")
            return RequestClaim(request_id, kind.value, 1)
        except errors.ConditionFailed:
            pass
        existing = self.get(request_id)
        if existing is None:  # deleted meanwhile: nobody else has it
            return self.claim(
                request_id=request_id, kind=kind, fingerprint=fingerprint,
                execution_arn=execution_arn, ticket_id=ticket_id, requested_by=requested_by,
            )  # fmt: skip
        if existing.execution_arn == execution_arn:
            return RequestClaim(request_id, kind.value, existing.attempt or 1)
        if existing.status in RERUNNABLE_STATUSES and existing.kind is kind:
            # It never ran to completion: the requester may send it again, corrected or not.
            return self._rerun(item, existing)
        if not existing.is_same_request(kind, fingerprint):
            raise errors.DuplicateRequestConflict(
                f"requestId {request_id} was already used for a different request "
                f"({existing.kind.value}, status {existing.status.value})"
            )
        raise self._ignored_duplicate(existing)

    def reject_if_duplicate(
        self, *, request_id: str, kind: WorkflowKind, fingerprint: str, execution_arn: str
    ) -> None:
        """For a request whose validation failed: if it is another delivery of a request that
        already ran (a teardown redelivered after its API was deleted), end it as a duplicate
        instead of rejecting it."""
        kind, existing = WorkflowKind(kind), self.get(request_id)
        if (
            existing is not None
            and existing.execution_arn != execution_arn
            and existing.is_same_request(kind, fingerprint)
            and existing.status not in RERUNNABLE_STATUSES
        ):
            raise self._ignored_duplicate(existing)

    def _ignored_duplicate(self, existing: RequestItem) -> errors.DuplicateRequest:
        """Count the duplicate delivery; the error that ends its workflow quietly."""
        self.table.update(
            request_key(existing.request_id),
            "ADD duplicatesIgnored :one SET updatedAt = :now",
            values={":one": 1, ":now": now_iso()},
        )
        return errors.DuplicateRequest(
            f"request {existing.request_id} is already {existing.status.value} "
            f"(execution {existing.execution_arn}); this delivery was ignored"
        )

    def _rerun(self, item: dict[str, Any], existing: RequestItem) -> RequestClaim:
        """A new attempt on the same item: its history and duplicate count are kept.

        ``attempt`` is the item's version: of two reruns at the same moment, one wins. A
        request rejected before it was ever claimed has no attempt yet.
        """
        previous = existing.attempt
        fresh = {
            key: item[key]
            for key in ("kind", "status", "bodyHash", "executionArn", "updatedAt", "resources")
        }
        fresh.update({"attempt": previous + 1, "ticketId": item.get("ticketId"),
                      "requestedBy": item.get("requestedBy")})  # fmt: skip
        try:
            self.table.update(
                request_key(item["requestId"]),
                "SET "
                + ", ".join(f"#{key} = :{key}" for key in fresh)
                + " REMOVE outcome, vpcLinkId",
                condition="attribute_not_exists(attempt) OR attempt = :previous",
                names={f"#{key}": key for key in fresh},
                values={**{f":{key}": value for key, value in fresh.items()},
                        ":previous": previous},
            )  # fmt: skip
        except errors.ConditionFailed as lost:  # another rerun of the same request won
            raise errors.DuplicateRequest(
                f"request {item['requestId']} is being run again by another delivery"
            ) from lost
        return RequestClaim(item["requestId"], item["kind"], previous + 1)

    def record_progress(
        self,
        request_id: str,
        *,
        status: Status,
        message: str,
        resources: dict[str, Any] | None = None,
        outcome: Any = None,
        at: str | None = None,
    ) -> None:
        """Append a milestone to the request's history and update its status and resources
        (raises ``ConditionFailed`` when the ledger has no such request).

        ``at``: the milestone's timestamp, the one its notification carries (default: now),
        so that the ticket write-back can tell which notifications of a request came before
        another.
        """
        status, resources = Status(status), resources or {}
        now = now_iso()
        names = {"#status": "status"}
        values: dict[str, Any] = {
            ":status": status.value,
            ":now": now,
            ":entry": [{"status": status.value, "message": message, "timestamp": at or now}],
            ":empty": [],
        }
        sets = [
            "#status = :status",
            "updatedAt = :now",
            "history = list_append(if_not_exists(history, :empty), :entry)",
        ]
        for index, (key, value) in enumerate(sorted(resources.items())):
            if value is not None:
                names["#resources"] = "resources"
                names[f"#r{index}"] = key
                values[f":r{index}"] = value
                sets.append(f"#resources.#r{index} = :r{index}")
        if resources.get("vpcLinkId"):
            # Top level too: the ByVpcLink index answers "who uses this link?" (link_users).
            sets.append("vpcLinkId = :link")
            values[":link"] = resources["vpcLinkId"]
        if outcome is not None:
            values[":outcome"] = outcome
            sets.append("outcome = :outcome")
        self.table.update(
            request_key(request_id),
            "SET " + ", ".join(sets),
            condition="attribute_exists(pk)",
            names=names,
            values=values,
        )

    def record_rejection(
        self, request_id: str, kind: WorkflowKind, outcome: dict[str, Any], *, at: str | None = None
    ) -> None:
        """A rejected request leaves a trace: a new item, or the next entry of a request that
        was rejected or failed before; never on a request that was accepted and is running or
        done. ``at``: the timestamp of the REJECTED notification (default: now)."""
        kind, now = WorkflowKind(kind), now_iso()
        rejected = Status.REJECTED.value
        entry = {"status": rejected, "message": outcome.get("message", ""), "timestamp": at or now}
        item = {
            **request_key(request_id),
            "requestId": request_id,
            "kind": kind.value,
            "status": rejected,
            "createdAt": now,
            "updatedAt": now,
            "attempt": 1,
            "resources": {},
            "outcome": outcome,
            "history": [entry],
        }
        with suppress(errors.ConditionFailed):
            self.table.put(item, "attribute_not_exists(pk)")
            return
        with suppress(errors.ConditionFailed):
            self.table.update(
                request_key(request_id),
                "SET #status = :rejected, updatedAt = :now, outcome = :outcome,"
                " history = list_append(if_not_exists(history, :empty), :entry)",
                condition="#kind = :kind AND #status IN (:rejected, :failed)",
                names={"#status": "status", "#kind": "kind"},
                values={
                    ":rejected": rejected,
                    ":failed": Status.FAILED.value,
                    ":kind": kind.value,
                    ":now": now,
                    ":outcome": outcome,
                    ":entry": [entry],
                    ":empty": [],
                },
            )

    def link_users(self, vpc_link_id: str) -> list[str]:
        """The requests that use the link now, by their requestId."""
        found = self.table.query(
            "ByVpcLink",
            "vpcLinkId = :link",
            "begins_with(pk, :request)",  # not the link claims
            {":link": vpc_link_id, ":request": REQUEST_PREFIX},
        )
        return [
            request.request_id for request in map(RequestItem.read, found) if request.uses_its_link
        ]

    def mark_answered(self, execution_arn: str) -> bool:
        """Record that a stopped execution's requester is being answered; False if it was
        already (EventBridge delivers its status change at least once)."""
        try:
            self.table.put(
                {**answer_key(execution_arn), "answeredAt": now_iso()}, "attribute_not_exists(pk)"
            )
        except errors.ConditionFailed:
            return False
        return True
