"""A requester of the embedded AWS, as ``make demo`` plays one: boto3 clients over HTTP, the
request bus and the progress topic; following one request's notifications to its outcome;
and the checks the demo makes (its exit status is 0 only when all of them passed).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from emulator.apps.console import Console, since
from emulator.apps.local import ACCOUNT_ID, REGION, http_client
from emulator.engine.clock import CLOCK
from emulator.ticket_desk.wiring import TicketWiring
from privateapi import requester as shared
from privateapi.progress import Notification, ProgressFollower
from provisioner.contract.vocabulary import PROVISION_REQUESTED, parse_timestamp

FOLLOW_TIMEOUT_SECONDS = 60
CLEANUP_TIMEOUT_SECONDS = 10
ENDED_BADLY = frozenset({"FAILED", "TIMED_OUT", "ABORTED"})
MISSING_NLB_ARN = (
    f"arn:aws:elasticloadbalancing:{REGION}:{ACCOUNT_ID}:"
    "loadbalancer/net/ghost-nlb/0123456789abcdef"
)


# --- talking to the endpoint --------------------------------------------------------------------
@dataclass(kw_only=True)
class Requester(shared.Requester):
    """The shared requester over HTTP, with the ticket desk and what the demo reports when an
    execution ends without a final notification."""

    tickets: TicketWiring | None = None  # the ticket desk wired to the stack, when started

    @classmethod
    def over_http(cls, endpoint_url: str, outputs: dict[str, str]) -> Requester:
        """Clients over HTTP, as any AWS client talks to the embedded AWS; the stack's names."""
        clients: dict[str, Any] = {}

        def client(service: str) -> Any:
            if service not in clients:
                clients[service] = http_client(endpoint_url, service)
            return clients[service]

        return cls.from_outputs(client, outputs)

    def left_behind(self, request_id: str) -> list[str]:
        """What still carries ``request_id`` (DELETING links count)."""
        return self.tagged_with(request_id)

    def execution_failure(self, request_id: str) -> tuple[str, str, str] | None:
        """``(name, error, cause)`` of the execution that handled ``request_id``, if it failed."""
        sfn = self.client("stepfunctions")
        executions = sfn.list_executions(stateMachineArn=self.state_machine_arn())["executions"]
        for execution in executions:
            if execution["status"] not in ENDED_BADLY:
                continue
            described = sfn.describe_execution(executionArn=execution["executionArn"])
            if request_id in described.get("input", ""):
                return execution["name"], described.get("error", ""), described.get("cause", "")
        return None


# --- following one request ----------------------------------------------------------------------
@dataclass
class FollowedRequest:
    """The notifications of one request, and when each happened relative to the request."""

    request_id: str
    sent_at: datetime
    timeline: list[tuple[Notification, float]] = field(default_factory=list)
    execution_failure: tuple[str, str, str] | None = None

    @property
    def final(self) -> Notification | None:
        last = self.timeline[-1][0] if self.timeline else None
        return last if last is not None and last.final else None

    @property
    def statuses(self) -> list[str]:
        return [notification.status for notification, _ in self.timeline]

    def seconds_since_sent(self, notification: Notification, arrival: float) -> float:
        """From the notification's own timestamp (when the step happened), else its arrival."""
        try:
            stamp = parse_timestamp(notification.body["timestamp"])
        except (KeyError, AttributeError, TypeError, ValueError):
            return arrival
        return max(0.0, (stamp - self.sent_at).total_seconds())

    def steps(self) -> list[tuple[str, float, float]]:
        """``(status, seconds since the step before, seconds since sent)``, in the order the
        steps happened (parallel branches' notifications may arrive the other way round)."""
        moments = sorted(
            (self.seconds_since_sent(notification, arrival), notification.status)
            for notification, arrival in self.timeline
        )
        rows, previous = [], 0.0
        for at, status in moments:
            rows.append((status, at - previous, at))
            previous = at
        return rows


def follow(
    console: Console, requester: Requester, follower: ProgressFollower, followed: FollowedRequest
) -> FollowedRequest:
    """Print each notification of the request as it arrives, until its final one (or until
    its execution ended without one: then its error and cause are printed instead)."""
    started = time.monotonic()
    while since(started) < FOLLOW_TIMEOUT_SECONDS:
        arrived = [n for n in follower.poll(wait_seconds=1) if n.request_id == followed.request_id]
        for notification in arrived:
            followed.timeline.append((notification, since(started)))
            console.notification(notification, f"{since(started):5.1f} s")
        if followed.final is not None:
            break
        failure = None if arrived else requester.execution_failure(followed.request_id)
        if failure is not None:  # it ended before it could publish a final notification
            followed.execution_failure = failure
            console.execution_failed(*failure)
            break
        last = followed.statuses[-1] if followed.statuses else "sent"
        console.status(f"{since(started):5.1f} s  {last}, waiting for the next step ...")
    return followed


def send_and_follow(
    console: Console, requester: Requester, follower: ProgressFollower, **detail: Any
) -> FollowedRequest:
    sent_at = CLOCK.now()  # the embedded AWS's clock, which the notifications' timestamps use
    request_id = requester.request(**detail)
    console.line(f"  {PROVISION_REQUESTED} put on {requester.bus_name}: requestId {request_id}")
    return follow(console, requester, follower, FollowedRequest(request_id, sent_at))


# --- checks ---------------------------------------------------------------------------------------
@dataclass
class Verdict:
    """Every check the demo makes; the exit status is 0 only when all of them passed."""

    console: Console
    failures: list[str] = field(default_factory=list)

    def check(self, ok: bool, what: str, detail: Any = "") -> bool:
        if not self.console.check(ok, what, str(detail)):
            self.failures.append(what)
        return ok

    def final_status(self, followed: FollowedRequest, expected: str) -> bool:
        final, failure = followed.final, followed.execution_failure
        if final:
            got = final.status
        elif failure:
            got = f"no final notification: the execution failed with {failure[1]}"
        else:
            got = f"no final notification in {FOLLOW_TIMEOUT_SECONDS} s"
        return self.check(got == expected, f"the request ended {expected}", f"got {got}")


def wait_until_nothing_left(requester: Requester, request_id: str) -> list[str]:
    """Bounded wait for rollback to finish (a deleted link stays DELETING for a moment)."""
    deadline = time.monotonic() + CLEANUP_TIMEOUT_SECONDS
    left = requester.left_behind(request_id)
    while left and time.monotonic() < deadline:
        time.sleep(0.5)
        left = requester.left_behind(request_id)
    return left


def print_execution_failure(console: Console, requester: Requester, request_id: str) -> None:
    failure = requester.execution_failure(request_id)
    if failure is not None:
        console.execution_failed(*failure)
