"""A deployed stack and an embedded ticket desk, wired together as an operator would wire the
real systems: the stack's write-back credentials (Secrets Manager) point at the desk, and
deliveries are signed with the stack's webhook secrets, as Jira, ServiceNow and GitHub sign
theirs.

Used by ``make local``, ``make demo`` and the tests. Not deployed.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import hmac
import json
import shlex
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from emulator.ticket_desk.samples import (
    GITHUB_SAMPLE,
    JIRA_SAMPLE,
    SERVICENOW_SAMPLE,
    load,
    seed_sample_tickets,
)
from emulator.ticket_desk.server import TicketDesk

SYSTEMS = ("jira", "servicenow", "github")
WEBHOOK_SECRET = "{stack}/tickets/{system}/webhook"
CREDENTIALS_SECRET = "{stack}/ticket-writeback/{system}"
SAMPLES = {"jira": JIRA_SAMPLE, "servicenow": SERVICENOW_SAMPLE, "github": GITHUB_SAMPLE}
SAMPLE_NLB_ARN = (
    "arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/net/"
    "orders-service-nlb/2fc49539b3b0c1bf"
)


def sign(system: str, secret: str, body: bytes) -> tuple[str, str]:
    """The signature header and value ``system`` sends, computed as the system computes it
    (not with the intake's code): Jira ``X-Hub-Signature: sha256=<hex>``, GitHub
    ``X-Hub-Signature-256: sha256=<hex>``, ServiceNow's Business Rule (README) the base64
    ``GlideCertificateEncryption.generateMac`` in ``X-ServiceNow-Signature``."""
    digest = hmac.new(secret.encode(), body, hashlib.sha256)
    if system == "jira":
        return "X-Hub-Signature", f"sha256={digest.hexdigest()}"
    if system == "github":
        return "X-Hub-Signature-256", f"sha256={digest.hexdigest()}"
    return "X-ServiceNow-Signature", base64.b64encode(digest.digest()).decode()


def sample_delivery(
    system: str, *, now: datetime | None = None, nlb_arn: str | None = None, **changes: Any
) -> dict[str, Any]:
    """The sample delivery of ``events/tickets``, as if sent ``now``: Jira's ``timestamp`` and
    ServiceNow's ``sys_updated_on`` are moved to it (the intake refuses old deliveries), and
    the NLB field names ``nlb_arn`` when given."""
    body = copy.deepcopy(load(SAMPLES[system]))
    when = now or datetime.now(UTC)
    if system == "jira":
        body["timestamp"] = int(when.timestamp() * 1000)
        if nlb_arn:
            body["issue"]["fields"]["customfield_10103"] = nlb_arn
    elif system == "servicenow":
        body["sys_updated_on"] = when.strftime("%Y-%m-%d %H:%M:%S")
        if nlb_arn:
            body["variables"]["nlb_arn"] = nlb_arn
    elif nlb_arn:
        body["issue"]["body"] = body["issue"]["body"].replace(SAMPLE_NLB_ARN, nlb_arn)
    body.update(changes)
    return body


@dataclass
class TicketWiring:
    """Where the intake answers, the desk the write-back talks to, and the webhook secrets."""

    intake_url: str
    desk: TicketDesk
    webhook_secrets: dict[str, str]
    sent: int = field(default=0)

    def url(self, system: str) -> str:
        return f"{self.intake_url.rstrip('/')}/tickets/{system}"

    def headers(self, system: str, body: bytes, delivery_id: str | None = None) -> dict[str, str]:
        """What the system sends with ``body``: its content type, its delivery id header and
        its signature."""
        headers = {"Content-Type": "application/json"}
        delivery = delivery_id or str(uuid.uuid4())
        if system == "jira":
            headers["X-Atlassian-Webhook-Identifier"] = delivery
        elif system == "github":
            headers["X-GitHub-Delivery"] = delivery
            headers["X-GitHub-Event"] = "issues"
        name, value = sign(system, self.webhook_secrets[system], body)
        headers[name] = value
        return headers

    def deliver(
        self, system: str, body: dict[str, Any], *, delivery_id: str | None = None
    ) -> tuple[int, dict[str, Any]]:
        """POST a signed delivery over HTTP, as the system would: the status and the answer."""
        raw = json.dumps(body).encode()
        request = urllib.request.Request(
            self.url(system),
            data=raw,
            method="POST",
            headers=self.headers(system, raw, delivery_id),
        )
        self.sent += 1
        try:
            with urllib.request.urlopen(request, timeout=30) as answer:
                return answer.status, json.loads(answer.read() or b"{}")
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read() or b"{}")

    def curl(self, system: str, body_file: Path, delivery_id: str) -> str:
        """A ready-to-paste ``curl`` posting ``body_file`` signed (pasting it twice shows the
        duplicate answer: the delivery id is the same)."""
        raw = body_file.read_bytes()
        parts = ["curl", "-sS", "-X", "POST", self.url(system)]
        for name, value in self.headers(system, raw, delivery_id).items():
            parts += ["-H", f"{name}: {value}"]
        parts += ["--data-binary", f"@{body_file}"]
        return " ".join(shlex.quote(part) for part in parts)


def connect(
    secretsmanager: Any, stack_name: str, intake_url: str, desk: TicketDesk
) -> TicketWiring:
    """Point the stack's write-back credentials at ``desk`` (with the credentials it accepts),
    seed the sample tickets on it, and read the webhook secrets the stack generated."""
    jira, servicenow, github = (
        desk.jira_credentials,
        desk.servicenow_credentials,
        desk.github_credentials,
    )
    credentials = {
        "jira": {"baseUrl": desk.jira_url, "email": jira.email, "apiToken": jira.api_token},
        "servicenow": {
            "instanceUrl": desk.servicenow_url,
            "username": servicenow.user,
            "password": servicenow.password,
        },
        "github": {"apiUrl": desk.github_url, "token": github.token},
    }
    secrets = {}
    for system in SYSTEMS:
        secretsmanager.put_secret_value(
            SecretId=CREDENTIALS_SECRET.format(stack=stack_name, system=system),
            SecretString=json.dumps(credentials[system]),
        )
        value = secretsmanager.get_secret_value(
            SecretId=WEBHOOK_SECRET.format(stack=stack_name, system=system)
        )
        secrets[system] = json.loads(value["SecretString"])["current"]
    seed_sample_tickets(desk)
    return TicketWiring(intake_url, desk, secrets)
