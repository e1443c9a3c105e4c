"""The ticket desk: one threaded HTTP server on 127.0.0.1 answering the write-back endpoints
of Jira (``/jira``), ServiceNow (``/servicenow``) and GitHub (``/github``), and its own
control API (``/_desk``).

A client is pointed at :attr:`TicketDesk.jira_url`, :attr:`~TicketDesk.servicenow_url` or
:attr:`~TicketDesk.github_url` where it would use ``https://<site>.atlassian.net``,
``https://<instance>.service-now.com`` or ``https://api.github.com``, and appends the paths
the systems document. Injected faults are answered before credentials are checked, so
"the next N requests" means exactly that.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable, Iterable
from types import TracebackType
from typing import Any, Self

from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server
from werkzeug.wrappers import Request, Response

from emulator.ticket_desk.control import PREFIX as CONTROL_PREFIX
from emulator.ticket_desk.control import ControlApi
from emulator.ticket_desk.github import GitHubApi, GitHubCredentials
from emulator.ticket_desk.jira import JiraApi, JiraCredentials
from emulator.ticket_desk.servicenow import ServiceNowApi, ServiceNowCredentials
from emulator.ticket_desk.state import (
    DEFAULT_JIRA_WORKFLOW,
    DeskEvent,
    DeskState,
    JiraWorkflow,
    System,
)
from emulator.ticket_desk.wire import EmulatedApi, basic_header, json_response

type ChangeHook = Callable[[DeskEvent], object]
type StartResponse = Callable[..., Any]


class _QuietRequestHandler(WSGIRequestHandler):
    """Werkzeug's handler without a log line per request (tests and consoles stay readable)."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        pass


class TicketDesk:
    """Emulated Jira, ServiceNow and GitHub ticket write-back APIs on 127.0.0.1.

    ``on_change`` is called with a :class:`DeskEvent` for every comment, transition, state
    change and label that arrives, in the request's thread, before the client gets its
    answer. It can also be set later as the ``on_change`` attribute.
    """

    def __init__(
        self,
        port: int | None = None,
        *,
        on_change: ChangeHook | None = None,
        jira: JiraCredentials | None = None,
        servicenow: ServiceNowCredentials | None = None,
        github: GitHubCredentials | None = None,
    ) -> None:
        self._requested_port = port or 0
        self._state = DeskState()
        self._state.on_change = on_change
        self.jira_credentials = jira or JiraCredentials()
        self.servicenow_credentials = servicenow or ServiceNowCredentials()
        self.github_credentials = github or GitHubCredentials()
        self._apis: list[EmulatedApi] = [
            JiraApi(self._state, self.jira_credentials),
            ServiceNowApi(self._state, self.servicenow_credentials),
            GitHubApi(self._state, self.github_credentials),
        ]
        self._control = ControlApi(self)
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None

    # --- lifecycle --------------------------------------------------------------------------
    def start(self) -> Self:
        if self._server is not None:
            raise RuntimeError("the ticket desk is already running")
        self._server = make_server(
            "127.0.0.1",
            self._requested_port,
            self._wsgi,
            threaded=True,
            request_handler=_QuietRequestHandler,
        )
        # A short poll interval: stop() waits for the loop to notice, which a test pays for.
        serve = functools.partial(self._server.serve_forever, poll_interval=0.05)
        self._thread = threading.Thread(target=serve, name=f"ticket-desk-{self.port}", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        server, thread = self._server, self._thread
        self._server, self._thread = None, None
        if server is not None:
            server.shutdown()
            server.server_close()
        if thread is not None:
            thread.join(timeout=10)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    # --- where it answers -------------------------------------------------------------------
    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("the ticket desk is not running")
        return self._server.port

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def jira_url(self) -> str:
        """Where ``https://<site>.atlassian.net`` would be: append ``/rest/...``."""
        return self.base_url + JiraApi.prefix

    @property
    def servicenow_url(self) -> str:
        """Where ``https://<instance>.service-now.com`` would be: append ``/api/now/...``."""
        return self.base_url + ServiceNowApi.prefix

    @property
    def github_url(self) -> str:
        """Where ``https://api.github.com`` would be: append ``/repos/...``."""
        return self.base_url + GitHubApi.prefix

    @property
    def on_change(self) -> ChangeHook | None:
        return self._state.on_change

    @on_change.setter
    def on_change(self, hook: ChangeHook | None) -> None:
        self._state.on_change = hook

    def describe(self) -> dict[str, Any]:
        """The base URLs and the credentials each system accepts (``GET /_desk``)."""
        jira, now, github = (
            self.jira_credentials,
            self.servicenow_credentials,
            self.github_credentials,
        )
        return {
            "jira": {
                "url": self.jira_url,
                "email": jira.email,
                "api_token": jira.api_token,
                "authorization": basic_header(jira.email, jira.api_token),
            },
            "servicenow": {
                "url": self.servicenow_url,
                "user": now.user,
                "password": now.password,
                "bearer_token": now.bearer_token,
                "client_id": now.client_id,
                "client_secret": now.client_secret,
                "token_url": self.servicenow_url + "/oauth_token.do",
                "authorization": basic_header(now.user, now.password),
            },
            "github": {
                "url": self.github_url,
                "token": github.token,
                "login": github.login,
                "authorization": f"Bearer {github.token}",
            },
        }

    # --- seeding ----------------------------------------------------------------------------
    def create_jira_issue(
        self,
        key: str,
        *,
        summary: str = "",
        status: str | None = None,
        workflow: JiraWorkflow | None = None,
        issue_id: str | None = None,
    ) -> dict[str, Any]:
        """A Jira issue in ``status`` (the workflow's first status by default) of ``workflow``
        (by default Open -> Approved -> Done, or Declined; transition ids 21, 31, 41, 51),
        with the numeric ``issue_id`` a webhook named (the desk numbers it otherwise)."""
        issue = self._state.add_jira_issue(
            key,
            summary=summary,
            status=status,
            workflow=workflow or DEFAULT_JIRA_WORKFLOW,
            issue_id=issue_id,
        )
        return issue.to_json()

    def create_servicenow_item(
        self,
        *,
        number: str | None = None,
        sys_id: str | None = None,
        state: str = "1",
        approval: str = "approved",
        short_description: str = "",
        requested_for: str = "Ada Lovelace",
        cat_item: str = "Private API",
    ) -> dict[str, Any]:
        """A requested item (``RITM0010001``, ``RITM0010002``, ... unless ``number`` is given;
        a random sys_id unless given), state by choice value (``"1"``, Open)."""
        item = self._state.add_servicenow_item(
            number=number,
            sys_id=sys_id,
            state=state,
            approval=approval,
            short_description=short_description,
            requested_for=requested_for,
            cat_item=cat_item,
        )
        return item.to_json()

    def create_github_issue(
        self,
        owner: str,
        repo: str,
        number: int,
        *,
        title: str = "",
        body: str = "",
        state: str = "open",
        labels: Iterable[str] = (),
        user: str = "octo-requester",
    ) -> dict[str, Any]:
        issue = self._state.add_github_issue(
            owner, repo, number, title=title, body=body, state=state, labels=list(labels), user=user
        )
        return issue.to_json()

    # --- faults -----------------------------------------------------------------------------
    def inject_fault(
        self, system: System, count: int, *, status: int = 429, retry_after: int | None = 1
    ) -> None:
        """Answer the next ``count`` requests to ``system`` with ``status`` (429, or a 5xx),
        with ``Retry-After: retry_after`` seconds unless it is ``None``."""
        self._state.add_faults(system, count, status, retry_after)

    def pending_faults(self) -> dict[str, int]:
        return self._state.pending_faults()

    # --- inspection -------------------------------------------------------------------------
    def tickets(self) -> list[dict[str, Any]]:
        """Every ticket with what it received, in order, and where it stands now."""
        with self._state.reading():
            return [ticket.to_json() for ticket in self._state.all_tickets()]

    def ticket(self, system: System, name: str) -> dict[str, Any]:
        """One ticket: ``OPS-42``, ``RITM0010001`` (or its sys_id), ``owner/repo#7``."""
        with self._state.reading():
            return self._state.find(system, name).to_json()

    def events(self) -> list[DeskEvent]:
        """Every write-back the desk received, in the order it received them."""
        return self._state.events()

    def requests(self) -> list[dict[str, Any]]:
        """Every request to the three APIs and the status it was answered with."""
        return [record.to_json() for record in self._state.requests()]

    def reset(self) -> None:
        """No tickets, no faults, empty logs; the server, credentials and hook stay."""
        self._state.reset()

    # --- the WSGI application ---------------------------------------------------------------
    def _wsgi(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        request = Request(environ)
        response = self._answer(request)
        return response(environ, start_response)

    def _answer(self, request: Request) -> Response:
        path = request.path
        if path == CONTROL_PREFIX or path.startswith(CONTROL_PREFIX + "/"):
            return self._control.answer(request)
        for api in self._apis:
            if path.startswith(api.prefix + "/"):
                return api.answer(request, path.removeprefix(api.prefix))
        return json_response(
            404, {"error": f"no ticket system at {path}; use /jira, /servicenow, /github, /_desk"}
        )
