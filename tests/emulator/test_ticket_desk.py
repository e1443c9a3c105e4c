"""The ticket desk, driven over HTTP as the write-back code will drive the real systems.

One desk serves the module; each test starts from a reset desk (no tickets, no faults, empty
logs). Requests go through ``requests`` with the credentials and paths each system
documents; what the desk received is read back through its inspection API. Nothing here
waits on time: the on_change hook has run by the time a client has its answer, and a client
honouring ``Retry-After`` is played by recording the waits asked for instead of sleeping.
"""

from __future__ import annotations

import io
import re
import threading
import urllib.parse
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import requests

from emulator.ticket_desk import (
    DeskEvent,
    JiraCredentials,
    JiraStatus,
    JiraTransition,
    JiraWorkflow,
    TicketDesk,
    samples,
)
from emulator.ticket_desk import __main__ as ticket_desk_main
from privateapi.waiting import wait_until

pytestmark = pytest.mark.unit

TIMEOUT = 10  # seconds a single request may take before the test fails
ISSUE_NOT_FOUND = {
    "errorMessages": ["Issue does not exist or you do not have permission to see it."],
    "errors": {},
}


@pytest.fixture(scope="module")
def running_desk() -> Iterator[TicketDesk]:
    with TicketDesk() as desk:
        yield desk


@pytest.fixture
def heard() -> list[DeskEvent]:
    """What the on_change hook was told during the test."""
    return []


@pytest.fixture
def desk(running_desk: TicketDesk, heard: list[DeskEvent]) -> TicketDesk:
    running_desk.reset()
    running_desk.on_change = heard.append
    return running_desk


# --- how a client talks to each system ------------------------------------------------------
def jira(desk: TicketDesk, method: str, path: str, **kwargs: Any) -> requests.Response:
    auth = (desk.jira_credentials.email, desk.jira_credentials.api_token)
    kwargs.setdefault("auth", auth)
    return requests.request(method, desk.jira_url + path, timeout=TIMEOUT, **kwargs)


def servicenow(desk: TicketDesk, method: str, path: str, **kwargs: Any) -> requests.Response:
    credentials = desk.servicenow_credentials
    kwargs.setdefault("auth", (credentials.user, credentials.password))
    headers = {"Accept": "application/json", **kwargs.pop("headers", {})}
    url = desk.servicenow_url + path
    return requests.request(method, url, headers=headers, timeout=TIMEOUT, **kwargs)


def github(desk: TicketDesk, method: str, path: str, **kwargs: Any) -> requests.Response:
    headers = {
        "Accept": "application/vnd.github+json",
        "Authorization": f"Bearer {desk.github_credentials.token}",
        "X-GitHub-Api-Version": "2022-11-28",
        **kwargs.pop("headers", {}),
    }
    url = desk.github_url + path
    return requests.request(method, url, headers=headers, timeout=TIMEOUT, **kwargs)


def until_not_rate_limited(
    send: Callable[[], requests.Response], attempts: int = 5
) -> tuple[requests.Response, list[str]]:
    """Send until the answer is no 429, as a client honouring ``Retry-After`` does; the waits
    asked for are returned instead of slept (the desk's faults are counted, not timed)."""
    waits: list[str] = []
    for _ in range(attempts):
        response = send()
        if response.status_code != 429:
            return response, waits
        waits.append(response.headers["Retry-After"])
    raise AssertionError(f"still rate limited after {attempts} attempts (waits {waits})")


def received(desk: TicketDesk, system: str, name: str) -> list[tuple[str, str, bool | None]]:
    ticket = desk.ticket(system, name)  # type: ignore[arg-type]
    return [(event["kind"], event["text"], event["public"]) for event in ticket["received"]]


# --- Jira Service Management and Jira Cloud ---------------------------------------------------
def test_service_desk_comments_are_answered_as_documented_and_keep_their_visibility(
    desk: TicketDesk,
) -> None:
    # Given a request in Jira Service Management
    desk.create_jira_issue("OPS-42")

    # When a public and an internal comment are added through the servicedeskapi
    public = jira(
        desk,
        "POST",
        "/rest/servicedeskapi/request/OPS-42/comment",
        json={"body": "Provisioning started", "public": True},
    )
    internal = jira(
        desk,
        "POST",
        "/rest/servicedeskapi/request/OPS-42/comment",
        json={"body": "execution arn:aws:states:...", "public": False},
    )

    # Then each is a 201 with the request comment's documented fields
    assert (public.status_code, internal.status_code) == (201, 201)
    assert public.headers["Content-Type"].startswith("application/json")
    comment = internal.json()
    assert comment["body"] == "execution arn:aws:states:..."
    assert comment["public"] is False
    assert comment["author"]["emailAddress"] == desk.jira_credentials.email
    assert set(comment["created"]) == {"iso8601", "jira", "friendly", "epochMillis"}
    assert isinstance(comment["created"]["epochMillis"], int)
    assert comment["created"]["friendly"].startswith("Today ")
    assert comment["_links"]["self"].endswith(f"/comment/{comment['id']}")
    assert public.json()["id"] != comment["id"]
    # And the request received both, in order, with who may see them
    assert received(desk, "jira", "OPS-42") == [
        ("comment", "Provisioning started", True),
        ("comment", "execution arn:aws:states:...", False),
    ]


def test_a_platform_comment_is_answered_with_the_comment_resource(desk: TicketDesk) -> None:
    # Given an issue
    desk.create_jira_issue("OPS-7")

    # When a comment is added through the platform API v2
    answer = jira(desk, "POST", "/rest/api/2/issue/OPS-7/comment", json={"body": "Done."})

    # Then it is a 201 with the comment's self link, author and timestamps
    assert answer.status_code == 201
    comment = answer.json()
    assert {"self", "id", "author", "body", "updateAuthor", "created", "updated"} <= set(comment)
    assert comment["body"] == "Done."
    assert comment["created"].endswith("+0000")
    assert received(desk, "jira", "OPS-7") == [("comment", "Done.", True)]


def test_api_v3_comments_must_be_atlassian_documents(desk: TicketDesk) -> None:
    # Given an issue
    desk.create_jira_issue("OPS-8")
    document = {
        "type": "doc",
        "version": 1,
        "content": [{"type": "paragraph", "content": [{"type": "text", "text": "API ready"}]}],
    }

    # When v3 gets a plain string, then an Atlassian Document
    plain = jira(desk, "POST", "/rest/api/3/issue/OPS-8/comment", json={"body": "API ready"})
    adf = jira(desk, "POST", "/rest/api/3/issue/OPS-8/comment", json={"body": document})

    # Then the string is refused as Jira Cloud refuses it, the document is accepted
    assert plain.status_code == 400
    assert "Atlassian Document" in plain.json()["errors"]["comment"]
    assert adf.status_code == 201
    assert adf.json()["body"] == document
    assert received(desk, "jira", "OPS-8") == [("comment", "API ready", True)]


def test_a_transition_is_found_by_its_target_status_and_applied_by_id(desk: TicketDesk) -> None:
    # Given an open issue whose transition ids differ from their names
    desk.create_jira_issue("OPS-42")

    # When the client lists the transitions and picks the one that leads to "Approved"
    listed = jira(desk, "GET", "/rest/api/3/issue/OPS-42/transitions")
    transitions = listed.json()["transitions"]
    approve = next(t for t in transitions if t["to"]["name"] == "Approved")
    applied = jira(
        desk,
        "POST",
        "/rest/api/3/issue/OPS-42/transitions",
        json={"transition": {"id": approve["id"]}},
    )

    # Then only the transitions available from Open were offered, with their target status
    assert listed.status_code == 200
    assert listed.json()["expand"] == "transitions"
    assert [(t["id"], t["name"], t["to"]["name"]) for t in transitions] == [
        ("21", "Approve", "Approved"),
        ("41", "Decline", "Declined"),
    ]
    assert approve["to"]["statusCategory"]["key"] == "indeterminate"
    # And applying it is a 204 with no body, and the issue moved
    assert (applied.status_code, applied.content) == (204, b"")
    assert desk.ticket("jira", "OPS-42")["status"] == "Approved"

    # When the client then resolves it the same way
    listed = jira(desk, "GET", "/rest/api/3/issue/OPS-42/transitions").json()["transitions"]
    done = next(t for t in listed if t["to"]["statusCategory"]["key"] == "done" and t["id"] != "41")
    jira(
        desk,
        "POST",
        "/rest/api/3/issue/OPS-42/transitions",
        json={"transition": {"id": done["id"]}},
    )

    # Then the issue is Done, and reading it back says so
    issue = jira(desk, "GET", "/rest/api/3/issue/OPS-42").json()
    assert issue["fields"]["status"]["name"] == "Done"
    assert received(desk, "jira", "OPS-42") == [
        ("transition", "Approved", None),
        ("transition", "Done", None),
    ]


def test_a_transition_not_available_from_the_current_status_is_a_400(desk: TicketDesk) -> None:
    # Given an open issue ("31" leads from Approved to Done, not from Open)
    desk.create_jira_issue("OPS-42")

    # When the client applies it
    answer = jira(
        desk, "POST", "/rest/api/3/issue/OPS-42/transitions", json={"transition": {"id": "31"}}
    )

    # Then Jira's error body names the transition id, and nothing changed
    assert answer.status_code == 400
    assert answer.json() == {
        "errorMessages": ["Transition id '31' is not valid for this issue."],
        "errors": {},
    }
    assert desk.ticket("jira", "OPS-42")["status"] == "Open"
    assert received(desk, "jira", "OPS-42") == []


def test_a_workflow_seeded_from_python_offers_only_its_own_transitions(desk: TicketDesk) -> None:
    # Given a service desk workflow of two statuses and one transition, named unlike its target
    workflow = JiraWorkflow(
        statuses=(
            JiraStatus("3", "Waiting for support", "new"),
            JiraStatus("5", "Resolved", "done"),
        ),
        transitions=(
            JiraTransition("851", "Resolve this issue", "Resolved", ("Waiting for support",)),
        ),
    )
    desk.create_jira_issue("HELP-1", workflow=workflow)

    # When the client resolves the issue through the one transition offered
    offered = jira(desk, "GET", "/rest/api/2/issue/HELP-1/transitions").json()["transitions"]
    jira(
        desk,
        "POST",
        "/rest/api/2/issue/HELP-1/transitions",
        json={"transition": {"id": offered[0]["id"]}},
    )

    # Then that was 851, and from Resolved nothing more is offered
    assert [(t["id"], t["name"], t["to"]["name"]) for t in offered] == [
        ("851", "Resolve this issue", "Resolved")
    ]
    assert desk.ticket("jira", "HELP-1")["status"] == "Resolved"
    assert jira(desk, "GET", "/rest/api/2/issue/HELP-1/transitions").json()["transitions"] == []
    # And a workflow whose transition leads nowhere known is refused when it is made
    with pytest.raises(ValueError, match="unknown statuses"):
        JiraWorkflow(workflow.statuses, (JiraTransition("1", "Escalate", "Escalated"),))


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", "/rest/api/2/issue/OPS-404/comment", {"body": "x"}),
        ("GET", "/rest/api/3/issue/OPS-404/transitions", None),
        ("POST", "/rest/api/3/issue/OPS-404/transitions", {"transition": {"id": "21"}}),
    ],
)
def test_an_unknown_jira_issue_is_a_404_with_jiras_message(
    desk: TicketDesk, method: str, path: str, body: dict[str, Any] | None
) -> None:
    # Given no issue OPS-404; When a client writes back to it
    answer = jira(desk, method, path, json=body)
    # Then Jira's 404 body
    assert (answer.status_code, answer.json()) == (404, ISSUE_NOT_FOUND)


def test_jira_refuses_a_wrong_api_token(desk: TicketDesk) -> None:
    # Given an issue
    desk.create_jira_issue("OPS-42")
    # When the client signs in with the right email and a wrong token, or with nothing
    wrong = jira(
        desk,
        "POST",
        "/rest/api/2/issue/OPS-42/comment",
        json={"body": "x"},
        auth=(desk.jira_credentials.email, "revoked"),
    )
    missing = jira(desk, "GET", "/rest/api/3/issue/OPS-42/transitions", auth=None)
    # Then both are 401 with Jira's message, and the issue received nothing
    for answer in (wrong, missing):
        assert answer.status_code == 401
        assert answer.json()["errorMessages"] == [
            "Client must be authenticated to access this resource."
        ]
    assert received(desk, "jira", "OPS-42") == []


# --- ServiceNow ------------------------------------------------------------------------------
def test_a_requested_item_is_closed_by_display_value_and_its_journals_accumulate(
    desk: TicketDesk,
) -> None:
    # Given an open requested item
    item = desk.create_servicenow_item()
    path = f"/api/now/table/sc_req_item/{item['sys_id']}"

    # When the client comments, then closes it by label with a comment and a work note
    first = servicenow(desk, "PATCH", path, json={"comments": "Provisioning started"})
    closing = servicenow(
        desk,
        "PATCH",
        path,
        params={"sysparm_input_display_value": "true"},
        json={
            "comments": "Your private API is ready",
            "work_notes": "execution succeeded",
            "state": "Closed Complete",
        },
    )

    # Then each answer is the whole record, state by choice value, journals write-only
    assert (first.status_code, closing.status_code) == (200, 200)
    record = closing.json()["result"]
    assert record["number"] == item["number"]
    assert (record["state"], record["active"], record["comments"]) == ("3", "false", "")
    assert record["closed_at"] != ""
    # And reading it back with display values shows the label and every journal entry
    shown = servicenow(desk, "GET", path, params={"sysparm_display_value": "true"})
    result = shown.json()["result"]
    assert result["state"] == "Closed Complete"
    assert result["comments"].index("Your private API is ready") < result["comments"].index(
        "Provisioning started"
    )
    assert "execution succeeded" in result["work_notes"]
    # And the item received the comments (public), the work note (internal) and the state
    assert received(desk, "servicenow", item["number"]) == [
        ("comment", "Provisioning started", True),
        ("comment", "Your private API is ready", True),
        ("comment", "execution succeeded", False),
        ("state", "3", None),
    ]
    assert desk.ticket("servicenow", item["sys_id"])["status"] == "Closed Complete"


def test_a_state_is_given_by_choice_value_without_the_display_parameter(desk: TicketDesk) -> None:
    # Given two open requested items
    failed = desk.create_servicenow_item()
    mistaken = desk.create_servicenow_item()

    # When one is closed by value "4", the other by label but without the parameter
    by_value = servicenow(
        desk, "PATCH", f"/api/now/v2/table/sc_req_item/{failed['sys_id']}", json={"state": "4"}
    )
    by_label = servicenow(
        desk,
        "PATCH",
        f"/api/now/table/sc_req_item/{mistaken['sys_id']}",
        json={"state": "Closed Incomplete"},
    )

    # Then the first is Closed Incomplete; the second is stored as given, without an error,
    # as the Table API does, and is not closed
    assert by_value.json()["result"]["state"] == "4"
    assert desk.ticket("servicenow", failed["number"])["status"] == "Closed Incomplete"
    assert by_label.status_code == 200
    assert by_label.json()["result"]["active"] == "true"
    assert desk.ticket("servicenow", mistaken["number"])["state"] == "Closed Incomplete"


def test_servicenow_takes_basic_or_bearer_credentials_and_refuses_others(
    desk: TicketDesk,
) -> None:
    # Given a requested item
    item = desk.create_servicenow_item()
    path = f"/api/now/table/sc_req_item/{item['sys_id']}"
    token = desk.servicenow_credentials.bearer_token

    # When the client uses an OAuth token, a wrong password, no credentials
    bearer = servicenow(desk, "GET", path, auth=None, headers={"Authorization": f"Bearer {token}"})
    wrong = servicenow(
        desk,
        "PATCH",
        path,
        json={"comments": "x"},
        auth=(desk.servicenow_credentials.user, "expired"),
    )
    missing = servicenow(desk, "PATCH", path, json={"comments": "x"}, auth=None)

    # Then the token works; the others get ServiceNow's 401 and nothing is journaled
    assert bearer.status_code == 200
    for answer in (wrong, missing):
        assert answer.status_code == 401
        assert answer.json() == {
            "error": {
                "message": "User Not Authenticated",
                "detail": "Required to provide Auth information",
            },
            "status": "failure",
        }
    assert received(desk, "servicenow", item["number"]) == []


def test_an_unknown_sys_id_is_servicenows_404(desk: TicketDesk) -> None:
    # Given a requested item, addressed by its number instead of its sys_id, and an unknown id
    item = desk.create_servicenow_item()
    for missing in (item["number"], "0" * 32):
        # When the client patches it
        answer = servicenow(
            desk, "PATCH", f"/api/now/table/sc_req_item/{missing}", json={"comments": "x"}
        )
        # Then the Table API's 404 body
        assert answer.status_code == 404
        assert answer.json() == {
            "error": {
                "message": "No Record found",
                "detail": "Record doesn't exist or ACL restricts the record retrieval",
            },
            "status": "failure",
        }


def test_an_oauth_client_gets_a_bearer_token_for_the_client_credentials_grant(
    desk: TicketDesk,
) -> None:
    # Given a requested item and the integration's OAuth client
    item = desk.create_servicenow_item()
    credentials = desk.servicenow_credentials
    grant = {
        "grant_type": "client_credentials",
        "client_id": credentials.client_id,
        "client_secret": credentials.client_secret,
    }

    # When the client asks the token endpoint with a form, as ServiceNow documents it
    answer = requests.post(desk.servicenow_url + "/oauth_token.do", data=grant, timeout=TIMEOUT)

    # Then it gets a bearer token for a limited time, which the Table API takes
    assert answer.status_code == 200
    token = answer.json()
    assert token == {
        "access_token": credentials.bearer_token,
        "scope": "useraccount",
        "token_type": "Bearer",
        "expires_in": 1799,
    }
    assert answer.headers["Cache-Control"] == "no-store"
    patched = servicenow(
        desk,
        "PATCH",
        f"/api/now/table/sc_req_item/{item['sys_id']}",
        json={"comments": "with a token"},
        auth=None,
        headers={"Authorization": f"Bearer {token['access_token']}"},
    )
    assert patched.status_code == 200
    assert received(desk, "servicenow", item["number"]) == [("comment", "with a token", True)]
    # And the client may authenticate with HTTP Basic instead of the form's fields
    basic = requests.post(
        desk.servicenow_url + "/oauth_token.do",
        data={"grant_type": "client_credentials"},
        auth=(credentials.client_id, credentials.client_secret),
        timeout=TIMEOUT,
    )
    assert basic.status_code == 200


def test_the_token_endpoint_refuses_a_wrong_client_another_grant_and_json(
    desk: TicketDesk,
) -> None:
    credentials = desk.servicenow_credentials
    url = desk.servicenow_url + "/oauth_token.do"
    grant = {
        "grant_type": "client_credentials",
        "client_id": credentials.client_id,
        "client_secret": credentials.client_secret,
    }

    # When the client sends a wrong secret, another grant type, or JSON instead of a form
    wrong = requests.post(url, data={**grant, "client_secret": "old"}, timeout=TIMEOUT)
    password = requests.post(url, data={**grant, "grant_type": "password"}, timeout=TIMEOUT)
    as_json = requests.post(url, json=grant, timeout=TIMEOUT)

    # Then: the instance's 401, and OAuth's 400s; no token in any of them
    assert wrong.status_code == 401
    assert wrong.json() == {"error_description": "access_denied", "error": "server_error"}
    assert (password.status_code, password.json()["error"]) == (400, "unsupported_grant_type")
    assert (as_json.status_code, as_json.json()["error"]) == (400, "invalid_request")
    for answer in (wrong, password, as_json):
        assert credentials.bearer_token not in answer.text


# --- GitHub ----------------------------------------------------------------------------------
def test_an_issue_is_commented_labelled_and_closed_with_a_reason(desk: TicketDesk) -> None:
    # Given an open issue made from the request form
    desk.create_github_issue("acme", "platform-requests", 7, labels=["private-api"])
    issue = "/repos/acme/platform-requests/issues/7"

    # When the client comments, adds a label and closes it as completed
    comment = github(desk, "POST", f"{issue}/comments", json={"body": "Your API is ready."})
    labels = github(desk, "POST", f"{issue}/labels", json={"labels": ["provisioned"]})
    closed = github(desk, "PATCH", issue, json={"state": "closed", "state_reason": "completed"})

    # Then the comment is a 201 with its documented fields
    assert comment.status_code == 201
    assert comment.headers["Content-Type"] == "application/json; charset=utf-8"
    body = comment.json()
    assert {"id", "node_id", "url", "html_url", "body", "user", "created_at", "updated_at"} <= set(
        body
    )
    assert body["html_url"].endswith(f"/issues/7#issuecomment-{body['id']}")
    assert body["user"]["login"] == desk.github_credentials.login
    # And the labels answer lists every label now on the issue
    assert labels.status_code == 200
    assert [label["name"] for label in labels.json()] == ["private-api", "provisioned"]
    # And the issue is closed as completed
    assert closed.status_code == 200
    assert (closed.json()["state"], closed.json()["state_reason"]) == ("closed", "completed")
    assert closed.json()["closed_at"] is not None
    assert closed.json()["comments"] == 1
    ticket = desk.ticket("github", "acme/platform-requests#7")
    assert (ticket["state"], ticket["state_reason"]) == ("closed", "completed")
    assert received(desk, "github", "acme/platform-requests#7") == [
        ("comment", "Your API is ready.", True),
        ("label", "provisioned", None),
        ("state", "closed", None),
    ]


def test_a_state_reason_counts_only_with_a_change_of_state(desk: TicketDesk) -> None:
    # Given an open issue
    desk.create_github_issue("acme", "platform-requests", 8)
    issue = "/repos/acme/platform-requests/issues/8"

    # When a reason comes alone, then a close without a reason, then a reopen
    alone = github(desk, "PATCH", issue, json={"state_reason": "not_planned"})
    close = github(desk, "PATCH", issue, json={"state": "closed"})
    reopen = github(desk, "PATCH", issue, json={"state": "open"})
    invalid = github(desk, "PATCH", issue, json={"state": "archived"})

    # Then, as documented: ignored, completed by default, reopened; and a 422 for a bad state
    assert (alone.json()["state"], alone.json()["state_reason"]) == ("open", None)
    assert close.json()["state_reason"] == "completed"
    assert (reopen.json()["state"], reopen.json()["state_reason"]) == ("open", "reopened")
    assert invalid.status_code == 422
    assert invalid.json()["message"] == "Validation Failed"


def test_github_refuses_bad_credentials_and_unknown_issues(desk: TicketDesk) -> None:
    # Given an issue
    desk.create_github_issue("acme", "platform-requests", 7)
    comments = "/repos/acme/platform-requests/issues/7/comments"

    # When the client uses the classic "token" scheme, a wrong token, no token, another issue
    classic = github(
        desk,
        "POST",
        comments,
        json={"body": "ok"},
        headers={"Authorization": f"token {desk.github_credentials.token}"},
    )
    wrong = github(
        desk, "POST", comments, json={"body": "x"}, headers={"Authorization": "Bearer ghp_revoked"}
    )
    unknown = github(
        desk, "POST", "/repos/acme/platform-requests/issues/99/comments", json={"body": "x"}
    )

    # Then the classic scheme works; the others get GitHub's messages
    assert classic.status_code == 201
    assert (wrong.status_code, wrong.json()["message"]) == (401, "Bad credentials")
    assert "documentation_url" in wrong.json()
    assert (unknown.status_code, unknown.json()["message"]) == (404, "Not Found")
    missing = requests.post(desk.github_url + comments, json={"body": "x"}, timeout=TIMEOUT)
    assert (missing.status_code, missing.json()["message"]) == (401, "Requires authentication")
    assert received(desk, "github", "acme/platform-requests#7") == [("comment", "ok", True)]


# --- faults ----------------------------------------------------------------------------------
SENDS: dict[str, Callable[[TicketDesk], requests.Response]] = {
    "jira": lambda desk: jira(
        desk, "POST", "/rest/servicedeskapi/request/OPS-42/comment", json={"body": "retry me"}
    ),
    "servicenow": lambda desk: servicenow(
        desk,
        "PATCH",
        f"/api/now/table/sc_req_item/{desk.ticket('servicenow', 'RITM0010001')['sys_id']}",
        json={"comments": "retry me"},
    ),
    "github": lambda desk: github(
        desk, "POST", "/repos/acme/orders/issues/7/comments", json={"body": "retry me"}
    ),
}


@pytest.mark.parametrize("system", ["jira", "servicenow", "github"])
def test_rate_limited_write_backs_succeed_once_the_desk_stops_limiting(
    desk: TicketDesk, system: str
) -> None:
    # Given a ticket of each system, and the next two requests to one system rate limited
    desk.create_jira_issue("OPS-42")
    desk.create_servicenow_item()
    desk.create_github_issue("acme", "orders", 7)
    desk.inject_fault(system, 2, status=429, retry_after=3)  # type: ignore[arg-type]

    # When the client sends its comment, retrying after each 429
    answer, waits = until_not_rate_limited(lambda: SENDS[system](desk))

    # Then it was told to wait 3 s twice, and the third attempt wrote the comment once
    assert answer.status_code in (200, 201)
    assert waits == ["3", "3"]
    assert [r["status"] for r in desk.requests()] == [429, 429, answer.status_code]
    name = {"jira": "OPS-42", "servicenow": "RITM0010001", "github": "acme/orders#7"}[system]
    assert received(desk, system, name) == [("comment", "retry me", True)]


def test_a_github_rate_limit_also_says_when_through_the_primary_limit_headers(
    desk: TicketDesk,
) -> None:
    # Given an issue and one rate-limited request
    desk.create_github_issue("acme", "orders", 7)
    desk.inject_fault("github", 1, retry_after=60)

    # When the client comments
    limited = SENDS["github"](desk)
    after = SENDS["github"](desk)

    # Then the 429 says "0 remaining until reset" too; the next answer counts normally
    assert limited.status_code == 429
    assert limited.headers["x-ratelimit-remaining"] == "0"
    assert int(limited.headers["x-ratelimit-reset"]) >= int(limited.headers["Retry-After"])
    assert "rate limit" in limited.json()["message"]
    assert int(after.headers["x-ratelimit-remaining"]) > 0
    assert after.headers["x-ratelimit-resource"] == "core"


def test_server_errors_are_injected_through_the_control_api(desk: TicketDesk) -> None:
    # Given a requested item, and one 503 for ServiceNow asked for over HTTP
    desk.create_servicenow_item()
    asked = requests.post(
        desk.base_url + "/_desk/faults",
        timeout=TIMEOUT,
        json={"system": "servicenow", "count": 1, "status": 503, "retry_after": None},
    )

    # When the client writes back twice
    failed, succeeded = SENDS["servicenow"](desk), SENDS["servicenow"](desk)

    # Then the first got ServiceNow's failure envelope, the second went through
    assert (asked.status_code, asked.json()["pending"]["servicenow"]) == (201, 1)
    assert failed.status_code == 503
    assert "Retry-After" not in failed.headers
    assert failed.json()["status"] == "failure"
    assert succeeded.status_code == 200
    assert desk.pending_faults() == {"jira": 0, "servicenow": 0, "github": 0}


# --- the hook, the control API, concurrency ------------------------------------------------
def test_on_change_hears_every_write_back_in_the_order_it_arrived(
    desk: TicketDesk, heard: list[DeskEvent]
) -> None:
    # Given a ticket in each system
    desk.create_jira_issue("OPS-42")
    item = desk.create_servicenow_item()
    desk.create_github_issue("acme", "orders", 7)

    # When each receives a write-back (and one request is refused)
    jira(
        desk,
        "POST",
        "/rest/servicedeskapi/request/OPS-42/comment",
        json={"body": "internal note", "public": False},
    )
    jira(desk, "POST", "/rest/api/3/issue/OPS-42/transitions", json={"transition": {"id": "21"}})
    servicenow(desk, "PATCH", f"/api/now/table/sc_req_item/{item['sys_id']}", json={"state": "3"})
    github(desk, "POST", "/repos/acme/orders/issues/7/comments", json={"body": "done"})
    github(
        desk,
        "POST",
        "/repos/acme/orders/issues/7/comments",
        json={"body": "x"},
        headers={"Authorization": "Bearer wrong"},
    )

    # Then the hook was told about each accepted one, by the time the client had its answer
    assert [(e.system, e.ticket, e.kind, e.text) for e in heard] == [
        ("jira", "OPS-42", "comment", "internal note"),
        ("jira", "OPS-42", "transition", "Approved"),
        ("servicenow", item["number"], "state", "3"),
        ("github", "acme/orders#7", "comment", "done"),
    ]
    assert heard == desk.events()
    assert heard[0].describe() == "jira OPS-42 comment (internal): internal note"
    assert heard[2].describe() == f"servicenow {item['number']} state: Closed Complete (3)"


def test_tickets_are_seeded_and_inspected_over_the_control_api(desk: TicketDesk) -> None:
    desk_api = desk.base_url + "/_desk"
    workflow = {
        "statuses": [
            {"id": "1", "name": "Waiting for approval", "category": "new"},
            {"id": "2", "name": "Closed", "category": "done"},
        ],
        "transitions": [{"id": "761", "name": "Approve and close", "to": "Closed"}],
    }

    # When a ticket of each system is created over HTTP
    created = [
        requests.post(
            f"{desk_api}/jira/issues", timeout=TIMEOUT, json={"key": "SD-5", "workflow": workflow}
        ),
        requests.post(
            f"{desk_api}/servicenow/items",
            timeout=TIMEOUT,
            json={"number": "RITM0020002", "state": "2"},
        ),
        requests.post(
            f"{desk_api}/github/issues",
            timeout=TIMEOUT,
            json={"owner": "acme", "repo": "orders", "number": 3, "labels": ["a"]},
        ),
    ]
    duplicate = requests.post(f"{desk_api}/jira/issues", json={"key": "SD-5"}, timeout=TIMEOUT)

    # Then each is a 201 with the ticket, and a second SD-5 is a conflict
    assert [answer.status_code for answer in created] == [201, 201, 201]
    assert created[0].json()["status"] == "Waiting for approval"
    assert duplicate.status_code == 409
    # And the seeded workflow's global transition is what Jira offers
    offered = jira(desk, "GET", "/rest/api/2/issue/SD-5/transitions").json()["transitions"]
    assert [(t["id"], t["isGlobal"]) for t in offered] == [("761", True)]
    # And the control API lists them and finds each by the name people use
    listed = requests.get(f"{desk_api}/tickets", timeout=TIMEOUT).json()["tickets"]
    assert [t["id"] for t in listed] == ["SD-5", "RITM0020002", "acme/orders#3"]
    name = urllib.parse.quote("acme/orders#3", safe="")
    one = requests.get(f"{desk_api}/tickets/github/{name}", timeout=TIMEOUT)
    assert (one.status_code, one.json()["labels"]) == (200, ["a"])
    missing = requests.get(f"{desk_api}/tickets/jira/SD-6", timeout=TIMEOUT)
    assert missing.status_code == 404
    # And a reset over HTTP empties the desk
    assert requests.post(f"{desk_api}/reset", timeout=TIMEOUT).status_code == 204
    assert desk.tickets() == []


def test_concurrent_write_backs_are_all_recorded(desk: TicketDesk) -> None:
    # Given an issue, and twenty clients ready to comment at the same moment
    desk.create_jira_issue("OPS-42")
    clients = 20
    start = threading.Barrier(clients, timeout=TIMEOUT)

    def comment(number: int) -> requests.Response:
        start.wait()
        return jira(
            desk, "POST", "/rest/api/2/issue/OPS-42/comment", json={"body": f"comment {number}"}
        )

    # When they all comment at once
    with ThreadPoolExecutor(clients) as pool:
        answers = list(pool.map(comment, range(clients)))

    # Then every comment was accepted once, with an id of its own
    assert [answer.status_code for answer in answers] == [201] * clients
    assert len({answer.json()["id"] for answer in answers}) == clients
    texts = sorted(text for _, text, _ in received(desk, "jira", "OPS-42"))
    assert texts == sorted(f"comment {number}" for number in range(clients))


# --- the sample deliveries and the foreground desk ------------------------------------------
SAMPLE_NLB_ARN = (
    "arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/net/"
    "orders-service-nlb/2fc49539b3b0c1bf"
)


def issue_form_answers(body: str) -> dict[str, str | None]:
    """An issue form's body as GitHub renders it: ``### <label>``, a blank line, the answer;
    ``_No response_`` for an optional field left empty."""
    answers: dict[str, str | None] = {}
    for section in body.split("### ")[1:]:
        label, _, answer = section.partition("\n\n")
        answers[label.strip()] = None if answer.strip() == "_No response_" else answer.strip()
    return answers


def test_each_sample_delivery_carries_a_whole_request_where_the_readme_says() -> None:
    # Given the three sample deliveries
    jira_delivery, github_delivery, servicenow_delivery = (
        samples.load(samples.JIRA_SAMPLE),
        samples.load(samples.GITHUB_SAMPLE),
        samples.load(samples.SERVICENOW_SAMPLE),
    )

    # When the request's fields are read where events/tickets/README.md maps them
    fields = jira_delivery["issue"]["fields"]
    status_change = next(i for i in jira_delivery["changelog"]["items"] if i["fieldId"] == "status")
    form = issue_form_answers(github_delivery["issue"]["body"])
    variables = servicenow_delivery["variables"]
    found = {
        "jira": (
            fields["customfield_10102"],
            fields["customfield_10103"],
            fields["customfield_10104"]["value"],
            fields["reporter"]["displayName"],
        ),
        "github": (
            form["API name"],
            form["NLB ARN"],
            form["Stage name"],
            github_delivery["issue"]["user"]["login"],
        ),
        "servicenow": (
            variables["api_name"],
            variables["nlb_arn"],
            variables["stage_name"],
            servicenow_delivery["requested_for"]["user_name"],
        ),
    }

    # Then each names the orders API on the sample NLB, stage prod, reported by Dana Ortiz
    assert found == {
        "jira": ("orders", SAMPLE_NLB_ARN, "prod", "Dana Ortiz"),
        "github": ("orders", SAMPLE_NLB_ARN, "prod", "dana-ortiz"),
        "servicenow": ("orders", SAMPLE_NLB_ARN, "prod", "dana.ortiz"),
    }
    # And each is an approval, in its system's words
    assert jira_delivery["webhookEvent"] == "jira:issue_updated"
    assert isinstance(jira_delivery["timestamp"], int)
    assert (status_change["fromString"], status_change["toString"]) == ("Open", "Approved")
    assert (github_delivery["action"], github_delivery["label"]["name"]) == ("labeled", "approved")
    assert form["Notes for reviewers"] is None
    assert servicenow_delivery["approval"] == "approved"


def test_the_desk_seeds_the_tickets_the_samples_name(desk: TicketDesk) -> None:
    # When the sample tickets are seeded
    seeded = samples.seed_sample_tickets(desk)

    # Then they stand where the deliveries leave them, and take write-backs
    assert [(t["system"], t["id"], t["status"]) for t in seeded] == [
        ("jira", "OPS-42", "Approved"),
        ("github", "acme/platform-requests#17", "open"),
        ("servicenow", "RITM0010042", "Open"),
    ]
    sys_id = samples.load(samples.SERVICENOW_SAMPLE)["sys_id"]
    answer = servicenow(desk, "PATCH", f"/api/now/table/sc_req_item/{sys_id}", json={"state": "2"})
    assert answer.json()["result"]["number"] == "RITM0010042"
    # And the Jira request answers to the id the webhook gave as well as to its key
    issue_id = samples.load(samples.JIRA_SAMPLE)["issue"]["id"]
    by_id = jira(
        desk, "POST", f"/rest/servicedeskapi/request/{issue_id}/comment", json={"body": "x"}
    )
    assert by_id.status_code == 201
    assert received(desk, "jira", "OPS-42") == [("comment", "x", True)]


def test_the_foreground_desk_prints_each_write_back_as_it_arrives() -> None:
    # Given the desk run as `python -m emulator.ticket_desk`, printing to a buffer
    out, stop = io.StringIO(), threading.Event()
    exit_codes: list[int] = []
    runner = threading.Thread(
        target=lambda: exit_codes.append(ticket_desk_main.main([], stop=stop, out=out)),
        daemon=True,
    )
    runner.start()
    try:
        printed = wait_until(
            lambda: "Ready:" in out.getvalue() and out.getvalue(),
            timeout=TIMEOUT,
            what="the desk to say it is ready",
        )
        base_url = re.search(r"Ticket desk on (\S+)", printed)
        assert base_url is not None
        assert "Seeded jira OPS-42 (Approved)" in printed

        # When a client comments on the sample Jira request
        credentials = JiraCredentials()
        requests.post(
            f"{base_url[1]}/jira/rest/servicedeskapi/request/OPS-42/comment",
            json={"body": "Provisioning started", "public": True},
            auth=(credentials.email, credentials.api_token),
            timeout=TIMEOUT,
        )

        # Then the console shows it (the hook ran before the client had its answer)
        assert "jira OPS-42 comment (public): Provisioning started" in out.getvalue()
    finally:
        stop.set()
        runner.join(TIMEOUT)
    # And a stop ends it cleanly
    assert exit_codes == [0]
    assert out.getvalue().endswith("Stopped.\n")
