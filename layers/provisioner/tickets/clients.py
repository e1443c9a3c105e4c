"""The three ticket systems' write-back APIs, over HTTPS with urllib3 (already in the layer:
botocore depends on it), with short timeouts and no automatic retry or redirect: a retry is
the queue's to make (``writeback``), and a redirect would carry credentials elsewhere.

Each system is a :class:`TicketClient`: ``comment`` posts a notification's comment (and, for
ServiceNow, moves the ticket in the same request when it is the final one); ``move`` moves
the ticket to where the request's outcome says (Jira: the transition whose target status has
the outcome's name, looked up on the issue, never a hard-coded id; GitHub: the outcome's label
and the issue closed, ``completed`` after SUCCEEDED, ``not_planned`` otherwise).

What a system answers becomes one of two errors: :class:`TicketSystemBusy` (429, 5xx, 408,
409, 425, a GitHub 403 that is a rate limit, no answer at all: worth trying again, after
``retry_after`` seconds when the system said so) or :class:`TicketRefused` (any other 4xx: a
deleted ticket, no permission, a request the system will never take). Neither ever carries a
credential or a header.
"""

from __future__ import annotations

import base64
import json
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import quote, urlencode

import urllib3

from provisioner.contract.progress import Status
from provisioner.contract.vocabulary import TicketSystem
from provisioner.runtime.observability import logger
from provisioner.tickets.comments import Comment
from provisioner.tickets.credentials import (
    Credentials,
    GitHubCredentials,
    JiraCredentials,
    ServiceNowBasicCredentials,
    ServiceNowOAuthCredentials,
)

CONNECT_TIMEOUT_SECONDS = 3.0
READ_TIMEOUT_SECONDS = 10.0
USER_AGENT = "private-api-provisioner"  # GitHub refuses requests without one
GITHUB_API_VERSION = "2022-11-28"
# Answers worth trying again besides 5xx: timeout, conflict, too early, too many requests
# (the statuses Jira itself retries its webhooks on).
_RETRYABLE = frozenset({408, 409, 425, 429})
_EXCERPT = 300  # characters of an error body kept for the log

_POOL = urllib3.PoolManager(
    timeout=urllib3.Timeout(connect=CONNECT_TIMEOUT_SECONDS, read=READ_TIMEOUT_SECONDS),
    retries=False,
)


class TicketWriteBackError(Exception):
    """A ticket system did not take a write-back."""

    def __init__(self, system: TicketSystem, status: int | None, detail: str) -> None:
        super().__init__(f"{system.value} answered {status or 'nothing'}: {detail}")
        self.system = system
        self.status = status
        self.detail = detail


class TicketSystemBusy(TicketWriteBackError):
    """Try again later: after ``retry_after`` seconds when the system said how long."""

    def __init__(
        self, system: TicketSystem, status: int | None, detail: str, retry_after: float | None
    ) -> None:
        super().__init__(system, status, detail)
        self.retry_after = retry_after


class TicketRefused(TicketWriteBackError):
    """The system will not take it, however often it is sent (a 4xx other than the above)."""


@dataclass(frozen=True)
class Final:
    """A final notification's move: its status and where the mapping sends the ticket (a
    Jira status name, a ServiceNow state's display value, a GitHub label)."""

    status: Status
    target: str


@dataclass(frozen=True)
class Answer:
    status: int
    headers: Any  # urllib3's HTTPHeaderDict: case-insensitive
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body) if self.body.strip() else None


def retry_after(headers: Any, now: float | None = None) -> float | None:
    """How long the system asked to wait, in seconds: ``Retry-After`` (seconds or an HTTP
    date), else GitHub's primary rate limit (``x-ratelimit-remaining: 0`` until the epoch
    second ``x-ratelimit-reset``); None when it did not say."""
    now = time.time() if now is None else now
    value = (headers.get("Retry-After") or "").strip()
    if value.isdigit():
        return float(value)
    if value:
        try:
            return max(0.0, parsedate_to_datetime(value).timestamp() - now)
        except (TypeError, ValueError, IndexError):
            pass
    reset = (headers.get("x-ratelimit-reset") or "").strip()
    if headers.get("x-ratelimit-remaining") == "0" and reset.isdigit():
        return max(0.0, int(reset) - now)
    return None


def send(
    system: TicketSystem,
    method: str,
    url: str,
    *,
    headers: dict[str, str],
    body: bytes | None = None,
) -> Answer:
    """One request; a 2xx answer, or :class:`TicketSystemBusy` / :class:`TicketRefused`."""
    try:
        response = _POOL.request(
            method, url, headers=headers, body=body, redirect=False, preload_content=True
        )
    except urllib3.exceptions.HTTPError as unreachable:  # connection refused, timeout, TLS
        raise TicketSystemBusy(system, None, type(unreachable).__name__, None) from None
    answer = Answer(response.status, response.headers, response.data or b"")
    if 200 <= answer.status < 300:
        return answer
    raise refusal(system, answer)


def refusal(system: TicketSystem, answer: Answer) -> TicketWriteBackError:
    """What a non-2xx answer means: try again (when), or never."""
    detail = answer.body[:_EXCERPT].decode("utf-8", "replace")
    # GitHub answers its rate limits with 403 as often as with 429.
    rate_limited = answer.status == 403 and bool(
        answer.headers.get("Retry-After") or answer.headers.get("x-ratelimit-remaining") == "0"
    )
    if answer.status in _RETRYABLE or answer.status >= 500 or rate_limited:
        return TicketSystemBusy(system, answer.status, detail, retry_after(answer.headers))
    return TicketRefused(system, answer.status, detail)


def _json(payload: Any) -> bytes:
    return json.dumps(payload).encode()


def _basic(user: str, secret: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{secret}".encode()).decode()


def _segment(text: str) -> str:
    return quote(text, safe="")


class TicketClient(ABC):
    system: TicketSystem

    @abstractmethod
    def comment(self, key: str, comment: Comment, final: Final | None) -> None:
        """Post the comment on the ticket ``key`` (the request's ``ticket.key``)."""

    @abstractmethod
    def move(self, key: str, final: Final) -> None:
        """Move the ticket to where the request's outcome sends it. Safe to repeat."""


# --- Jira Cloud / Jira Service Management ---------------------------------------------------------
class JiraClient(TicketClient):
    """Comments through Jira Service Management (public: the customer sees them) or, when
    the mapping says the project is no service desk, through the platform API."""

    system = TicketSystem.JIRA

    def __init__(self, credentials: JiraCredentials, *, service_desk: bool = True) -> None:
        self.base_url = credentials.base_url
        self.service_desk = service_desk
        self._headers = {
            "Authorization": _basic(credentials.email, credentials.api_token.get_secret_value()),
            "Accept": "application/json",
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
        }

    def _call(self, method: str, path: str, payload: Any = None) -> Answer:
        body = None if payload is None else _json(payload)
        return send(self.system, method, self.base_url + path, headers=self._headers, body=body)

    def comment(self, key: str, comment: Comment, final: Final | None) -> None:
        if self.service_desk:
            path = f"/rest/servicedeskapi/request/{_segment(key)}/comment"
            self._call("POST", path, {"body": comment.text, "public": True})
        else:
            self._call("POST", f"/rest/api/2/issue/{_segment(key)}/comment", {"body": comment.text})

    def move(self, key: str, final: Final) -> None:
        """The transition whose target status is named ``final.target``, from those the issue
        offers now; none (the issue may be there already, or the workflow has no way there):
        logged, and the issue left where it is."""
        path = f"/rest/api/3/issue/{_segment(key)}/transitions"
        listed = self._call("GET", path).json() or {}
        transitions = [t for t in listed.get("transitions", []) if isinstance(t, dict)]
        wanted = final.target.casefold()
        chosen = next(
            (
                t
                for t in transitions
                if str((t.get("to") or {}).get("name", "")).casefold() == wanted
            ),
            None,
        )
        if chosen is None:
            logger.warning(
                "No Jira transition leads to the outcome's status; the issue is left as it is",
                extra={
                    "target_status": final.target,
                    "available": sorted(_target_of(t) for t in transitions),
                },
            )
            return
        self._call("POST", path, {"transition": {"id": str(chosen["id"])}})


def _target_of(transition: dict[str, Any]) -> str:
    """The name of the status a Jira transition leads to."""
    return str((transition.get("to") or {}).get("name", ""))


# --- ServiceNow -----------------------------------------------------------------------------------
# OAuth access tokens, per instance and client, until shortly before they expire.
_TOKENS: dict[tuple[str, str], tuple[str, float]] = {}
_TOKEN_MARGIN_SECONDS = 60


def forget_tokens() -> None:
    _TOKENS.clear()


class ServiceNowClient(TicketClient):
    """A requested item (``sc_req_item``) through the Table API: the comment in ``comments``
    (the requester sees it), the operator's note in ``work_notes``, and, for the final
    notification, ``state`` by display value, all in one PATCH."""

    system = TicketSystem.SERVICENOW

    def __init__(
        self, credentials: ServiceNowBasicCredentials | ServiceNowOAuthCredentials
    ) -> None:
        self.credentials = credentials
        self.base_url = credentials.instance_url

    def _authorization(self, *, renew: bool = False) -> str:
        credentials = self.credentials
        if isinstance(credentials, ServiceNowBasicCredentials):
            return _basic(credentials.username, credentials.password.get_secret_value())
        return f"Bearer {self._token(credentials, renew=renew)}"

    def _token(self, credentials: ServiceNowOAuthCredentials, *, renew: bool) -> str:
        """An access token for the client credentials grant, cached until it nearly expires."""
        cache_key = (credentials.instance_url, credentials.client_id)
        cached = _TOKENS.get(cache_key)
        if cached is not None and not renew and cached[1] > time.monotonic():
            return cached[0]
        form = urlencode(
            {
                "grant_type": "client_credentials",
                "client_id": credentials.client_id,
                "client_secret": credentials.client_secret.get_secret_value(),
            }
        )
        answer = send(
            self.system,
            "POST",
            f"{self.base_url}/oauth_token.do",
            headers={
                "Content-Type": "application/x-www-form-urlencoded",
                "Accept": "application/json",
                "User-Agent": USER_AGENT,
            },
            body=form.encode(),
        )
        granted = answer.json() or {}
        token = granted.get("access_token") if isinstance(granted, dict) else None
        if not isinstance(token, str) or not token:
            raise TicketRefused(self.system, answer.status, "the token endpoint gave no token")
        lifetime = float(granted.get("expires_in") or 1800)
        _TOKENS[cache_key] = (token, time.monotonic() + lifetime - _TOKEN_MARGIN_SECONDS)
        return token

    def _patch(self, key: str, payload: dict[str, str], *, renew: bool = False) -> None:
        path = f"/api/now/table/sc_req_item/{_segment(key)}?sysparm_input_display_value=true"
        headers = {
            "Authorization": self._authorization(renew=renew),
            "Accept": "application/json",
            "Content-Type": "application/json",
            "X-no-response-body": "true",
            "User-Agent": USER_AGENT,
        }
        send(self.system, "PATCH", self.base_url + path, headers=headers, body=_json(payload))

    def comment(self, key: str, comment: Comment, final: Final | None) -> None:
        payload = {"comments": comment.text, "work_notes": comment.note}
        if final is not None:
            payload["state"] = final.target
        try:
            self._patch(key, payload)
        except TicketRefused as refused:
            oauth = isinstance(self.credentials, ServiceNowOAuthCredentials)
            if refused.status != 401 or not oauth:
                raise
            self._patch(key, payload, renew=True)  # the cached token was revoked: once more

    def move(self, key: str, final: Final) -> None:
        """Nothing more: the state moved with the final comment, in the same PATCH."""


# --- GitHub ---------------------------------------------------------------------------------------
class GitHubClient(TicketClient):
    system = TicketSystem.GITHUB

    def __init__(self, credentials: GitHubCredentials) -> None:
        self.base_url = credentials.api_url
        self._headers = {
            "Authorization": f"Bearer {credentials.token.get_secret_value()}",
            "Accept": "application/vnd.github+json",
            "X-GitHub-Api-Version": GITHUB_API_VERSION,
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
        }

    @staticmethod
    def _issue(key: str) -> str:
        """``owner/repo#17`` -> ``/repos/owner/repo/issues/17``."""
        repository, _, number = key.rpartition("#")
        owner, _, repo = repository.partition("/")
        return f"/repos/{_segment(owner)}/{_segment(repo)}/issues/{_segment(number)}"

    def _call(self, method: str, path: str, payload: Any) -> Answer:
        url = self.base_url + path
        return send(self.system, method, url, headers=self._headers, body=_json(payload))

    def comment(self, key: str, comment: Comment, final: Final | None) -> None:
        self._call("POST", f"{self._issue(key)}/comments", {"body": comment.text})

    def move(self, key: str, final: Final) -> None:
        reason = "completed" if final.status is Status.SUCCEEDED else "not_planned"
        self._call("POST", f"{self._issue(key)}/labels", {"labels": [final.target]})
        self._call("PATCH", self._issue(key), {"state": "closed", "state_reason": reason})


def client_for(credentials: Credentials, *, jira_service_desk: bool = True) -> TicketClient:
    """The client of the system these credentials are for."""
    if isinstance(credentials, JiraCredentials):
        return JiraClient(credentials, service_desk=jira_service_desk)
    if isinstance(credentials, GitHubCredentials):
        return GitHubClient(credentials)
    return ServiceNowClient(credentials)
