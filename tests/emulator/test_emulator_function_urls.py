"""Lambda function URLs over HTTP: the stub stack's URL echo and Powertools router, called as a
webhook sender would call them (``requests``), with the event and the response checked
against AWS's documented payload format 2.0 and response mapping."""

from __future__ import annotations

import base64
import json
import re
from typing import Any

import pytest
import requests
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from emulator.engine import function_urls
from emulator.engine.runtime import EmbeddedAws

pytestmark = pytest.mark.unit

TIMEOUT = 30  # seconds a request may take (a cold start included)


def _echo(aws: EmbeddedAws, path: str = "", **kwargs: Any) -> requests.Response:
    method = kwargs.pop("method", "POST" if "data" in kwargs else "GET")
    return requests.request(method, aws.outputs["UrlEchoUrl"] + path, timeout=TIMEOUT, **kwargs)


def _event(response: requests.Response) -> dict[str, Any]:
    assert response.status_code < 300, response.text
    return dict(response.json()["event"])


# --- the URL ------------------------------------------------------------------------------------
def test_the_url_is_the_stack_output_and_what_lambda_answers(aws: EmbeddedAws) -> None:
    name = aws.stack.functions["UrlEchoFunction"].name  # type: ignore[union-attr]

    url = aws.outputs["UrlEchoUrl"]

    assert url == f"{aws.endpoint_url}/_lambda-url/{name}/"
    config = aws.client("lambda").get_function_url_config(FunctionName=name)
    assert config["FunctionUrl"] == url
    assert config["AuthType"] == "NONE"


# --- the request as an event --------------------------------------------------------------------
def test_request_becomes_a_payload_2_0_event(aws: EmbeddedAws) -> None:
    response = _echo(
        aws,
        "orders/42?tag=a&tag=b&empty=&q=x%20y",
        data=b'{"hello": "world"}',
        headers={
            "Content-Type": "application/json",
            "X-Custom-Header": "With Mixed Case",
            "Cookie": "session=s1; theme=light",
            "User-Agent": "jira-webhook/1.0",
        },
    )

    event = _event(response)
    assert event["version"] == "2.0"
    assert event["routeKey"] == "$default"
    assert event["rawPath"] == "/orders/42"
    assert event["rawQueryString"] == "tag=a&tag=b&empty=&q=x%20y"
    assert event["queryStringParameters"] == {"tag": "a,b", "empty": "", "q": "x y"}
    assert event["cookies"] == ["session=s1", "theme=light"]
    headers = event["headers"]
    assert all(name == name.lower() for name in headers)
    assert headers["x-custom-header"] == "With Mixed Case"
    assert headers["content-type"] == "application/json"
    assert headers["user-agent"] == "jira-webhook/1.0"
    assert "cookie" not in headers and "connection" not in headers
    assert headers["x-forwarded-proto"] == "http"
    assert event["body"] == '{"hello": "world"}'
    assert event["isBase64Encoded"] is False
    context = event["requestContext"]
    assert context["accountId"] == "anonymous"
    assert re.fullmatch(r"[0-9a-f]{32}", context["apiId"])
    assert context["domainPrefix"] == context["apiId"]
    assert context["domainName"] == f"{context['apiId']}.lambda-url.us-east-1.on.aws"
    assert context["http"] == {
        "method": "POST",
        "path": "/orders/42",
        "protocol": "HTTP/1.1",
        "sourceIp": "127.0.0.1",
        "userAgent": "jira-webhook/1.0",
    }
    assert context["requestId"] == response.headers["x-amzn-RequestId"]
    assert context["routeKey"] == "$default"
    assert context["stage"] == "$default"
    assert re.fullmatch(r"\d{2}/[A-Z][a-z]{2}/\d{4}:\d{2}:\d{2}:\d{2} \+0000", context["time"])
    assert abs(context["timeEpoch"] / 1000 - aws.clock.time()) < 5
    assert "authorizer" not in context


def test_a_request_without_query_cookies_or_body_leaves_them_out(aws: EmbeddedAws) -> None:
    event = _event(_echo(aws))

    assert event["rawPath"] == "/"
    assert event["rawQueryString"] == ""
    assert event["isBase64Encoded"] is False
    assert "queryStringParameters" not in event
    assert "cookies" not in event
    assert "body" not in event


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        ("application/octet-stream", bytes(range(256))),
        (None, b"no content type"),
        ("application/x-www-form-urlencoded", b"issue=OPS-1&status=Approved"),
        ("text/plain", b"\xff\xfe not UTF-8"),
    ],
    ids=["binary", "no-content-type", "form", "text-not-utf8"],
)
def test_bodies_that_are_not_text_arrive_base64_encoded(
    aws: EmbeddedAws, content_type: str | None, body: bytes
) -> None:
    headers = {"Content-Type": content_type} if content_type else {}
    if content_type is None:  # requests would not send one anyway; make sure of it
        headers["Content-Type"] = ""

    event = _event(_echo(aws, "upload", data=body, headers=headers))

    assert event["isBase64Encoded"] is True
    assert base64.b64decode(event["body"]) == body


@pytest.mark.parametrize(
    "content_type", ["text/plain; charset=utf-8", "application/xml", "application/javascript"]
)
def test_text_bodies_arrive_as_text(aws: EmbeddedAws, content_type: str) -> None:
    body = "<ticket>é</ticket>".encode()

    event = _event(_echo(aws, data=body, headers={"Content-Type": content_type}))

    assert event["isBase64Encoded"] is False
    assert event["body"] == "<ticket>é</ticket>"


# --- the result as a response ------------------------------------------------------------------
def test_status_headers_and_cookies_the_function_sets_are_the_response(aws: EmbeddedAws) -> None:
    response = _echo(aws, "?status=201")

    assert response.status_code == 201
    assert response.headers["X-Echo"] == "yes"
    assert response.headers["Content-Type"] == "application/json"
    assert response.raw.headers.getlist("Set-Cookie") == [
        "session=abc; Path=/",
        "theme=dark; Max-Age=60",
    ]
    assert response.json()["functionName"] == aws.stack.functions["UrlEchoFunction"].name  # type: ignore[union-attr]


def test_a_base64_encoded_result_is_sent_as_bytes(aws: EmbeddedAws) -> None:
    response = _echo(aws, "?binary")

    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/octet-stream"
    assert response.content == bytes(range(256))


@pytest.mark.parametrize(
    ("result", "status", "body"),
    [
        ({"hello": "world"}, 200, b'{"hello":"world"}'),
        ("hello", 200, b"hello"),
        (["hello", 3, True], 200, b'["hello",3,true]'),
        (3.1, 200, b"3.1"),
        ({"statusCode": "418", "body": "i'm a teapot"}, 418, b"i'm a teapot"),
    ],
    ids=["object", "string", "list", "number", "string-status-code"],
)
def test_lambda_infers_a_response_from_any_other_result(
    aws: EmbeddedAws, result: Any, status: int, body: bytes
) -> None:
    response = _echo(aws, params={"raw": json.dumps(result)})

    assert response.status_code == status
    assert response.headers["Content-Type"] == "application/json"
    assert response.content == body


def test_a_function_error_answers_502(aws: EmbeddedAws) -> None:
    response = _echo(aws, "?explode")

    assert response.status_code == 502
    assert response.text == "Internal Server Error"


# --- who may call ------------------------------------------------------------------------------
def test_a_url_that_does_not_exist_answers_403(aws: EmbeddedAws) -> None:
    echo_without_url = aws.stack.functions["EchoFunction"].name  # type: ignore[union-attr]

    for name in ("no-such-function", echo_without_url):
        response = requests.get(f"{aws.endpoint_url}/_lambda-url/{name}/", timeout=TIMEOUT)
        assert response.status_code == 403
        assert response.json() == {"Message": None}
        assert response.headers["x-amzn-ErrorType"] == "AccessDeniedException"


def test_a_public_url_needs_both_invoke_permissions(aws: EmbeddedAws) -> None:
    # Given a URL added to a function with only the InvokeFunctionUrl permission
    lambda_ = aws.client("lambda")
    name = aws.stack.functions["EchoFunction"].name  # type: ignore[union-attr]
    url = lambda_.create_function_url_config(FunctionName=name, AuthType="NONE")["FunctionUrl"]
    lambda_.add_permission(
        FunctionName=name,
        StatementId="url",
        Action="lambda:InvokeFunctionUrl",
        Principal="*",
        FunctionUrlAuthType="NONE",
    )

    # Then it is forbidden, as AWS forbids new URLs since October 2025
    refused = requests.get(url, timeout=TIMEOUT)
    assert refused.status_code == 403
    assert refused.json() == {"Message": function_urls.FORBIDDEN_MESSAGE}

    # Until InvokeFunction is granted too (SAM's InvokedViaFunctionUrl statement)
    lambda_.add_permission(
        FunctionName=name,
        StatementId="invoke",
        Action="lambda:InvokeFunction",
        Principal="*",
        InvokedViaFunctionUrl=True,
    )
    statements = json.loads(lambda_.get_policy(FunctionName=name)["Policy"])["Statement"]
    assert [s["Condition"] for s in statements] == [
        {"StringEquals": {"lambda:FunctionUrlAuthType": "NONE"}},
        {"Bool": {"lambda:InvokedViaFunctionUrl": "true"}},
    ]
    assert requests.get(url, timeout=TIMEOUT).status_code == 200


def test_reset_removes_the_urls_and_permissions_a_test_added(aws: EmbeddedAws) -> None:
    lambda_ = aws.client("lambda")
    name = aws.stack.functions["EchoFunction"].name  # type: ignore[union-attr]
    lambda_.create_function_url_config(FunctionName=name, AuthType="NONE")
    lambda_.add_permission(
        FunctionName=name, StatementId="url", Action="lambda:InvokeFunctionUrl", Principal="*"
    )

    aws.reset()

    with pytest.raises(lambda_.exceptions.ResourceNotFoundException):
        lambda_.get_function_url_config(FunctionName=name)
    with pytest.raises(lambda_.exceptions.ResourceNotFoundException):
        lambda_.get_policy(FunctionName=name)
    echo_url = aws.stack.functions["UrlEchoFunction"].name  # type: ignore[union-attr]
    assert lambda_.get_function_url_config(FunctionName=echo_url)["AuthType"] == "NONE"


def test_an_iam_url_needs_a_signed_request(aws: EmbeddedAws) -> None:
    lambda_ = aws.client("lambda")
    name = aws.stack.functions["EchoFunction"].name  # type: ignore[union-attr]
    url = lambda_.create_function_url_config(FunctionName=name, AuthType="AWS_IAM")["FunctionUrl"]

    unsigned = requests.get(url + "whoami", timeout=TIMEOUT)
    assert unsigned.status_code == 403
    assert unsigned.json() == {"Message": "Forbidden"}

    request = AWSRequest(method="GET", url=url + "whoami")
    SigV4Auth(Credentials("AKIDEXAMPLE", "secret"), "lambda", "us-east-1").add_auth(request)
    signed = requests.get(url + "whoami", headers=dict(request.headers), timeout=TIMEOUT)
    assert signed.status_code == 200, signed.text
    context = signed.json()["event"]["requestContext"]
    assert context["accountId"] == "123456789012"
    assert context["authorizer"]["iam"]["accessKey"] == "AKIDEXAMPLE"


# --- size ---------------------------------------------------------------------------------------
def test_a_request_over_lambdas_6_mb_payload_limit_answers_413(aws: EmbeddedAws) -> None:
    body = b"a" * function_urls.MAX_REQUEST_PAYLOAD

    response = _echo(aws, data=body, headers={"Content-Type": "text/plain"})

    assert response.status_code == 413
    assert response.json() == {"Message": function_urls.TOO_LARGE_MESSAGE}
    assert response.headers["x-amzn-ErrorType"] == "RequestEntityTooLargeException"


# --- Powertools ---------------------------------------------------------------------------------
def test_powertools_resolver_routes_by_path(aws: EmbeddedAws) -> None:
    router = aws.outputs["RouterUrl"]

    ticket = requests.get(router + "tickets/OPS-7?expand=comments", timeout=TIMEOUT)
    webhook = requests.post(
        router + "webhooks/github",
        json={"action": "labeled", "issue": {"number": 7}},
        headers={"X-Hub-Signature-256": "sha256=abc"},
        timeout=TIMEOUT,
    )
    missing = requests.get(router + "nowhere", timeout=TIMEOUT)

    assert ticket.status_code == 200
    assert ticket.json() == {"ticketId": "OPS-7", "query": {"expand": "comments"}}
    assert webhook.status_code == 202
    assert webhook.headers["Content-Type"] == "application/json"
    assert webhook.json() == {
        "system": "github",
        "payload": {"action": "labeled", "issue": {"number": 7}},
        "signature": "sha256=abc",
    }
    assert missing.status_code == 404
