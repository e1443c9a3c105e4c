"""The tickets the sample webhook deliveries in ``events/tickets`` name, seeded on a desk.

They are read from the files themselves, so a delivery replayed at the intake and the
write-backs it leads to name tickets the desk has, whatever the files come to say.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from emulator.ticket_desk.server import TicketDesk

SAMPLES_DIR = Path(__file__).resolve().parents[2] / "events" / "tickets"
JIRA_SAMPLE = SAMPLES_DIR / "jira-issue-approved.json"
GITHUB_SAMPLE = SAMPLES_DIR / "github-issue-labeled.json"
SERVICENOW_SAMPLE = SAMPLES_DIR / "servicenow-ritm-approved.json"


def load(path: Path) -> dict[str, Any]:
    body = json.loads(path.read_text())
    if not isinstance(body, dict):
        raise ValueError(f"{path} is not a JSON object")
    return body


def seed_sample_tickets(desk: TicketDesk) -> list[dict[str, Any]]:
    """The Jira issue, GitHub issue and requested item of the samples, each in the state the
    delivery reports (approved, not yet provisioned)."""
    jira, github, servicenow = load(JIRA_SAMPLE), load(GITHUB_SAMPLE), load(SERVICENOW_SAMPLE)
    issue = jira["issue"]
    reached = next(i["toString"] for i in jira["changelog"]["items"] if i["fieldId"] == "status")
    repository, gh_issue = github["repository"], github["issue"]
    return [
        desk.create_jira_issue(
            issue["key"], summary=issue["fields"]["summary"], status=reached, issue_id=issue["id"]
        ),
        desk.create_github_issue(
            repository["owner"]["login"],
            repository["name"],
            gh_issue["number"],
            title=gh_issue["title"],
            body=gh_issue["body"],
            labels=[label["name"] for label in gh_issue["labels"]],
            user=gh_issue["user"]["login"],
        ),
        desk.create_servicenow_item(
            number=servicenow["number"],
            sys_id=servicenow["sys_id"],
            state=servicenow["state"],
            approval=servicenow["approval"],
            short_description=servicenow["short_description"],
            requested_for=servicenow["requested_for"]["name"],
            cat_item=servicenow["cat_item"]["name"],
        ),
    ]
