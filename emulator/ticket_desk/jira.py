"""Jira Cloud and Jira Service Management write-back endpoints, under ``/jira``.

Reproduced from the public documentation (developer.atlassian.com, Jira Cloud platform REST
API v2/v3 and the Jira Service Management ``servicedeskapi``) and from the example bodies it
publishes:

- ``POST /rest/servicedeskapi/request/{issueIdOrKey}/comment`` ``{"body", "public"}`` -> 201,
  the request comment: ``id``, ``body``, ``public``, ``author`` (accountId, emailAddress,
  displayName, active, timeZone, ``_links``), ``created`` as the DateDTO (``iso8601`` without
  milliseconds, ``jira`` with them, ``friendly`` "Today 10:22 AM", ``epochMillis``) and
  ``_links.self``. ``public`` false is an internal comment, seen by agents only. (Omitted,
  ``public`` is taken as true here.) ``GET`` of the same path lists them, paged.
- ``POST /rest/api/2/issue/{issueIdOrKey}/comment`` ``{"body": str}`` -> 201, the comment:
  ``self``, ``id``, ``author``, ``body``, ``updateAuthor``, ``created``, ``updated``
  (``2021-01-17T12:34:00.000+0000``) and ``jsdPublic`` true (the platform API always makes
  public comments). Version 3 takes and returns the body in Atlassian Document Format; a
  plain string there is a 400, "Operation value must be an Atlassian Document".
- ``GET /rest/api/{2,3}/issue/{issueIdOrKey}/transitions`` -> 200 ``{"expand":
  "transitions", "transitions": [...]}``: only those available from the current status, each
  with ``id``, ``name``, ``to`` (the status: self, description, iconUrl, name, id,
  ``statusCategory``), ``hasScreen``, ``isGlobal``, ``isInitial``, ``isAvailable``,
  ``isConditional``, ``isLooped``.
- ``POST /rest/api/{2,3}/issue/{issueIdOrKey}/transitions`` ``{"transition": {"id"}}`` -> 204
  and the status changes; an id not available from the current status -> 400
  ``{"errorMessages": ["Transition id '99' is not valid for this issue."], "errors": {}}``.
- ``GET /rest/api/{2,3}/issue/{issueIdOrKey}`` -> the issue with ``fields.status``, so a
  client can read back what it did.
- An unknown issue -> 404 ``{"errorMessages": ["Issue does not exist or you do not have
  permission to see it."], "errors": {}}``; the servicedeskapi answers in its own
  ``ErrorResponse`` shape (``errorMessage``, ``i18nErrorMessage`` with an ``i18nKey``: the
  shape is documented, the key's text here is ours).
- Credentials: HTTP Basic, the account's email and an API token; missing or wrong -> 401
  ``{"errorMessages": ["Client must be authenticated to access this resource."], "errors":
  {}}``, the message Jira Cloud gives (some sites answer it as plain text; here always JSON).
- Rate limiting ("Rate limiting" in the Jira Cloud docs): 429 with ``Retry-After`` in seconds,
  ``X-RateLimit-Reset`` (ISO 8601, ``yyyy-MM-ddTHH:mmZ``) and ``RateLimit-Reason``; the
  body's wording is ours, in Jira's error-collection shape.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from typing import Any

from werkzeug.wrappers import Request, Response

from emulator.ticket_desk.state import DeskState, Fault, JiraIssue, JiraStatus, UnknownTicket, now
from emulator.ticket_desk.wire import EmulatedApi, WireError, authorization, read_json

ISSUE_NOT_FOUND = "Issue does not exist or you do not have permission to see it."
NOT_AUTHENTICATED = "Client must be authenticated to access this resource."
NOT_ADF = "Operation value must be an Atlassian Document (see the Atlassian Document Format)"
STATUS_CATEGORIES: dict[str, tuple[int, str, str]] = {
    "new": (2, "blue-gray", "To Do"),
    "indeterminate": (4, "yellow", "In Progress"),
    "done": (3, "green", "Done"),
}


@dataclass(frozen=True)
class JiraCredentials:
    """The Atlassian account the write-back code signs in as (email and API token)."""

    email: str = "provisioner@example.com"
    api_token: str = "jira-api-token"
    account_id: str = "5b10ac8d82e05b22cc7d4ef5"
    display_name: str = "Private API Provisioner"


class JiraApi(EmulatedApi):
    system = "jira"
    prefix = "/jira"
    content_type = "application/json;charset=UTF-8"

    def __init__(self, state: DeskState, credentials: JiraCredentials) -> None:
        super().__init__(state)
        self.credentials = credentials

    def routes(self) -> list[tuple[str, list[str], str]]:
        issue = "/rest/api/<any('2','3'):version>/issue/<key>"
        request = "/rest/servicedeskapi/request/<key>"
        return [
            (f"{request}/comment", ["POST"], "add_request_comment"),
            (f"{request}/comment", ["GET"], "list_request_comments"),
            (f"{issue}/comment", ["POST"], "add_comment"),
            (f"{issue}/transitions", ["GET"], "list_transitions"),
            (f"{issue}/transitions", ["POST"], "do_transition"),
            (issue, ["GET"], "get_issue"),
        ]

    # --- the edge ---------------------------------------------------------------------------
    def authenticate(self, request: Request) -> str:
        given = authorization(request)
        expected = f"{self.credentials.email}:{self.credentials.api_token}"
        if given != ("basic", expected):
            raise WireError(401, self.error_body(401, NOT_AUTHENTICATED))
        return self.credentials.email

    def error_body(self, status: int, message: str) -> Any:
        return {"errorMessages": [message], "errors": {}}

    def fault_error(self, fault: Fault) -> WireError:
        error = super().fault_error(fault)
        if fault.status == 429:
            wait = datetime.timedelta(seconds=fault.retry_after or 0)
            error.body = self.error_body(429, "Rate limit exceeded.")
            error.headers["X-RateLimit-Reset"] = (now() + wait).strftime("%Y-%m-%dT%H:%MZ")
            error.headers["RateLimit-Reason"] = "jira-burst-based"
        return error

    def _issue(self, key: str) -> JiraIssue:
        try:
            return self.state.jira_issue(key)
        except UnknownTicket as unknown:
            raise WireError(404, self.error_body(404, ISSUE_NOT_FOUND)) from unknown

    def _body(self, request: Request) -> dict[str, Any]:
        try:
            body = read_json(request)
        except ValueError as bad:
            raise WireError(400, self.error_body(400, "Invalid request payload.")) from bad
        if not isinstance(body, dict):
            raise WireError(400, self.error_body(400, "Invalid request payload."))
        return body

    # --- Jira Service Management ------------------------------------------------------------
    def add_request_comment(self, request: Request, user: str, key: str) -> Response:
        body = self._body(request)
        text, public = body.get("body"), body.get("public", True)
        if not isinstance(text, str) or not text.strip() or not isinstance(public, bool):
            raise WireError(400, _service_desk_error("The comment body is required.", "body"))
        with self.state.change("jira") as change:
            issue = self._service_desk_issue(key)
            comment_id = str(self.state.next_id("jira-comment", 10000))
            change.record(
                issue,
                "comment",
                text,
                public=public,
                detail={"api": "servicedeskapi", "comment_id": comment_id},
            )
        return self.respond(
            201, self._request_comment(request, issue, comment_id, text, public, now())
        )

    def list_request_comments(self, request: Request, user: str, key: str) -> Response:
        with self.state.reading():
            issue = self._service_desk_issue(key)
            comments = [e for e in issue.received if e.kind == "comment"]
        base = self.base_url(request)
        values = [
            self._request_comment(
                request,
                issue,
                e.detail["comment_id"],
                e.text,
                bool(e.public),
                datetime.datetime.fromisoformat(e.at),
            )
            for e in comments
        ]
        return self.respond(
            200,
            {
                "_expands": [],
                "size": len(values),
                "start": 0,
                "limit": 50,
                "isLastPage": True,
                "_links": {"base": f"{base}/rest/servicedeskapi", "context": ""},
                "values": values,
            },
        )

    def _service_desk_issue(self, key: str) -> JiraIssue:
        try:
            return self.state.jira_issue(key)
        except UnknownTicket as unknown:
            raise WireError(
                404, _service_desk_error(ISSUE_NOT_FOUND, "request.not.found")
            ) from unknown

    def _request_comment(
        self,
        request: Request,
        issue: JiraIssue,
        comment_id: str,
        text: str,
        public: bool,
        when: datetime.datetime,
    ) -> dict[str, Any]:
        base = self.base_url(request)
        return {
            "_expands": ["attachment", "renderedBody"],
            "id": comment_id,
            "body": text,
            "public": public,
            "author": {
                "accountId": self.credentials.account_id,
                "emailAddress": self.credentials.email,
                "displayName": self.credentials.display_name,
                "active": True,
                "timeZone": "Etc/UTC",
                "_links": {
                    "jiraRest": f"{base}/rest/api/2/user?accountId={self.credentials.account_id}",
                    "avatarUrls": {},
                    "self": f"{base}/rest/api/2/user?accountId={self.credentials.account_id}",
                },
            },
            "created": _date_dto(when),
            "_links": {
                "self": f"{base}/rest/servicedeskapi/request/{issue.id}/comment/{comment_id}"
            },
        }

    # --- Jira platform ----------------------------------------------------------------------
    def add_comment(self, request: Request, user: str, version: str, key: str) -> Response:
        body = self._body(request)
        text = _comment_text(body.get("body"), version)
        if text is None:
            message = NOT_ADF if version == "3" else "Comment body can not be empty!"
            raise WireError(400, {"errorMessages": [], "errors": {"comment": message}})
        with self.state.change("jira") as change:
            issue = self._issue(key)
            comment_id = str(self.state.next_id("jira-comment", 10000))
            change.record(
                issue,
                "comment",
                text,
                public=True,
                detail={"api": f"api/{version}", "comment_id": comment_id},
            )
        base, when = self.base_url(request), _jira_time(now())
        author = self._user(base)
        return self.respond(
            201,
            {
                "self": f"{base}/rest/api/{version}/issue/{issue.id}/comment/{comment_id}",
                "id": comment_id,
                "author": author,
                "body": body["body"],
                "updateAuthor": author,
                "created": when,
                "updated": when,
                "jsdPublic": True,
            },
        )

    def list_transitions(self, request: Request, user: str, version: str, key: str) -> Response:
        with self.state.reading():
            issue = self._issue(key)
            available = issue.workflow.available_from(issue.status)
            initial = issue.workflow.statuses[0].name
        base = self.base_url(request)
        return self.respond(
            200,
            {
                "expand": "transitions",
                "transitions": [
                    {
                        "id": t.id,
                        "name": t.name,
                        "to": _status(base, version, issue.workflow.status(t.to)),
                        "hasScreen": False,
                        "isGlobal": not t.sources,
                        "isInitial": t.to == initial and not t.sources,
                        "isAvailable": True,
                        "isConditional": False,
                        "isLooped": False,
                    }
                    for t in available
                ],
            },
        )

    def do_transition(self, request: Request, user: str, version: str, key: str) -> Response:
        body = self._body(request)
        wanted = body.get("transition")
        wanted_id = str(wanted.get("id", "")) if isinstance(wanted, dict) else ""
        with self.state.change("jira") as change:
            issue = self._issue(key)
            transition = next(
                (t for t in issue.workflow.available_from(issue.status) if t.id == wanted_id),
                None,
            )
            if transition is None:
                message = f"Transition id '{wanted_id}' is not valid for this issue."
                raise WireError(400, self.error_body(400, message))
            previous, issue.status = issue.status, transition.to
            change.record(
                issue,
                "transition",
                transition.to,
                detail={"transition_id": transition.id, "name": transition.name, "from": previous},
            )
        return self.respond(204, None)

    def get_issue(self, request: Request, user: str, version: str, key: str) -> Response:
        with self.state.reading():
            issue = self._issue(key)
            status = issue.workflow.status(issue.status)
        base = self.base_url(request)
        return self.respond(
            200,
            {
                "expand": "renderedFields,names,schema,operations,editmeta,changelog",
                "id": issue.id,
                "self": f"{base}/rest/api/{version}/issue/{issue.id}",
                "key": issue.key,
                "fields": {"summary": issue.summary, "status": _status(base, version, status)},
            },
        )

    def _user(self, base: str) -> dict[str, Any]:
        return {
            "self": f"{base}/rest/api/2/user?accountId={self.credentials.account_id}",
            "accountId": self.credentials.account_id,
            "emailAddress": self.credentials.email,
            "displayName": self.credentials.display_name,
            "active": True,
            "timeZone": "Etc/UTC",
            "accountType": "atlassian",
        }


def _service_desk_error(message: str, key: str) -> dict[str, Any]:
    """The servicedeskapi's ErrorResponse (its own shape, not the platform's)."""
    return {
        "errorMessage": message,
        "i18nErrorMessage": {"i18nKey": f"sd.emulated.{key}", "parameters": []},
    }


def _comment_text(body: object, version: str) -> str | None:
    """The comment's text: a string in v2, an Atlassian Document (its text nodes) in v3."""
    if version == "2":
        return body if isinstance(body, str) and body.strip() else None
    if not isinstance(body, dict) or body.get("type") != "doc":
        return None
    texts: list[str] = []

    def walk(node: object) -> None:
        if isinstance(node, dict):
            if node.get("type") == "text" and isinstance(node.get("text"), str):
                texts.append(node["text"])
            for child in node.get("content", []) or []:
                walk(child)

    walk(body)
    return "".join(texts) or None


def _status(base: str, version: str, status: JiraStatus) -> dict[str, Any]:
    category_id, color, category_name = STATUS_CATEGORIES[status.category]
    return {
        "self": f"{base}/rest/api/{version}/status/{status.id}",
        "description": "",
        "iconUrl": f"{base}/images/icons/statuses/generic.png",
        "name": status.name,
        "id": status.id,
        "statusCategory": {
            "self": f"{base}/rest/api/{version}/statuscategory/{category_id}",
            "id": category_id,
            "key": status.category,
            "colorName": color,
            "name": category_name,
        },
    }


def _jira_time(when: datetime.datetime) -> str:
    """Jira's timestamp: ``2021-01-17T12:34:00.000+0000``."""
    return when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}" + "+0000"


def _date_dto(when: datetime.datetime) -> dict[str, Any]:
    """The servicedeskapi DateDTO: the same instant four ways."""
    return {
        "iso8601": when.strftime("%Y-%m-%dT%H:%M:%S") + "+0000",
        "jira": _jira_time(when),
        "friendly": "Today " + when.strftime("%I:%M %p"),
        "epochMillis": int(when.timestamp() * 1000),
    }
