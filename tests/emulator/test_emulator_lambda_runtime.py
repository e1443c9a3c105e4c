"""Lambda Invoke answered by the real handler code in warm worker processes."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
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


@pytest.fixture
def skipping_clock(stub_aws: EmbeddedAws) -> Iterator[None]:
    """The module's stopped clock, jumping over idle time: it moves only when everything
    sleeps, so every second it moves is one a sleep skipped."""
    stub_aws.clock.configure(0, auto_advance=True)
    yield
    stub_aws.clock.configure(0)


def test_a_sleep_in_a_function_is_skipped_on_the_clock_and_counts_against_its_timeout(
    stub_aws: EmbeddedAws, skipping_clock: None
) -> None:
    slow = stub_aws.stack.functions["SlowFunction"]  # Timeout: 1
    before = stub_aws.clock.time()

    # When a function sleeps 0.6 s (botocore's backoff between two attempts, say)
    _, result = _invoke(stub_aws.client("lambda"), slow.name, {"sleep": 0.6, "remaining": True})

    # Then the clock jumped over the sleep, and the function has 0.6 s less time left
    assert result["slept"] == 0.6
    assert stub_aws.clock.time() - before == pytest.approx(0.6)
    assert 0 < result["remainingMs"] <= 400


def test_a_function_that_sleeps_past_its_timeout_times_out_at_its_timeout(
    stub_aws: EmbeddedAws, skipping_clock: None
) -> None:
    slow = stub_aws.stack.functions["SlowFunction"]
    before = stub_aws.clock.time()

    # When a function sleeps 5 s with a timeout of 1 s
    _, error = _invoke(stub_aws.client("lambda"), slow.name, {"sleep": 5})

    # Then it timed out, with the clock at most its timeout later (its run before the sleep
    # counted in real time), not 5 s
    assert error["errorType"] == "Sandbox.Timedout"
    assert 0 < stub_aws.clock.time() - before <= 1.0


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
