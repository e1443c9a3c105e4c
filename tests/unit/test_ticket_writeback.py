"""Progress back to the ticket (README, "Progress back to the ticket"): the write-back
function, driven as its SQS event source mapping drives it, against the embedded ticket desk.

In-process moto holds the queue (with its dead-letter queue), the ledger, the credentials'
secrets and the mapping's parameter; the ticket desk is a real HTTP server on 127.0.0.1. A
test plays the event source mapping step by step: it receives what is visible on the queue,
hands it to the handler as a Lambda SQS event, deletes what succeeded; and it plays the clock:
a message the handler delayed stays invisible (receive gets nothing) until the test says the
time has passed (``elapse``). Nothing waits on the wall clock.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

import boto3
import pytest
from moto.core import DEFAULT_ACCOUNT_ID
from moto.sqs.models import sqs_backends

from emulator.ticket_desk import JiraStatus, JiraTransition, JiraWorkflow, TicketDesk
from provisioner.contract.payloads import RequestRef
from provisioner.contract.progress import Status, progress
from provisioner.contract.requests import TicketRef
from provisioner.domain import milestones
from provisioner.runtime.observability import logger
from provisioner.runtime.settings import Settings
from provisioner.storage.ledger import Ledger
from provisioner.tickets import clients as ticket_clients
from provisioner.tickets import writeback

from .support import LEDGER_TABLE, REGION, FakeLambdaContext, load_handler

pytestmark = [
    pytest.mark.unit,
    pytest.mark.filterwarnings("ignore:No application metrics to publish:UserWarning"),
]

LEDGER = Ledger(LEDGER_TABLE)
QUEUE = "ticket-writeback"
MAX_RECEIVES = 10
MAPPING_PARAMETER = "/private-api-provisioner-test/ticket-mapping"
SECRETS = {"jira": "test/jira", "servicenow": "test/servicenow", "github": "test/github"}
LABELS = {"apiName": "API name", "nlbArn": "NLB ARN", "stageName": "Stage name"}
SYS_ID = "0123456789abcdef0123456789abcdef"
INVOKE_URL = "https://a1b2c3d4e5.execute-api.us-east-1.amazonaws.com/prod"

# Statuses and transitions named as people name them: no transition is named after the
# status it leads to, and the ids are whatever Jira assigned.
SHIPPING_WORKFLOW = JiraWorkflow(
    statuses=(
        JiraStatus("10000", "Open", "new"),
        JiraStatus("10001", "Approved", "indeterminate"),
        JiraStatus("10002", "Done", "done"),
        JiraStatus("10003", "Declined", "done"),
    ),
    transitions=(
        JiraTransition("711", "Ship it", "Done", ("Approved",)),
        JiraTransition("712", "Turn down", "Declined", ("Open", "Approved")),
        JiraTransition("713", "Back to the queue", "Open", ("Done", "Declined")),
    ),
)


def kind(name: str, when: str) -> dict[str, Any]:
    return {"kind": "provision", "when": when, "fields": {name: {"source": name, "label": name}}}


MAPPING = {
    "jira": {
        "kinds": [kind("apiName", "Request a private API")],
        "outcomes": {"succeeded": "Done", "failed": "Declined", "rejected": "Declined"},
    },
    "servicenow": {
        "kinds": [kind("apiName", "Private API")],
        "outcomes": {
            "succeeded": "Closed Complete",
            "failed": "Closed Incomplete",
            "rejected": "Closed Skipped",
        },
    },
    "github": {
        "kinds": [kind("apiName", "private-api-request")],
        "outcomes": {
            "succeeded": "private-api-ready",
            "failed": "private-api-failed",
            "rejected": "needs-changes",
        },
    },
}


# --- the desk, the logs ---------------------------------------------------------------------
@pytest.fixture(scope="module")
def running_desk() -> Iterator[TicketDesk]:
    with TicketDesk() as desk:
        yield desk


@pytest.fixture
def desk(running_desk: TicketDesk) -> TicketDesk:
    running_desk.reset()
    return running_desk


class LogLines(logging.Handler):
    """Every line the function logs, formatted as Powertools writes it to CloudWatch."""

    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.setFormatter(logger.registered_formatter)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))

    def entries(self, level: str | None = None) -> list[dict[str, Any]]:
        parsed = [json.loads(line) for line in self.lines]
        return [entry for entry in parsed if level in (None, entry["level"])]

    def messages(self, level: str) -> list[str]:
        return [entry["message"] for entry in self.entries(level)]


@pytest.fixture
def logs() -> Iterator[LogLines]:
    handler = LogLines()
    logger.addHandler(handler)
    yield handler
    logger.removeHandler(handler)


# --- the event source mapping, played step by step ------------------------------------------
@dataclass
class Step:
    """One invocation: the records handed over and which of them failed."""

    records: list[dict[str, Any]]
    failed: list[str]

    @property
    def succeeded(self) -> list[str]:
        return [r["messageId"] for r in self.records if r["messageId"] not in self.failed]


@dataclass
class Rig:
    desk: TicketDesk
    handler: Callable[[dict[str, Any], Any], dict[str, Any]]
    queue_url: str
    queue_arn: str
    dlq_url: str
    settings: Settings
    # every VisibilityTimeout the function asked for, in order
    delays: list[int] = field(default_factory=list)
    claimed: set[str] = field(default_factory=set)

    @property
    def sqs(self) -> Any:
        return boto3.client("sqs", region_name=REGION)

    # --- what the workflow does: a milestone recorded in the ledger and published ----------
    def milestone(
        self,
        ticket: TicketRef,
        status: Status,
        message: str,
        *,
        at: str,
        request_id: str = "OPS-42-1",
        **known: Any,
    ) -> dict[str, Any]:
        """The notification of a milestone, recorded in the request's ledger history as
        ``domain.milestones.announce`` records it (REJECTED as the rollback records a rejection)."""
        ref = RequestRef(request_id=request_id, ticket_id="OPS-42", ticket=ticket)
        note = progress(ref, status, message, at=at, **known)
        if status is Status.REJECTED:
            outcome = {"status": "REJECTED", "message": message, "error": known.get("error")}
            LEDGER.requests.record_rejection(request_id, "PROVISION", outcome, at=at)
            return dict(note["message"])
        if request_id not in self.claimed:
            LEDGER.requests.claim(
                request_id=request_id,
                kind="PROVISION",
                fingerprint="body",
                execution_arn="arn:aws:states:us-east-1:123456789012:execution:p:1",
                ticket_id="OPS-42",
                requested_by=None,
            )
            self.claimed.add(request_id)
        milestones.announce(self.settings, note)  # no topic in these settings: the ledger only
        return dict(note["message"])

    def send(self, *bodies: dict[str, Any]) -> None:
        """SNS's raw delivery: each body, as is, a message of the queue."""
        for body in bodies:
            self.sqs.send_message(QueueUrl=self.queue_url, MessageBody=json.dumps(body))

    # --- what the event source mapping does ----------------------------------------------------
    def step(self) -> Step:
        """Receive what is visible (up to 10), invoke the function, delete what succeeded."""
        received = self.sqs.receive_message(
            QueueUrl=self.queue_url,
            MaxNumberOfMessages=10,
            AttributeNames=["All"],
            VisibilityTimeout=180,
        ).get("Messages", [])
        records = [self._record(message) for message in received]
        if not records:
            return Step([], [])
        answer = self.handler({"Records": records}, FakeLambdaContext())
        failed = [item["itemIdentifier"] for item in answer["batchItemFailures"]]
        for record in records:
            if record["messageId"] not in failed:
                self.sqs.delete_message(
                    QueueUrl=self.queue_url, ReceiptHandle=record["receiptHandle"]
                )
        return Step(records, failed)

    def _record(self, message: dict[str, Any]) -> dict[str, Any]:
        return {
            "messageId": message["MessageId"],
            "receiptHandle": message["ReceiptHandle"],
            "body": message["Body"],
            "attributes": message["Attributes"],
            "messageAttributes": {},
            "md5OfBody": message["MD5OfBody"],
            "eventSource": "aws:sqs",
            "eventSourceARN": self.queue_arn,
            "awsRegion": REGION,
        }

    def elapse(self) -> None:
        """Time passes: every message waiting out its visibility is visible again."""
        queue = sqs_backends[DEFAULT_ACCOUNT_ID][REGION].get_queue(QUEUE)
        for message in queue._messages:
            message.visible_at = 0.0

    def drain(self, *, steps: int = 20) -> int:
        """Step (letting the time pass between steps) until the queue is empty; how many."""
        for taken in range(1, steps + 1):
            self.step()
            self.elapse()
            if self.waiting() == 0:
                return taken
        raise AssertionError(f"the queue still holds {self.waiting()} message(s)")

    def waiting(self) -> int:
        attributes = self.sqs.get_queue_attributes(
            QueueUrl=self.queue_url,
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
        return int(attributes["ApproximateNumberOfMessages"]) + int(
            attributes["ApproximateNumberOfMessagesNotVisible"]
        )

    def dead_letters(self) -> list[dict[str, Any]]:
        found = self.sqs.receive_message(QueueUrl=self.dlq_url, MaxNumberOfMessages=10)
        return [json.loads(m["Body"]) for m in found.get("Messages", [])]

    # --- what the ticket got --------------------------------------------------------------------
    def received(self, system: str, name: str) -> list[dict[str, Any]]:
        return list(self.desk.ticket(system, name)["received"])  # type: ignore[arg-type]

    def comments(self, system: str, name: str) -> list[str]:
        return [e["text"] for e in self.received(system, name) if e["kind"] == "comment"]

    # --- where the secrets are ------------------------------------------------------------------
    def put_secret(self, system: str, value: Any) -> None:
        secrets = boto3.client("secretsmanager", region_name=REGION)
        secrets.put_secret_value(SecretId=SECRETS[system], SecretString=json.dumps(value))
        from aws_lambda_powertools.utilities import parameters

        parameters.clear_caches()


@pytest.fixture(scope="module")
def app() -> ModuleType:
    return load_handler("ticket_writeback")


def desk_credentials(desk: TicketDesk) -> dict[str, dict[str, str]]:
    return {
        "jira": {
            "baseUrl": desk.jira_url,
            "email": desk.jira_credentials.email,
            "apiToken": desk.jira_credentials.api_token,
        },
        "servicenow": {
            "instanceUrl": desk.servicenow_url,
            "username": desk.servicenow_credentials.user,
            "password": desk.servicenow_credentials.password,
        },
        "github": {"token": desk.github_credentials.token, "apiUrl": desk.github_url},
    }


@pytest.fixture
def rig(
    aws: None, desk: TicketDesk, app: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Rig]:
    """The queue and its dead-letter queue, the credentials (the desk's), the mapping, and
    the function's environment as the template sets it."""
    from aws_lambda_powertools.utilities import parameters

    parameters.clear_caches()  # its providers' clients were made outside this test's moto
    ticket_clients.forget_tokens()
    writeback._warned_not_configured.clear()

    sqs = boto3.client("sqs", region_name=REGION)
    dlq_url = sqs.create_queue(QueueName=f"{QUEUE}-dlq")["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])
    redrive = {"deadLetterTargetArn": dlq_arn["Attributes"]["QueueArn"], "maxReceiveCount": "10"}
    queue_url = sqs.create_queue(
        QueueName=QUEUE,
        Attributes={"VisibilityTimeout": "180", "RedrivePolicy": json.dumps(redrive)},
    )["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])
    secrets = boto3.client("secretsmanager", region_name=REGION)
    for system, value in desk_credentials(desk).items():
        secrets.create_secret(Name=SECRETS[system], SecretString=json.dumps(value))
    boto3.client("ssm", region_name=REGION).put_parameter(
        Name=MAPPING_PARAMETER, Type="String", Value=json.dumps(MAPPING)
    )
    environment = {
        "PROVISIONER_TICKET_MAPPING_PARAMETER": MAPPING_PARAMETER,
        "PROVISIONER_JIRA_CREDENTIALS": SECRETS["jira"],
        "PROVISIONER_SERVICENOW_CREDENTIALS": SECRETS["servicenow"],
        "PROVISIONER_GITHUB_CREDENTIALS": SECRETS["github"],
        "PROVISIONER_TICKET_WRITEBACK_QUEUE_URL": queue_url,
        "PROVISIONER_TICKET_WRITEBACK_MAX_RECEIVES": str(MAX_RECEIVES),
    }
    for name, value in environment.items():
        monkeypatch.setenv(name, value)

    built = Rig(
        desk=desk,
        handler=app.handler,
        queue_url=queue_url,
        queue_arn=queue_arn["Attributes"]["QueueArn"],
        dlq_url=dlq_url,
        settings=Settings.from_environment(),
    )

    def record_delay(params: dict[str, Any], **_: Any) -> None:
        built.delays.append(int(params["VisibilityTimeout"]))

    from provisioner.aws import clients

    clients.sqs().meta.events.register(
        "provide-client-params.sqs.ChangeMessageVisibility", record_delay
    )
    yield built
    parameters.clear_caches()


# --- tickets ---------------------------------------------------------------------------------
def jira_ticket(desk: TicketDesk, key: str = "OPS-42", **issue: Any) -> TicketRef:
    desk.create_jira_issue(key, status=issue.pop("status", "Approved"), **issue)
    return TicketRef.from_wire({"system": "jira", "key": key, "fieldLabels": LABELS})


def servicenow_ticket(desk: TicketDesk) -> TicketRef:
    desk.create_servicenow_item(number="RITM0010042", sys_id=SYS_ID, state="2")
    return TicketRef.from_wire({"system": "servicenow", "key": SYS_ID, "fieldLabels": LABELS})


def github_ticket(desk: TicketDesk) -> TicketRef:
    desk.create_github_issue("acme", "platform", 17, labels=["private-api-request", "approved"])
    return TicketRef.from_wire(
        {"system": "github", "key": "acme/platform#17", "fieldLabels": LABELS}
    )


def at(second: int) -> str:
    return f"2030-01-01T10:00:{second:02d}.000Z"


HOW_TO_CALL = "Sign every request with AWS Signature Version 4 for the service execute-api."


def provisioning(rig: Rig, ticket: TicketRef, request_id: str = "OPS-42-1") -> list[dict[str, Any]]:
    """A provisioning's notifications, from ACCEPTED to SUCCEEDED, recorded in the ledger."""
    known = {"vpcLinkId": "x9y8z7", "restApiId": "a1b2c3d4e5", "stageName": "prod"}
    ready = f"Your private API is ready: {INVOKE_URL} (through VpcLink x9y8z7)."
    steps = [
        (Status.ACCEPTED, "Request accepted: creating API orders.", {}),
        (Status.VPC_LINK_PENDING, "VpcLink x9y8z7 is PENDING.", known),
        (Status.API_CREATED, "REST API a1b2c3d4e5 created.", known),
        (Status.SUCCEEDED, ready, {**known, "invokeUrl": INVOKE_URL, "howToCall": HOW_TO_CALL}),
    ]
    return [
        rig.milestone(ticket, status, message, at=at(second), request_id=request_id, **more)
        for second, (status, message, more) in enumerate(steps, start=1)
    ]


NLB_FAULT = (
    "no load balancer arn:aws:elasticloadbalancing:us-east-1:123456789012:"
    "loadbalancer/net/x/0123456789abcdef exists"
)


def rejection(rig: Rig, ticket: TicketRef) -> dict[str, Any]:
    error = {
        "code": "InvalidRequest",
        "message": "3 fields are invalid: ...",
        "remedy": "Correct the fields listed and send the request again; nothing was created.",
        "fields": [
            {"field": "detail.nlbArn", "rule": NLB_FAULT},
            {"field": "detail.stageName", "rule": "must match ^[A-Za-z0-9_-]{1,128}$"},
            {
                "field": "detail.endpointType",
                "rule": "Input should be 'REGIONAL', 'EDGE' or 'PRIVATE'",
            },
        ],
    }
    return rig.milestone(
        ticket,
        Status.REJECTED,
        "Request OPS-42-1 was rejected: 3 fields are invalid.",
        at=at(1),
        error=error,
    )


# --- each system: a comment per notification, and the final move ---------------------------
def test_a_jira_request_gets_a_public_comment_per_milestone_and_the_transition_to_done(rig):
    # Given a Jira Service Management request, approved, in a workflow whose transitions are
    # not named after the statuses they lead to
    ticket = jira_ticket(rig.desk, workflow=SHIPPING_WORKFLOW)

    # When its provisioning's four notifications are delivered
    rig.send(*provisioning(rig, ticket))
    step = rig.step()

    # Then every one is written back: a public comment each, through the service desk API
    assert step.failed == []
    received = rig.received("jira", "OPS-42")
    comments = [e for e in received if e["kind"] == "comment"]
    assert [c["detail"]["api"] for c in comments] == ["servicedeskapi"] * 4
    assert all(c["public"] for c in comments)
    assert comments[0]["text"] == "Request accepted: creating API orders."
    assert comments[1]["text"] == "VpcLink x9y8z7 is PENDING."
    assert comments[3]["text"].splitlines()[:3] == [
        "Your private API is ready.",
        f"Invoke URL: {INVOKE_URL}",
        f"How to call it: {HOW_TO_CALL}",
    ]
    # And after the last comment, the issue went to Done by the transition leading there
    assert received[-1]["kind"] == "transition"
    assert (received[-1]["text"], received[-1]["detail"]["transition_id"]) == ("Done", "711")
    assert rig.desk.ticket("jira", "OPS-42")["status"] == "Done"


def test_a_plain_jira_project_is_commented_through_the_platform_api(rig, monkeypatch):
    # Given a mapping that says the Jira project is no service desk
    mapping = {**MAPPING, "jira": {**MAPPING["jira"], "serviceDesk": False}}
    boto3.client("ssm", region_name=REGION).put_parameter(
        Name=MAPPING_PARAMETER, Type="String", Value=json.dumps(mapping), Overwrite=True
    )
    ticket = jira_ticket(rig.desk)

    # When a milestone is written back
    rig.send(rig.milestone(ticket, Status.ACCEPTED, "Accepted.", at=at(1)))
    rig.step()

    # Then it is a comment of the issue itself (REST API v2: a plain string body)
    (comment,) = rig.received("jira", "OPS-42")
    assert (comment["text"], comment["detail"]["api"]) == ("Accepted.", "api/2")


def test_a_servicenow_item_gets_comments_work_notes_and_its_closed_state_by_display_value(rig):
    # Given a requested item in Work in Progress
    ticket = servicenow_ticket(rig.desk)

    # When its provisioning's notifications are delivered
    rig.send(*provisioning(rig, ticket))
    assert rig.step().failed == []

    # Then each is an additional comment (the requester's) and a work note (the operators')
    received = rig.received("servicenow", "RITM0010042")
    public = [e["text"] for e in received if e["kind"] == "comment" and e["public"]]
    notes = [e["text"] for e in received if e["kind"] == "comment" and not e["public"]]
    assert len(public) == len(notes) == 4
    assert public[1] == "VpcLink x9y8z7 is PENDING."
    assert notes[1].startswith(
        f"Private API Provisioner: VPC_LINK_PENDING for request OPS-42-1 at {at(2)}."
    )
    assert "Resources: REST API a1b2c3d4e5, stage prod, VpcLink x9y8z7." in notes[3]
    assert f"Invoke URL: {INVOKE_URL}" in public[3]
    # And the last one closed the item, its state given by label
    (state,) = [e for e in received if e["kind"] == "state"]
    assert (state["text"], state["detail"]["display"]) == ("3", "Closed Complete")
    assert rig.desk.ticket("servicenow", "RITM0010042")["status"] == "Closed Complete"


def test_servicenow_oauth_client_credentials_get_one_token_for_every_write_back(rig):
    # Given ServiceNow credentials for an OAuth client instead of a user
    credentials = rig.desk.servicenow_credentials
    rig.put_secret(
        "servicenow",
        {
            "instanceUrl": rig.desk.servicenow_url,
            "clientId": credentials.client_id,
            "clientSecret": credentials.client_secret,
        },
    )
    ticket = servicenow_ticket(rig.desk)

    # When four notifications are written back, in two invocations
    notes = provisioning(rig, ticket)
    rig.send(*notes[:2])
    rig.step()
    rig.send(*notes[2:])
    rig.step()

    # Then the token was asked for once, and every PATCH went through with it
    requests = [(r["method"], r["path"], r["status"]) for r in rig.desk.requests()]
    assert requests.count(("POST", "/oauth_token.do", 200)) == 1
    patches = [r for r in requests if r[0] == "PATCH"]
    assert [status for *_, status in patches] == [200] * 4
    assert len(rig.comments("servicenow", "RITM0010042")) == 8  # comment + work note each


@pytest.mark.parametrize(
    ("cached", "expected"),
    [
        # a token that expired: a new one first
        (("old-token", -1), [("POST", "/oauth_token.do", 200), ("PATCH", "/api/now/table/", 200)]),
        # a token the instance revoked before it expired: refused once, then a new one
        (
            ("revoked-token", 3600),
            [
                ("PATCH", "/api/now/table/", 401),
                ("POST", "/oauth_token.do", 200),
                ("PATCH", "/api/now/table/", 200),
            ],
        ),
    ],
)
def test_an_expired_or_revoked_servicenow_token_is_replaced(rig, cached, expected):
    credentials = rig.desk.servicenow_credentials
    rig.put_secret(
        "servicenow",
        {
            "instanceUrl": rig.desk.servicenow_url,
            "clientId": credentials.client_id,
            "clientSecret": credentials.client_secret,
        },
    )
    token, lifetime = cached
    ticket_clients._TOKENS[(rig.desk.servicenow_url, credentials.client_id)] = (
        token,
        time.monotonic() + lifetime,
    )
    ticket = servicenow_ticket(rig.desk)

    rig.send(rig.milestone(ticket, Status.ACCEPTED, "Accepted.", at=at(1)))
    assert rig.step().failed == []

    requests = [(r["method"], r["path"][:15], r["status"]) for r in rig.desk.requests()]
    assert requests == expected
    assert rig.comments("servicenow", "RITM0010042")[0] == "Accepted."


def test_a_github_issue_is_commented_then_labelled_and_closed_as_completed(rig):
    ticket = github_ticket(rig.desk)

    rig.send(*provisioning(rig, ticket))
    assert rig.step().failed == []

    issue = rig.desk.ticket("github", "acme/platform#17")
    comments = rig.comments("github", "acme/platform#17")
    assert len(comments) == 4
    assert f"Invoke URL: {INVOKE_URL}" in comments[-1]
    assert (issue["state"], issue["state_reason"]) == ("closed", "completed")
    assert "private-api-ready" in issue["labels"]


def test_a_failed_github_request_is_closed_as_not_planned_with_the_reason_and_remedy(rig):
    ticket = github_ticket(rig.desk)
    error = {
        "code": "VpcLinkFailed",
        "message": "NLB is already associated with another VPC Endpoint Service",
        "remedy": "Use an NLB that no VPC endpoint service uses; then request again.",
    }
    failed = rig.milestone(
        ticket,
        Status.FAILED,
        "Request OPS-42-1 failed: NLB is already associated with another VPC Endpoint "
        "Service. Rolled back: REST API a1b2c3d4e5.",
        at=at(5),
        error=error,
    )

    rig.send(failed)
    rig.step()

    issue = rig.desk.ticket("github", "acme/platform#17")
    (comment,) = rig.comments("github", "acme/platform#17")
    assert comment.splitlines() == [
        failed["message"],
        f"What to do: {error['remedy']}",
        "Reference: request OPS-42-1, error VpcLinkFailed.",
    ]
    assert (issue["state"], issue["state_reason"]) == ("closed", "not_planned")
    assert "private-api-failed" in issue["labels"]


# --- REJECTED: the ticket's own words -------------------------------------------------------
@pytest.mark.parametrize("system", ["jira", "servicenow", "github"])
def test_a_rejection_names_every_field_at_fault_as_the_ticket_names_it(rig, system):
    # Given a ticket whose request was rejected for three fields, two of which the ticket has
    # a label for
    ticket = {"jira": jira_ticket, "servicenow": servicenow_ticket, "github": github_ticket}[
        system
    ](rig.desk)
    name = {"jira": "OPS-42", "servicenow": "RITM0010042", "github": "acme/platform#17"}[system]

    # When its REJECTED notification is written back
    rig.send(rejection(rig, ticket))
    rig.step()

    # Then the requester reads each field by the ticket's label (the others by their own
    # name), the rule it broke, and what to do
    text = rig.comments(system, name)[0]
    assert text.splitlines() == [
        "This request could not be started: these fields of the ticket need a change.",
        f"- NLB ARN: {NLB_FAULT}",
        "- Stage name: must match ^[A-Za-z0-9_-]{1,128}$",
        "- detail.endpointType: Input should be 'REGIONAL', 'EDGE' or 'PRIVATE'",
        "What to do: Correct the fields listed and send the request again; nothing was created.",
        "Reference: request OPS-42-1, error InvalidRequest.",
    ]
    assert "detail.nlbArn" not in text
    # And the ticket went where the mapping sends a rejected one
    where = rig.desk.ticket(system, name)  # type: ignore[arg-type]
    expected = {"jira": "Declined", "servicenow": "Closed Skipped", "github": "closed"}[system]
    assert where["status"] == expected
    if system == "github":
        assert where["state_reason"] == "not_planned"
        assert "needs-changes" in where["labels"]


# --- exactly once, in order ------------------------------------------------------------------
def test_a_notification_delivered_twice_is_one_comment(rig):
    # Given a milestone SNS delivered twice, and a final one redelivered after it was handled
    ticket = jira_ticket(rig.desk)
    accepted = rig.milestone(ticket, Status.ACCEPTED, "Accepted.", at=at(1))
    succeeded = rig.milestone(
        ticket, Status.SUCCEEDED, "Ready.", at=at(2), invokeUrl=INVOKE_URL, restApiId="a1"
    )
    rig.send(accepted, accepted)

    # When both copies arrive in one batch, and the final one twice, one batch after another
    first = rig.step()
    rig.send(succeeded)
    rig.step()
    rig.send(succeeded)
    again = rig.step()

    # Then each was written back once; every copy was answered as done (and deleted)
    assert first.failed == [] and again.failed == []
    received = rig.received("jira", "OPS-42")
    assert [e["kind"] for e in received] == ["comment", "comment", "transition"]
    assert rig.waiting() == 0


def test_notifications_arriving_out_of_order_are_commented_in_order(rig):
    # Given a provisioning whose notifications reach the queue last first, one at a time
    ticket = github_ticket(rig.desk)
    accepted, pending, created, succeeded = provisioning(rig, ticket)

    # When the later ones come first, they wait: nothing is posted before its predecessors
    rig.send(succeeded)
    assert len(rig.step().failed) == 1
    rig.send(created)
    assert len(rig.step().failed) == 1
    assert rig.comments("github", "acme/platform#17") == []
    assert rig.delays == [10, 10]  # a short wait: the predecessor should come soon
    assert rig.step().records == []  # and they stay invisible until then
    # When the first arrives, it is written back at once; the others when they come back
    rig.send(accepted)
    assert rig.step().failed == []
    rig.send(pending)
    rig.drain()

    # Then the ticket read them in the order they happened, then was closed
    comments = rig.comments("github", "acme/platform#17")
    assert comments[:3] == [accepted["message"], pending["message"], created["message"]]
    assert comments[3].startswith("Your private API is ready.")
    assert rig.desk.ticket("github", "acme/platform#17")["state"] == "closed"


def test_one_batch_out_of_order_is_written_back_in_order(rig):
    ticket = jira_ticket(rig.desk)
    notes = provisioning(rig, ticket)

    rig.send(*reversed(notes))
    step = rig.step()

    assert step.failed == []
    assert rig.comments("jira", "OPS-42")[:3] == [n["message"] for n in notes[:3]]


def test_a_predecessor_that_never_comes_holds_its_successors_back_only_for_a_while(rig, logs):
    # Given a milestone whose notification was lost (recorded in the ledger, never delivered)
    ticket = jira_ticket(rig.desk)
    _, pending, *_ = provisioning(rig, ticket)

    # When its successor comes, it waits, receive after receive, then goes anyway
    rig.send(pending)
    steps = rig.drain()

    # Then it was written back at the receive that used up half the queue's receives
    assert steps == MAX_RECEIVES // 2
    assert rig.comments("jira", "OPS-42") == [pending["message"]]
    assert rig.delays == [10, 20, 30, 40]
    assert logs.messages("WARNING") == [
        "Writing back out of order: earlier notifications were not written back in time"
    ]


# --- retries ---------------------------------------------------------------------------------
@pytest.mark.parametrize("system", ["jira", "servicenow", "github"])
def test_a_write_back_rate_limited_twice_waits_as_asked_and_posts_each_comment_once(rig, system):
    # Given a ticket whose system answers the next two requests 429, Retry-After 7 s
    make = {"jira": jira_ticket, "servicenow": servicenow_ticket, "github": github_ticket}[system]
    name = {"jira": "OPS-42", "servicenow": "RITM0010042", "github": "acme/platform#17"}[system]
    ticket = make(rig.desk)
    notes = provisioning(rig, ticket)
    rig.desk.inject_fault(system, 2, status=429, retry_after=7)

    # When the first notification is delivered
    rig.send(notes[0])
    first = rig.step()

    # Then it is put back on the queue for the 7 s asked for, invisible until then
    assert len(first.failed) == 1
    assert rig.delays == [7]
    assert rig.step().records == []
    # When the time has passed, it is rate limited once more, then written back
    rig.elapse()
    assert len(rig.step().failed) == 1
    rig.elapse()
    assert rig.step().failed == []
    assert rig.delays == [7, 7]
    # And the rest of the request follows; every comment is on the ticket once, in order
    rig.send(*notes[1:])
    rig.drain()
    comments = rig.comments(system, name)
    public = [c for c in comments if not c.startswith("Private API Provisioner:")]
    assert public[:3] == [n["message"] for n in notes[:3]]
    assert len(public) == 4


def test_a_server_error_without_retry_after_is_retried_with_backoff(rig):
    ticket = servicenow_ticket(rig.desk)
    rig.desk.inject_fault("servicenow", 1, status=503, retry_after=None)

    rig.send(rig.milestone(ticket, Status.ACCEPTED, "Accepted.", at=at(1)))
    assert len(rig.step().failed) == 1
    rig.elapse()
    assert rig.step().failed == []

    (delay,) = rig.delays
    assert 5 <= delay <= 10  # the first backoff: 10 s, with jitter down to half of it
    assert rig.comments("servicenow", "RITM0010042")[0] == "Accepted."


def test_a_ticket_system_that_does_not_answer_is_retried(rig):
    # Given Jira credentials that point at a port nothing listens on
    credentials = desk_credentials(rig.desk)["jira"]
    rig.put_secret("jira", {**credentials, "baseUrl": "http://127.0.0.1:9/jira"})
    ticket = jira_ticket(rig.desk)

    rig.send(rig.milestone(ticket, Status.ACCEPTED, "Accepted.", at=at(1)))
    step = rig.step()

    assert len(step.failed) == 1
    assert 5 <= rig.delays[0] <= 10


def test_a_final_move_that_fails_after_its_comment_does_not_comment_twice(rig):
    # Given an approved Jira issue, and Jira that takes one request, then limits the next
    ticket = jira_ticket(rig.desk)
    rig.send(rig.milestone(ticket, Status.SUCCEEDED, "Ready.", at=at(1), invokeUrl=INVOKE_URL))
    rig.desk.inject_fault("jira", 1, status=429, retry_after=3)  # the comment's request
    assert len(rig.step().failed) == 1
    rig.elapse()

    # When the comment goes through, but listing the transitions is rate limited
    original = ticket_clients.JiraClient.comment

    def comment_then_limit(self: Any, *args: Any) -> None:
        original(self, *args)
        rig.desk.inject_fault("jira", 1, status=429, retry_after=4)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(ticket_clients.JiraClient, "comment", comment_then_limit)
        assert len(rig.step().failed) == 1
    rig.elapse()
    assert rig.step().failed == []

    # Then the ticket has the comment once, and the transition
    received = rig.received("jira", "OPS-42")
    assert [e["kind"] for e in received] == ["comment", "transition"]
    assert rig.delays == [3, 4]


def test_the_last_receive_gives_up_loudly_and_lets_the_successors_go(rig, logs, monkeypatch):
    # Given a queue that allows three receives, and Jira down for longer than that
    monkeypatch.setenv("PROVISIONER_TICKET_WRITEBACK_MAX_RECEIVES", "3")
    policy = json.loads(
        rig.sqs.get_queue_attributes(QueueUrl=rig.queue_url, AttributeNames=["RedrivePolicy"])[
            "Attributes"
        ]["RedrivePolicy"]
    )
    rig.sqs.set_queue_attributes(
        QueueUrl=rig.queue_url,
        Attributes={"RedrivePolicy": json.dumps({**policy, "maxReceiveCount": "3"})},
    )
    ticket = jira_ticket(rig.desk)
    accepted, pending, *_ = provisioning(rig, ticket)
    rig.desk.inject_fault("jira", 3, status=503, retry_after=None)

    # When it is delivered three times
    rig.send(accepted)
    for _ in range(3):
        assert len(rig.step().failed) == 1
        rig.elapse()

    # Then the third failure says so at ERROR, for an alarm, without a credential
    (gave_up,) = [e for e in logs.entries("ERROR") if e["message"] == "Ticket write-back gave up"]
    assert gave_up["system"] == "jira"
    assert gave_up["ticket"] == "OPS-42"
    assert gave_up["requestId"] == "OPS-42-1"
    assert gave_up["notificationStatus"] == "ACCEPTED"
    # And the next receive moves it to the dead-letter queue
    assert rig.step().records == []
    assert [n["status"] for n in rig.dead_letters()] == ["ACCEPTED"]
    # And its successor does not wait for it
    rig.send(pending)
    assert rig.step().failed == []
    assert rig.comments("jira", "OPS-42") == [pending["message"]]


# --- what retrying cannot fix ------------------------------------------------------------------
def test_a_ticket_that_does_not_exist_is_logged_and_dropped(rig, logs):
    # Given a request whose Jira issue was deleted
    ticket = TicketRef.from_wire({"system": "jira", "key": "OPS-404"})

    rig.send(rig.milestone(ticket, Status.ACCEPTED, "Accepted.", at=at(1)))
    step = rig.step()

    assert step.failed == []
    assert rig.waiting() == 0
    (refused,) = logs.entries("ERROR")
    assert refused["message"] == "Ticket system refused the write-back; dropped"
    assert (refused["httpStatus"], refused["ticket"]) == (404, "OPS-404")


@pytest.mark.parametrize("system", ["jira", "servicenow", "github"])
def test_wrong_credentials_are_logged_and_dropped(rig, logs, system):
    make = {"jira": jira_ticket, "servicenow": servicenow_ticket, "github": github_ticket}[system]
    ticket = make(rig.desk)
    wrong = {
        "jira": {"apiToken": "revoked-token"},
        "servicenow": {"password": "expired-password"},
        "github": {"token": "ghp_revoked"},
    }[system]
    rig.put_secret(system, {**desk_credentials(rig.desk)[system], **wrong})

    rig.send(rig.milestone(ticket, Status.ACCEPTED, "Accepted.", at=at(1)))
    step = rig.step()

    assert step.failed == []
    assert [(e["message"], e["httpStatus"]) for e in logs.entries("ERROR")] == [
        ("Ticket system refused the write-back; dropped", 401)
    ]


def test_a_system_not_configured_yet_is_dropped_with_one_warning(rig, logs):
    # Given the template's placeholder in GitHub's secret
    rig.put_secret("github", {"configured": False})
    ticket = github_ticket(rig.desk)

    # When two notifications of a GitHub ticket are delivered
    rig.send(*provisioning(rig, ticket)[:2])
    step = rig.step()

    # Then both are dropped, with one warning, and nothing is sent to GitHub
    assert step.failed == []
    assert rig.waiting() == 0
    assert logs.messages("WARNING") == [
        "Ticket write-back is not configured for this system; its notifications are dropped"
    ]
    assert rig.desk.requests() == []


def test_malformed_credentials_are_logged_by_field_and_dropped(rig, logs):
    rig.put_secret("jira", {"baseUrl": "http://jira.example.com", "email": "x@example.com"})
    ticket = jira_ticket(rig.desk)

    rig.send(rig.milestone(ticket, Status.ACCEPTED, "Accepted.", at=at(1)))
    assert rig.step().failed == []

    (malformed,) = logs.entries("ERROR")
    assert malformed["message"] == "Ticket write-back credentials are malformed; dropped"
    assert malformed["problems"] == ["baseUrl: value_error", "apiToken: missing"]


def test_a_jira_issue_with_no_way_to_the_outcome_status_is_commented_and_left(rig, logs):
    # Given an issue someone already moved to Done
    ticket = jira_ticket(rig.desk, status="Done")

    rig.send(rig.milestone(ticket, Status.SUCCEEDED, "Ready.", at=at(1), invokeUrl=INVOKE_URL))
    assert rig.step().failed == []

    assert [e["kind"] for e in rig.received("jira", "OPS-42")] == ["comment"]
    (left,) = logs.entries("WARNING")
    assert left["message"] == (
        "No Jira transition leads to the outcome's status; the issue is left as it is"
    )
    assert (left["target_status"], left["available"]) == ("Done", ["Open"])


def test_a_message_that_is_no_notification_is_dropped(rig, logs):
    rig.sqs.send_message(QueueUrl=rig.queue_url, MessageBody='{"hello": "world"}')

    assert rig.step().failed == []
    assert logs.messages("ERROR") == ["Not a ticket's progress notification; dropped"]


# --- no secret in any log line -------------------------------------------------------------------
def test_no_credential_ever_reaches_a_log_line(rig, logs):
    # Given every system, with OAuth for ServiceNow, and every kind of answer
    credentials = rig.desk.servicenow_credentials
    rig.put_secret(
        "servicenow",
        {
            "instanceUrl": rig.desk.servicenow_url,
            "clientId": credentials.client_id,
            "clientSecret": credentials.client_secret,
        },
    )
    tickets = [jira_ticket(rig.desk), servicenow_ticket(rig.desk), github_ticket(rig.desk)]
    for number, ticket in enumerate(tickets):
        rig.send(*provisioning(rig, ticket, request_id=f"OPS-42-{number}"))
    rig.desk.inject_fault("github", 1, status=429, retry_after=2)
    rig.desk.inject_fault("jira", 1, status=500, retry_after=None)
    logger.setLevel("DEBUG")
    try:
        rig.drain()
        rig.put_secret("jira", {**desk_credentials(rig.desk)["jira"], "apiToken": "wrong-one"})
        deployed = rig.milestone(
            tickets[0], Status.API_DEPLOYED, "Deployed.", at=at(9), request_id="OPS-42-0"
        )
        rig.send(deployed)
        rig.drain()
    finally:
        logger.setLevel("INFO")

    # Then no line, at any level, holds a secret or an Authorization header's value
    secrets = [
        rig.desk.jira_credentials.api_token,
        "wrong-one",
        credentials.password,
        credentials.client_secret,
        credentials.bearer_token,
        rig.desk.github_credentials.token,
    ]
    text = "\n".join(logs.lines)
    assert logs.lines
    for secret in secrets:
        assert secret not in text
    assert "Basic " not in text and "Bearer " not in text
