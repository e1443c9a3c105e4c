"""GitHub REST API (version 2022-11-28) issue write-back endpoints, under ``/github`` (a
client's ``https://api.github.com`` becomes ``{github_url}``).

Reproduced from docs.github.com ("REST API endpoints for issues", "... for issue comments",
"... for labels", "Rate limits for the REST API", "Troubleshooting the REST API") and the
response examples of github/rest-api-description:

- ``POST /repos/{owner}/{repo}/issues/{issue_number}/comments`` ``{"body"}`` -> 201, the issue
  comment: ``id``, ``node_id``, ``url``, ``html_url``, ``issue_url``, ``body``, ``user``,
  ``created_at``, ``updated_at`` (``2011-04-14T16:00:49Z``), ``author_association``,
  ``reactions``; no body -> 422 "Validation Failed". ``GET`` lists them.
- ``PATCH /repos/{owner}/{repo}/issues/{issue_number}`` with ``state`` (open / closed) and
  ``state_reason`` (completed, not_planned, duplicate, reopened) -> 200, the issue. As
  documented, ``state_reason`` is ignored unless ``state`` changes; closing without one gives
  ``completed``, reopening gives ``reopened``. ``labels`` replaces the issue's labels. Other
  values -> 422 ``{"message": "Validation Failed", "errors": [{"resource": "Issue", "code":
  "invalid", "field": ...}]}``. ``GET`` returns the issue.
- ``POST /repos/{owner}/{repo}/issues/{issue_number}/labels`` ``{"labels": [...]}`` (or a bare
  array, or ``[{"name": ...}]``) -> 200, every label now on the issue; a label the repository
  does not have yet is created, as GitHub does.
- Unknown repository or issue -> 404 ``{"message": "Not Found", "documentation_url": ...,
  "status": "404"}``; a body that is no JSON -> 400 "Problems parsing JSON".
- Credentials: ``Authorization: Bearer <token>`` or ``token <token>``; none -> 401 "Requires
  authentication", a wrong one -> 401 "Bad credentials".
- Every answer carries the primary rate limit's ``x-ratelimit-limit`` / ``-remaining`` /
  ``-used`` / ``-reset`` (UTC epoch seconds) / ``-resource``. An injected 429 says the same
  wait both ways a client may read it: ``retry-after`` in seconds, and
  ``x-ratelimit-remaining: 0`` with ``x-ratelimit-reset`` that many seconds ahead.
"""

from __future__ import annotations

import base64
import datetime
import time
import zlib
from dataclasses import dataclass
from typing import Any

from werkzeug.wrappers import Request, Response

from emulator.ticket_desk.state import DeskState, Fault, GitHubIssue, UnknownTicket, now
from emulator.ticket_desk.wire import EmulatedApi, WireError, authorization, read_json

DOCS = "https://docs.github.com/rest"
STATE_REASONS = ("completed", "not_planned", "duplicate", "reopened")
HOURLY_LIMIT = 5000


@dataclass(frozen=True)
class GitHubCredentials:
    """The token the write-back code uses, and the account it belongs to."""

    token: str = "ghp_privateapiprovisionertoken0000000000"
    login: str = "privateapi-bot"


def node_id(kind: str, number: int) -> str:
    """A global node ID in GitHub's legacy form: base64 of ``0<len>:<Type><id>``."""
    return base64.b64encode(f"0{len(kind)}:{kind}{number}".encode()).decode()


def _time(when: datetime.datetime | None) -> str | None:
    return None if when is None else when.strftime("%Y-%m-%dT%H:%M:%SZ")


class GitHubApi(EmulatedApi):
    system = "github"
    prefix = "/github"
    content_type = "application/json; charset=utf-8"

    def __init__(self, state: DeskState, credentials: GitHubCredentials) -> None:
        super().__init__(state)
        self.credentials = credentials
        self._window_reset = int(time.time()) + 3600

    def routes(self) -> list[tuple[str, list[str], str]]:
        issue = "/repos/<owner>/<repo>/issues/<int:number>"
        return [
            (f"{issue}/comments", ["POST"], "create_comment"),
            (f"{issue}/comments", ["GET"], "list_comments"),
            (f"{issue}/labels", ["POST"], "add_labels"),
            (issue, ["GET"], "get_issue"),
            (issue, ["PATCH"], "update_issue"),
        ]

    # --- the edge ---------------------------------------------------------------------------
    def authenticate(self, request: Request) -> str:
        given = authorization(request)
        if given is None:
            raise WireError(401, self.error_body(401, "Requires authentication"))
        if given not in (("bearer", self.credentials.token), ("token", self.credentials.token)):
            raise WireError(401, self.error_body(401, "Bad credentials"))
        return self.credentials.login

    def error_body(self, status: int, message: str) -> Any:
        return {"message": message, "documentation_url": DOCS, "status": str(status)}

    def fault_error(self, fault: Fault) -> WireError:
        error = super().fault_error(fault)
        if fault.status == 429:
            user_id = _account_id(self.credentials.login)
            error.body = {
                "message": f"API rate limit exceeded for user ID {user_id}.",
                "documentation_url": f"{DOCS}/overview/rate-limits-for-the-rest-api",
                "status": "429",
            }
            reset = int(time.time()) + (fault.retry_after or 0)
            error.headers.update({"x-ratelimit-remaining": "0", "x-ratelimit-reset": str(reset)})
        return error

    def extra_headers(self) -> dict[str, str]:
        used = self.state.next_id("github-requests", 1)
        return {
            "x-ratelimit-limit": str(HOURLY_LIMIT),
            "x-ratelimit-remaining": str(max(HOURLY_LIMIT - used, 0)),
            "x-ratelimit-used": str(used),
            "x-ratelimit-reset": str(self._window_reset),
            "x-ratelimit-resource": "core",
            "x-github-api-version-selected": "2022-11-28",
        }

    def _issue(self, owner: str, repo: str, number: int) -> GitHubIssue:
        try:
            return self.state.github_issue(owner, repo, number)
        except UnknownTicket as unknown:
            raise WireError(404, self.error_body(404, "Not Found")) from unknown

    def _body(self, request: Request) -> Any:
        try:
            return read_json(request)
        except ValueError as bad:
            raise WireError(400, self.error_body(400, "Problems parsing JSON")) from bad

    def _invalid(self, resource: str, field: str, code: str = "invalid") -> WireError:
        return WireError(
            422,
            {
                "message": "Validation Failed",
                "errors": [{"resource": resource, "code": code, "field": field}],
                "documentation_url": DOCS,
                "status": "422",
            },
        )

    # --- comments ---------------------------------------------------------------------------
    def create_comment(
        self, request: Request, user: str, owner: str, repo: str, number: int
    ) -> Response:
        body = self._body(request)
        text = body.get("body") if isinstance(body, dict) else None
        if not isinstance(text, str) or not text.strip():
            raise self._invalid("IssueComment", "body", "missing_field")
        with self.state.change("github") as change:
            issue = self._issue(owner, repo, number)
            comment_id = self.state.next_id("github-comment", 2_100_000_001)
            issue.comments += 1
            issue.updated_at = now()
            event = change.record(
                issue, "comment", text, public=True, detail={"comment_id": str(comment_id)}
            )
        return self.respond(201, self._comment(request, issue, comment_id, text, event.at))

    def list_comments(
        self, request: Request, user: str, owner: str, repo: str, number: int
    ) -> Response:
        with self.state.reading():
            issue = self._issue(owner, repo, number)
            comments = [e for e in issue.received if e.kind == "comment"]
        return self.respond(
            200,
            [
                self._comment(request, issue, int(e.detail["comment_id"]), e.text, e.at)
                for e in comments
            ],
        )

    def _comment(
        self, request: Request, issue: GitHubIssue, comment_id: int, text: str, at: str
    ) -> dict[str, Any]:
        api = f"{self.base_url(request)}/repos/{issue.owner}/{issue.repo}"
        stamp = _time(datetime.datetime.fromisoformat(at))
        return {
            "id": comment_id,
            "node_id": node_id("IssueComment", comment_id),
            "url": f"{api}/issues/comments/{comment_id}",
            "html_url": f"https://github.com/{issue.owner}/{issue.repo}/issues/{issue.number}"
            f"#issuecomment-{comment_id}",
            "issue_url": f"{api}/issues/{issue.number}",
            "body": text,
            "user": self._user(request, self.credentials.login),
            "created_at": stamp,
            "updated_at": stamp,
            "author_association": "NONE",
            "performed_via_github_app": None,
            "reactions": _no_reactions(f"{api}/issues/comments/{comment_id}/reactions"),
        }

    # --- the issue --------------------------------------------------------------------------
    def get_issue(
        self, request: Request, user: str, owner: str, repo: str, number: int
    ) -> Response:
        with self.state.reading():
            answer = self._issue_json(request, self._issue(owner, repo, number))
        return self.respond(200, answer)

    def update_issue(
        self, request: Request, user: str, owner: str, repo: str, number: int
    ) -> Response:
        body = self._body(request)
        if not isinstance(body, dict):
            raise WireError(400, self.error_body(400, "Problems parsing JSON"))
        state, reason = body.get("state"), body.get("state_reason")
        if state is not None and state not in ("open", "closed"):
            raise self._invalid("Issue", "state")
        if reason is not None and reason not in STATE_REASONS:
            raise self._invalid("Issue", "state_reason")
        labels = body.get("labels")
        if labels is not None and _label_names(labels) is None:
            raise self._invalid("Issue", "labels")
        with self.state.change("github") as change:
            issue = self._issue(owner, repo, number)
            if state is not None and state != issue.state:
                previous, issue.state = issue.state, state
                closing = state == "closed"
                issue.state_reason = (reason or "completed") if closing else "reopened"
                issue.closed_at = now() if closing else None
                change.record(
                    issue,
                    "state",
                    state,
                    detail={"state_reason": issue.state_reason, "previous": previous},
                )
            if labels is not None:
                names = _label_names(labels) or []
                for name in names:
                    self.state.github_label(owner, repo, name)
                issue.labels = list(dict.fromkeys(names))
                change.record(issue, "label", ", ".join(issue.labels), detail={"replaced": "true"})
            for name in ("title", "body"):
                if isinstance(body.get(name), str):
                    setattr(issue, name, body[name])
            issue.updated_at = now()
            answer = self._issue_json(request, issue)
        return self.respond(200, answer)

    def add_labels(
        self, request: Request, user: str, owner: str, repo: str, number: int
    ) -> Response:
        body = self._body(request)
        names = _label_names(body.get("labels") if isinstance(body, dict) else body)
        if not names:
            raise self._invalid("Label", "labels", "missing_field")
        with self.state.change("github") as change:
            issue = self._issue(owner, repo, number)
            added = [name for name in dict.fromkeys(names) if name not in issue.labels]
            for name in names:
                self.state.github_label(owner, repo, name)
            issue.labels.extend(added)
            if added:
                change.record(
                    issue, "label", ", ".join(added), detail={"labels": ", ".join(issue.labels)}
                )
            answer = self._labels(request, issue)
        return self.respond(200, answer)

    # --- bodies -----------------------------------------------------------------------------
    def _issue_json(self, request: Request, issue: GitHubIssue) -> dict[str, Any]:
        api = f"{self.base_url(request)}/repos/{issue.owner}/{issue.repo}"
        url = f"{api}/issues/{issue.number}"
        closer = self._user(request, self.credentials.login) if issue.state == "closed" else None
        return {
            "url": url,
            "repository_url": api,
            "labels_url": f"{url}/labels{{/name}}",
            "comments_url": f"{url}/comments",
            "events_url": f"{url}/events",
            "html_url": f"https://github.com/{issue.owner}/{issue.repo}/issues/{issue.number}",
            "id": issue.id,
            "node_id": node_id("Issue", issue.id),
            "number": issue.number,
            "title": issue.title,
            "user": self._user(request, issue.user),
            "labels": self._labels(request, issue),
            "state": issue.state,
            "locked": False,
            "assignee": None,
            "assignees": [],
            "milestone": None,
            "comments": issue.comments,
            "created_at": _time(issue.created_at),
            "updated_at": _time(issue.updated_at or issue.created_at),
            "closed_at": _time(issue.closed_at),
            "author_association": "MEMBER",
            "active_lock_reason": None,
            "body": issue.body,
            "closed_by": closer,
            "reactions": _no_reactions(f"{url}/reactions"),
            "timeline_url": f"{url}/timeline",
            "performed_via_github_app": None,
            "state_reason": issue.state_reason,
        }

    def _labels(self, request: Request, issue: GitHubIssue) -> list[dict[str, Any]]:
        api = f"{self.base_url(request)}/repos/{issue.owner}/{issue.repo}"
        shown = []
        for name in issue.labels:
            label = self.state.github_label(issue.owner, issue.repo, name)
            shown.append(
                {
                    "id": label.id,
                    "node_id": node_id("Label", label.id),
                    "url": f"{api}/labels/{name}",
                    "name": name,
                    "description": label.description,
                    "color": label.color,
                    "default": False,
                }
            )
        return shown

    def _user(self, request: Request, login: str) -> dict[str, Any]:
        api, account = f"{self.base_url(request)}/users/{login}", _account_id(login)
        return {
            "login": login,
            "id": account,
            "node_id": node_id("User", account),
            "avatar_url": f"https://avatars.githubusercontent.com/u/{account}?v=4",
            "gravatar_id": "",
            "url": api,
            "html_url": f"https://github.com/{login}",
            "followers_url": f"{api}/followers",
            "repos_url": f"{api}/repos",
            "type": "User",
            "site_admin": False,
        }


def _account_id(login: str) -> int:
    """A stable account id for a login (GitHub's are plain integers)."""
    return zlib.crc32(login.encode()) % 90_000_000 + 10_000_000


def _label_names(labels: object) -> list[str] | None:
    """Label names from the documented forms: ``["a"]`` or ``[{"name": "a"}]``."""
    if not isinstance(labels, list):
        return None
    names: list[str] = []
    for label in labels:
        name = label.get("name") if isinstance(label, dict) else label
        if not isinstance(name, str) or not name.strip():
            return None
        names.append(name)
    return names


def _no_reactions(url: str) -> dict[str, Any]:
    counts = ("+1", "-1", "laugh", "hooray", "confused", "heart", "rocket", "eyes")
    return {"url": url, "total_count": 0, **dict.fromkeys(counts, 0)}
