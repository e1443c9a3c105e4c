"""The request ledger (DynamoDB): one item per request, and one claim per link key.

* ``REQUEST#<requestId>``: kind, status, timestamps, the resources the request created or
  reused, its outcome and its history. ``claim_request`` makes a request run exactly once:
  EventBridge delivers at least once and tickets get resubmitted.
* A link key (:class:`LinkKey`): which request is creating the VpcLink that any request with
  the same key would reuse. Links are a scarce quota; ``claim_link`` lets exactly one of N
  simultaneous requests create the link, the others wait for it and reuse it. A V1 link's key
  is its NLB, ``NLB#<arn>`` (as it always was: existing ledgers keep working); a V2 link's is
  its network, ``VPCLINKV2#<subnets>#<security groups>`` (the VPC is the subnets'). The item:
  ``holder``, ``claimedAt``, ``vpcLinkId`` once created, and ``turnAt`` while the holder
  waits for its CreateVpcLink turn (a V2 link's, :func:`hold_link_claim`).
* ``DELIVERY#<system>#<id>``: a ticket delivery already turned into a request (replays and
  redeliveries are answered as duplicates); expires after a day (TTL ``expiration``).
* ``TICKET#<requestId>``: which of a ticket's request's notifications the ticket write-back
  has settled (written back, or given up on) and which it has commented already; each
  notification is named by its ``<timestamp>|<status>``, as the request's history names it.
* ``PACE#<operation>``: the turns of one rate-limited API Gateway operation across every
  running execution (``domain.pacing``): ``nextFreeAt``, the first moment no turn is reserved
  from, ``lastCallAt``, when the last call was made (epoch seconds), and ``inFlightSince`` /
  ``inFlightCaller`` while a call that passed its gate has not come back.
"""

from __future__ import annotations

import hashlib
import json
from contextlib import suppress
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, Literal

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer

from provisioner.aws import clients
from provisioner.contract import errors

# A request that ended like this may be sent again with the same requestId (after a fix).
RERUNNABLE_STATUSES = ("FAILED", "REJECTED")
# How long a link claim without a link protects a request that may have crashed: more than
# the EnsureVpcLink function's timeout, less than the ASL retries LinkCreationInProgress. It
# counts from the claim, or from the holder's CreateVpcLink turn while it waits for it.
NLB_CLAIM_LEASE = timedelta(seconds=60)


def request_key(request_id: str) -> dict[str, str]:
    return {"pk": f"REQUEST#{request_id}"}


def nlb_key(nlb_arn: str) -> dict[str, str]:
    return LinkKey.of_nlb(nlb_arn).item_key


@dataclass(frozen=True)
class LinkKey:
    """What makes two requests want the same VpcLink, as the ledger item that claims it."""

    pk: str
    # What the claim item records besides the claim itself, for people reading the ledger.
    described: tuple[tuple[str, Any], ...] = ()

    @classmethod
    def of_nlb(cls, nlb_arn: str) -> LinkKey:
        """A V1 link serves exactly one NLB."""
        return cls(f"NLB#{nlb_arn}", (("nlbArn", nlb_arn),))

    @classmethod
    def of_v2(cls, subnet_ids: list[str], security_group_ids: list[str]) -> LinkKey:
        """A V2 link serves whatever its subnets and security groups reach: two requests with
        the same ones (in any order) share it. The VPC is the subnets' own."""
        subnets, groups = sorted(set(subnet_ids)), sorted(set(security_group_ids))
        return cls(
            f"VPCLINKV2#{','.join(subnets)}#{','.join(groups)}",
            (("subnetIds", subnets), ("securityGroupIds", groups)),
        )

    @property
    def item_key(self) -> dict[str, str]:
        return {"pk": self.pk}


def body_hash(detail: Any) -> str:
    """Fingerprint of a request body: same requestId + same hash = the same request."""
    canonical = json.dumps(detail, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


# --- requests ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class RequestClaim:
    request_id: str
    kind: str
    attempt: int


def claim_request(
    table: str,
    *,
    request_id: str,
    kind: str,
    fingerprint: str,
    execution_arn: str,
    ticket_id: str | None,
    requested_by: str | None,
) -> RequestClaim:
    """Record the request as ours to run, or raise why not.

    * first delivery: the item is created, status ACCEPTED;
    * the same execution again (a retried task): allowed;
    * a rerun after FAILED / REJECTED (corrected or not): allowed, ``attempt`` counts up;
    * the same body while it runs or after it succeeded: ``DuplicateRequest`` (the workflow
      ends quietly, the ledger counts the duplicate);
    * another body under the same requestId: ``DuplicateRequestConflict``.
    """
    now = _now()
    item = {
        **request_key(request_id),
        "requestId": request_id,
        "kind": kind,
        "status": "ACCEPTED",
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
        with clients.aws_errors():
            clients.dynamodb().put_item(
                TableName=table,
                Item=_marshal(item),
                ConditionExpression="attribute_not_exists(pk)",
            )
        return RequestClaim(request_id, kind, 1)
    except errors.ConditionFailed:
        pass
    existing = get_request(table, request_id) or {}
    if existing.get("executionArn") == execution_arn:
        return RequestClaim(request_id, kind, int(existing.get("attempt", 1)))
    if existing.get("status") in RERUNNABLE_STATUSES and existing.get("kind") == kind:
        # It never ran to completion: the requester may send it again, corrected or not.
        return _rerun(table, item, existing)
    if existing.get("bodyHash") != fingerprint or existing.get("kind") != kind:
        raise errors.DuplicateRequestConflict(
            f"requestId {request_id} was already used for a different request "
            f"({existing.get('kind')}, status {existing.get('status')})"
        )
    raise _ignored_duplicate(table, existing)


def reject_if_duplicate(
    table: str, *, request_id: str, kind: str, fingerprint: str, execution_arn: str
) -> None:
    """For a request whose validation failed: if it is another delivery of a request that
    already ran (a teardown redelivered after its API was deleted), end it as a duplicate
    instead of rejecting it."""
    existing = get_request(table, request_id)
    if (
        existing is not None
        and existing.get("executionArn") != execution_arn
        and existing.get("kind") == kind
        and existing.get("bodyHash") == fingerprint
        and existing.get("status") not in RERUNNABLE_STATUSES
    ):
        raise _ignored_duplicate(table, existing)


def _ignored_duplicate(table: str, existing: dict[str, Any]) -> errors.DuplicateRequest:
    """Count the duplicate delivery; the error that ends its workflow quietly."""
    _count_duplicate(table, existing["requestId"])
    return errors.DuplicateRequest(
        f"request {existing['requestId']} is already {existing.get('status')} "
        f"(execution {existing.get('executionArn')}); this delivery was ignored"
    )


def _rerun(table: str, item: dict[str, Any], existing: dict[str, Any]) -> RequestClaim:
    """A new attempt on the same item: its history and duplicate count are kept.

    ``attempt`` is the item's version: of two reruns at the same moment, one wins. A request
    rejected before it was ever claimed has no attempt yet.
    """
    previous = int(existing.get("attempt") or 0)
    fresh = {
        key: item[key]
        for key in ("kind", "status", "bodyHash", "executionArn", "updatedAt", "resources")
    }
    fresh.update({"attempt": previous + 1, "ticketId": item.get("ticketId"),
                  "requestedBy": item.get("requestedBy")})  # fmt: skip
    names = {f"#{key}": key for key in fresh}
    values = {f":{key}": value for key, value in fresh.items()}
    try:
        with clients.aws_errors():
            clients.dynamodb().update_item(
                TableName=table,
                Key=_marshal(request_key(item["requestId"])),
                UpdateExpression="SET "
                + ", ".join(f"#{key} = :{key}" for key in fresh)
                + " REMOVE outcome, vpcLinkId",
                ConditionExpression="attribute_not_exists(attempt) OR attempt = :previous",
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=_marshal({**values, ":previous": previous}),
            )
    except errors.ConditionFailed as lost:  # another rerun of the same request won
        raise errors.DuplicateRequest(
            f"request {item['requestId']} is being run again by another delivery"
        ) from lost
    return RequestClaim(item["requestId"], item["kind"], previous + 1)


def _count_duplicate(table: str, request_id: str) -> None:
    with clients.aws_errors():
        clients.dynamodb().update_item(
            TableName=table,
            Key=_marshal(request_key(request_id)),
            UpdateExpression="ADD duplicatesIgnored :one SET updatedAt = :now",
            ExpressionAttributeValues=_marshal({":one": 1, ":now": _now()}),
        )


def record_progress(
    table: str,
    request_id: str,
    *,
    status: str,
    message: str,
    resources: dict[str, Any] | None = None,
    outcome: dict[str, Any] | None = None,
    at: str | None = None,
) -> None:
    """Append a milestone to the request's history and update its status and resources.

    ``at``: the milestone's timestamp, the one its notification carries (default: now), so
    that the ticket write-back can tell which notifications of a request came before another.
    """
    resources = resources or {}
    now = _now()
    names = {"#status": "status"}
    values: dict[str, Any] = {
        ":status": status,
        ":now": now,
        ":entry": [{"status": status, "message": message, "timestamp": at or now}],
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
    with clients.aws_errors():
        clients.dynamodb().update_item(
            TableName=table,
            Key=_marshal(request_key(request_id)),
            UpdateExpression="SET " + ", ".join(sets),
            ConditionExpression="attribute_exists(pk)",
            ExpressionAttributeNames=names,
            ExpressionAttributeValues=_marshal(values),
        )


def record_rejection(
    table: str, request_id: str, kind: str, outcome: dict[str, Any], *, at: str | None = None
) -> None:
    """A rejected request leaves a trace: a new item, or the next entry of a request that was
    rejected or failed before; never on a request that was accepted and is running or done.
    ``at``: the timestamp of the REJECTED notification (default: now)."""
    now = _now()
    entry = {"status": "REJECTED", "message": outcome.get("message", ""), "timestamp": at or now}
    item = {
        **request_key(request_id),
        "requestId": request_id,
        "kind": kind,
        "status": "REJECTED",
        "createdAt": now,
        "updatedAt": now,
        "attempt": 1,
        "resources": {},
        "outcome": outcome,
        "history": [entry],
    }
    with suppress(errors.ConditionFailed), clients.aws_errors():
        clients.dynamodb().put_item(
            TableName=table, Item=_marshal(item), ConditionExpression="attribute_not_exists(pk)"
        )
        return
    with suppress(errors.ConditionFailed), clients.aws_errors():
        clients.dynamodb().update_item(
            TableName=table,
            Key=_marshal(request_key(request_id)),
            UpdateExpression="SET #status = :rejected, updatedAt = :now, outcome = :outcome,"
            " history = list_append(if_not_exists(history, :empty), :entry)",
            ConditionExpression="#kind = :kind AND #status IN (:rejected, :failed)",
            ExpressionAttributeNames={"#status": "status", "#kind": "kind"},
            ExpressionAttributeValues=_marshal(
                {
                    ":rejected": "REJECTED",
                    ":failed": "FAILED",
                    ":kind": kind,
                    ":now": now,
                    ":outcome": outcome,
                    ":entry": [entry],
                    ":empty": [],
                }
            ),
        )


# A request uses its link while it runs; a provisioning also once it SUCCEEDED (its API's
# stage points at the link) until its API is DELETED or relinked (which moves it to another).
_DONE_USING = {"PROVISION": ("FAILED", "REJECTED", "DELETED")}
_FINAL = ("SUCCEEDED", "FAILED", "REJECTED")


def link_users(table: str, vpc_link_id: str) -> list[str]:
    """The requests that use the link now, by their requestId."""
    users = []
    with clients.aws_errors():
        pages = (
            clients.dynamodb()
            .get_paginator("query")
            .paginate(
                TableName=table,
                IndexName="ByVpcLink",
                KeyConditionExpression="vpcLinkId = :link",
                FilterExpression="begins_with(pk, :request)",  # not the link claims
                ExpressionAttributeValues=_marshal({":link": vpc_link_id, ":request": "REQUEST#"}),
            )
        )
        for page in pages:
            for item in map(_unmarshal, page.get("Items", [])):
                if item.get("status") not in _DONE_USING.get(str(item.get("kind")), _FINAL):
                    users.append(str(item["requestId"]))
    return users


def get_request(table: str, request_id: str) -> dict[str, Any] | None:
    with clients.aws_errors():
        found = clients.dynamodb().get_item(
            TableName=table, Key=_marshal(request_key(request_id)), ConsistentRead=True
        )
    return _unmarshal(found["Item"]) if "Item" in found else None


def mark_answered(table: str, execution_arn: str) -> bool:
    """Record that a stopped execution's requester is being answered; False if it was already
    (EventBridge delivers its status change at least once)."""
    try:
        with clients.aws_errors():
            clients.dynamodb().put_item(
                TableName=table,
                Item=_marshal({"pk": f"ANSWER#{execution_arn}", "answeredAt": _now()}),
                ConditionExpression="attribute_not_exists(pk)",
            )
    except errors.ConditionFailed:
        return False
    return True


# --- ticket write-backs ------------------------------------------------------------------------
def ticket_key(request_id: str) -> dict[str, str]:
    return {"pk": f"TICKET#{request_id}"}


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


def ticket_write_backs(table: str, request_id: str) -> WriteBacks:
    found = _get(table, ticket_key(request_id)) or {}
    return WriteBacks(
        settled=frozenset(found.get("settled", ())),
        commented=frozenset(found.get("commented", ())),
        abandoned=frozenset(found.get("abandoned", ())),
    )


def record_write_back(table: str, request_id: str, milestone: str, *, step: WriteBackStep) -> None:
    """Add the notification to the request's ``commented``, ``settled`` or ``abandoned``."""
    with clients.aws_errors():
        clients.dynamodb().update_item(
            TableName=table,
            Key=_marshal(ticket_key(request_id)),
            UpdateExpression="ADD #step :milestone SET requestId = :id, updatedAt = :now",
            ExpressionAttributeNames={"#step": step},
            ExpressionAttributeValues={
                ":milestone": {"SS": [milestone]},
                ":id": {"S": request_id},
                ":now": {"S": _now()},
            },
        )


# --- link claims -------------------------------------------------------------------------------
@dataclass(frozen=True)
class LinkClaim:
    won: bool
    holder: str
    vpc_link_id: str | None
    # The holder's CreateVpcLink turn, while it waits for it (see hold_link_claim)
    turn_at: datetime | None = None


NlbClaim = LinkClaim  # the name it had when every link served one NLB


def claim_link(
    table: str,
    key: LinkKey,
    request_id: str,
    *,
    replacing_link: str | None = None,
) -> LinkClaim:
    """Try to become the one request that creates the link for ``key``.

    The claim can be taken when nobody holds it, when this request already holds it, when its
    holder never recorded a link within the lease (counted from the claim and from the turn
    it waits for, if any), or (``replacing_link``) when the link it recorded is gone, FAILED
    or INACTIVE. Taken again by its holder, the claim counts from now, and no turn is waited
    for any more: the holder makes its call within its function's time, or holds the claim
    until a new turn again.
    """
    now = datetime.now(UTC)
    condition = (
        "attribute_not_exists(pk) OR holder = :me"
        " OR (attribute_not_exists(vpcLinkId) AND claimedAt < :stale"
        " AND (attribute_not_exists(turnAt) OR turnAt < :stale))"
    )
    values: dict[str, Any] = {
        ":me": request_id,
        ":stale": (now - NLB_CLAIM_LEASE).isoformat(),
    }
    if replacing_link:
        condition += " OR vpcLinkId = :dead"
        values[":dead"] = replacing_link
    try:
        with clients.aws_errors():
            clients.dynamodb().put_item(
                TableName=table,
                Item=_marshal(
                    {
                        **key.item_key,
                        **dict(key.described),
                        "holder": request_id,
                        "claimedAt": now.isoformat(),
                    }
                ),
                ConditionExpression=condition,
                ExpressionAttributeValues=_marshal(values),
            )
        return LinkClaim(won=True, holder=request_id, vpc_link_id=None)
    except errors.ConditionFailed:
        current = _get(table, key.item_key) or {}
        turn_at = current.get("turnAt")
        return LinkClaim(
            won=False,
            holder=str(current.get("holder")),
            vpc_link_id=current.get("vpcLinkId"),
            turn_at=datetime.fromisoformat(turn_at) if isinstance(turn_at, str) else None,
        )


def hold_link_claim(table: str, key: LinkKey, request_id: str, *, turn_at: datetime) -> bool:
    """The holder waits for its CreateVpcLink turn at ``turn_at`` (a V2 link's, paced): its
    claim is held until the lease after it, and the others read when to look again. False if
    the claim is no longer this request's, or has its link already."""
    try:
        with clients.aws_errors():
            clients.dynamodb().update_item(
                TableName=table,
                Key=_marshal(key.item_key),
                UpdateExpression="SET turnAt = :turn",
                ConditionExpression="holder = :me AND attribute_not_exists(vpcLinkId)",
                ExpressionAttributeValues=_marshal(
                    {":turn": turn_at.isoformat(), ":me": request_id}
                ),
            )
    except errors.ConditionFailed:
        return False
    return True


def record_claimed_link(table: str, key: LinkKey, request_id: str, vpc_link_id: str) -> None:
    with clients.aws_errors():
        clients.dynamodb().update_item(
            TableName=table,
            Key=_marshal(key.item_key),
            UpdateExpression="SET vpcLinkId = :link",
            ConditionExpression="holder = :me",
            ExpressionAttributeValues=_marshal({":link": vpc_link_id, ":me": request_id}),
        )


def release_link_claim(table: str, key: LinkKey, vpc_link_id: str) -> None:
    """Forget the key's claim once its link is deleted (only if it still names that link)."""
    _delete_if(table, key.item_key, "vpcLinkId = :link", {":link": vpc_link_id})


def release_unused_link_claim(table: str, key: LinkKey, request_id: str) -> None:
    """Give up a claim that never got a link (its CreateVpcLink failed)."""
    _delete_if(
        table,
        key.item_key,
        "holder = :me AND attribute_not_exists(vpcLinkId)",
        {":me": request_id},
    )


# The V1 names, each the claim on the NLB's key.
def claim_nlb(
    table: str, nlb_arn: str, request_id: str, *, replacing_link: str | None = None
) -> LinkClaim:
    return claim_link(table, LinkKey.of_nlb(nlb_arn), request_id, replacing_link=replacing_link)


def record_nlb_link(table: str, nlb_arn: str, request_id: str, vpc_link_id: str) -> None:
    record_claimed_link(table, LinkKey.of_nlb(nlb_arn), request_id, vpc_link_id)


def release_nlb(table: str, nlb_arn: str, vpc_link_id: str) -> None:
    release_link_claim(table, LinkKey.of_nlb(nlb_arn), vpc_link_id)


def release_unused_claim(table: str, nlb_arn: str, request_id: str) -> None:
    release_unused_link_claim(table, LinkKey.of_nlb(nlb_arn), request_id)


# --- API Gateway pacing (domain.pacing) ---------------------------------------------------------
def pace_key(operation: str) -> dict[str, str]:
    return {"pk": f"PACE#{operation}"}


@dataclass(frozen=True)
class PaceRecord:
    """An operation's turns as they stood: 0 when no turn was ever reserved or no call made.
    ``in_flight_since``: a call passed its gate then and has not come back yet (None: none)."""

    next_free_at: float
    last_call_at: float
    in_flight_since: float | None = None

    @classmethod
    def of(cls, item: dict[str, Any] | None) -> PaceRecord:
        """From DynamoDB's JSON (a ConditionalCheckFailed's ``Item``)."""
        return cls.read(_unmarshal(item or {}))

    @classmethod
    def read(cls, found: dict[str, Any]) -> PaceRecord:
        since = found.get("inFlightSince")
        return cls(
            float(found.get("nextFreeAt", 0)),
            float(found.get("lastCallAt", 0)),
            None if since is None else float(since),
        )


# A call that passed its gate and has not come back holds the gate: API Gateway sees it at some
# moment until it comes back, and the next call must be a spacing after that. A mark older than
# this is a call whose function died before recording its end: the functions' timeout (template
# Globals) has ended it by then.
IN_FLIGHT_BOUND_SECONDS = 30
_NOT_IN_FLIGHT = "(attribute_not_exists(inFlightSince) OR inFlightSince <= :stale)"


def take_free_turn(
    table: str, operation: str, *, now: float, spacing: float, caller: str
) -> PaceRecord | None:
    """The turn is free when no turn is reserved from now on, the last call was made
    ``spacing`` ago or more and none is in flight: then record a call in flight from ``now``
    (the next turn is ``spacing`` later) and answer None, in one conditional write. Otherwise
    nothing is written and the record is answered as it stood."""
    return _gate(table, operation, now=now, spacing=spacing, caller=caller, free_turn=True)


def queue_turn(table: str, operation: str, *, now: float, spacing: float) -> float | None:
    """The turn behind the last one reserved, if any is reserved from ``now`` on (one atomic
    ADD: N requests at the same moment get N successive turns, none retried); else None."""
    try:
        updated = _update_pace(
            table,
            operation,
            "ADD nextFreeAt :spacing",
            "nextFreeAt > :now",
            {":spacing": _seconds(spacing), ":now": _seconds(now)},
            returning="UPDATED_NEW",
        )
    except errors.ConditionFailed:
        return None
    return float(_unmarshal(updated)["nextFreeAt"]) - spacing


def open_queue(table: str, operation: str, *, now: float, turn: float, spacing: float) -> bool:
    """No turn is reserved, but the turn is not free (a call was made less than ``spacing``
    ago): reserve ``turn``, the first after that call. False if another request reserved one
    first (then :func:`queue_turn` queues behind it)."""
    try:
        _update_pace(
            table,
            operation,
            "SET nextFreeAt = :next",
            "attribute_not_exists(nextFreeAt) OR nextFreeAt <= :now",
            {":next": _seconds(turn + spacing), ":now": _seconds(now)},
        )
    except errors.ConditionFailed:
        return False
    return True


def pass_gate(
    table: str, operation: str, *, now: float, spacing: float, caller: str
) -> PaceRecord | None:
    """At its turn, a call may be made if the last one was made ``spacing`` ago or more and
    none is in flight: then it is recorded as in flight from ``now`` (None). Otherwise the
    record as it stood (when the last call was made; whether one is in flight)."""
    return _gate(table, operation, now=now, spacing=spacing, caller=caller, free_turn=False)


def _gate(
    table: str, operation: str, *, now: float, spacing: float, caller: str, free_turn: bool
) -> PaceRecord | None:
    """The one conditional write that lets a call through (the last call ``spacing`` ago or
    more, none in flight) and marks it in flight from ``now``; ``free_turn``: outside any
    turn, which also needs no turn reserved from now on, and reserves the next one."""
    update = (
        "SET lastCallAt = :now, lastCaller = :caller, inFlightSince = :now,"
        " inFlightCaller = :caller"
    )
    condition = f"(attribute_not_exists(lastCallAt) OR lastCallAt <= :open) AND {_NOT_IN_FLIGHT}"
    values: dict[str, Any] = {
        ":now": _seconds(now),
        ":open": _seconds(now - spacing),
        ":stale": _seconds(now - IN_FLIGHT_BOUND_SECONDS),
        ":caller": caller,
    }
    if free_turn:
        update += ", nextFreeAt = :next"
        condition += " AND (attribute_not_exists(nextFreeAt) OR nextFreeAt <= :now)"
        values[":next"] = _seconds(now + spacing)
    try:
        _update_pace(table, operation, update, condition, values)
    except errors.ConditionFailed as refused:
        return PaceRecord.of(refused.item)
    return None


def record_returned(table: str, operation: str, *, now: float, caller: str) -> None:
    """The call that ``caller`` made in its turn came back at ``now``: the last call, as far
    as the next one's gate knows (API Gateway saw it at some moment before), and no longer in
    flight."""
    try:
        _update_pace(
            table,
            operation,
            "SET lastCallAt = :now REMOVE inFlightSince, inFlightCaller",
            "inFlightCaller = :caller AND lastCallAt < :now",
            {":now": _seconds(now), ":caller": caller},
        )
        return
    except errors.ConditionFailed:
        pass
    # A call made outside any turn was recorded as later meanwhile (a rollback's), or this
    # call's mark went stale and another passed the gate: keep the latest call, then lift the
    # mark if it is still this call's.
    record_call(table, operation, now=now, caller=caller)
    with suppress(errors.ConditionFailed):
        _update_pace(
            table,
            operation,
            "REMOVE inFlightSince, inFlightCaller",
            "inFlightCaller = :caller",
            {":caller": caller},
        )


def record_call(table: str, operation: str, *, now: float, caller: str) -> None:
    """A call made outside any turn (the rollback does not wait for one): recorded, so that
    the calls made in turns keep their distance from it."""
    with suppress(errors.ConditionFailed):
        _update_pace(
            table,
            operation,
            "SET lastCallAt = :now, lastCaller = :caller",
            "attribute_not_exists(lastCallAt) OR lastCallAt < :now",
            {":now": _seconds(now), ":caller": caller},
        )


def pace_record(table: str, operation: str) -> PaceRecord:
    return PaceRecord.read(_get(table, pace_key(operation)) or {})


def _update_pace(
    table: str,
    operation: str,
    update: str,
    condition: str,
    values: dict[str, Any],
    *,
    returning: str = "NONE",
) -> dict[str, Any]:
    with clients.aws_errors():
        answer = clients.dynamodb().update_item(
            TableName=table,
            Key=_marshal(pace_key(operation)),
            UpdateExpression=update,
            ConditionExpression=condition,
            ExpressionAttributeValues=_marshal(values),
            ReturnValues=returning,  # type: ignore[arg-type]
            ReturnValuesOnConditionCheckFailure="ALL_OLD",
        )
    return dict(answer.get("Attributes", {}))


def _seconds(value: float) -> Decimal:
    """Epoch seconds to the millisecond (DynamoDB numbers are decimals)."""
    return Decimal(f"{value:.3f}")


def _delete_if(table: str, key: dict[str, str], condition: str, values: dict[str, Any]) -> None:
    """Delete the item if the condition holds; otherwise leave it as it is."""
    with suppress(errors.ConditionFailed), clients.aws_errors():
        clients.dynamodb().delete_item(
            TableName=table,
            Key=_marshal(key),
            ConditionExpression=condition,
            ExpressionAttributeValues=_marshal(values),
        )


def _get(table: str, key: dict[str, str]) -> dict[str, Any] | None:
    with clients.aws_errors():
        found = clients.dynamodb().get_item(TableName=table, Key=_marshal(key), ConsistentRead=True)
    return _unmarshal(found["Item"]) if "Item" in found else None


_SERIALIZER = TypeSerializer()
_DESERIALIZER = TypeDeserializer()


def _marshal(value: dict[str, Any]) -> dict[str, Any]:
    return {key: _SERIALIZER.serialize(item) for key, item in value.items()}


def _unmarshal(item: dict[str, Any]) -> dict[str, Any]:
    return {key: _plain(_DESERIALIZER.deserialize(value)) for key, value in item.items()}


def _plain(value: Any) -> Any:
    """DynamoDB numbers come back as Decimal; people and JSON want int."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_plain(item) for item in value]
    return value


# --- ticket deliveries -------------------------------------------------------------------------
def delivery_key(system: str, delivery_id: str) -> dict[str, str]:
    return {"pk": f"DELIVERY#{system}#{delivery_id}"}


def remember_delivery(
    table: str, system: str, delivery_id: str, *, request_id: str, keep_for: timedelta
) -> str | None:
    """Record a ticket delivery as received: ``None`` the first time, else the requestId the
    first one became (a redelivery or a replay is answered with it and goes no further).

    The item expires (TTL attribute ``expiration``); DynamoDB deletes expired items within
    days, not at once, so an expired item counts as absent here."""
    now = datetime.now(UTC)
    item = {
        **delivery_key(system, delivery_id),
        "requestId": request_id,
        "receivedAt": _now(),
        "expiration": int((now + keep_for).timestamp()),
    }
    try:
        with clients.aws_errors():
            clients.dynamodb().put_item(
                TableName=table,
                Item=_marshal(item),
                ConditionExpression="attribute_not_exists(pk) OR expiration < :now",
                ExpressionAttributeValues=_marshal({":now": int(now.timestamp())}),
            )
        return None
    except errors.ConditionFailed:
        with clients.aws_errors():
            found = clients.dynamodb().get_item(
                TableName=table, Key=_marshal(delivery_key(system, delivery_id))
            )
        return str(_unmarshal(found.get("Item") or {}).get("requestId") or request_id)


def forget_delivery(table: str, system: str, delivery_id: str) -> None:
    """A delivery that could not be put on the bus: its retry must not count as a replay."""
    with clients.aws_errors():
        clients.dynamodb().delete_item(
            TableName=table, Key=_marshal(delivery_key(system, delivery_id))
        )
