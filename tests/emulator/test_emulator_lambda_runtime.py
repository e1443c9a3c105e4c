"""Lambda Invoke answered by the real handler code in warm worker processes."""

from __future__ import annotations

import base64
import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import boto3
import pytest

from emulator.engine.runtime import EmbeddedAws
from privateapi.waiting import wait_until

pytestmark = pytest.mark.unit


def _invoke(client, function: str, payload: dict | None = None, **kwargs) -> tuple[dict, dict]:
    response = client.invoke(FunctionName=function, Payload=json.dumps(payload or {}), **kwargs)
    return response, json.loads(response["Payload"].read() or b"null")


def test_invoke_returns_the_handler_result_with_the_template_environment(
    stub_aws: EmbeddedAws,
) -> None:
    echo = stub_aws.stack.functions["EchoFunction"]
    response, result = _invoke(stub_aws.client("lambda"), echo.name, {"a": 1})

    assert "FunctionError" not in response
    assert result["event"] == {"a": 1}
    assert result["layer"] == "from-the-stub-layer"  # the layer's ContentUri is on PYTHONPATH
    assert result["functionName"] == echo.name
    assert result["memory"] == 128
    assert 0 < result["remainingMs"] <= 10_000
    assert result["env"] == {
        "GREETING": "hi",  # a parameter override, through Globals
        "STACK": "stub",
        "ECHO_ONLY": "echo",  # the function's own Environment
        "AWS_ENDPOINT_URL": stub_aws.endpoint_url,
        "POWERTOOLS_TRACE_DISABLED": "true",
    }
    assert any(
        "echo handler says hi on stdout" in line for line in stub_aws.lambda_runtime.logs(echo.name)
    )


def test_raising_handler_surfaces_its_error_type(stub_aws: EmbeddedAws) -> None:
    boom = stub_aws.stack.functions["BoomFunction"]
    response, error = _invoke(stub_aws.client("lambda"), boom.arn)

    assert response["FunctionError"] == "Unhandled"
    assert error["errorType"] == "StubFailure"
    assert error["errorMessage"] == "the stub failed on purpose"
    assert any("boom/app.py" in frame for frame in error["stackTrace"])


def test_timeout_kills_the_worker_and_answers_sandbox_timedout(stub_aws: EmbeddedAws) -> None:
    slow = stub_aws.stack.functions["SlowFunction"]
    response, error = _invoke(stub_aws.client("lambda"), slow.name, {"sleep": 5})

    assert response["FunctionError"] == "Unhandled"
    assert error["errorType"] == "Sandbox.Timedout"
    assert "Task timed out after 1.00 seconds" in error["errorMessage"]
    assert stub_aws.lambda_runtime.pool_size(slow.name) == 0
    _, result = _invoke(stub_aws.client("lambda"), slow.name, {"sleep": 0})
    assert result == {"slept": 0}


def test_workers_stay_warm_and_overlapping_invocations_get_another(
    stub_aws: EmbeddedAws, tmp_path: Path
) -> None:
    waiting = stub_aws.stack.functions["WaitingFunction"]
    runtime = stub_aws.lambda_runtime
    lambda_client = stub_aws.client("lambda")
    _invoke(lambda_client, waiting.name, {"sleep": 0})
    before = len(runtime.invocations)
    started, release = tmp_path / "started", tmp_path / "release"

    # Given an invocation that is running (it said so) and waits to be released
    with ThreadPoolExecutor(max_workers=1) as pool:
        first = pool.submit(
            _invoke,
            stub_aws.client("lambda"),
            waiting.name,
            {"started": str(started), "until": str(release)},
        )
        wait_until(started.exists, timeout=30, what="the first invocation to start")

        # When another arrives meanwhile, it gets another execution environment
        _, second = _invoke(lambda_client, waiting.name, {"sleep": 0})
        assert runtime.pool_size(waiting.name) == 2
        release.touch()
        assert first.result(timeout=30)[1] == {"waited": True}

    assert second == {"slept": 0}
    records = runtime.invocations[before:]
    assert sorted(r.cold_start for r in records) == [False, True]  # the first was warm
    assert all(r.function_name == waiting.name for r in records)
    _invoke(lambda_client, waiting.name, {"sleep": 0})
    assert runtime.pool_size(waiting.name) == 2  # both stay warm


def test_default_session_clients_are_answered_before_sending(stub_aws: EmbeddedAws) -> None:
    """The path moto's Step Functions interpreter takes: boto3.client on the default session."""
    echo = stub_aws.stack.functions["EchoFunction"]
    client = boto3.client(
        "lambda",
        endpoint_url=stub_aws.endpoint_url,
        region_name="us-east-1",
        aws_access_key_id="ak",
        aws_secret_access_key="sk",
    )

    response, result = _invoke(client, echo.arn + ":$LATEST", {"b": 2}, LogType="Tail")
    assert result["event"] == {"b": 2}
    assert "echo handler says hi" in base64.b64decode(response["LogResult"]).decode()
