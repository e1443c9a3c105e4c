"""``function_url_task``: a Lambda handler for a Function URL (payload format 2.0), made from a
task that answers a POST to one route.

``lambda_task`` does not fit a URL: its task gets a workflow payload and returns the workflow's
next input, where a URL's event is an HTTP request and its answer an HTTP response. The rest is
``lambda_task``'s: the settings from the environment and the function's ARN, the Lambda context
in every log line, metrics flushed at the end. Headers and body are never logged (they carry
the caller's signature).

Any method but POST, or a path the route does not match, is answered ``404
{"statusCode":404,"message":"Not found"}``: Powertools' event handler's answer, kept from when
the ticket intake used it (importing it loaded every resolver it has, about 50 ms of a cold
start).
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from provisioner.runtime.observability import logger, metrics
from provisioner.runtime.settings import Settings

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext

_NO_ROUTE = json.dumps({"statusCode": 404, "message": "Not found"}, separators=(",", ":"))


@dataclass(frozen=True)
class UrlRequest:
    """A POST to the route, as received."""

    path: str
    headers: dict[str, str]
    raw: bytes  # the bytes the caller sent: what a signature covers
    parameters: dict[str, str]  # the route's named groups


type UrlTask = Callable[[UrlRequest, Settings], dict[str, Any]]
type Handler = Callable[[dict[str, Any], LambdaContext], dict[str, Any]]


def function_url_task(route: re.Pattern[str], task: UrlTask) -> Handler:
    """A handler that gives ``task`` every POST whose path ``route`` matches."""

    @logger.inject_lambda_context(clear_state=True)
    @metrics.log_metrics
    def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
        method, path = request_line(event)
        matched = route.match(path)
        if method != "POST" or matched is None:
            return response(404, _NO_ROUTE)
        settings = Settings.from_environment().running_as(context.invoked_function_arn)
        headers = dict(event.get("headers") or {})
        return task(UrlRequest(path, headers, raw_body(event), matched.groupdict()), settings)

    handler.__doc__ = task.__doc__
    return handler


def request_line(event: dict[str, Any]) -> tuple[str, str]:
    """The method and the path of a Function URL event (payload format 2.0)."""
    context = event.get("requestContext") or {}
    path = str(event.get("rawPath") or "/")
    stage = context.get("stage", "$default")
    if stage != "$default":  # a Function URL's is; API Gateway's HTTP APIs name theirs
        path = path[len(f"/{stage}") :]
    return str((context.get("http") or {}).get("method", "")).upper(), path


def raw_body(event: dict[str, Any]) -> bytes:
    """The bytes the caller sent: what its signature covers."""
    body = event.get("body") or ""
    return base64.b64decode(body) if event.get("isBase64Encoded") else str(body).encode()


def response(status: int, body: str) -> dict[str, Any]:
    """The Function URL's answer (payload format 2.0): a JSON body."""
    return {
        "statusCode": status,
        "body": body,
        "isBase64Encoded": False,
        "headers": {"Content-Type": "application/json"},
        "cookies": [],
    }
