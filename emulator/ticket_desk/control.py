"""The desk's own HTTP API, under ``/_desk``: seed tickets, inject faults, inspect what
arrived, reset. Every endpoint is a call of the :class:`~.server.TicketDesk` Python API, so
the two cannot drift apart.

- ``GET /_desk``: the base URL of each system and the credentials it accepts.
- ``POST /_desk/jira/issues`` ``{"key", "id"?, "summary"?, "status"?, "workflow"?}``;
  ``POST /_desk/servicenow/items`` ``{"number"?, "sys_id"?, "state"?, "approval"?,
  "short_description"?, "requested_for"?, "cat_item"?}``;
  ``POST /_desk/github/issues`` ``{"owner", "repo", "number", "title"?, "body"?, "state"?,
  "labels"?}``: 201 and the ticket.
- ``POST /_desk/faults`` ``{"system", "count", "status"? (429), "retry_after"? (1)}``: the next
  ``count`` requests to that system get that answer; ``GET`` shows how many are left.
- ``GET /_desk/tickets`` (``?system=``), ``GET /_desk/tickets/{system}/{name}`` (a GitHub name
  is ``owner/repo#7``, its ``#`` sent as ``%23``), ``GET /_desk/events``, ``GET
  /_desk/requests``: what arrived, in order.
- ``POST /_desk/reset``: no tickets, no faults, empty logs.

Errors: 400 ``{"error": ...}`` for a request the desk cannot act on, 404 for an unknown ticket,
409 for a ticket that exists already.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from werkzeug.exceptions import MethodNotAllowed, NotFound
from werkzeug.routing import Map, Rule
from werkzeug.wrappers import Request, Response

from emulator.ticket_desk.state import SYSTEMS, JiraWorkflow, UnknownTicket
from emulator.ticket_desk.wire import json_response, read_json

if TYPE_CHECKING:
    from emulator.ticket_desk.server import TicketDesk

PREFIX = "/_desk"


class ControlApi:
    def __init__(self, desk: TicketDesk) -> None:
        self.desk = desk
        rules: list[tuple[str, list[str], Callable[..., Response]]] = [
            ("", ["GET"], self.index),
            ("/jira/issues", ["POST"], self.create_jira_issue),
            ("/servicenow/items", ["POST"], self.create_servicenow_item),
            ("/github/issues", ["POST"], self.create_github_issue),
            ("/faults", ["POST"], self.inject_fault),
            ("/faults", ["GET"], self.pending_faults),
            ("/tickets", ["GET"], self.tickets),
            ("/tickets/<system>/<path:name>", ["GET"], self.ticket),
            ("/events", ["GET"], self.events),
            ("/requests", ["GET"], self.requests),
            ("/reset", ["POST"], self.reset),
        ]
        self._handlers = {handler.__name__: handler for _, _, handler in rules}
        self._map = Map(
            [Rule(PREFIX + path, methods=m, endpoint=h.__name__) for path, m, h in rules],
            strict_slashes=False,
        )

    def answer(self, request: Request) -> Response:
        try:
            endpoint, args = self._map.bind("desk").match(request.path, method=request.method)
            return self._handlers[str(endpoint)](request, **args)
        except NotFound:
            return json_response(404, {"error": f"no desk endpoint {request.path}"})
        except MethodNotAllowed:
            return json_response(405, {"error": f"{request.method} {request.path} not allowed"})
        except UnknownTicket as unknown:
            return json_response(404, {"error": f"no such ticket: {unknown}"})
        except FileExistsError as exists:
            return json_response(409, {"error": str(exists)})
        except (ValueError, KeyError, TypeError) as bad:
            return json_response(400, {"error": f"{type(bad).__name__}: {bad}"})

    @staticmethod
    def _body(request: Request) -> dict[str, Any]:
        body = read_json(request)
        if not isinstance(body, dict):
            raise TypeError("the body must be a JSON object")
        return body

    # --- endpoints --------------------------------------------------------------------------
    def index(self, request: Request) -> Response:
        return json_response(200, self.desk.describe())

    def create_jira_issue(self, request: Request) -> Response:
        body = self._body(request)
        workflow = body.get("workflow")
        ticket = self.desk.create_jira_issue(
            body["key"],
            summary=body.get("summary", ""),
            status=body.get("status"),
            workflow=JiraWorkflow.from_json(workflow) if workflow else None,
            issue_id=body.get("id"),
        )
        return json_response(201, ticket)

    def create_servicenow_item(self, request: Request) -> Response:
        body = self._body(request)
        known = (
            "number",
            "sys_id",
            "state",
            "approval",
            "short_description",
            "requested_for",
            "cat_item",
        )
        unknown = set(body) - set(known)
        if unknown:
            raise ValueError(f"unknown fields {sorted(unknown)}")
        return json_response(201, self.desk.create_servicenow_item(**body))

    def create_github_issue(self, request: Request) -> Response:
        body = self._body(request)
        ticket = self.desk.create_github_issue(
            body["owner"],
            body["repo"],
            int(body["number"]),
            title=body.get("title", ""),
            body=body.get("body", ""),
            state=body.get("state", "open"),
            labels=list(body.get("labels", [])),
        )
        return json_response(201, ticket)

    def inject_fault(self, request: Request) -> Response:
        body = self._body(request)
        self.desk.inject_fault(
            body["system"],
            int(body["count"]),
            status=int(body.get("status", 429)),
            retry_after=body.get("retry_after", 1),
        )
        return json_response(201, {"pending": self.desk.pending_faults()})

    def pending_faults(self, request: Request) -> Response:
        return json_response(200, {"pending": self.desk.pending_faults()})

    def tickets(self, request: Request) -> Response:
        system = request.args.get("system")
        tickets = [t for t in self.desk.tickets() if system in (None, t["system"])]
        return json_response(200, {"tickets": tickets})

    def ticket(self, request: Request, system: str, name: str) -> Response:
        if system not in SYSTEMS:
            raise ValueError(f"system must be one of {', '.join(SYSTEMS)}")
        return json_response(200, self.desk.ticket(system, name))

    def events(self, request: Request) -> Response:
        return json_response(200, {"events": [e.to_json() for e in self.desk.events()]})

    def requests(self, request: Request) -> Response:
        return json_response(200, {"requests": self.desk.requests()})

    def reset(self, request: Request) -> Response:
        self.desk.reset()
        return json_response(204, None)
