"""The ticket write-back's parts, each on its own: the comment a notification becomes, what a
ticket system's answer means, how long a retry waits, and the credentials' shapes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import pytest

from provisioner.contract.payloads import RequestRef
from provisioner.contract.progress import Status, progress
from provisioner.contract.requests import TicketRef, TicketSystem
from provisioner.tickets import writeback
from provisioner.tickets.clients import (
    Answer,
    TicketRefused,
    TicketSystemBusy,
    refusal,
    retry_after,
)
from provisioner.tickets.comments import Notification, compose, field_label
from provisioner.tickets.credentials import (
    CredentialsMalformed,
    CredentialsNotConfigured,
    GitHubCredentials,
    ServiceNowBasicCredentials,
    ServiceNowOAuthCredentials,
    parse_credentials,
)

pytestmark = pytest.mark.unit

LABELS = {"nlbArn": "NLB ARN", "apiName": "API name", "tags": "Tags"}
TICKET = TicketRef.from_wire({"system": "jira", "key": "OPS-7", "fieldLabels": LABELS})


def notification(status: Status, message: str, **known: Any) -> Notification:
    ref = RequestRef(request_id="OPS-7-1", ticket_id="OPS-7", ticket=TICKET)
    body = progress(ref, status, message, at="2030-01-01T10:00:00.000Z", **known)["message"]
    return Notification.from_wire(body)


# --- comments -------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("field", "label"),
    [
        ("detail.nlbArn", "NLB ARN"),
        ("detail.tags.team", "Tags (team)"),
        ("detail.stageName", "detail.stageName"),  # the ticket has no label for it
        ("detail", "detail"),
    ],
)
def test_a_field_is_named_as_the_ticket_names_it(field, label):
    assert field_label(field, LABELS) == label


def test_a_milestone_is_its_own_sentence_and_the_operators_get_the_detail():
    told = notification(
        Status.VPC_LINK_PENDING, "VpcLink x9 is PENDING.", vpcLinkId="x9", restApiId="a1"
    )

    comment = compose(told)

    assert comment.text == "VpcLink x9 is PENDING."
    assert comment.note.splitlines() == [
        "Private API Provisioner: VPC_LINK_PENDING for request OPS-7-1 at "
        "2030-01-01T10:00:00.000Z.",
        "VpcLink x9 is PENDING.",
        "Resources: REST API a1, VpcLink x9.",
    ]


def test_a_teardown_that_succeeded_says_done_with_its_sentence():
    told = notification(Status.SUCCEEDED, "REST API a1 deleted; VpcLink x9 deleted.")

    assert compose(told).text == "Done: REST API a1 deleted; VpcLink x9 deleted."


def test_a_rejection_without_fields_gives_the_reason_and_the_remedy():
    error = {
        "code": "DuplicateRequestConflict",
        "message": "requestId OPS-7-1 was already used for a different request",
        "remedy": "Use a new requestId for a different request; nothing was changed.",
    }
    told = notification(Status.REJECTED, "Request OPS-7-1 was rejected.", error=error)

    assert compose(told).text.splitlines() == [
        f"This request could not be started: {error['message']}",
        f"What to do: {error['remedy']}",
        "Reference: request OPS-7-1, error DuplicateRequestConflict.",
    ]


def test_a_rejection_with_more_fields_than_listed_says_how_many_more():
    error = {
        "code": "InvalidRequest",
        "message": "12 fields are invalid",
        "remedy": "Correct them.",
        "fields": [{"field": "detail.apiName", "rule": "Field required"}],
        "moreFields": 11,
    }
    told = notification(Status.REJECTED, "rejected", error=error)

    lines = compose(told).text.splitlines()

    assert lines[1:3] == ["- API name: Field required", "- and 11 more"]


def test_a_comment_is_kept_short():
    told = notification(Status.API_CREATED, "x" * 10_000)

    assert len(compose(told).text) <= 4000
    assert compose(told).text.endswith(" ...")


def test_a_notification_with_fields_the_write_back_does_not_know_is_still_read():
    ref = RequestRef(request_id="OPS-7-1", ticket=TICKET)
    body = progress(ref, Status.ACCEPTED, "Accepted.")["message"]

    told = Notification.from_wire({**body, "somethingNew": {"a": 1}})

    assert told.ticket.field_labels == LABELS
    assert told.milestone == f"{body['timestamp']}|ACCEPTED"


# --- what an answer means -------------------------------------------------------------------------
def answer(status: int, **headers: str) -> Answer:
    return Answer(status, headers, b'{"message": "no"}')


@pytest.mark.parametrize("status", [408, 409, 425, 429, 500, 502, 503, 504])
def test_a_busy_or_broken_ticket_system_is_worth_trying_again(status):
    assert isinstance(refusal(TicketSystem.JIRA, answer(status)), TicketSystemBusy)


@pytest.mark.parametrize("status", [400, 401, 403, 404, 410, 422, 301])
def test_an_answer_no_retry_can_change_is_a_refusal(status):
    refused = refusal(TicketSystem.GITHUB, answer(status))

    assert isinstance(refused, TicketRefused)
    assert (refused.status, refused.detail) == (status, '{"message": "no"}')


def test_githubs_rate_limiting_403_is_worth_trying_again_when_it_says_when():
    reset = str(int(datetime.now(UTC).timestamp()) + 120)

    primary = refusal(
        TicketSystem.GITHUB,
        answer(403, **{"x-ratelimit-remaining": "0", "x-ratelimit-reset": reset}),
    )
    secondary = refusal(TicketSystem.GITHUB, answer(403, **{"Retry-After": "60"}))

    assert isinstance(primary, TicketSystemBusy) and isinstance(secondary, TicketSystemBusy)
    assert primary.retry_after is not None and 110 <= primary.retry_after <= 120
    assert secondary.retry_after == 60


def test_retry_after_is_read_in_seconds_or_as_an_http_date():
    now = datetime(2030, 1, 1, 10, 0, 0, tzinfo=UTC)
    later = format_datetime(now + timedelta(seconds=90), usegmt=True)

    assert retry_after({"Retry-After": "7"}, now.timestamp()) == 7
    assert retry_after({"Retry-After": later}, now.timestamp()) == 90
    assert retry_after({"Retry-After": "soon"}, now.timestamp()) is None
    assert retry_after({}, now.timestamp()) is None
    # a reset in the past is no wait at all
    assert (
        retry_after({"x-ratelimit-remaining": "0", "x-ratelimit-reset": "1"}, now.timestamp()) == 0
    )


# --- how long a retry waits -----------------------------------------------------------------------
def test_a_retry_waits_what_the_system_asked_for_but_never_more_than_a_quarter_hour():
    assert writeback.retry_delay(7, receive=1) == 7
    assert writeback.retry_delay(0.2, receive=1) == 1
    assert writeback.retry_delay(86_400, receive=1) == 900


@pytest.mark.parametrize(("receive", "ceiling"), [(1, 10), (2, 20), (3, 40), (7, 640), (8, 900)])
def test_without_a_retry_after_the_wait_doubles_with_each_receive(receive, ceiling):
    waits = {writeback.retry_delay(None, receive=receive) for _ in range(50)}

    assert all(ceiling // 2 <= wait <= ceiling for wait in waits)


def test_a_batch_is_handled_in_the_order_its_requests_milestones_happened():
    records = [
        {"body": '{"requestId": "B", "timestamp": "2030-01-01T10:00:01.000Z"}'},
        {"body": '{"requestId": "A", "timestamp": "2030-01-01T10:00:02.000Z"}'},
        {"body": "not json"},
        {"body": '{"requestId": "A", "timestamp": "2030-01-01T10:00:01.000Z"}'},
    ]

    ordered = sorted(records, key=writeback.delivery_order)

    assert [writeback.delivery_order(r) for r in ordered] == [
        ("", ""),
        ("A", "2030-01-01T10:00:01.000Z"),
        ("A", "2030-01-01T10:00:02.000Z"),
        ("B", "2030-01-01T10:00:01.000Z"),
    ]


# --- credentials ----------------------------------------------------------------------------------
def test_servicenow_credentials_are_basic_or_an_oauth_client():
    basic = parse_credentials(
        TicketSystem.SERVICENOW,
        {"instanceUrl": "https://acme.service-now.com/", "username": "u", "password": "p"},
    )
    oauth = parse_credentials(
        TicketSystem.SERVICENOW,
        {"instanceUrl": "https://acme.service-now.com", "clientId": "c", "clientSecret": "s"},
    )

    assert isinstance(basic, ServiceNowBasicCredentials)
    assert basic.instance_url == "https://acme.service-now.com"
    assert isinstance(oauth, ServiceNowOAuthCredentials)
    assert oauth.client_secret.get_secret_value() == "s"
    assert repr(oauth.client_secret) == "Secret('**********')"


def test_github_credentials_default_to_the_public_api():
    credentials = parse_credentials(TicketSystem.GITHUB, {"token": "ghp_x"})

    assert isinstance(credentials, GitHubCredentials)
    assert credentials.api_url == "https://api.github.com"
    assert "ghp_x" not in repr(credentials)


def test_the_templates_placeholder_means_not_configured():
    with pytest.raises(CredentialsNotConfigured):
        parse_credentials(TicketSystem.JIRA, {"configured": False, "expected": "..."})


@pytest.mark.parametrize(
    ("value", "problems"),
    [
        (
            {"baseUrl": "http://acme.atlassian.net", "email": "a@b.c", "apiToken": "t"},
            ["baseUrl: value_error"],
        ),
        ({"baseUrl": "https://acme.atlassian.net", "apiToken": "t"}, ["email: missing"]),
        (["not", "an", "object"], ["the secret is not a JSON object"]),
    ],
)
def test_malformed_credentials_name_the_fields_never_the_values(value, problems):
    with pytest.raises(CredentialsMalformed) as malformed:
        parse_credentials(TicketSystem.JIRA, value)

    assert malformed.value.problems == problems
    assert "apiToken': 't'" not in str(malformed.value)


def test_credentials_travel_in_clear_text_to_this_machine_only():
    local = {"baseUrl": "http://127.0.0.1:8080/jira", "email": "a@b.c", "apiToken": "t"}

    assert parse_credentials(TicketSystem.JIRA, local).base_url == "http://127.0.0.1:8080/jira"  # type: ignore[union-attr]
