"""Answer Lambda ``Invoke`` with our real handlers, each in warm worker subprocesses.

moto runs Lambda code only in Docker. Its Step Functions interpreter, though, calls Lambda
through ``boto3.client(...)`` on boto3's default session, so a ``before-send.lambda.Invoke``
handler registered first on that session answers the call before it leaves the process
(:func:`install_boto_hook`). Clients in other processes reach the same runtime through
:meth:`LambdaRuntime.dispatch`, which the server's middleware calls.

Every function gets a pool of execution environments (:class:`WorkerPool`): worker processes
with exactly the environment the template gives the function, kept warm between invocations; a
second worker starts only when invocations overlap, as on Lambda. Workers are forked from the
function's zygote, which has run the function's init once (see lambda_zygote.py).
"""

from __future__ import annotations

import atexit
import base64
import contextlib
import json
import logging
import os
import queue
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
import weakref
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast
from urllib.parse import unquote, urlsplit

import boto3
from botocore.awsrequest import AWSResponse

from emulator.engine.clock import CLOCK

if TYPE_CHECKING:
    from botocore.compat import HTTPHeaders

LOG = logging.getLogger(__name__)
ZYGOTE_SCRIPT = Path(__file__).with_name("lambda_zygote.py")
_MAX_MESSAGE = 1 << 20
INVOKE_PATH_PREFIX = "/2015-03-31/functions/"
_LOG_LINES_KEPT = 2000


@dataclass(frozen=True)
class FunctionSpec:
    """What the template says about one function, resolved (names, ARNs, environment)."""

    logical_id: str
    name: str
    arn: str
    handler: str
    code_dir: Path
    layer_dirs: tuple[Path, ...]
    environment: Mapping[str, str]
    timeout: int
    memory: int
    runtime: str = "python3.13"


def lambda_environment(
    spec: FunctionSpec, region: str, extra: Mapping[str, str] | None = None
) -> dict[str, str]:
    """What Lambda's runtime gives ``spec``'s function at init (no per-invocation variables),
    then ``extra``, then the template's variables, which win over both."""
    python_path = [str(d) for d in spec.layer_dirs] + [str(spec.code_dir)]
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "LANG": "en_US.UTF-8",
        "TZ": ":UTC",
        "PYTHONPATH": os.pathsep.join(python_path),
        "AWS_REGION": region,
        "AWS_DEFAULT_REGION": region,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_LAMBDA_FUNCTION_NAME": spec.name,
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(spec.memory),
        "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{spec.name}",
        "AWS_LAMBDA_LOG_STREAM_NAME": f"{time.strftime('%Y/%m/%d')}/[$LATEST]emulator",
        "AWS_EXECUTION_ENV": f"AWS_Lambda_{spec.runtime}",
        "LAMBDA_TASK_ROOT": str(spec.code_dir),
        "_HANDLER": spec.handler,
    }
    env.update(extra or {})
    env.update(spec.environment)
    return env


@dataclass(frozen=True)
class InvocationRecord:
    """One invocation, for benchmarks: duration includes the cold start when there was one."""

    function_name: str
    request_id: str
    ended: float  # wall clock (time.time()) when the invocation returned
    duration_ms: float
    init_ms: float | None
    error_type: str | None

    @property
    def cold_start(self) -> bool:
        return self.init_ms is not None


@dataclass
class InvocationResult:
    """What Lambda's Invoke API answers: status, payload, ``X-Amz-Function-Error``, log tail."""

    status_code: int
    payload: bytes
    request_id: str
    function_error: str | None = None
    log_tail: str = ""

    def headers(self, tail: bool = False) -> dict[str, str]:
        headers = {
            "Content-Type": "application/json",
            "X-Amz-Executed-Version": "$LATEST",
            "x-amzn-RequestId": self.request_id,
            "Content-Length": str(len(self.payload)),
        }
        if self.function_error:
            headers["X-Amz-Function-Error"] = self.function_error
        if tail:
            encoded = self.log_tail.encode()[-4096:]
            headers["X-Amz-Log-Result"] = base64.b64encode(encoded).decode()
        return headers


class _RawBody:
    """The ``raw`` object botocore reads a response body from."""

    def __init__(self, body: bytes) -> None:
        self._body = body

    def read(self, *_: Any, **__: Any) -> bytes:
        body, self._body = self._body, b""
        return body

    def stream(self, **_: Any) -> Any:
        body = self.read()
        if body:
            yield body


class WorkerCrashed(Exception):
    """The worker process exited while it was serving an invocation."""


class ForkedProcess:
    """A worker forked by a :class:`FunctionZygote`: the surface of ``subprocess.Popen`` the
    :class:`Worker` uses. It is not our child (the zygote's, which the kernel reaps), so it is
    alive while signal 0 reaches it."""

    def __init__(self, pid: int, stdin: int, stdout: int, stderr: int) -> None:
        self.pid = pid
        self.stdin = os.fdopen(stdin, "w", encoding="utf-8")
        self.stdout = os.fdopen(stdout, encoding="utf-8")
        self.stderr = os.fdopen(stderr, encoding="utf-8")
        self.returncode: int | None = None

    def poll(self) -> int | None:
        if self.returncode is None:
            try:
                os.kill(self.pid, 0)
            except ProcessLookupError:
                self.returncode = -1  # its exit status went to the zygote
        return self.returncode

    def kill(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.pid, signal.SIGKILL)

    def wait(self, timeout: float) -> int:
        deadline = time.monotonic() + timeout
        while self.poll() is None:
            if time.monotonic() >= deadline:
                raise subprocess.TimeoutExpired(str(self.pid), timeout)
            time.sleep(0.01)
        return -1


# What the functions import: loaded once, in the base zygote (pydantic: the validate ones).
PRELOAD = (
    "boto3",
    "botocore.session",
    "msgspec",
    "pydantic",
    "aws_lambda_powertools",
    "aws_lambda_powertools.metrics",
    "aws_lambda_powertools.utilities.parser",
    "aws_lambda_powertools.utilities.typing",
)


class _Forker:
    """One end of a zygote's socket: requests with descriptors, answered with a pid."""

    def __init__(self, control: socket.socket, timeout: float) -> None:
        self._control = control
        self._lock = threading.Lock()
        control.settimeout(timeout)
        if not control.recv(_MAX_MESSAGE):
            raise WorkerCrashed("a Lambda zygote exited while it started")

    def fork(self, request: dict[str, Any], fds: list[int]) -> int:
        try:
            with self._lock:
                socket.send_fds(self._control, [json.dumps(request).encode()], fds)
                answer = self._control.recv(_MAX_MESSAGE)
        finally:
            for fd in fds:
                os.close(fd)
        if not answer:
            raise WorkerCrashed("a Lambda zygote is gone")
        return int(json.loads(answer)["pid"])

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self._control.close()


class BaseZygote:
    """``lambda_zygote.py``, with the libraries every function uses imported: forks a
    :class:`FunctionZygote` per function (see lambda_zygote.py)."""

    def __init__(self, env: Mapping[str, str], preload: tuple[str, ...] = PRELOAD) -> None:
        control, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self.process = subprocess.Popen(
            [sys.executable, "-u", str(ZYGOTE_SCRIPT)],
            stdin=subprocess.DEVNULL,
            env={
                **env,
                "EMULATOR_ZYGOTE_FD": str(theirs.fileno()),
                "EMULATOR_PRELOAD": ",".join(preload),
            },
            pass_fds=(theirs.fileno(),),
        )
        theirs.close()
        self._forker = _Forker(control, timeout=60)

    def function_zygote(self, spec: FunctionSpec, env: Mapping[str, str]) -> FunctionZygote:
        mine, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        path = [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]
        request = {"env": dict(env), "cwd": str(spec.code_dir), "path": path}
        pid = self._forker.fork(request, [os.dup(theirs.fileno())])
        theirs.close()
        return FunctionZygote(pid, _Forker(mine, timeout=max(60.0, float(spec.timeout))))

    def stop(self) -> None:
        self._forker.close()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=5)
        if self.process.poll() is None:
            self.process.kill()


class FunctionZygote:
    """One function's zygote: its environment and init done; forks its workers."""

    def __init__(self, pid: int, forker: _Forker) -> None:
        self.pid = pid
        self._forker = forker

    def spawn(self) -> ForkedProcess:
        pipes = [os.pipe() for _ in range(3)]  # stdin, stdout, stderr: (read, write)
        pid = self._forker.fork({}, [pipes[0][0], pipes[1][1], pipes[2][1]])
        return ForkedProcess(pid, pipes[0][1], pipes[1][0], pipes[2][0])

    def stop(self) -> None:
        self._forker.close()  # it ends when its socket closes


class Worker:
    """One execution environment: a process with the function's environment and its init
    done, forked by the function's :class:`FunctionZygote`."""

    def __init__(self, spec: FunctionSpec, logs: deque[str], zygote: FunctionZygote) -> None:
        self.spec = spec
        self._logs = logs
        started = time.monotonic()
        self.process = zygote.spawn()
        self._answers: queue.Queue[str | None] = queue.Queue()
        self._ended: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._read_answers, daemon=True).start()
        threading.Thread(target=self._read_logs, daemon=True).start()
        self.init_ms: float | None = None
        ready = self._next_answer(timeout=max(10.0, float(spec.timeout)))
        if ready is None:
            self.kill()
            raise WorkerCrashed(f"worker for {spec.name} did not start")
        self.init_ms = (time.monotonic() - started) * 1000

    def _read_answers(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self._answers.put(line)
        self._answers.put(None)

    def _read_logs(self) -> None:
        assert self.process.stderr is not None
        for raw in self.process.stderr:
            line = raw.rstrip("\n")
            self._logs.append(line)
            LOG.debug("[%s] %s", self.spec.name, line)
            if line.startswith("END RequestId: "):
                self._ended.put(line.removeprefix("END RequestId: "))

    def _wait_for_end_line(self, request_id: str, timeout: float = 2.0) -> None:
        """Wait until the worker's output for this request has been collected."""
        deadline = time.monotonic() + timeout
        with contextlib.suppress(queue.Empty):
            while self._ended.get(timeout=max(0.0, deadline - time.monotonic())) != request_id:
                pass

    def _next_answer(self, timeout: float) -> dict[str, Any] | None:
        line = self._answers.get(timeout=timeout)
        return None if line is None else json.loads(line)

    def invoke(self, event: Any, request_id: str) -> dict[str, Any]:
        """Run the handler; raises ``queue.Empty`` on timeout, ``WorkerCrashed`` on exit.

        A function's sleep on a clock that skips idle time comes here (lambda_worker.py):
        it sleeps on the clock, as this thread's activity, and counts against the timeout in
        emulated seconds; the rest of the function's time counts in real time."""
        deadline = time.monotonic() + self.spec.timeout
        self._send(
            {
                "requestId": request_id,
                "event": event,
                "deadlineMs": self._deadline_ms(deadline),
                "clock": _clock_reading(),
            }
        )
        while True:
            answer = self._next_answer(timeout=max(0.0, deadline - time.monotonic()))
            if answer is None:
                raise WorkerCrashed(f"exit status {self.process.wait(timeout=5)}")
            if "sleep" not in answer:
                break
            wanted, left = float(answer["sleep"]), deadline - time.monotonic()
            if wanted >= left:  # the function's time runs out during its sleep
                CLOCK.sleep(max(0.0, left))
                raise queue.Empty
            asleep = time.monotonic()
            CLOCK.sleep(wanted)
            deadline += time.monotonic() - asleep - wanted
            self._send({"clock": _clock_reading(), "deadlineMs": self._deadline_ms(deadline)})
        self._wait_for_end_line(request_id)
        return answer

    def _send(self, message: dict[str, Any]) -> None:
        assert self.process.stdin is not None
        try:
            self.process.stdin.write(json.dumps(message) + "\n")
            self.process.stdin.flush()
        except OSError as exc:
            raise WorkerCrashed(str(exc)) from exc

    @staticmethod
    def _deadline_ms(deadline: float) -> int:
        """A ``time.monotonic()`` deadline as epoch milliseconds (the context's deadline)."""
        return int((time.time() + deadline - time.monotonic()) * 1000)

    def alive(self) -> bool:
        return self.process.poll() is None

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=5)
        for stream in (self.process.stdin, self.process.stdout, self.process.stderr):
            if stream is not None:
                with contextlib.suppress(OSError):
                    stream.close()


def _clock_reading() -> dict[str, Any]:
    reading = CLOCK.reading()
    return {
        "emulated": reading.emulated,
        "wall": reading.wall,
        "scale": reading.scale,
        "auto": CLOCK.auto_advance,
    }


class WorkerPool:
    """The execution environments of one function."""

    def __init__(self, spec: FunctionSpec, env: Mapping[str, str], base: BaseZygote) -> None:
        self.spec = spec
        self.env = dict(env)
        self._base = base
        self._zygote: FunctionZygote | None = None
        self.logs: deque[str] = deque(maxlen=_LOG_LINES_KEPT)
        self._idle: list[Worker] = []
        self._all: list[Worker] = []
        self._lock = threading.Lock()

    def acquire(self) -> Worker:
        with self._lock:
            while self._idle:
                worker = self._idle.pop()
                if worker.alive():
                    return worker
                self._all.remove(worker)
        with self._lock:
            if self._zygote is None:
                self._zygote = self._base.function_zygote(self.spec, self.env)
            zygote = self._zygote
        worker = Worker(self.spec, self.logs, zygote)
        with self._lock:
            self._all.append(worker)
        return worker

    def release(self, worker: Worker) -> None:
        with self._lock:
            if worker.alive():
                self._idle.append(worker)
            elif worker in self._all:
                self._all.remove(worker)

    def discard(self, worker: Worker) -> None:
        worker.kill()
        with self._lock:
            if worker in self._all:
                self._all.remove(worker)

    def stop(self) -> None:
        with self._lock:
            workers, self._all, self._idle = self._all, [], []
            zygote, self._zygote = self._zygote, None
        for worker in workers:
            worker.kill()
        if zygote is not None:
            zygote.stop()

    @property
    def size(self) -> int:
        return len(self._all)


def _error_payload(error_type: str, message: str) -> bytes:
    return json.dumps({"errorType": error_type, "errorMessage": message}).encode()


@dataclass(eq=False)  # identity semantics: runtimes live in a WeakSet
class LambdaRuntime:
    """Runs the stack's functions; one per embedded AWS (several may exist in a process)."""

    functions: Mapping[str, FunctionSpec]
    endpoint_url: str
    region: str = "us-east-1"
    invocations: list[InvocationRecord] = field(default_factory=list)
    _pools: dict[str, WorkerPool] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _base: BaseZygote | None = None

    def __post_init__(self) -> None:
        _live_runtimes.add(self)

    # --- configuration --------------------------------------------------------------------
    def environment_for(self, spec: FunctionSpec) -> dict[str, str]:
        """The worker's whole environment: the template's variables plus what Lambda sets."""
        return lambda_environment(
            spec,
            self.region,
            {
                "PYTHONDONTWRITEBYTECODE": "1",
                "AWS_ENDPOINT_URL": self.endpoint_url,
                "POWERTOOLS_TRACE_DISABLED": "true",
                "EMULATOR_HANDLER": spec.handler,
                "EMULATOR_FUNCTION_ARN": spec.arn,
            },
        )

    def update_functions(self, functions: Mapping[str, FunctionSpec], endpoint_url: str) -> None:
        """Follow a redeploy: pools whose function or environment changed are restarted."""
        with self._lock:
            self.functions = functions
            self.endpoint_url = endpoint_url
            wanted = {spec.name: spec for spec in functions.values()}
            for name, pool in list(self._pools.items()):
                spec = wanted.get(name)
                if spec is None or pool.env != self.environment_for(spec) or pool.spec != spec:
                    pool.stop()
                    del self._pools[name]

    # --- invocation -----------------------------------------------------------------------
    def resolve(self, function_ref: str) -> FunctionSpec | None:
        """A function by name, ARN, partial ARN, with or without a ``$LATEST`` qualifier."""
        ref = unquote(function_ref)
        for spec in self.functions.values():
            if ref in (spec.name, spec.arn, spec.logical_id):
                return spec
            if ref.startswith(spec.arn + ":") or ref.endswith(f":function:{spec.name}"):
                return spec
            if f":function:{spec.name}:" in ref:
                return spec
        return None

    def _pool(self, spec: FunctionSpec) -> WorkerPool:
        with self._lock:
            if self._base is None:
                self._base = BaseZygote(self._base_environment())
            pool = self._pools.get(spec.name)
            if pool is None:
                pool = self._pools[spec.name] = WorkerPool(
                    spec, self.environment_for(spec), self._base
                )
            return pool

    def _base_environment(self) -> dict[str, str]:
        """What the base zygote imports the libraries with: the runtime's, no function's."""
        return {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "LANG": "en_US.UTF-8",
            "TZ": ":UTC",
            "PYTHONDONTWRITEBYTECODE": "1",
            "AWS_REGION": self.region,
            "AWS_DEFAULT_REGION": self.region,
            "AWS_EXECUTION_ENV": "AWS_Lambda_python3.13",
        }

    def invoke(
        self, function_ref: str, payload: bytes | str | None, *, request_id: str | None = None
    ) -> InvocationResult:
        """Invoke synchronously (``RequestResponse``), like the Lambda API; ``request_id`` when
        the caller has already named the invocation (a function URL's event carries it)."""
        request_id = request_id or str(uuid.uuid4())
        spec = self.resolve(function_ref)
        if spec is None:
            message = f"Function not found: {function_ref}"
            body = json.dumps({"Type": "User", "Message": message}).encode()
            return InvocationResult(404, body, request_id, None)
        raw = payload.decode() if isinstance(payload, bytes) else (payload or "")
        try:
            event = json.loads(raw) if raw.strip() else {}
        except ValueError:
            body = _error_payload("InvalidRequestContentException", "Could not parse payload")
            return InvocationResult(400, body, request_id)
        # The clock does not jump while a function runs (save while it sleeps): it runs as
        # the caller's activity when the caller counts as running (a Task state, a poller's
        # batch), so that the caller waiting for it does not hold the clock during its sleeps.
        if CLOCK.current() is not None:
            return self._run(spec, event, request_id)
        with CLOCK.active():
            return self._run(spec, event, request_id)

    def _run(self, spec: FunctionSpec, event: Any, request_id: str) -> InvocationResult:
        pool = self._pool(spec)
        started = time.monotonic()
        log_mark = len(pool.logs)
        try:
            worker = pool.acquire()
        except (WorkerCrashed, queue.Empty) as exc:
            return self._record(
                spec,
                request_id,
                started,
                None,
                InvocationResult(
                    200, _error_payload("Runtime.ExitError", str(exc)), request_id, "Unhandled"
                ),
            )
        init_ms, worker.init_ms = worker.init_ms, None
        try:
            answer = worker.invoke(event, request_id)
        except queue.Empty:
            pool.discard(worker)
            message = (
                f"RequestId: {request_id} Error: Task timed out after {spec.timeout:.2f} seconds"
            )
            result = InvocationResult(
                200, _error_payload("Sandbox.Timedout", message), request_id, "Unhandled"
            )
        except WorkerCrashed as exc:
            pool.discard(worker)
            message = f"RequestId: {request_id} Error: Runtime exited with error: {exc}"
            result = InvocationResult(
                200, _error_payload("Runtime.ExitError", message), request_id, "Unhandled"
            )
        else:
            pool.release(worker)
            if "error" in answer:
                body = json.dumps(answer["error"]).encode()
                result = InvocationResult(200, body, request_id, "Unhandled")
            else:
                result = InvocationResult(200, answer["payload"].encode(), request_id)
        result.log_tail = "\n".join(list(pool.logs)[log_mark:])
        return self._record(spec, request_id, started, init_ms, result)

    def _record(
        self,
        spec: FunctionSpec,
        request_id: str,
        started: float,
        init_ms: float | None,
        result: InvocationResult,
    ) -> InvocationResult:
        error_type = None
        if result.function_error:
            with contextlib.suppress(ValueError, AttributeError):
                error_type = json.loads(result.payload).get("errorType")
        self.invocations.append(
            InvocationRecord(
                spec.name,
                request_id,
                time.time(),
                (time.monotonic() - started) * 1000,
                init_ms,
                error_type,
            )
        )
        return result

    def invoke_async(self, function_ref: str, payload: bytes | str | None) -> InvocationResult:
        """``InvocationType=Event``: accepted at once (202), run in the background."""
        threading.Thread(target=self.invoke, args=(function_ref, payload), daemon=True).start()
        return InvocationResult(202, b"", str(uuid.uuid4()))

    def logs(self, function_name: str) -> list[str]:
        """The collected stderr/stdout lines of a function's workers (most recent last)."""
        pool = self._pools.get(function_name)
        return list(pool.logs) if pool else []

    def pool_size(self, function_name: str) -> int:
        pool = self._pools.get(function_name)
        return pool.size if pool else 0

    # --- transports -----------------------------------------------------------------------
    def dispatch(
        self, function_ref: str, payload: bytes | str | None, headers: Mapping[str, str]
    ) -> tuple[InvocationResult, bool]:
        """Invoke as the Invoke API would for these request headers; returns (result, tail)."""
        lowered = {k.lower(): v for k, v in headers.items()}
        invocation_type = lowered.get("x-amz-invocation-type", "RequestResponse")
        tail = lowered.get("x-amz-log-type") == "Tail"
        if invocation_type == "DryRun":
            return InvocationResult(204, b"", str(uuid.uuid4())), False
        if invocation_type == "Event":
            return self.invoke_async(function_ref, payload), False
        return self.invoke(function_ref, payload), tail

    def stop(self) -> None:
        """Kill every worker of every function."""
        with self._lock:
            pools, self._pools = list(self._pools.values()), {}
            base, self._base = self._base, None
        for pool in pools:
            pool.stop()
        if base is not None:
            base.stop()
        _live_runtimes.discard(self)


# --- routing Invoke calls to the right runtime --------------------------------------------------
_live_runtimes: weakref.WeakSet[LambdaRuntime] = weakref.WeakSet()
_hooked_sessions: weakref.WeakSet[boto3.Session] = weakref.WeakSet()


def function_ref_from_path(path: str) -> str | None:
    """``/2015-03-31/functions/<name>/invocations`` → ``<name>`` (decoded), else None."""
    if not path.startswith(INVOKE_PATH_PREFIX) or not path.endswith("/invocations"):
        return None
    return unquote(path[len(INVOKE_PATH_PREFIX) : -len("/invocations")])


def runtime_for(port: int | None, function_ref: str) -> LambdaRuntime | None:
    """The live runtime serving this port that knows the function (any, if port unknown)."""
    for runtime in list(_live_runtimes):
        same_port = port is None or urlsplit(runtime.endpoint_url).port == port
        if same_port and runtime.resolve(function_ref) is not None:
            return runtime
    return None


def _before_send_invoke(request: Any, **_: Any) -> AWSResponse | None:
    parts = urlsplit(request.url)
    function_ref = function_ref_from_path(parts.path)
    if function_ref is None:
        return None
    runtime = runtime_for(parts.port, function_ref)
    if runtime is None:
        return None
    body = request.body
    if hasattr(body, "read"):
        body = body.read()
    headers = {k: v.decode() if isinstance(v, bytes) else v for k, v in request.headers.items()}
    result, tail = runtime.dispatch(function_ref, body, headers)
    # botocore makes a HeadersDict of whatever mapping it is given; its stubs say HTTPHeaders.
    response_headers = cast("HTTPHeaders", result.headers(tail))
    return AWSResponse(request.url, result.status_code, response_headers, _RawBody(result.payload))


def install_boto_hook(session: boto3.Session | None = None) -> None:
    """Register the Invoke handler first on boto3's default session (idempotent).

    Call again after anything replaced ``boto3.DEFAULT_SESSION``.
    """
    if session is None:
        if boto3.DEFAULT_SESSION is None:
            boto3.setup_default_session()
        session = boto3.DEFAULT_SESSION
    assert session is not None
    if session in _hooked_sessions:
        return
    # A before-send handler may return the response (the request is then not sent); the stubs
    # type every handler as returning None.
    handler = cast("Callable[..., None]", _before_send_invoke)
    session.events.register_first(
        "before-send.lambda.Invoke", handler, unique_id="emulator-lambda-invoke"
    )
    _hooked_sessions.add(session)


def stop_all() -> None:
    """Stop the workers of every live runtime (registered with atexit)."""
    for runtime in list(_live_runtimes):
        runtime.stop()


atexit.register(stop_all)
