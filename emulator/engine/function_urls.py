"""Lambda function URLs, served by the embedded AWS over HTTP on loopback.

The URL scheme: a function URL is ``http://127.0.0.1:<port>/_lambda-url/<function-name>/``
(:func:`function_url`), on the embedded AWS's own server, and ``<any method>
/_lambda-url/<function-name>/<path>?<query>`` invokes the function synchronously with the
request as ``rawPath`` ``/<path>`` and ``rawQueryString`` ``<query>``. CreateFunctionUrlConfig
(so ``AWS::Lambda::Url`` and SAM's ``FunctionUrlConfig``, hence ``Fn::GetAtt <X>Url.FunctionUrl``)
answers that URL; the ``<url-id>`` AWS would have put in its host
(``https://<url-id>.lambda-url.<region>.on.aws/``) is kept as the event's ``apiId`` /
``domainPrefix`` / ``domainName``. Only the unqualified function ($LATEST) is served.

What AWS documents, and this module reproduces:

* **Request** (AWS Lambda Developer Guide, "Invoking Lambda function URLs", request payload
  format; the schema of API Gateway's payload format version 2.0):
  ``{"version": "2.0", "routeKey": "$default", "rawPath", "rawQueryString", "cookies",
  "headers", "queryStringParameters", "requestContext": {"accountId", "apiId", "domainName",
  "domainPrefix", "http": {"method", "path", "protocol", "sourceIp", "userAgent"},
  "requestId", "routeKey": "$default", "stage": "$default", "time", "timeEpoch"}, "body",
  "isBase64Encoded"}``. Header names are lower-cased and a repeated header's values joined
  with commas; likewise repeated query parameters in ``queryStringParameters``;
  ``cookies`` holds the ``Cookie`` header's cookies (and no ``cookie`` header is passed);
  ``queryStringParameters``, ``cookies`` and ``body`` are absent when there are none (as in
  captured events: Powertools' ``LambdaFunctionUrlSchema`` sample). ``requestContext.requestId``
  is the invocation's request id. With ``AuthType`` ``NONE`` ``accountId`` is ``"anonymous"``
  (the same captured event) and ``authorizer`` absent; with ``AWS_IAM``, the caller's access
  key fills ``authorizer.iam``. ``time`` reads ``12/Mar/2020:19:03:58 +0000``, on the embedded
  AWS's clock. Headers also carry what the URL's front end adds: ``x-forwarded-for``,
  ``x-forwarded-proto`` (``http`` here), ``x-forwarded-port``, ``x-amzn-trace-id``
  (LocalStack's AWS-validated snapshot ``test_lambda_url_echo_http_fixture_default``).
* **Body encoding**: "If the content type of the request is binary, the body is
  base64-encoded". Which types count as text is not listed; measured against AWS, only
  ``text/*``, ``application/json``, ``application/xml`` and ``application/javascript`` arrive
  as text; everything else, a missing ``Content-Type`` and ``application/x-www-form-urlencoded``
  included, is base64 (ministack PR #766, measured on payload 2.0; CUDly PR #1483 for function
  URLs and form posts). A text body that is not UTF-8 is base64 too.
* **Response** (same guide, response payload format): a result with a ``statusCode`` is a
  response: ``statusCode`` (a string of digits too), ``headers``, ``body`` (decoded from base64
  when ``isBase64Encoded``), ``cookies`` (each one a ``Set-Cookie`` header). Any other JSON
  result is the body of a 200 with ``content-type: application/json``: its compact JSON, or a
  string's text as is (measured by LocalStack's AWS-validated ``test_lambda_url_invocation``:
  ``{"hello": "world"}`` → ``{"hello":"world"}``, ``"hello"`` → ``hello``; the guide's
  example shows the quotes, the service does not). ``content-type`` is ``application/json``
  unless the response sets one.
* **Errors**: a function error (unhandled exception, timeout, crash) answers ``502`` with the
  body ``Internal Server Error`` (LocalStack's AWS-validated
  ``test_lambda_url_invocation_exception``), and so does a malformed response or one over
  Lambda's 6,291,556-byte response limit; a URL that does not exist answers ``403``
  ``{"Message":null}`` with ``x-amzn-ErrorType: AccessDeniedException``
  (``test_lambda_url_non_existing_url``).
* **Access** (guide, "Control access to Lambda function URLs"): since October 2025 a URL needs
  both ``lambda:InvokeFunctionUrl`` and ``lambda:InvokeFunction`` in the function's resource
  policy (SAM adds both for ``AuthType: NONE``: ``FunctionUrlAuthType: NONE`` and
  ``InvokedViaFunctionUrl: true``); without them AWS answers ``403`` ``{"Message":"Forbidden.
  For troubleshooting Function URL authorization issues, see:
  https://docs.aws.amazon.com/lambda/latest/dg/urls-auth.html"}`` (LocalStack's AWS-validated
  ``test_lambda_permission_url_invocation``). ``AWS_IAM`` needs a SigV4 ``Authorization``
  header: here its presence is checked, not its signature (``403`` ``{"Message":"Forbidden"}``
  without one). The statements AddPermission stores get AWS's conditions
  (``lambda:FunctionUrlAuthType``, ``lambda:InvokedViaFunctionUrl``), which moto leaves as
  raw keys.
* **Size**: the invocation payload (the event) is limited to 6 MB as for any synchronous
  invoke (Lambda quotas); measured, a request over 6,291,456 bytes is refused with
  ``Request must be smaller than 6291456 bytes for the InvokeFunction operation`` (Zac
  Charles, "Deep Dive: Lambda's Request Payload Size Limit"). A function URL then answers
  ``413`` with that message (AWS does not document what a URL client sees: this is our choice).

Not reproduced: CORS (preflights and headers), ``InvokeMode: RESPONSE_STREAM`` (answered
buffered), qualified URLs (aliases), SigV4 verification.
"""

from __future__ import annotations

import base64
import binascii
import datetime
import json
import os
import threading
import uuid
from collections.abc import Callable, Iterable, Mapping
from typing import Any
from urllib.parse import parse_qsl, quote, unquote, urlsplit

from emulator.engine.clock import CLOCK
from emulator.engine.lambda_runtime import InvocationResult, LambdaRuntime

FUNCTION_URL_PREFIX = "/_lambda-url/"
MAX_REQUEST_PAYLOAD = 6 * 1024 * 1024  # 6,291,456 bytes
MAX_RESPONSE_PAYLOAD = 6 * 1024 * 1024 + 100  # 6,291,556 bytes
TEXT_MEDIA_TYPES = ("application/json", "application/xml", "application/javascript")
TOO_LARGE_MESSAGE = (
    f"Request must be smaller than {MAX_REQUEST_PAYLOAD} bytes for the InvokeFunction operation"
)
FORBIDDEN_MESSAGE = (
    "Forbidden. For troubleshooting Function URL authorization issues, see: "
    "https://docs.aws.amazon.com/lambda/latest/dg/urls-auth.html"
)
# Connection-level headers end at the URL's front end (they are not in AWS's captured events).
_HOP_BY_HOP = frozenset(
    (
        "connection",
        "keep-alive",
        "proxy-connection",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
    )
)
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_lock = threading.Lock()
_installed = False
_base_url = "http://127.0.0.1:4566"

StartResponse = Callable[..., Any]


def function_url(base_url: str, function_name: str) -> str:
    """The URL this emulator serves a function's URL at (with AWS's trailing slash)."""
    return f"{base_url.rstrip('/')}{FUNCTION_URL_PREFIX}{quote(function_name)}/"


# --- moto: the URL it answers, the conditions AddPermission stores -----------------------------
def install(base_url: str) -> None:
    """Make moto's CreateFunctionUrlConfig answer URLs on ``base_url`` (the embedded AWS's
    endpoint; called at every start, patches once per process)."""
    global _installed, _base_url
    _base_url = base_url
    with _lock:
        if _installed:
            return
        from moto.awslambda import models
        from moto.awslambda.policy import Policy

        original_init = models.FunctionUrlConfig.__init__

        def init(self: Any, function: Any, config: dict[str, Any]) -> None:
            original_init(self, function, config)
            self.url_id = urlsplit(self.url).hostname.split(".")[0]  # moto's <url-id>
            self.url = function_url(_base_url, function.function_name)

        original_add = Policy.add_statement

        def add_statement(self: Any, raw: str, qualifier: str | None = None) -> Any:
            statement, revision = original_add(self, raw, qualifier)
            _aws_conditions(statement)
            return statement, revision

        models.FunctionUrlConfig.__init__ = init  # type: ignore[method-assign]
        Policy.add_statement = add_statement  # type: ignore[method-assign]
        _installed = True


def _aws_conditions(statement: dict[str, Any]) -> None:
    """AddPermission's ``FunctionUrlAuthType`` and ``InvokedViaFunctionUrl`` as AWS stores
    them: conditions on ``lambda:FunctionUrlAuthType`` and ``lambda:InvokedViaFunctionUrl``."""
    condition = statement.setdefault("Condition", {})
    if "FunctionUrlAuthType" in statement:
        auth_type = statement.pop("FunctionUrlAuthType")
        condition.setdefault("StringEquals", {})["lambda:FunctionUrlAuthType"] = auth_type
    if "InvokedViaFunctionUrl" in statement:
        via_url = statement.pop("InvokedViaFunctionUrl")
        condition.setdefault("Bool", {})["lambda:InvokedViaFunctionUrl"] = str(via_url).lower()
    if not condition:
        del statement["Condition"]


def _public_access_allowed(statements: Iterable[Mapping[str, Any]]) -> bool:
    """Whether the resource policy lets anyone invoke through the URL: both actions allowed
    to the principal ``*`` (for InvokeFunctionUrl, with no auth type other than NONE)."""
    url_allowed = invoke_allowed = False
    for statement in statements:
        if statement.get("Effect") != "Allow" or not _is_public(statement.get("Principal")):
            continue
        actions = statement.get("Action")
        actions = actions if isinstance(actions, list) else [actions]
        auth_type = ((statement.get("Condition") or {}).get("StringEquals", {})).get(
            "lambda:FunctionUrlAuthType", "NONE"
        )
        for action in actions:
            if action in ("lambda:InvokeFunctionUrl", "lambda:*", "*") and auth_type == "NONE":
                url_allowed = True
            if action in ("lambda:InvokeFunction", "lambda:*", "*"):
                invoke_allowed = True
    return url_allowed and invoke_allowed


def _is_public(principal: Any) -> bool:
    return principal == "*" or (isinstance(principal, dict) and principal.get("AWS") == "*")


# --- serving -------------------------------------------------------------------------------------
class _Answer:
    """An HTTP answer: status, headers (a list: Set-Cookie repeats), body."""

    def __init__(self, status: int, headers: list[tuple[str, str]], body: bytes) -> None:
        self.status = status
        self.headers = headers
        self.body = body

    def send(self, start_response: StartResponse) -> list[bytes]:
        headers = [*self.headers, ("Content-Length", str(len(self.body)))]
        start_response(f"{self.status} {_reason(self.status)}", headers)
        return [self.body]


def _reason(status: int) -> str:
    from http import HTTPStatus

    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Unknown"


def _json_error(status: int, message: str | None, error_type: str | None = None) -> _Answer:
    headers = [("Content-Type", "application/json")]
    if error_type:
        headers.append(("x-amzn-ErrorType", error_type))
    body = json.dumps({"Message": message}, separators=(",", ":")).encode()
    return _Answer(status, headers, body)


def _bad_gateway(request_id: str) -> _Answer:
    headers = [("Content-Type", "application/json"), ("x-amzn-RequestId", request_id)]
    return _Answer(502, headers, b"Internal Server Error")


def serve(
    environ: dict[str, Any], start_response: StartResponse, runtime: LambdaRuntime | None
) -> list[bytes]:
    """Answer one request to ``/_lambda-url/<function-name>/...`` (WSGI)."""
    return _answer(environ, runtime).send(start_response)


def _answer(environ: dict[str, Any], runtime: LambdaRuntime | None) -> _Answer:
    raw_target = environ.get("RAW_URI") or _rebuilt_target(environ)
    raw_path, _, raw_query = raw_target.partition("?")
    if "://" in raw_path:  # absolute-form request target
        raw_path = urlsplit(raw_path).path
    function_name, _, rest = raw_path[len(FUNCTION_URL_PREFIX) :].partition("/")
    function_name = unquote(function_name)
    spec = runtime.resolve(function_name) if runtime else None
    url_config = _url_config(spec.arn) if spec else None
    if runtime is None or spec is None or url_config is None:
        return _json_error(403, None, "AccessDeniedException")
    auth_type = url_config.config.get("AuthType", "NONE")
    caller = _caller(environ)
    if auth_type == "AWS_IAM" and caller is None:
        return _json_error(403, "Forbidden", "AccessDeniedException")
    if auth_type == "NONE" and not _public_access_allowed(_policy_statements(spec.arn)):
        return _json_error(403, FORBIDDEN_MESSAGE, "AccessDeniedException")
    request_id = str(uuid.uuid4())
    event = request_event(
        environ,
        raw_path="/" + rest,
        raw_query=raw_query,
        url_id=getattr(url_config, "url_id", "emulator"),
        account_id=spec.arn.split(":")[4],
        region=spec.arn.split(":")[3],
        request_id=request_id,
        caller=caller if auth_type == "AWS_IAM" else None,
    )
    payload = json.dumps(event).encode()
    if len(payload) > MAX_REQUEST_PAYLOAD:
        return _json_error(413, TOO_LARGE_MESSAGE, "RequestEntityTooLargeException")
    result = runtime.invoke(spec.arn, payload, request_id=request_id)
    return http_response(result)


def _rebuilt_target(environ: Mapping[str, Any]) -> str:
    path = quote(environ.get("SCRIPT_NAME", "") + environ.get("PATH_INFO", ""))
    query = environ.get("QUERY_STRING", "")
    return f"{path}?{query}" if query else path


def _moto_function(function_arn: str) -> Any:
    from moto.awslambda.utils import get_backend  # moto's "simple" Lambda backend without Docker

    _, _, _, region, account, _, name = function_arn.split(":")[:7]
    try:
        return get_backend(account, region).get_function(name)
    except Exception:  # moto's not-found exceptions differ by lookup
        return None


def _url_config(function_arn: str) -> Any:
    return getattr(_moto_function(function_arn), "url_config", None)


def _policy_statements(function_arn: str) -> list[dict[str, Any]]:
    policy = getattr(_moto_function(function_arn), "policy", None)
    return list(policy.statements) if policy else []


def _caller(environ: Mapping[str, Any]) -> dict[str, Any] | None:
    """The SigV4 caller named by the ``Authorization`` header (not verified), if any."""
    authorization = str(environ.get("HTTP_AUTHORIZATION", ""))
    if not authorization.startswith("AWS4-HMAC-SHA256 ") or "Credential=" not in authorization:
        return None
    access_key = authorization.split("Credential=", 1)[1].split("/", 1)[0]
    return {"accessKey": access_key}


# --- the event ---------------------------------------------------------------------------------
def request_event(
    environ: Mapping[str, Any],
    *,
    raw_path: str,
    raw_query: str,
    url_id: str,
    account_id: str,
    region: str,
    request_id: str,
    caller: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The payload format 2.0 event for one request (see the module docstring)."""
    headers = _event_headers(environ)
    cookie_header = headers.pop("cookie", "")
    now = CLOCK.now()
    domain = f"{url_id}.lambda-url.{region}.on.aws"
    context: dict[str, Any] = {
        "accountId": account_id if caller else "anonymous",
        "apiId": url_id,
        "domainName": domain,
        "domainPrefix": url_id,
        "http": {
            "method": environ.get("REQUEST_METHOD", "GET"),
            "path": raw_path,
            "protocol": environ.get("SERVER_PROTOCOL", "HTTP/1.1"),
            "sourceIp": environ.get("REMOTE_ADDR", "127.0.0.1"),
            "userAgent": headers.get("user-agent", ""),
        },
        "requestId": request_id,
        "routeKey": "$default",
        "stage": "$default",
        "time": _request_time(now),
        "timeEpoch": int(now.timestamp() * 1000),
    }
    if caller:
        context["authorizer"] = {
            "iam": {
                "accessKey": caller["accessKey"],
                "accountId": account_id,
                "callerId": caller["accessKey"],
                "cognitoIdentity": None,
                "principalOrgId": None,
                "userArn": f"arn:aws:iam::{account_id}:user/emulator",
                "userId": caller["accessKey"],
            }
        }
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": raw_path,
        "rawQueryString": raw_query,
    }
    cookies = [c.strip() for c in cookie_header.split(";") if c.strip()]
    if cookies:
        event["cookies"] = cookies
    event["headers"] = headers
    if raw_query:
        event["queryStringParameters"] = _query_parameters(raw_query)
    event["requestContext"] = context
    body = _read_body(environ)
    encoded = bool(body) and not _is_text(headers.get("content-type", ""), body)
    if body:
        event["body"] = base64.b64encode(body).decode() if encoded else body.decode("utf-8")
    event["isBase64Encoded"] = encoded
    return event


def _event_headers(environ: Mapping[str, Any]) -> dict[str, str]:
    headers: dict[str, str] = {}
    for key, value in environ.items():
        name = key[5:].replace("_", "-").lower()
        if key.startswith("HTTP_") and name not in _HOP_BY_HOP:
            headers[name] = str(value)
    for key in ("CONTENT_TYPE", "CONTENT_LENGTH"):
        if environ.get(key):
            headers[key.replace("_", "-").lower()] = str(environ[key])
    source_ip = str(environ.get("REMOTE_ADDR", "127.0.0.1"))
    forwarded = headers.get("x-forwarded-for")
    headers["x-forwarded-for"] = f"{forwarded}, {source_ip}" if forwarded else source_ip
    headers["x-forwarded-proto"] = str(environ.get("wsgi.url_scheme", "http"))
    headers["x-forwarded-port"] = str(environ.get("SERVER_PORT", ""))
    headers.setdefault("x-amzn-trace-id", _trace_id())
    return headers


def _trace_id() -> str:
    return f"Root=1-{int(CLOCK.time()):08x}-{os.urandom(12).hex()}"


def _query_parameters(raw_query: str) -> dict[str, str]:
    values: dict[str, list[str]] = {}
    for name, value in parse_qsl(raw_query, keep_blank_values=True):
        values.setdefault(name, []).append(value)
    return {name: ",".join(parts) for name, parts in values.items()}


def _request_time(moment: datetime.datetime) -> str:
    moment = moment.astimezone(datetime.UTC)
    return f"{moment:%d}/{_MONTHS[moment.month - 1]}/{moment:%Y:%H:%M:%S} +0000"


def _read_body(environ: Mapping[str, Any]) -> bytes:
    stream = environ["wsgi.input"]
    length = environ.get("CONTENT_LENGTH")
    if length:
        return bytes(stream.read(int(length)))
    if environ.get("wsgi.input_terminated"):  # chunked: the server ends the stream
        return bytes(stream.read())
    return b""


def _is_text(content_type: str, body: bytes) -> bool:
    media_type = content_type.split(";", 1)[0].strip().lower()
    if not (media_type.startswith("text/") or media_type in TEXT_MEDIA_TYPES):
        return False
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


# --- the response ------------------------------------------------------------------------------
def http_response(result: InvocationResult) -> _Answer:
    """The function's result as the HTTP response a function URL client sees."""
    if result.function_error or result.status_code != 200:
        return _bad_gateway(result.request_id)
    if len(result.payload) > MAX_RESPONSE_PAYLOAD:
        return _bad_gateway(result.request_id)
    try:
        output = json.loads(result.payload) if result.payload else None
        return _mapped(output, result.request_id)
    except (ValueError, TypeError, binascii.Error):
        return _bad_gateway(result.request_id)


def _mapped(output: Any, request_id: str) -> _Answer:
    headers: list[tuple[str, str]] = []
    if isinstance(output, dict) and "statusCode" in output:
        status = int(output["statusCode"])
        if not 100 <= status <= 599:
            raise ValueError(f"status code {status}")
        for name, value in (output.get("headers") or {}).items():
            headers.append((str(name), _header_value(value)))
        for cookie in output.get("cookies") or []:
            headers.append(("Set-Cookie", str(cookie)))
        body = output.get("body")
        if body is None:
            data = b""
        elif output.get("isBase64Encoded"):
            data = base64.b64decode(str(body), validate=True)
        elif isinstance(body, str):
            data = body.encode()
        else:
            data = json.dumps(body, separators=(",", ":")).encode()
    else:
        status = 200
        text = output if isinstance(output, str) else json.dumps(output, separators=(",", ":"))
        data = text.encode()
    if not any(name.lower() == "content-type" for name, _ in headers):
        headers.append(("Content-Type", "application/json"))
    headers.append(("x-amzn-RequestId", request_id))
    return _Answer(status, headers, data)


def _header_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
