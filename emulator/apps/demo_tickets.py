"""``make demo``'s ticket scenarios: requests that come from a ticket system, not the bus.

The embedded ticket desk plays Jira and GitHub; the stack's write-back credentials point at it
(:func:`emulator.ticket_desk.wiring.connect`). Each delivery is POSTed over HTTP to the
intake's Function URL, signed with the stack's webhook secret as the system signs it, and
every comment and move the write-back makes on the ticket is printed as the desk receives it.

6. An approved Jira ticket: the intake answers 202 with the request id, the provisioning runs,
   the ticket gets one comment per milestone and the invoke URL, and is moved to Done. The
   same delivery again (Jira's retry) is answered 200 as a duplicate.
7. A GitHub issue whose NLB ARN names no load balancer: REJECTED, and the issue is told which
   of its own fields is wrong ("NLB ARN: ..."), then closed as not planned.
"""

from __future__ import annotations

from typing import Any

from emulator.apps.console import Console
from emulator.apps.requester import (
    MISSING_NLB_ARN,
    FollowedRequest,
    Requester,
    Verdict,
    follow,
)
from emulator.engine.clock import CLOCK
from emulator.ticket_desk import TicketDesk
from emulator.ticket_desk.wiring import sample_delivery
from privateapi.progress import ProgressFollower
from privateapi.waiting import WaitedTooLong, wait_until
from provisioner.contract.vocabulary import Status

# Real seconds: the write-back runs from an SQS queue whose visibility timeouts are real time.
WRITE_BACK_TIMEOUT_SECONDS = 60
JIRA_TICKET = "OPS-42"
GITHUB_TICKET = "acme/platform-requests#17"


def ticket_when(
    verdict: Verdict, desk: TicketDesk, system: str, key: str, done: Any, what: str
) -> dict[str, Any] | None:
    """The ticket once ``done(ticket)`` holds (bounded), checked as ``what``; None if it never
    did (the check failed)."""
    try:
        found = wait_until(
            lambda: found if done(found := desk.ticket(system, key)) else None,  # type: ignore[arg-type]
            timeout=WRITE_BACK_TIMEOUT_SECONDS,
            what=what,
        )
    except WaitedTooLong:
        found = None
    verdict.check(found is not None, what)
    return found


def comments(ticket: dict[str, Any]) -> list[str]:
    return [event["text"] for event in ticket["received"] if event["kind"] == "comment"]


def deliver_and_follow(
    console: Console,
    requester: Requester,
    follower: ProgressFollower,
    verdict: Verdict,
    delivery: tuple[str, dict[str, Any], str | None],
) -> FollowedRequest | None:
    """POST ``(system, body, delivery id)`` signed to the intake, check the 202, and follow
    the request it became (None when the intake did not accept it)."""
    system, body, delivery_id = delivery
    tickets = requester.tickets
    assert tickets is not None, "the demo starts the ticket desk before its scenarios"
    sent_at = CLOCK.now()
    status, answer = tickets.deliver(system, body, delivery_id=delivery_id)
    console.line(f"  {system}'s signed delivery to {tickets.url(system)}: {status} {answer}")
    if not verdict.check(status == 202, "the intake accepted the delivery (202)", answer):
        return None
    return follow(console, requester, follower, FollowedRequest(answer["requestId"], sent_at))


# --- scenario 6: an approved Jira ticket ------------------------------------------------------
def scenario_jira_ticket(
    console: Console, requester: Requester, follower: ProgressFollower, verdict: Verdict
) -> None:
    console.heading(f"6. A Jira ticket, {JIRA_TICKET}, approved: it becomes a private API")
    network = requester.create_network("billing-service")
    console.line(f"  the ticket asks for API 'orders' on {network.nlb_arn}")
    body = sample_delivery("jira", now=CLOCK.now(), nlb_arn=network.nlb_arn)
    delivery = ("jira", body, "demo-jira-1")
    followed = deliver_and_follow(console, requester, follower, verdict, delivery)
    if followed is None or not verdict.final_status(followed, Status.SUCCEEDED):
        return
    tickets = requester.tickets
    assert tickets is not None
    again = tickets.deliver("jira", body, delivery_id="demo-jira-1")
    console.line(f"  the same delivery again (Jira retries): {again[0]} {again[1]}")
    verdict.check(
        again[0] == 200 and again[1].get("duplicate") is True,
        "a redelivery is answered 200 as a duplicate, not run twice",
        again,
    )
    moved = (lambda found: found["status"] == "Done", f"{JIRA_TICKET} was moved to Done")
    ticket = ticket_when(verdict, tickets.desk, "jira", JIRA_TICKET, *moved)
    if ticket is None:
        return
    assert followed.final is not None
    posted = comments(ticket)
    verdict.check(
        len(posted) == len(followed.timeline),
        "the ticket got one comment per notification",
        f"{len(posted)} comments, {len(followed.timeline)} notifications",
    )
    verdict.check(
        str(followed.final.body.get("invokeUrl")) in posted[-1],
        "the last comment gives the invoke URL",
        posted[-1],
    )


# --- scenario 7: a GitHub issue with a wrong field --------------------------------------------
def scenario_github_ticket_with_a_wrong_field(
    console: Console, requester: Requester, follower: ProgressFollower, verdict: Verdict
) -> None:
    console.heading(f"7. A GitHub issue, {GITHUB_TICKET}, whose NLB ARN names no load balancer")
    body = sample_delivery("github", now=CLOCK.now(), nlb_arn=MISSING_NLB_ARN)
    followed = deliver_and_follow(console, requester, follower, verdict, ("github", body, None))
    if followed is None or not verdict.final_status(followed, Status.REJECTED):
        return
    tickets = requester.tickets
    assert tickets is not None
    closed = (lambda found: found["state"] == "closed", f"{GITHUB_TICKET} was closed")
    ticket = ticket_when(verdict, tickets.desk, "github", GITHUB_TICKET, *closed)
    if ticket is None:
        return
    told = "\n".join(comments(ticket))
    verdict.check(
        "NLB ARN: " in told and "detail.nlbArn" not in told,
        "the issue is told which of its own fields is wrong (its label, 'NLB ARN')",
        told,
    )
    verdict.check(
        ticket.get("state_reason") == "not_planned" and "needs-changes" in ticket["labels"],
        "closed as not planned, labelled needs-changes",
        {key: ticket.get(key) for key in ("state_reason", "labels")},
    )
    left = requester.left_behind(followed.request_id)
    verdict.check(not left, "nothing was created", left)


SCENARIOS = (scenario_jira_ticket, scenario_github_ticket_with_a_wrong_field)
