"""What the three emulated APIs share on the wire: JSON answers, errors raised where they are
found and answered in the system's own shape at the edge, credentials from the
``Authorization`` header, and the dispatch of a request to a handler.

Each system (:mod:`.jira`, :mod:`.servicenow`, :mod:`.github`) is an :class:`EmulatedApi`: its
routes, how it checks credentials, how its errors and its rate-limit answers look.
"""

from __future__ import annotations

import base64
import binascii
import json
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from typing import Any

from werkzeug.exceptions import MethodNotAllowed, NotFound
from werkzeug.routing import Map, Rule
from werkzeug.wrappers import Request, Response

from emulator.ticket_desk.state import DeskState, Fault, RequestRecord, System

type Handler = Callable[..., Response]


class WireError(Exception):
    """A non-2xx answer: raised where the fault is found, rendered by the system's API."""

    def __init__(self, status: int, body: Any, headers: Mapping[str, str] | None = None) -> None:
        super().__init__(f"HTTP {status}: {body!r}")
        self.status = status
        self.body = body
        self.headers = dict(headers or {})


def json_response(
    status: int,
    body: Any,
    *,
    content_type: str = "application/json",
    headers: Mapping[str, str] | None = None,
) -> Response:
    """``body`` as JSON (no body at all for ``None``, as a 204 has)."""
    payload = b"" if body is None else json.dumps(body).encode()
    response = Response(payload, status=status, headers=dict(headers or {}))
    if body is not None:
        response.headers["Content-Type"] = content_type
    else:
        response.headers.remove("Content-Type")
    return response


def read_json(request: Request) -> Any:
    """The request's JSON body; ``ValueError`` when it is not JSON (each API words that)."""
    raw = request.get_data(cache=True)
    if not raw.strip():
        raise ValueError("empty body")
    return json.loads(raw)


def authorization(request: Request) -> tuple[str, str] | None:
    """``(scheme, credentials)`` of the ``Authorization`` header, the scheme in lower case;
    for Basic the credentials are decoded to ``user:secret``."""
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.strip().partition(" ")
    if not scheme or not value.strip():
        return None
    scheme = scheme.lower()
    if scheme == "basic":
        try:
            value = base64.b64decode(value.strip(), validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            return None
    return scheme, value.strip()


def basic_header(user: str, secret: str) -> str:
    """An ``Authorization`` header value for HTTP Basic, as a client sends it."""
    return "Basic " + base64.b64encode(f"{user}:{secret}".encode()).decode()


class EmulatedApi(ABC):
    """One ticket system's REST API under a path prefix of the desk."""

    system: System
    prefix: str
    content_type = "application/json"

    def __init__(self, state: DeskState) -> None:
        self.state = state
        self._map = Map(
            [Rule(path, methods=methods, endpoint=name) for path, methods, name in self.routes()],
            strict_slashes=False,
        )

    @abstractmethod
    def routes(self) -> list[tuple[str, list[str], str]]:
        """``(path pattern, methods, handler method name)`` for each endpoint."""

    @abstractmethod
    def authenticate(self, request: Request) -> str:
        """The caller's identity; :class:`WireError` 401 when credentials are missing or wrong."""

    @abstractmethod
    def error_body(self, status: int, message: str) -> Any:
        """The system's error body for a status (unknown route, rate limit, server error)."""

    def fault_error(self, fault: Fault) -> WireError:
        """The answer to a request an injected fault stands in for: the system's error body
        and, where one was asked for, ``Retry-After`` in seconds."""
        headers = {} if fault.retry_after is None else {"Retry-After": str(fault.retry_after)}
        return WireError(fault.status, self.error_body(fault.status, reason(fault.status)), headers)

    def unknown_route(self) -> WireError:
        """The answer to a path the API has no resource for."""
        return WireError(404, self.error_body(404, "Not Found"))

    def extra_headers(self) -> dict[str, str]:
        """Headers the system puts on every answer (GitHub's rate-limit counters)."""
        return {}

    def base_url(self, request: Request) -> str:
        """The system's base URL as the client reached it, for links in bodies."""
        return request.host_url.rstrip("/") + self.prefix

    # --- dispatch ---------------------------------------------------------------------------
    def answer(self, request: Request, path: str) -> Response:
        """Answer a request whose path (below the prefix) is ``path``, and log it."""
        fault = self.state.take_fault(self.system)
        if fault is not None:
            response = self.respond_error(self.fault_error(fault))
        else:
            response = self._dispatch(request, path)
        for name, value in self.extra_headers().items():
            response.headers.setdefault(name, value)
        self.state.log_request(
            RequestRecord(self.system, request.method, path, response.status_code)
        )
        return response

    def _dispatch(self, request: Request, path: str) -> Response:
        try:
            user = self.authenticate(request)
            try:
                endpoint, args = self._map.bind("desk").match(path, method=request.method)
            except NotFound as missing:
                raise self.unknown_route() from missing
            except MethodNotAllowed as wrong:
                raise WireError(405, self.error_body(405, "Method Not Allowed")) from wrong
            handler: Handler = getattr(self, str(endpoint))
            return handler(request, user, **args)
        except WireError as error:
            return self.respond_error(error)

    def respond(self, status: int, body: Any, headers: Mapping[str, str] | None = None) -> Response:
        return json_response(status, body, content_type=self.content_type, headers=headers)

    def respond_error(self, error: WireError) -> Response:
        return self.respond(error.status, error.body, error.headers)


def reason(status: int) -> str:
    """The HTTP reason phrase, for error bodies that carry one."""
    return {
        405: "Method Not Allowed",
        429: "Too Many Requests",
        500: "Internal Server Error",
        502: "Bad Gateway",
        503: "Service Unavailable",
        504: "Gateway Timeout",
    }.get(status, "Server Error")
