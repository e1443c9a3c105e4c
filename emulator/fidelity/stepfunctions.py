"""moto's Step Functions interpreter on the embedded AWS's clock (:mod:`emulator.engine.clock`).

moto's interpreter (a port of LocalStack's) waits in real time: ``Wait`` states on
``env.program_state_event.wait(seconds)``, retry intervals with ``time.sleep``, and it stamps
``$$.Execution.StartTime``, ``$$.State.EnteredTime`` and the history with
``datetime.now()``. ``install()`` points all of them at the clock, and tells the clock what is
running: an execution's thread and each Parallel branch's thread count as running, except
while they sleep on the clock or (a Parallel state) wait for their branches.
"""

from __future__ import annotations

import contextlib
import datetime as _datetime
import json
import threading
import types
from collections.abc import Callable
from typing import Any

from emulator.engine.clock import CLOCK, Activity

_lock = threading.Lock()
_installed = False
_stopped_by_reset: set[str] = set()


class _ClockedDatetime(_datetime.datetime):
    """``datetime.datetime`` whose ``now()`` reads the clock (the class moto's modules see)."""

    @classmethod
    def now(cls, tz: _datetime.tzinfo | None = None) -> _datetime.datetime:  # type: ignore[override]
        return _datetime.datetime.fromtimestamp(CLOCK.time(), tz)

    @classmethod
    def utcnow(cls) -> _datetime.datetime:  # type: ignore[override]
        return CLOCK.now(_datetime.UTC).replace(tzinfo=None)


def _clocked_datetime_module() -> types.ModuleType:
    """A stand-in for the ``datetime`` module, whose ``datetime`` class reads the clock."""
    module = types.ModuleType("datetime")
    module.__dict__.update(
        {name: getattr(_datetime, name) for name in dir(_datetime) if not name.startswith("__")}
    )
    module.datetime = _ClockedDatetime  # type: ignore[attr-defined]
    return module


class _ClockedTime:
    """A stand-in for the ``time`` module in moto's retrier: its sleeps are on the clock."""

    def __getattr__(self, name: str) -> Any:
        import time

        return getattr(time, name)

    @staticmethod
    def sleep(seconds: float) -> None:
        CLOCK.sleep(seconds)

    @staticmethod
    def time() -> float:
        return CLOCK.time()


# The interpreter's modules that read the time for something AWS would show or wait on.
_DATETIME_USERS = (
    "moto.stepfunctions.parser.models",
    "moto.stepfunctions.parser.backend.execution",
    "moto.stepfunctions.parser.backend.execution_worker",
    "moto.stepfunctions.parser.asl.component.state.state",
    "moto.stepfunctions.parser.asl.eval.event.event_manager",
    "moto.stepfunctions.parser.asl.component.state.wait.wait_function.timestamp",
    "moto.stepfunctions.parser.asl.component.state.exec.state_parallel.branches_decl",
)


def install() -> None:
    """Patch moto's interpreter once per process."""
    global _installed
    with _lock:
        if _installed:
            return
        _patch_time_sources()
        _patch_wait_state()
        _patch_execution_threads()
        _patch_task_threads()
        _patch_program_timeout()
        _cache_parsed_definitions()
        _announce_status_changes()
        _patch_parallel_branches()
        _installed = True


def _patch_time_sources() -> None:
    import importlib

    clocked = _clocked_datetime_module()
    for name in _DATETIME_USERS:
        importlib.import_module(name).datetime = clocked  # type: ignore[attr-defined]
    from moto.stepfunctions.parser.asl.component.common.retry import retrier_decl

    # the retrier sleeps between attempts with its `import time`, a name it does not export
    retrier: Any = retrier_decl
    retrier.time = _ClockedTime()


def _patch_wait_state() -> None:
    from moto.stepfunctions.parser.asl.component.state.wait.wait_function.wait_function import (
        WaitFunction,
    )

    def _wait_interval(self: Any, env: Any, wait_seconds: int) -> None:
        # Ends early only when the execution stops (moto's version also returned on the
        # program state event, which it pulses on every state change).
        CLOCK.sleep(wait_seconds, cancelled=lambda: not env.is_running())

    WaitFunction._wait_interval = _wait_interval  # type: ignore[method-assign]
    _patch_timestamp_wait()


def _patch_timestamp_wait() -> None:
    """A Wait state with ``Timestamp`` / ``TimestampPath`` ends at that moment (Step Functions
    keeps its whole seconds: "considers the time value up to seconds and truncates
    milliseconds", Wait state reference). moto's subtracts a naive ``datetime.now()`` (the
    machine's local time, not UTC) and truncates the difference to whole seconds, so it ends
    up to a second early; here, the exact difference on the clock, in UTC."""
    from moto.stepfunctions.parser.asl.component.common.error_name.failure_event import (
        FailureEventException,
    )
    from moto.stepfunctions.parser.asl.component.state.wait.wait_function.timestamp import (
        Timestamp,
    )

    def _get_wait_seconds(self: Any, env: Any) -> float:
        self.string.eval(env=env)
        text = env.stack.pop()
        moment = self._from_timestamp_string(timestamp=text)
        if moment is None:
            raise FailureEventException(self._create_failure_event(env, text))
        return max(0.0, float(moment.replace(tzinfo=_datetime.UTC).timestamp()) - CLOCK.time())

    Timestamp._get_wait_seconds = _get_wait_seconds  # type: ignore[method-assign,assignment]


def _run_as(activity: Activity, work: Callable[[], None]) -> Callable[[], None]:
    def run() -> None:
        with CLOCK.active(activity):
            work()

    return run


def _patch_execution_threads() -> None:
    from moto.stepfunctions.parser.backend.execution_worker import ExecutionWorker
    from moto.stepfunctions.parser.utils import TMP_THREADS

    def start(self: Any) -> None:
        # Counted as running from the moment StartExecution returns, not from when its
        # thread happens to be scheduled.
        thread = threading.Thread(target=_run_as(CLOCK.claim(), self._execution_logic), daemon=True)
        TMP_THREADS.append(thread)
        thread.start()

    ExecutionWorker.start = start  # type: ignore[method-assign]


class _LendingThread(threading.Thread):
    """A thread that runs as the activity of the thread that made it: a state runs its work
    in a thread of its own and blocks until it ends (moto's per-state timeout)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._emulator_activity = CLOCK.current()

    def run(self) -> None:
        with CLOCK.acting_as(self._emulator_activity):
            super().run()


def _patch_task_threads() -> None:
    from moto.stepfunctions.parser.asl.component.state.exec import execute_state

    execute_state.Thread = _LendingThread  # type: ignore[attr-defined]


# Real seconds a timed-out program gets to notice it stopped (a Lambda task in flight ends first).
PROGRAM_END_AFTER_TIMEOUT_SECONDS = 30


def _patch_program_timeout() -> None:
    """A program (the execution, or a Parallel branch) runs in a thread of its own, joined
    with the state machine's ``TimeoutSeconds``: in emulated seconds, on the clock."""
    from moto.stepfunctions.parser.asl.component.eval_component import EvalComponent
    from moto.stepfunctions.parser.asl.component.program.program import Program
    from moto.stepfunctions.parser.utils import TMP_THREADS

    def eval(self: Any, env: Any) -> None:
        timeout = self.timeout_seconds.timeout_seconds if self.timeout_seconds else None
        env.next_state_name = self.start_at.start_at_name
        done = threading.Event()
        # The deadline counts from now: the program's first state may sleep on the clock
        # before this thread begins to wait, and the clock must not jump past the deadline.
        deadline = CLOCK.start_timer(timeout)

        def run() -> None:
            try:
                EvalComponent.eval(self, env)
            finally:
                done.set()
                CLOCK.notify()

        worker_thread = _LendingThread(target=run, daemon=True)
        TMP_THREADS.append(worker_thread)
        worker_thread.start()
        if not CLOCK.wait_for(done.is_set, timeout, timer=deadline):
            env.set_timed_out()
            CLOCK.notify()  # a Wait state still sleeping sees the execution has stopped
            # and ends the program, which records ExecutionTimedOut: this thread keeps its
            # activity counted meanwhile (a real-time wait, not on the clock), so that the
            # auto clock cannot jump to the Wait's own end before the event is stamped.
            done.wait(PROGRAM_END_AFTER_TIMEOUT_SECONDS)

    Program.eval = eval  # type: ignore[method-assign]


def _uses_map(states: dict[str, Any]) -> bool:
    for state in states.values():
        if state.get("Type") == "Map":
            return True
        if any(_uses_map(branch.get("States", {})) for branch in state.get("Branches", [])):
            return True
    return False


def _cache_parsed_definitions() -> None:
    """moto parses the definition (with ANTLR, in Python: about 0.4 s for ours) for every
    execution; ten executions started together spend four seconds there before their first
    state. A parsed program keeps its per-execution state in the execution's environment
    (``env.heap``), except Map states' components: definitions without one are parsed once."""
    from moto.stepfunctions.parser.asl.parse.asl_parser import AmazonStateLanguageParser
    from moto.stepfunctions.parser.backend.execution_worker import ExecutionWorker

    parsed: dict[str, Any] = {}
    parsing = threading.Lock()
    original = ExecutionWorker._get_evaluation_entrypoint

    def entrypoint(self: Any) -> Any:
        definition = self._evaluation_details.state_machine_details.definition
        if _uses_map(json.loads(definition).get("States", {})):
            return original(self)
        with parsing:  # executions started together wait for the one parse
            if definition not in parsed:
                parsed[definition] = AmazonStateLanguageParser.parse(definition)[0]
            return parsed[definition]

    ExecutionWorker._get_evaluation_entrypoint = entrypoint  # type: ignore[method-assign]


# Step Functions leaves an execution's input and output out of its status change event when
# they would make the event too large (``inputDetails.included`` false).
_MAX_DATA_IN_EVENT = 200 * 1024


def status_change_event(execution: Any) -> dict[str, Any]:
    """The "Step Functions Execution Status Change" entry AWS puts on the default bus."""

    def data(value: Any) -> tuple[str | None, dict[str, bool] | None]:
        if value is None:
            return None, None
        text = value if isinstance(value, str) else json.dumps(value)
        included = len(text.encode()) <= _MAX_DATA_IN_EVENT
        return (text if included else None), {"included": included}

    def millis(moment: Any) -> int | None:
        return None if moment is None else int(moment.timestamp() * 1000)

    input_text, input_details = data(execution.input_data)
    output_text, output_details = data(execution.output)
    detail = {
        "executionArn": execution.exec_arn,
        "stateMachineArn": execution.state_machine_arn,
        "name": execution.name,
        "status": execution.status,
        "startDate": millis(execution.start_date),
        "stopDate": millis(execution.stop_date),
        "input": input_text,
        "inputDetails": input_details,
        "output": output_text,
        "outputDetails": output_details,
        "error": execution.error,
        "cause": execution.cause,
    }
    return {
        "Source": "aws.states",
        "DetailType": "Step Functions Execution Status Change",
        "Resources": [execution.exec_arn],
        "Detail": json.dumps(detail),
    }


def _announce_status_changes() -> None:
    """When an execution ends, its status change goes to the account's default bus, as Step
    Functions does for Standard workflows (the stack's watch on stopped executions reads it).
    Executions stopped by the emulator's own reset are not announced."""
    from moto.events.models import events_backends
    from moto.stepfunctions.parser.backend.execution import BaseExecutionWorkerCommunication

    original = BaseExecutionWorkerCommunication.terminated

    def terminated(self: Any) -> None:
        original(self)
        execution = self.execution
        if execution.exec_arn in _stopped_by_reset:
            return
        backend = events_backends[execution.account_id][execution.region_name]
        with contextlib.suppress(Exception):  # EventBridge's trouble is not the execution's
            backend.put_events([status_change_event(execution)])

    BaseExecutionWorkerCommunication.terminated = terminated  # type: ignore[method-assign]


def _patch_parallel_branches() -> None:
    from moto.stepfunctions.parser.asl.component.state.exec.state_parallel import (
        branch_worker,
        branches_decl,
    )

    original_start: Callable[[Any], None] = branch_worker.BranchWorker.start
    original_routine = branch_worker.BranchWorker._thread_routine

    def start(self: Any) -> None:
        self._emulator_activity = CLOCK.claim()
        original_start(self)

    def thread_routine(self: Any) -> None:
        with CLOCK.active(self._emulator_activity):
            original_routine(self)

    branch_worker.BranchWorker.start = start  # type: ignore[method-assign]
    branch_worker.BranchWorker._thread_routine = thread_routine  # type: ignore[method-assign]

    pool_cls = branches_decl.BranchWorkerPool
    original_init = pool_cls.__init__
    original_terminated = pool_cls.on_terminated
    original_wait: Callable[[Any], None] = pool_cls.wait

    def init(self: Any, workers_num: int) -> None:
        original_init(self, workers_num)
        self._emulator_parent = CLOCK.current()

    def on_terminated(self: Any, env: Any) -> None:
        original_terminated(self, env)
        if self._termination_event.is_set():
            # Hand over to the Parallel state before this branch stops counting.
            CLOCK.resume(self._emulator_parent)

    def wait(self: Any) -> None:
        # The branches run; the Parallel state waits (unless they are already done).
        CLOCK.suspend(self._emulator_parent, unless=self._termination_event.is_set)
        try:
            original_wait(self)
        finally:
            CLOCK.resume(self._emulator_parent)

    pool_cls.__init__ = init  # type: ignore[method-assign]
    pool_cls.on_terminated = on_terminated  # type: ignore[method-assign]
    pool_cls.wait = wait  # type: ignore[method-assign]


def _state_machines() -> list[Any]:
    from moto.stepfunctions.parser.models import stepfunctions_parser_backends

    return [
        machine
        for account in list(stepfunctions_parser_backends.values())
        for backend in list(account.values())
        for machine in list(getattr(backend, "state_machines", []))
    ]


def stop_running_executions() -> None:
    """Stop every running execution (a reset must not leave workflows running against wiped
    backends); each ends at its next state, or at once if it sleeps on the clock."""
    for machine in _state_machines():
        for execution in list(machine.executions):
            if execution.status == "RUNNING":
                with contextlib.suppress(Exception):
                    _stopped_by_reset.add(execution.exec_arn)
                    execution.stop(CLOCK.now(), error="EmulatorReset", cause="emulator reset")


def forget_executions() -> None:
    """Drop every (stopped) execution from the state machines, as a fresh deployment has none."""
    for machine in _state_machines():
        machine.executions.clear()
