"""Ticket self-service end to end, over HTTP: a signed delivery to the intake's Function URL,
the request on the bus, the real workflow, the API, and every notification written back to
the embedded ticket desk (comments, then the ticket moved), for each of the three systems.

The write-back reaches the desk through the stack's real path: SNS (filtered on
``ticketSystem``) → SQS → the write-back function (an event source mapping with partial batch
responses). Its retries and ordering waits are SQS visibility timeouts, on the embedded AWS's
clock like the workflow's own waits (the auto clock skips them when nothing else runs).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from emulator.engine.clock import CLOCK
from emulator.ticket_desk import TicketDesk
from emulator.ticket_desk.wiring import TicketWiring, connect, sample_delivery
from privateapi.waiting import WaitedTooLong, wait_until
from tests.workflow.conftest import Provisioner

pytestmark = pytest.mark.workflow

TICKETS = {
    "jira": ("OPS-42", "jira.OPS-42.provision"),
    "servicenow": ("RITM0010042", "servicenow.RITM0010042.provision"),
    "github": ("acme/platform-requests#17", "github.acme.platform-requests.17.provision"),
}
FINAL = {
    "jira": ("status", "Done"),
    "servicenow": ("status", "Closed Complete"),
    "github": ("state", "closed"),
}


@pytest.fixture(scope="module")
def desk() -> Iterator[TicketDesk]:
    with TicketDesk() as running:
        yield running


@pytest.fixture
def tickets(provisioner: Provisioner, desk: TicketDesk) -> TicketWiring:
    desk.reset()
    aws = provisioner.aws
    return connect(
        aws.client("secretsmanager"), aws.stack_name, aws.outputs["TicketIntakeUrl"], desk
    )


def deliver(tickets: TicketWiring, system: str, nlb_arn: str, **kwargs: Any) -> dict[str, Any]:
    status, answer = tickets.deliver(
        system, sample_delivery(system, now=CLOCK.now(), nlb_arn=nlb_arn), **kwargs
    )
    assert status == 202, answer
    return answer


def notifications(provisioner: Provisioner, request_id: str) -> list[Any]:
    """Every notification of the request, the final one last (waited for, bounded)."""
    return provisioner.notifications(request_id)


def written_back(
    desk: TicketDesk, system: str, ticket: str, comments: int, final: tuple[str, str]
) -> dict[str, Any]:
    """The ticket once it has ``comments`` comments and its ``final`` field has its final
    value (a GitHub issue is labelled before it is closed: two writes)."""
    field, value = final

    def done() -> dict[str, Any] | None:
        found = desk.ticket(system, ticket)  # type: ignore[arg-type]
        posted = [event for event in found["received"] if event["kind"] == "comment"]
        return found if len(posted) >= comments and found[field] == value else None

    try:
        return wait_until(
            done,
            timeout=60,
            what=f"{comments} comments on {system} {ticket}, its {field} {value!r}",
        )
    except WaitedTooLong as missing:
        found = desk.ticket(system, ticket)  # type: ignore[arg-type]
        raise AssertionError(
            f"{missing}; the ticket received {found['received']}; the desk answered "
            f"{[(r['method'], r['path'], r['status']) for r in desk.requests()]}"
        ) from None


def comments(ticket: dict[str, Any], *, public: bool | None = None) -> list[str]:
    return [
        event["text"]
        for event in ticket["received"]
        if event["kind"] == "comment" and (public is None or event["public"] is public)
    ]


@pytest.mark.parametrize("system", ["jira", "servicenow", "github"])
def test_an_approved_ticket_becomes_a_private_api_and_hears_every_step(
    provisioner: Provisioner, tickets: TicketWiring, desk: TicketDesk, system: str
) -> None:
    ticket, request_id = TICKETS[system]

    answer = deliver(tickets, system, provisioner.network.nlb_arn)

    assert answer["requestId"] == request_id
    notes = notifications(provisioner, request_id)
    assert notes[-1].status == "SUCCEEDED"
    found = written_back(desk, system, ticket, len(notes), FINAL[system])
    # One comment the requester sees per milestone, in the order they happened (ServiceNow
    # also writes each as a work note for the fulfiller), the last one the outcome with its
    # invoke URL
    posted = comments(found, public=None if system != "servicenow" else True)
    if system == "servicenow":
        assert len(comments(found, public=False)) == len(posted)
    assert len(posted) == len(notes), posted
    in_order = sorted(notes, key=lambda note: str(note.body["timestamp"]))
    for note, text in zip(in_order[:-1], posted[:-1], strict=True):
        assert str(note.body["message"]).splitlines()[0] in text, (note.body, text)
    assert str(notes[-1].body["invokeUrl"]) in posted[-1]


def test_a_delivery_sent_twice_makes_one_api_and_one_set_of_comments(
    provisioner: Provisioner, tickets: TicketWiring, desk: TicketDesk
) -> None:
    body = sample_delivery("jira", now=CLOCK.now(), nlb_arn=provisioner.network.nlb_arn)
    first = tickets.deliver("jira", body, delivery_id="same-delivery")
    retried = tickets.deliver("jira", body, delivery_id="same-delivery")  # Jira's retry
    resent = tickets.deliver("jira", body, delivery_id="another-delivery")  # sent again

    assert first[0] == 202
    assert retried == (200, {"requestId": "jira.OPS-42.provision", "duplicate": True})
    assert resent[0] == 202  # a new delivery of the same request: the workflow runs it once
    notes = notifications(provisioner, "jira.OPS-42.provision")
    assert notes[-1].status == "SUCCEEDED"
    provisioner.finished_executions("ProvisionStateMachineArn", 2)
    assert len(provisioner.rest_apis()) == 1
    found = written_back(desk, "jira", "OPS-42", len(notes), FINAL["jira"])
    assert len(comments(found)) == len(notes)
    assert [e["text"] for e in found["received"] if e["kind"] == "transition"] == ["Done"]


def test_a_ticket_with_a_wrong_nlb_is_told_which_of_its_fields_is_wrong(
    provisioner: Provisioner, tickets: TicketWiring, desk: TicketDesk
) -> None:
    wrong = provisioner.network.nlb_arn.rsplit("/", 1)[0] + "/0000000000000000"

    deliver(tickets, "jira", wrong)

    assert [note.status for note in notifications(provisioner, "jira.OPS-42.provision")] == [
        "REJECTED"
    ]
    found = written_back(desk, "jira", "OPS-42", 1, ("status", "Declined"))
    [told] = comments(found)
    assert "NLB ARN: no load balancer" in told
    assert "detail.nlbArn" not in told
    assert provisioner.rest_apis() == [] and provisioner.vpc_links() == []


def test_a_write_back_answered_429_twice_still_posts_each_comment_once(
    provisioner: Provisioner, tickets: TicketWiring, desk: TicketDesk
) -> None:
    desk.inject_fault("github", 2, status=429, retry_after=1)

    deliver(tickets, "github", provisioner.network.nlb_arn)

    request_id = TICKETS["github"][1]
    notes = notifications(provisioner, request_id)
    assert notes[-1].status == "SUCCEEDED"
    found = written_back(desk, "github", "acme/platform-requests#17", len(notes), FINAL["github"])
    posted = comments(found)
    assert len(posted) == len(set(posted)) == len(notes)
    refused = [r for r in desk.requests() if r["status"] == 429]
    assert len(refused) == 2
