"""ServiceNow Table API for requested items (``sc_req_item``), under ``/servicenow``.

Reproduced from ServiceNow's "Table API" reference (``Table - PATCH
/now/table/{tableName}/{sys_id}``, ``GET`` and ``PUT`` likewise), its "Inbound REST API rate
limiting" page, and error bodies captured from real instances:

- ``PATCH`` (or ``PUT``) ``/api/now/table/sc_req_item/{sys_id}`` (also the versioned
  ``/api/now/v2/table/...``) with a JSON body of field names and values -> 200 ``{"result":
  {...the whole record...}}``. ``comments`` (Additional comments, seen by the requester) and
  ``work_notes`` (seen by the fulfillers only) are journal fields: each write appends an
  entry, and the record answers them as ``""`` (as the documented example does) unless display
  values are asked for, when they render the journal, newest first.
- ``state`` is a choice field: by default the request gives and the answer returns the
  choice's value (``"3"``); with ``sysparm_input_display_value=true`` the request gives the
  label (``"Closed Complete"``), and ``sysparm_display_value=true|all`` answers with labels
  (and reference fields as ``display_value``). A value that is no choice is stored as given,
  without an error, as the Table API does: a client that sends a label without the parameter
  leaves the item in a state no list shows. Closing (3, 4, 7) clears ``active`` and sets
  ``closed_at`` / ``closed_by``, the work of the platform's "mark closed" business rule.
- ``X-no-response-body: true`` answers 200 without a body.
- Unknown sys_id -> 404 ``{"error": {"message": "No Record found", "detail": "Record doesn't
  exist or ACL restricts the record retrieval"}, "status": "failure"}``; an unknown table ->
  400 ``Invalid table``; an unknown path -> 400 "Requested URI does not represent any
  resource".
- Credentials: HTTP Basic (user and password) or an OAuth bearer token; missing or wrong ->
  401 ``{"error": {"message": "User Not Authenticated", "detail": "Required to provide Auth
  information"}, "status": "failure"}``.
- OAuth client credentials grant ("Client credentials grant workflow", Washington DC and
  later; "OAuth API request parameters"): ``POST /oauth_token.do``, a URL-encoded form body
  (``application/x-www-form-urlencoded``; the documentation warns JSON does not work) with
  ``grant_type=client_credentials``, ``client_id``, ``client_secret`` (also accepted as HTTP
  Basic, RFC 6749's ``client_secret_basic``) and an optional ``scope`` -> 200 ``{"access_token",
  "scope": "useraccount", "token_type": "Bearer", "expires_in": 1799}`` (no refresh token for
  this grant). A wrong client -> 401 ``{"error_description": "access_denied", "error":
  "server_error"}``, the answer instances give; another grant type -> 400
  ``unsupported_grant_type`` and a body that is no form -> 400 ``invalid_request`` (RFC 6749's
  error codes; the wording is ours). The token is :attr:`ServiceNowCredentials.bearer_token`.
- Rate limit: 429 ``{"error": {"message": "Rate limit exceeded", "detail": "Rate limit of 100
  requests per hour for Table API exceeded"}, "status": "failure"}`` with ``Retry-After`` in
  seconds and ``X-RateLimit-Limit`` / ``X-RateLimit-Reset`` (UNIX time) / ``X-RateLimit-Rule``.
"""

from __future__ import annotations

import datetime
import uuid
from dataclasses import dataclass
from typing import Any

from werkzeug.wrappers import Request, Response

from emulator.ticket_desk.state import (
    SERVICENOW_CLOSED_STATES,
    SERVICENOW_STATES,
    Change,
    DeskState,
    Fault,
    ServiceNowItem,
    now,
)
from emulator.ticket_desk.wire import EmulatedApi, WireError, authorization, read_json

TABLE = "sc_req_item"
RATE_LIMIT_RULE = "0e7b0fd1db3a1010a1c2f4b2ca961934"
# Fields a client may set besides state and the journals (others are ignored, as the Table
# API ignores names that are no field of the table).
UPDATABLE = ("short_description", "description", "close_notes", "stage", "assignment_group")


@dataclass(frozen=True)
class ServiceNowCredentials:
    """The integration user: Basic auth with ``user`` / ``password``, or an OAuth access
    token (``bearer_token``), which ``POST /oauth_token.do`` gives the OAuth client
    ``client_id`` / ``client_secret`` for ``token_lifetime`` seconds."""

    user: str = "privateapi.integration"
    password: str = "servicenow-password"
    bearer_token: str = "servicenow-oauth-token"
    client_id: str = "3d5e2f0c9a8b47e6a1b2c3d4e5f60718"
    client_secret: str = "servicenow-client-secret"
    token_lifetime: int = 1799

    def token_answer(self) -> dict[str, Any]:
        """What the instance's token endpoint answers the client credentials grant."""
        return {
            "access_token": self.bearer_token,
            "scope": "useraccount",
            "token_type": "Bearer",
            "expires_in": self.token_lifetime,
        }


TOKEN_PATH = "/oauth_token.do"


def _oauth_error(error: str, description: str) -> dict[str, str]:
    return {"error_description": description, "error": error}


def _failure(message: str, detail: str | None) -> dict[str, Any]:
    return {"error": {"message": message, "detail": detail}, "status": "failure"}


class ServiceNowApi(EmulatedApi):
    system = "servicenow"
    prefix = "/servicenow"
    content_type = "application/json;charset=UTF-8"

    def __init__(self, state: DeskState, credentials: ServiceNowCredentials) -> None:
        super().__init__(state)
        self.credentials = credentials

    def routes(self) -> list[tuple[str, list[str], str]]:
        record = "/table/<table>/<sys_id>"
        paths = [f"/api/now{record}", f"/api/now/<any('v1','v2'):api_version>{record}"]
        return [
            route
            for path in paths
            for route in ((path, ["GET"], "get_record"), (path, ["PATCH", "PUT"], "update_record"))
        ]

    # --- the edge ---------------------------------------------------------------------------
    def _dispatch(self, request: Request, path: str) -> Response:
        """The token endpoint authenticates the OAuth client itself; every other path takes
        the user's credentials."""
        if path.rstrip("/") == TOKEN_PATH:
            try:
                return self._issue_token(request)
            except WireError as error:
                return self.respond_error(error)
        return super()._dispatch(request, path)

    def _issue_token(self, request: Request) -> Response:
        if request.method != "POST":
            raise WireError(405, _oauth_error("invalid_request", "POST the grant as a form"))
        if request.mimetype != "application/x-www-form-urlencoded":
            raise WireError(400, _oauth_error("invalid_request", "the body must be a form"))
        form = request.form
        if form.get("grant_type") != "client_credentials":
            raise WireError(400, _oauth_error("unsupported_grant_type", "client_credentials only"))
        client = (form.get("client_id", ""), form.get("client_secret", ""))
        basic = authorization(request)
        if basic is not None and basic[0] == "basic":
            client_id, _, secret = basic[1].partition(":")
            client = (client_id, secret)
        expected = (self.credentials.client_id, self.credentials.client_secret)
        if client != expected:
            raise WireError(401, {"error_description": "access_denied", "error": "server_error"})
        return self.respond(200, self.credentials.token_answer(), {"Cache-Control": "no-store"})

    def authenticate(self, request: Request) -> str:
        given = authorization(request)
        basic = ("basic", f"{self.credentials.user}:{self.credentials.password}")
        if given not in (basic, ("bearer", self.credentials.bearer_token)):
            raise WireError(
                401,
                _failure("User Not Authenticated", "Required to provide Auth information"),
                {"WWW-Authenticate": 'BASIC realm="Service-now"'},
            )
        return self.credentials.user

    def error_body(self, status: int, message: str) -> Any:
        return _failure(message, None)

    def unknown_route(self) -> WireError:
        return WireError(400, _failure("Requested URI does not represent any resource", None))

    def fault_error(self, fault: Fault) -> WireError:
        error = super().fault_error(fault)
        if fault.status == 429:
            reset = now() + datetime.timedelta(seconds=fault.retry_after or 0)
            error.body = _failure(
                "Rate limit exceeded", "Rate limit of 100 requests per hour for Table API exceeded"
            )
            error.headers.update(
                {
                    "X-RateLimit-Limit": "100",
                    "X-RateLimit-Reset": str(int(reset.timestamp())),
                    "X-RateLimit-Rule": RATE_LIMIT_RULE,
                }
            )
        return error

    def _item(self, table: str, sys_id: str) -> ServiceNowItem:
        if table != TABLE:
            raise WireError(
                400, _failure(f"Invalid table {table}", f"Table {table} does not exist")
            )
        item = self.state.servicenow.get(sys_id)
        if item is None:
            raise WireError(
                404,
                _failure(
                    "No Record found", "Record doesn't exist or ACL restricts the record retrieval"
                ),
            )
        return item

    # --- endpoints --------------------------------------------------------------------------
    def get_record(
        self, request: Request, user: str, table: str, sys_id: str, **_: str
    ) -> Response:
        with self.state.reading():
            record = self._record(self._item(table, sys_id), request)
        return self.respond(200, {"result": record})

    def update_record(
        self, request: Request, user: str, table: str, sys_id: str, **_: str
    ) -> Response:
        try:
            body = read_json(request)
        except ValueError as bad:
            raise WireError(
                400, _failure("Exception while reading request", "The payload is not valid JSON.")
            ) from bad
        if not isinstance(body, dict):
            raise WireError(400, _failure("Exception while reading request", "Expected an object."))
        by_label = request.args.get("sysparm_input_display_value", "false").lower() == "true"
        with self.state.change("servicenow") as change:
            item = self._item(table, sys_id)
            when = now()
            for journal, public in (("comments", True), ("work_notes", False)):
                text = body.get(journal)
                if isinstance(text, str) and text.strip():
                    item.journal.append((journal, text, when, user))
                    change.record(item, "comment", text, public=public, detail={"journal": journal})
            if "state" in body:
                self._set_state(item, str(body["state"]), by_label, user, when, change)
            if "approval" in body:
                item.approval = str(body["approval"])
            item.fields.update({name: str(body[name]) for name in UPDATABLE if name in body})
            item.mod_count, item.updated_at, item.updated_by = item.mod_count + 1, when, user
            record = self._record(item, request)
        if request.headers.get("X-no-response-body", "").lower() == "true":
            return self.respond(200, None)
        return self.respond(200, {"result": record})

    def _set_state(
        self,
        item: ServiceNowItem,
        given: str,
        by_label: bool,
        user: str,
        when: datetime.datetime,
        change: Change,
    ) -> None:
        """The state by choice value, or by label when the client said it sends labels."""
        labels = {label: value for value, label in SERVICENOW_STATES.items()}
        value = labels.get(given, given) if by_label else given
        if value == item.state:
            return
        previous, item.state = item.state, value
        if value in SERVICENOW_CLOSED_STATES:
            item.closed_at, item.closed_by = when, user
        else:
            item.closed_at, item.closed_by = None, ""
        change.record(
            item,
            "state",
            value,
            detail={"display": SERVICENOW_STATES.get(value, value), "previous": previous},
        )

    # --- the record as the Table API shows it -----------------------------------------------
    def _record(self, item: ServiceNowItem, request: Request) -> dict[str, Any]:
        mode = request.args.get("sysparm_display_value", "false").lower()
        base = self.base_url(request)
        plain: dict[str, tuple[str, str]] = {
            "sys_id": (item.sys_id, item.sys_id),
            "number": (item.number, item.number),
            "state": (item.state, SERVICENOW_STATES.get(item.state, item.state)),
            "approval": (item.approval, item.approval.capitalize()),
            "active": (str(item.active).lower(), str(item.active).lower()),
            "short_description": (item.short_description, item.short_description),
            "stage": (item.fields.get("stage", "fulfillment"),) * 2,
            "quantity": ("1", "1"),
            "opened_at": (_glide_time(item.opened_at),) * 2,
            "closed_at": (_glide_time(item.closed_at),) * 2,
            "sys_created_on": (_glide_time(item.opened_at),) * 2,
            "sys_created_by": ("admin", "admin"),
            "sys_updated_on": (_glide_time(item.updated_at or item.opened_at),) * 2,
            "sys_updated_by": (item.updated_by, item.updated_by),
            "sys_mod_count": (str(item.mod_count), str(item.mod_count)),
            "sys_class_name": (TABLE, "Requested Item"),
            **{name: (value, value) for name, value in item.fields.items() if name != "stage"},
        }
        for journal in ("comments", "work_notes", "comments_and_work_notes"):
            plain[journal] = ("", _journal(item, journal))
        references = {
            "cat_item": ("sc_cat_item", item.cat_item),
            "requested_for": ("sys_user", item.requested_for),
            "opened_by": ("sys_user", item.requested_for),
            "closed_by": ("sys_user", item.closed_by),
        }
        record = {name: _shown(value, label, mode) for name, (value, label) in plain.items()}
        for name, (table, display) in references.items():
            record[name] = _reference(base, table, display, mode)
        return record


def _shown(value: str, label: str, mode: str) -> Any:
    if mode == "true":
        return label
    if mode == "all":
        return {"display_value": label, "value": value}
    return value


def _reference(base: str, table: str, display: str, mode: str) -> Any:
    """A reference field: empty, or the referenced record's sys_id and link (and its
    display value when asked for)."""
    if not display:
        return ""
    sys_id = uuid.uuid5(uuid.NAMESPACE_URL, f"{table}/{display}").hex
    link = f"{base}/api/now/table/{table}/{sys_id}"
    if mode == "true":
        return {"display_value": display, "link": link}
    if mode == "all":
        return {"display_value": display, "link": link, "value": sys_id}
    return {"link": link, "value": sys_id}


def _journal(item: ServiceNowItem, which: str) -> str:
    """A journal field's display value: its entries, newest first."""
    names = {"comments": "Additional comments", "work_notes": "Work notes"}
    shown = [
        f"{_glide_time(when)} - {user} ({names[field]})\n{text}\n"
        for field, text, when, user in reversed(item.journal)
        if which in (field, "comments_and_work_notes")
    ]
    return "\n".join(shown)


def _glide_time(when: datetime.datetime | None) -> str:
    """ServiceNow's date-time: ``2016-01-22 14:12:37`` (UTC), empty when unset."""
    return "" if when is None else when.strftime("%Y-%m-%d %H:%M:%S")
