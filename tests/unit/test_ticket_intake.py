"""The ticket intake (``provisioner.tickets.intake``), called as Lambda calls it for a Function
URL (payload format 2.0), against in-process moto: Secrets Manager holds the webhook secrets,
SSM the template's default mapping, and a rule on the bus copies what the intake puts there
into a queue the tests read.

The deliveries are the samples in ``events/tickets`` (built from the systems' documentation
and real captures) and variations of them. The intake's clock is frozen (``FrozenClock``), so
the age window is tested without racing the wall clock.
"""

from __future__ import annotations

import base64
import copy
import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import boto3
import msgspec
import pytest

from emulator.engine.stack import REPO_ROOT, load_template
from emulator.ticket_desk.samples import GITHUB_SAMPLE, JIRA_SAMPLE, SERVICENOW_SAMPLE, load
from provisioner.storage.keys import delivery_key

from .support import (
    ACCOUNT,
    LEDGER_TABLE,
    REGION,
    FakeLambdaContext,
    FrozenClock,
    load_handler,
)

BUS = "private-api-requests"
NOW = datetime(2026, 11, 19, 14, 8, 0, tzinfo=UTC)  # 29 s after the samples' approval
SECRETS = {
    "jira": {"current": "jira-webhook-secret-2", "previous": "jira-webhook-secret-1"},
    "servicenow": {"current": "servicenow-shared-key", "previous": ""},
    "github": {"current": "github-webhook-secret", "previous": ""},
}
SAMPLES = {"jira": JIRA_SAMPLE, "servicenow": SERVICENOW_SAMPLE, "github": GITHUB_SAMPLE}
NLB_ARN = (
    "arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/net/"
    "orders-service-nlb/2fc49539b3b0c1bf"
)


def default_mapping() -> str:
    return str(load_template(REPO_ROOT / "template.yaml")["Parameters"]["TicketMapping"]["Default"])


class Intake:
    """The intake function and what it put on the bus."""

    def __init__(self, queue_url: str, clock: FrozenClock) -> None:
        from provisioner.tickets import intake, signatures

        self.module = intake
        self.handler = load_handler("ticket_intake").handler
        self.signatures = signatures
        self.queue_url = queue_url
        self.clock = clock
        self._sent = 0

    def post(
        self,
        system: str,
        body: dict[str, Any] | bytes | str,
        *,
        secret: str | None = None,
        headers: dict[str, str] | None = None,
        signed: bool = True,
        content_type: str = "application/json",
        base64_encoded: bool = False,
        path: str | None = None,
    ) -> tuple[int, dict[str, Any]]:
        raw = (
            body
            if isinstance(body, bytes)
            else (body.encode() if isinstance(body, str) else json.dumps(body).encode())
        )
        sent = {"content-type": content_type, "user-agent": "test"}
        sent.update(_delivery_headers(system, self._next_id()))
        if signed:
            from provisioner.contract.requests import TicketSystem

            key = secret if secret is not None else SECRETS[system]["current"]
            sign = self.signatures.sign(TicketSystem(system), key, raw)
            sent[self.signatures.signature_header(TicketSystem(system))] = sign
        sent.update(headers or {})
        try:
            raw.decode()
        except UnicodeDecodeError:
            base64_encoded = True  # Lambda passes a body that is not text in base64
        event = function_url_event(path or f"/tickets/{system}", raw, sent, base64_encoded)
        answer = self.handler(event, FakeLambdaContext())
        return answer["statusCode"], json.loads(answer.get("body") or "{}")

    def _next_id(self) -> str:
        self._sent += 1
        return f"delivery-{self._sent}"

    def events(self) -> list[dict[str, Any]]:
        sqs = boto3.client("sqs", region_name=REGION)
        found = []
        while True:
            got = sqs.receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=10)
            if not got.get("Messages"):
                return found
            for message in got["Messages"]:
                found.append(json.loads(message["Body"]))
                sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"])


def _delivery_headers(system: str, delivery_id: str) -> dict[str, str]:
    if system == "jira":
        return {"x-atlassian-webhook-identifier": delivery_id}
    if system == "github":
        return {"x-github-delivery": delivery_id, "x-github-event": "issues"}
    return {}


def function_url_event(
    path: str, raw: bytes, headers: dict[str, str], base64_encoded: bool = False
) -> dict[str, Any]:
    """A Function URL request as Lambda passes it (payload format 2.0): header names in
    lowercase, the body as text unless base64 was asked for."""
    return {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": "",
        "headers": {name.lower(): value for name, value in headers.items()},
        "requestContext": {
            "accountId": "anonymous",
            "apiId": "intakeurlid",
            "domainName": "intakeurlid.lambda-url.us-east-1.on.aws",
            "domainPrefix": "intakeurlid",
            "http": {
                "method": "POST",
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": "203.0.113.9",
                "userAgent": headers.get("user-agent", ""),
            },
            "requestId": "c0ffee00-0000-0000-0000-000000000000",
            "routeKey": "$default",
            "stage": "$default",
            "time": "19/Nov/2026:14:08:00 +0000",
            "timeEpoch": 1795097280000,
        },
        "body": base64.b64encode(raw).decode() if base64_encoded else raw.decode(),
        "isBase64Encoded": base64_encoded,
    }


@pytest.fixture
def intake(aws: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[Intake]:
    from aws_lambda_powertools.utilities import parameters

    from provisioner.contract.requests import TICKET_INTAKE_SOURCE
    from provisioner.tickets import intake as module

    parameters.clear_caches()
    module._forced_refresh_at.clear()
    secrets = boto3.client("secretsmanager", region_name=REGION)
    for system, value in SECRETS.items():
        arn = secrets.create_secret(Name=f"test/{system}/webhook", SecretString=json.dumps(value))
        monkeypatch.setenv(f"PROVISIONER_{system.upper()}_WEBHOOK_SECRET", arn["ARN"])
    boto3.client("ssm", region_name=REGION).put_parameter(
        Name="/test/ticket-mapping", Type="String", Value=default_mapping()
    )
    monkeypatch.setenv("PROVISIONER_TICKET_MAPPING_PARAMETER", "/test/ticket-mapping")
    monkeypatch.setenv("PROVISIONER_REQUEST_BUS_NAME", BUS)
    events, sqs = (
        boto3.client("events", region_name=REGION),
        boto3.client("sqs", region_name=REGION),
    )
    events.create_event_bus(Name=BUS)
    queue = sqs.create_queue(QueueName="requests-seen")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])
    events.put_rule(
        Name="seen", EventBusName=BUS, EventPattern=json.dumps({"source": [TICKET_INTAKE_SOURCE]})
    )
    events.put_targets(
        Rule="seen",
        EventBusName=BUS,
        Targets=[{"Id": "q", "Arn": queue_arn["Attributes"]["QueueArn"]}],
    )
    clock = FrozenClock(NOW)
    monkeypatch.setattr(module, "datetime", clock)
    yield Intake(queue, clock)
    parameters.clear_caches()


def sample(system: str) -> dict[str, Any]:
    return copy.deepcopy(load(SAMPLES[system]))


# --- each system's real delivery becomes a request ---------------------------------------------
def test_an_approved_jira_issue_becomes_a_provisioning_request(intake: Intake) -> None:
    status, answer = intake.post("jira", sample("jira"))

    assert (status, answer) == (
        202,
        {"requestId": "jira.OPS-42.provision", "kind": "provision", "ticketId": "OPS-42"},
    )
    [event] = intake.events()
    assert event["source"] == "private-api-provisioner.ticket-intake"
    assert event["detail-type"] == "PrivateApiRequested"
    assert event["detail"] == {
        "requestId": "jira.OPS-42.provision",
        "ticketId": "OPS-42",
        "requestedBy": "Dana Ortiz",  # Jira Cloud leaves emailAddress out of webhook users
        "ticket": {
            "system": "jira",
            "key": "OPS-42",
            "fieldLabels": {"apiName": "API name", "nlbArn": "NLB ARN", "stageName": "Stage name"},
        },
        "apiName": "orders",
        "nlbArn": NLB_ARN,
        "stageName": "prod",  # a select list: its value
    }


def test_a_labeled_github_issue_form_becomes_a_provisioning_request(intake: Intake) -> None:
    status, answer = intake.post("github", sample("github"))

    assert status == 202
    assert answer["requestId"] == "github.acme.platform-requests.17.provision"
    [event] = intake.events()
    detail = event["detail"]
    assert detail["ticket"]["key"] == "acme/platform-requests#17"
    assert detail["ticketId"] == "acme/platform-requests#17"
    assert detail["requestedBy"] == "dana-ortiz"  # the issue's author, not who labeled it
    assert (detail["apiName"], detail["nlbArn"], detail["stageName"]) == ("orders", NLB_ARN, "prod")


def test_an_approved_servicenow_item_becomes_a_provisioning_request(intake: Intake) -> None:
    status, answer = intake.post("servicenow", sample("servicenow"))

    assert status == 202
    assert answer["requestId"] == "servicenow.RITM0010042.provision"
    [event] = intake.events()
    detail = event["detail"]
    assert detail["ticket"]["key"] == "6f2b1c7e1b3d7110a5e4ed3ce54bcb2a"  # the Table API's
    assert detail["ticketId"] == "RITM0010042"
    assert detail["requestedBy"] == "dana.ortiz@example.com"
    assert (detail["apiName"], detail["nlbArn"], detail["stageName"]) == ("orders", NLB_ARN, "prod")


def test_github_may_deliver_as_a_form_with_a_payload_field(intake: Intake) -> None:
    form = urlencode({"payload": json.dumps(sample("github"))})

    status, _ = intake.post("github", form, content_type="application/x-www-form-urlencoded")

    assert status == 202


def test_a_base64_body_is_verified_and_read_as_sent(intake: Intake) -> None:
    status, _ = intake.post("jira", sample("jira"), base64_encoded=True)

    assert status == 202


# --- authenticity ------------------------------------------------------------------------------
@pytest.mark.parametrize("system", ["jira", "servicenow", "github"])
def test_a_wrong_or_missing_signature_is_401_without_detail(intake: Intake, system: str) -> None:
    wrong = intake.post(system, sample(system), secret="not-the-secret")
    missing = intake.post(system, sample(system), signed=False)

    assert wrong == missing == (401, {"message": "Unauthorized."})
    assert intake.events() == []


def test_a_body_changed_after_signing_is_refused(intake: Intake) -> None:
    body = json.dumps(sample("jira")).encode()
    from provisioner.contract.requests import TicketSystem

    signature = intake.signatures.sign(TicketSystem.JIRA, SECRETS["jira"]["current"], body)
    tampered = body.replace(b"orders-service-nlb", b"billing-service-nlb")

    status, _ = intake.post("jira", tampered, signed=False, headers={"X-Hub-Signature": signature})

    assert status == 401


def test_the_previous_secret_is_accepted_during_a_rotation(intake: Intake) -> None:
    status, _ = intake.post("jira", sample("jira"), secret=SECRETS["jira"]["previous"])

    assert status == 202


def test_a_secret_rotated_while_cached_is_read_again_once(intake: Intake) -> None:
    assert intake.post("github", sample("github"))[0] == 202  # the secret is now cached
    secrets = boto3.client("secretsmanager", region_name=REGION)
    secrets.put_secret_value(
        SecretId="test/github/webhook",
        SecretString=json.dumps({"current": "github-rotated", "previous": "github-webhook-secret"}),
    )
    other = sample("github")
    other["issue"]["number"] = 18

    assert intake.post("github", other, secret="github-rotated")[0] == 202
    # A wrong signature right after does not read the secret again (no Secrets Manager flood).
    assert intake.post("github", other, secret="guess")[0] == 401


def test_header_names_are_matched_without_regard_to_case(intake: Intake) -> None:
    body = json.dumps(sample("github")).encode()
    from provisioner.contract.requests import TicketSystem

    signature = intake.signatures.sign(TicketSystem.GITHUB, SECRETS["github"]["current"], body)
    event = function_url_event(
        "/tickets/github",
        body,
        {"Content-Type": "application/json", "X-GitHub-Event": "issues"},
    )
    event["headers"]["X-Hub-Signature-256"] = signature  # as a proxy might pass it on

    answer = intake.handler(event, FakeLambdaContext())

    assert answer["statusCode"] == 202


def test_githubs_sha1_signature_alone_is_not_enough(intake: Intake) -> None:
    import hashlib
    import hmac

    body = json.dumps(sample("github")).encode()
    sha1 = hmac.new(SECRETS["github"]["current"].encode(), body, hashlib.sha1).hexdigest()

    status, _ = intake.post(
        "github", body, signed=False, headers={"X-Hub-Signature": f"sha1={sha1}"}
    )

    assert status == 401


def test_servicenow_signature_is_the_base64_mac_its_business_rule_computes(intake: Intake) -> None:
    import hashlib
    import hmac

    body = json.dumps(sample("servicenow")).encode()
    # GlideCertificateEncryption.generateMac(base64(key), "HmacSHA256", body) answers base64
    mac = base64.b64encode(
        hmac.new(SECRETS["servicenow"]["current"].encode(), body, hashlib.sha256).digest()
    ).decode()

    status, _ = intake.post(
        "servicenow", body, signed=False, headers={"X-ServiceNow-Signature": mac}
    )

    assert status == 202


def test_no_secret_or_signature_reaches_a_log_line_or_an_answer(
    intake: Intake, capsys: pytest.CaptureFixture[str]
) -> None:
    body = json.dumps(sample("jira")).encode()
    from provisioner.contract.requests import TicketSystem

    good = intake.signatures.sign(TicketSystem.JIRA, SECRETS["jira"]["current"], body)
    answers = [
        intake.post("jira", body),
        intake.post("jira", body, secret="wrong-secret"),
        intake.post("jira", b"{", secret=SECRETS["jira"]["current"]),
    ]

    printed = capsys.readouterr().out + json.dumps(answers)
    for secret in (*SECRETS["jira"].values(), "wrong-secret", good, good.removeprefix("sha256=")):
        if secret:
            assert secret not in printed


# --- replays and redeliveries ------------------------------------------------------------------
def test_a_jira_retry_of_the_same_delivery_is_answered_200_and_goes_no_further(
    intake: Intake,
) -> None:
    retry = {"X-Atlassian-Webhook-Identifier": "wh-123"}
    first = intake.post("jira", sample("jira"), headers=retry)
    again = intake.post("jira", sample("jira"), headers=retry)

    assert first[0] == 202
    assert again == (200, {"requestId": "jira.OPS-42.provision", "duplicate": True})
    assert len(intake.events()) == 1


def test_a_github_redelivery_is_answered_200_once(intake: Intake) -> None:
    same = {"X-GitHub-Delivery": "72d3162e-cc78-11e3-81ab-4c9367dc0958"}
    assert intake.post("github", sample("github"), headers=same)[0] == 202
    assert intake.post("github", sample("github"), headers=same)[0] == 200
    assert len(intake.events()) == 1


def test_a_servicenow_delivery_is_known_by_its_item_and_change(intake: Intake) -> None:
    assert intake.post("servicenow", sample("servicenow"))[0] == 202
    assert intake.post("servicenow", sample("servicenow"))[1]["duplicate"] is True
    approved_again = sample("servicenow")
    approved_again["sys_updated_on"] = "2026-11-19 14:07:55"

    status, answer = intake.post("servicenow", approved_again)

    # A new change of the same item is a new delivery of the same request: the workflow's
    # exactly-once (by requestId) decides what it does.
    assert (status, answer["requestId"]) == (202, "servicenow.RITM0010042.provision")
    assert [e["detail"]["requestId"] for e in intake.events()] == [
        "servicenow.RITM0010042.provision"
    ] * 2


def test_jira_without_a_delivery_identifier_is_known_by_its_body(intake: Intake) -> None:
    body = json.dumps(sample("jira")).encode()
    headers = {"X-Atlassian-Webhook-Identifier": ""}

    assert intake.post("jira", body, headers=headers)[0] == 202
    assert intake.post("jira", body, headers=headers)[0] == 200


@pytest.mark.parametrize("system", ["jira", "servicenow"])
def test_a_delivery_older_than_the_window_is_refused(intake: Intake, system: str) -> None:
    intake.clock.advance(timedelta(hours=6, minutes=1))

    status, answer = intake.post(system, sample(system))

    assert (status, answer) == (400, {"message": "The delivery is older than 6 hours."})
    assert intake.events() == []


def test_a_delivery_within_the_window_is_taken(intake: Intake) -> None:
    intake.clock.advance(timedelta(hours=5, minutes=59))

    assert intake.post("jira", sample("jira"))[0] == 202


def test_a_delivery_is_remembered_for_a_day_then_forgotten(intake: Intake) -> None:
    dynamodb = boto3.client("dynamodb", region_name=REGION)
    same = {"X-GitHub-Delivery": "d-1"}
    assert intake.post("github", sample("github"), headers=same)[0] == 202
    key = {name: {"S": value} for name, value in delivery_key("github", "d-1").items()}
    item = dynamodb.get_item(TableName=LEDGER_TABLE, Key=key)["Item"]
    received = datetime.fromisoformat(item["receivedAt"]["S"])
    kept = datetime.fromtimestamp(int(item["expiration"]["N"]), UTC) - received
    assert timedelta(days=1) < kept <= timedelta(days=1, hours=1, seconds=1)

    # DynamoDB deletes an expired item days later, not at once: expired counts as forgotten.
    dynamodb.update_item(
        TableName=LEDGER_TABLE,
        Key=key,
        UpdateExpression="SET expiration = :past",
        ExpressionAttributeValues={":past": {"N": "1000"}},
    )
    assert intake.post("github", sample("github"), headers=same)[0] == 202


# --- what is not a request ---------------------------------------------------------------------
def _jira_comment() -> dict[str, Any]:
    body = sample("jira")
    body["webhookEvent"] = "comment_created"
    body["comment"] = {"id": "10100", "body": "Looks good"}
    return body


def _jira_other_status() -> dict[str, Any]:
    body = sample("jira")
    body["changelog"]["items"][0]["toString"] = "In Progress"
    return body


def _jira_other_change() -> dict[str, Any]:
    body = sample("jira")
    body["changelog"]["items"] = [{"field": "summary", "fieldId": "summary", "toString": "x"}]
    return body


def _jira_unmapped_type() -> dict[str, Any]:
    body = sample("jira")
    body["issue"]["fields"]["customfield_10010"]["requestType"]["name"] = "Get a laptop"
    return body


def _github(action: str = "labeled", label: str = "approved", **issue: Any) -> dict[str, Any]:
    body = sample("github")
    body["action"] = action
    body["label"]["name"] = label
    body["issue"].update(issue)
    return body


def _servicenow(**fields: Any) -> dict[str, Any]:
    body = sample("servicenow")
    body.update(fields)
    return body


@pytest.mark.parametrize(
    ("system", "body", "headers", "reason"),
    [
        ("jira", _jira_comment(), {}, "comment_created is not an issue event"),
        ("jira", _jira_other_status(), {}, "jira:issue_updated on OPS-42 is not the trigger"),
        ("jira", _jira_other_change(), {}, "jira:issue_updated on OPS-42 is not the trigger"),
        ("jira", _jira_unmapped_type(), {}, "type 'Get a laptop' is not mapped"),
        ("github", _github(action="opened"), {}, "opened approved on acme/platform-requests#17"),
        ("github", _github(label="bug"), {}, "labeled bug on acme/platform-requests#17"),
        (
            "github",
            _github(pull_request={"url": "x"}),
            {},
            "labeled approved on acme/platform-requests#17",
        ),
        (
            "github",
            _github(labels=[{"name": "approved"}]),
            {},
            "acme/platform-requests#17 carries no mapped label",
        ),
        ("github", sample("github"), {"X-GitHub-Event": "ping"}, "ping"),
        (
            "github",
            sample("github"),
            {"X-GitHub-Event": "issue_comment"},
            "issue_comment is not an issues event",
        ),
        (
            "servicenow",
            _servicenow(approval="requested"),
            {},
            "RITM0010042: approval requested, state 1",
        ),
        ("servicenow", _servicenow(state="3"), {}, "RITM0010042: approval approved, state 3"),
        (
            "servicenow",
            _servicenow(cat_item={"name": "Laptop"}),
            {},
            "catalog item 'Laptop' is not mapped",
        ),
        ("servicenow", _servicenow(table="incident"), {}, "table incident is not sc_req_item"),
    ],
)
def test_a_delivery_that_is_not_a_request_is_200_and_nothing_more(
    intake: Intake, system: str, body: dict[str, Any], headers: dict[str, str], reason: str
) -> None:
    status, answer = intake.post(system, body, headers=headers)

    assert (status, answer) == (200, {"ignored": reason})
    assert intake.events() == []


# --- bad bodies --------------------------------------------------------------------------------
def _without(system: str, *path: str) -> dict[str, Any]:
    body = sample(system)
    target = body
    for key in path[:-1]:
        target = target[key]
    del target[path[-1]]
    return body


def _with(system: str, value: Any, *path: str) -> dict[str, Any]:
    body = sample(system)
    target = body
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return body


@pytest.mark.parametrize(
    ("system", "body", "message"),
    [
        ("jira", b"{not json", "The body is not JSON."),
        ("jira", b"[1, 2]", "The body must be a JSON object."),
        ("jira", b"\xff\xfe{}", "The body is not UTF-8 JSON."),
        ("jira", b"", "The body is not JSON."),
        ("jira", _without("jira", "issue"), "issue: required"),
        ("jira", _without("jira", "timestamp"), "timestamp: required"),
        ("jira", _with("jira", "2026-11-19", "timestamp"), "timestamp: must be an integer"),
        ("jira", _with("jira", 42, "issue", "key"), "issue.key: must be a string"),
        ("jira", _with("jira", [], "issue", "fields"), "issue.fields: must be an object"),
        ("github", _without("github", "issue"), "issue: required"),
        ("github", _with("github", "17", "issue", "number"), "issue.number: must be an integer"),
        ("github", _without("github", "repository"), "repository: required"),
        ("servicenow", _without("servicenow", "sys_id"), "sys_id: required"),
        (
            "servicenow",
            _with("servicenow", "RITM1", "sys_id"),
            "sys_id: must be 32 hexadecimal digits",
        ),
        (
            "servicenow",
            _with("servicenow", "yesterday", "sys_updated_on"),
            "sys_updated_on: must be YYYY-MM-DD hh:mm:ss (UTC)",
        ),
    ],
)
def test_a_body_that_is_not_the_systems_json_is_400(
    intake: Intake, system: str, body: Any, message: str
) -> None:
    status, answer = intake.post(system, body)

    assert (status, answer) == (400, {"message": message})
    assert intake.events() == []


def test_a_body_of_the_wrong_content_type_is_415(intake: Intake) -> None:
    status, answer = intake.post("jira", sample("jira"), content_type="text/plain")

    assert status == 415
    assert "application/json" in answer["message"]
    assert intake.events() == []


def test_a_megabyte_body_is_413_before_its_signature_is_computed(intake: Intake) -> None:
    body = sample("jira")
    body["issue"]["fields"]["description"] = "x" * 1_000_000

    status, _ = intake.post("jira", body)

    assert status == 413
    assert intake.events() == []


def test_an_unknown_system_is_404(intake: Intake) -> None:
    status, _ = intake.post("jira", sample("jira"), path="/tickets/zendesk")

    assert status == 404


def test_a_request_eventbridge_refuses_is_503_and_its_retry_goes_through(
    intake: Intake, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PROVISIONER_REQUEST_BUS_NAME", "no-such-bus")
    retry = {"X-Atlassian-Webhook-Identifier": "wh-9"}
    assert intake.post("jira", sample("jira"), headers=retry)[0] == 503
    monkeypatch.setenv("PROVISIONER_REQUEST_BUS_NAME", BUS)

    assert intake.post("jira", sample("jira"), headers=retry)[0] == 202
    assert len(intake.events()) == 1


# --- the mapping's rules -----------------------------------------------------------------------
def test_jira_values_are_read_by_their_field_type(intake: Intake) -> None:
    from provisioner.tickets.deliveries import _jira_value

    assert _jira_value({"value": "prod", "id": "10215"}) == "prod"
    assert _jira_value({"accountId": "712020:abc", "displayName": "Dana"}) == "712020:abc"
    assert _jira_value([{"value": "a"}, {"value": "b"}]) == ["a", "b"]
    assert _jira_value("  orders  ") == "orders"
    assert _jira_value("   ") is None
    assert _jira_value(None) is None
    assert _jira_value(600) == 600


def test_a_mapped_field_left_empty_is_not_given(intake: Intake) -> None:
    body = sample("jira")
    body["issue"]["fields"]["customfield_10103"] = None

    assert intake.post("jira", body)[0] == 202
    [event] = intake.events()
    assert "nlbArn" not in event["detail"]
    assert event["detail"]["ticket"]["fieldLabels"]["nlbArn"] == "NLB ARN"


def test_an_issue_forms_blank_answer_is_no_answer(intake: Intake) -> None:
    from provisioner.tickets.deliveries import issue_form_sections

    body = "### API name\r\n\r\norders\r\n\r\n### NLB ARN\n\n_No response_\n\n### Stage name\n\n"

    assert issue_form_sections(body) == {"api name": "orders"}


def test_text_booleans_numbers_and_tags_are_typed(intake: Intake) -> None:
    from provisioner.contract.requests import TicketRef
    from provisioner.tickets.deliveries import TicketRequest
    from provisioner.tickets.intake import request_detail

    ticket = TicketRef.from_wire({"system": "jira", "key": "OPS-1"})
    request = TicketRequest(
        "provision",
        ticket,
        "OPS-1",
        "Dana\x07 Ortiz",
        {
            "proxyAllPaths": "Yes",
            "timeoutSeconds": "600",
            "tags": "team=payments, env = prod",
            "httpMethod": "POST",
        },
    )

    detail = request_detail(request, "jira.OPS-1.provision")

    assert detail["proxyAllPaths"] is True
    assert detail["timeoutSeconds"] == 600
    assert detail["tags"] == {"team": "payments", "env": "prod"}
    assert detail["requestedBy"] == "Dana Ortiz"
    # What cannot be typed goes as written: validation names it with the ticket's label.
    request = TicketRequest("provision", ticket, "OPS-1", None, {"timeoutSeconds": "ten"})
    assert request_detail(request, "x")["timeoutSeconds"] == "ten"


def test_a_long_ticket_name_gives_a_request_id_within_the_contract(intake: Intake) -> None:
    from provisioner.contract.requests import TicketRef
    from provisioner.tickets.deliveries import TicketRequest
    from provisioner.tickets.intake import request_id_for

    key = "a-very-long-organisation-name/" + "r" * 90 + "#123456"
    ticket = TicketRef.from_wire({"system": "github", "key": key})
    request_id = request_id_for(TicketRequest("teardown", ticket, key, None, {}))

    assert len(request_id) <= 64
    assert request_id.startswith("github.") and request_id.endswith(".teardown")
    assert request_id == request_id_for(TicketRequest("teardown", ticket, key, None, {}))


def test_a_jira_project_filter_and_issue_type_fallback(
    intake: Intake, monkeypatch: pytest.MonkeyPatch
) -> None:
    mapping = json.loads(default_mapping())
    mapping["jira"]["projects"] = ["OPS"]
    mapping["jira"]["kinds"][0]["when"] = "Service Request with Approvals"
    boto3.client("ssm", region_name=REGION).put_parameter(
        Name="/test/ticket-mapping", Type="String", Value=json.dumps(mapping), Overwrite=True
    )
    from aws_lambda_powertools.utilities import parameters

    parameters.clear_caches()
    plain_jira = sample("jira")
    del plain_jira["issue"]["fields"]["customfield_10010"]  # no Service Management
    other_project = sample("jira")
    other_project["issue"]["fields"]["project"]["key"] = "HR"

    assert intake.post("jira", plain_jira)[0] == 202
    assert intake.post("jira", other_project) == (200, {"ignored": "project HR is not mapped"})


def test_a_created_issue_is_a_request_only_when_the_mapping_says_so(
    intake: Intake,
) -> None:
    created = sample("jira")
    created["webhookEvent"] = "jira:issue_created"
    del created["changelog"]

    assert intake.post("jira", created)[0] == 200
    mapping = json.loads(default_mapping())
    mapping["jira"]["onCreate"] = True
    boto3.client("ssm", region_name=REGION).put_parameter(
        Name="/test/ticket-mapping", Type="String", Value=json.dumps(mapping), Overwrite=True
    )
    from aws_lambda_powertools.utilities import parameters

    parameters.clear_caches()
    assert intake.post("jira", created)[0] == 202


@pytest.mark.parametrize(
    ("system", "label", "kind", "detail_type"),
    [
        ("github", "private-api-teardown", "teardown", "PrivateApiDeletionRequested"),
        ("github", "private-api-relink", "relink", "PrivateApiRelinkRequested"),
    ],
)
def test_the_kind_of_request_follows_the_mapping(
    intake: Intake, system: str, label: str, kind: str, detail_type: str
) -> None:
    body = sample(system)
    body["issue"]["labels"] = [{"name": label}, {"name": "approved"}]
    body["issue"]["body"] = "### API ID\n\na1b2c3d4e5\n\n### NLB ARN\n\n" + NLB_ARN

    status, answer = intake.post(system, body)

    assert (status, answer["kind"]) == (202, kind)
    [event] = intake.events()
    assert event["detail-type"] == detail_type
    assert event["detail"]["restApiId"] == "a1b2c3d4e5"


def test_the_default_mapping_is_valid_and_names_only_request_fields() -> None:
    from provisioner.contract.requests import TicketSystem
    from provisioner.tickets.mapping import parse_mapping

    mapping = parse_mapping(default_mapping())

    for system in TicketSystem:
        assert {rule.kind for rule in mapping.rules(system)} == {"provision", "teardown", "relink"}


def test_a_mapping_reads_a_switch_given_as_text() -> None:
    from provisioner.tickets.mapping import parse_mapping

    # Given a Jira mapping whose switches an operator wrote as text and as a number
    kinds = [{"kind": "teardown", "when": "Delete", "fields": {}}]
    text = json.dumps({"jira": {"onCreate": "true", "serviceDesk": 0, "kinds": kinds}})

    # When it is read
    jira = parse_mapping(text).jira

    # Then each is the switch it says
    assert jira is not None
    assert (jira.on_create, jira.service_desk) == (True, False)


def test_a_mapping_naming_a_field_no_request_has_is_refused() -> None:
    from provisioner.tickets.mapping import KindRule

    with pytest.raises(msgspec.ValidationError, match="a teardown request has no field nlbArn"):
        KindRule.from_wire(
            {"kind": "teardown", "when": "x", "fields": {"nlbArn": {"source": "a", "label": "b"}}}
        )


def test_the_fields_a_ticket_may_fill_are_the_request_contracts() -> None:
    # Given the request contract's detail models (what the validate tasks read)
    from provisioner.contract.details import (
        RelinkDetail,
        RequestDetail,
        RequesterFields,
        TeardownDetail,
    )
    from provisioner.tickets.mapping import REQUEST_FIELDS

    def wire_names(model: Any) -> set[str]:
        return {field.alias or name for name, field in model.model_fields.items()}

    # Then the mapping's fields of each kind are each detail's own, none of the requester's
    own = wire_names(RequesterFields)
    assert {
        "provision": wire_names(RequestDetail) - own,
        "teardown": wire_names(TeardownDetail) - own,
        "relink": wire_names(RelinkDetail) - own,
    } == REQUEST_FIELDS


# --- the request it makes, through validation --------------------------------------------------
def test_a_wrong_ticket_field_is_rejected_with_the_ticket_labels_at_hand(
    intake: Intake, network: Any, settings: Any
) -> None:
    from provisioner.contract.errors import InvalidRequest
    from provisioner.contract.events import request_ref_from_event
    from provisioner.domain.validation import validate_request

    body = sample("jira")
    body["issue"]["fields"]["customfield_10103"] = network.nlb_arn.replace(
        network.nlb_arn.rsplit("/", 1)[1], "0000000000000000"
    )
    assert intake.post("jira", body)[0] == 202
    [event] = intake.events()
    event.setdefault("account", ACCOUNT)  # moto's copy to a queue leaves out what AWS sends

    with pytest.raises(InvalidRequest) as rejected:
        validate_request(event, settings=settings)

    [problem] = rejected.value.fields
    assert problem.field == "detail.nlbArn" and "no load balancer" in problem.rule
    ref = request_ref_from_event(event)
    assert ref.ticket is not None and ref.ticket.field_labels["nlbArn"] == "NLB ARN"


def test_a_ticket_reference_from_any_other_source_is_rejected(
    make_event: Callable[..., Any], network: Any, settings: Any, aws: None
) -> None:
    from provisioner.contract.errors import InvalidRequest
    from provisioner.contract.events import request_ref_from_event
    from provisioner.domain.validation import validate_request

    event = make_event(
        {
            "apiName": "orders",
            "nlbArn": network.nlb_arn,
            "ticket": {"system": "jira", "key": "OPS-42"},
        }
    )

    with pytest.raises(InvalidRequest) as rejected:
        validate_request(event, settings=settings)

    assert [(p.field, p.rule) for p in rejected.value.fields] == [
        ("detail.ticket", "set only by the ticket intake (private-api-provisioner.ticket-intake)")
    ]
    assert request_ref_from_event(event).ticket is None  # nothing is written to that ticket
