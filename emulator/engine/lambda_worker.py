"""One warm Lambda execution environment: imports the handler once, then serves invocations.

Forked by :mod:`emulator.engine.lambda_zygote` (which ran :func:`prepare`, the function's init, in
exactly the function's environment), or run as a script.
Protocol: one JSON object per line on stdin (``{"requestId", "event", "deadlineMs"}``) and one
per line on a private duplicate of the original stdout. The handler's own stdout (Powertools
logs, EMF metrics) is redirected to stderr, which the parent collects as the function's logs.

The function runs on the embedded AWS's clock (:mod:`emulator.engine.clock`), as a Lambda function
runs on AWS's: ``datetime.now()``, ``datetime.utcnow()``, ``time.time()`` and
``time.time_ns()`` read the clock reading that comes with each invocation (the clock does not
jump while an invocation runs), and ``time.sleep()`` sleeps emulated seconds. On a clock that
skips idle time (``auto``), a sleep is the parent's: the worker writes ``{"sleep": seconds}``
and waits for ``{"clock": reading, "deadlineMs": ms}`` on stdin, while the parent sleeps on the
clock, so a function's sleep (botocore's backoff between retries) is skipped like any other
wait when nothing else runs; the sleep counts against the function's timeout, as on Lambda.
Otherwise the invocation's deadline stays in real time, as the parent enforces the timeout in
real time.
"""

from __future__ import annotations

import datetime
import importlib
import json
import os
import sys
import threading
import time
import traceback
from pathlib import Path
from typing import Any, SupportsIndex

_REAL_TIME = time.time


class FunctionClock:
    """The embedded AWS's clock, as of the last invocation's reading (real time before any)."""

    emulated: float | None = None
    wall = 0.0
    scale = 1.0
    auto = False  # the clock skips idle time: a sleep is the parent's (see the module's doc)

    def set(self, reading: dict[str, Any] | None) -> None:
        if reading:
            self.emulated, self.wall, self.scale = (
                float(reading["emulated"]),
                float(reading["wall"]),
                float(reading["scale"]),
            )
            self.auto = bool(reading.get("auto", False))

    def time(self) -> float:
        real = _REAL_TIME()
        return real if self.emulated is None else self.emulated + (real - self.wall) * self.scale


CLOCK = FunctionClock()


def use_function_clock() -> None:
    """``datetime`` and ``time`` read :data:`CLOCK`, for every module imported after this
    (idempotent: the zygote installs it before it imports the libraries)."""
    if getattr(datetime.datetime, "_function_clock", False):
        return
    real = datetime.datetime

    class ClockedDatetime(datetime.datetime):
        @classmethod
        def now(cls, tz: datetime.tzinfo | None = None) -> datetime.datetime:  # type: ignore[override]
            return real.fromtimestamp(CLOCK.time(), tz)

        @classmethod
        def utcnow(cls) -> datetime.datetime:  # type: ignore[override]
            return real.fromtimestamp(CLOCK.time(), datetime.UTC).replace(tzinfo=None)

        @classmethod
        def today(cls) -> datetime.datetime:  # type: ignore[override]
            return real.fromtimestamp(CLOCK.time())

    ClockedDatetime.__name__ = ClockedDatetime.__qualname__ = "datetime"
    ClockedDatetime._function_clock = True  # type: ignore[attr-defined]
    datetime.datetime = ClockedDatetime  # type: ignore[misc]
    time.time = CLOCK.time
    time.time_ns = lambda: int(CLOCK.time() * 1_000_000_000)
    real_sleep = time.sleep

    def sleep(seconds: float | SupportsIndex) -> None:
        """Emulated seconds: on the parent's clock when it skips idle time; else a tenth of
        the real time at ten times real time, and at scale 0 (the clock does not move while a
        function runs) the real time."""
        wanted = float(seconds)
        if CLOCK.auto and PARENT.sleep(wanted):
            return
        real_sleep(wanted / CLOCK.scale if CLOCK.scale > 0 else wanted)

    time.sleep = sleep


class Parent:
    """The parent's end of the protocol, for a sleep on its clock during an invocation."""

    def __init__(self) -> None:
        self.protocol: Any = None  # set by serve(): the private duplicate of stdout
        self.context: LambdaContext | None = None  # the invocation's, whose deadline moves
        self._lock = threading.Lock()  # one exchange at a time (a handler's threads)

    def sleep(self, seconds: float) -> bool:
        """Sleep on the parent's clock; False outside an invocation (the caller sleeps)."""
        if self.protocol is None or self.context is None or seconds <= 0:
            return False
        with self._lock:
            self.protocol.write(json.dumps({"sleep": seconds}) + "\n")
            answer = json.loads(sys.stdin.readline() or "{}")
        CLOCK.set(answer.get("clock"))
        if "deadlineMs" in answer:
            self.context._deadline_ms = int(answer["deadlineMs"])
        return True


PARENT = Parent()


class LambdaContext:
    """The attributes and method of the Python runtime's context object that handlers use."""

    def __init__(self, request_id: str, deadline_ms: int) -> None:
        env = os.environ
        self.function_name = env["AWS_LAMBDA_FUNCTION_NAME"]
        self.function_version = env.get("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        self.invoked_function_arn = env.get("EMULATOR_FUNCTION_ARN", "")
        self.memory_limit_in_mb = int(env.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128"))
        self.aws_request_id = request_id
        self.log_group_name = env.get("AWS_LAMBDA_LOG_GROUP_NAME", "")
        self.log_stream_name = env.get("AWS_LAMBDA_LOG_STREAM_NAME", "")
        self.identity = None
        self.client_context = None
        self._deadline_ms = deadline_ms

    def get_remaining_time_in_millis(self) -> int:
        return max(0, self._deadline_ms - int(_REAL_TIME() * 1000))


def _error(exc: BaseException, error_type: str | None = None) -> dict[str, Any]:
    return {
        "errorType": error_type or type(exc).__name__,
        "errorMessage": str(exc),
        "stackTrace": traceback.format_list(
            [f for f in traceback.extract_tb(exc.__traceback__) if f.filename != __file__]
        ),
    }


def _load_handler(spec: str) -> Any:
    module_name, _, function_name = spec.rpartition(".")
    try:
        module = importlib.import_module(module_name)
    except Exception as exc:
        error = _error(exc, "Runtime.ImportModuleError")
        error["errorMessage"] = f"Unable to import module '{module_name}': {exc}"
        return error
    handler = getattr(module, function_name, None)
    if handler is None:
        return {
            "errorType": "Runtime.HandlerNotFound",
            "errorMessage": f"Handler '{function_name}' missing on module '{module_name}'",
            "stackTrace": [],
        }
    return handler


def _invoke(handler: Any, request: dict[str, Any]) -> dict[str, Any]:
    if isinstance(handler, dict):  # the import failed: every invocation reports it
        return {"error": handler}
    context = LambdaContext(request["requestId"], int(request["deadlineMs"]))
    PARENT.context = context
    try:
        result = handler(request["event"], context)
    except Exception as exc:
        return {"error": _error(exc)}
    finally:
        PARENT.context = None
    try:
        return {"payload": json.dumps(result)}
    except (TypeError, ValueError) as exc:
        return {"error": _error(exc, "Runtime.MarshalError")}


def prepare() -> Any:
    """The function's init: its clock, its module (the handler, or the import's error)."""
    # Running this file puts its directory first on sys.path; the function must not see it.
    here = str(Path(__file__).resolve().parent)
    sys.path[:] = [p for p in sys.path if p and str(Path(p).resolve()) != here]
    use_function_clock()
    return _load_handler(os.environ.get("EMULATOR_HANDLER", "app.handler"))


def serve(handler: Any) -> None:
    """Answer invocations on stdin, one JSON line each, until stdin closes."""
    protocol = os.fdopen(os.dup(1), "w", buffering=1, encoding="utf-8")
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    protocol.write(json.dumps({"ready": True}) + "\n")
    PARENT.protocol = protocol
    for line in sys.stdin:
        if not line.strip():
            continue
        request = json.loads(line)
        CLOCK.set(request.get("clock"))
        version = os.environ.get("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        print(f"START RequestId: {request['requestId']} Version: {version}", file=sys.stderr)
        answer = _invoke(handler, request)
        # The parent waits for this line, so the answer's log tail holds all the output.
        print(f"END RequestId: {request['requestId']}", file=sys.stderr, flush=True)
        protocol.write(json.dumps(answer) + "\n")


def main() -> None:
    serve(prepare())


if __name__ == "__main__":
    main()
