"""The embedded AWS's clock: scaled, stopped and stepped, or auto-advancing over idle time.

The Clock tests use a Clock of their own (not the embedded AWS's) and threads whose progress
they observe through the clock's own counters, so that no assertion depends on timing: where
time stands still, a sleeper cannot wake, however long the test takes to look.
"""

from __future__ import annotations

import json
import threading

import pytest

from emulator.engine.clock import Clock, parse_time_scale
from emulator.engine.runtime import EmbeddedAws
from privateapi.waiting import wait_until

pytestmark = pytest.mark.unit

BOUND = 10  # real seconds a thread may take to get where the test waits for it


def stopped_clock(*, auto: bool = False) -> Clock:
    """A clock that stands still (and, ``auto``, still jumps over idle time)."""
    clock = Clock()
    clock.configure(0, auto_advance=auto)
    return clock


def in_thread(work) -> tuple[threading.Thread, list]:
    results: list = []
    thread = threading.Thread(target=lambda: results.append(work()), daemon=True)
    thread.start()
    return thread, results


def test_time_scale_is_a_number_or_auto() -> None:
    assert parse_time_scale("auto") == "auto"
    assert parse_time_scale("10") == 10.0
    assert parse_time_scale("0") == 0.0
    with pytest.raises(ValueError, match="negative"):
        parse_time_scale("-1")


def test_a_stopped_clock_moves_only_when_stepped() -> None:
    clock = stopped_clock()
    start = clock.time()
    sleeper, woke = in_thread(lambda: clock.sleep(60))
    wait_until(lambda: clock.sleeping == 1, timeout=BOUND, what="the sleeper to sleep")

    clock.advance(59)
    assert clock.time() == pytest.approx(start + 59)
    assert clock.sleeping == 1  # not yet due

    clock.advance(1)
    sleeper.join(BOUND)
    assert woke == [True]


def test_a_scaled_clock_runs_faster_than_real_time() -> None:
    clock = Clock()
    clock.configure(1000)
    start = clock.time()
    clock.sleep(30)  # 30 ms of real time
    assert clock.time() - start >= 30


def test_auto_advance_jumps_to_the_wake_up_when_nothing_runs() -> None:
    clock = stopped_clock(auto=True)
    start = clock.time()
    with clock.active():
        assert clock.sleep(900)  # the only activity sleeps: the clock jumps
    assert clock.time() == pytest.approx(start + 900)


def test_auto_advance_waits_while_something_else_runs() -> None:
    clock = stopped_clock(auto=True)
    start = clock.time()
    busy = clock.claim()  # e.g. a Lambda invocation in progress

    def sleeper() -> bool:
        with clock.active():
            return clock.sleep(15)

    thread, woke = in_thread(sleeper)
    wait_until(lambda: clock.sleeping == 1, timeout=BOUND, what="the sleeper to sleep")
    assert clock.time() == pytest.approx(start)  # no jump while `busy` runs
    assert thread.is_alive()

    clock.suspend(busy)  # it ends: now nothing runs
    thread.join(BOUND)
    assert woke == [True]
    assert clock.time() == pytest.approx(start + 15)
    assert clock.running == 0


def test_auto_advance_wakes_the_earliest_sleeper_first() -> None:
    clock = stopped_clock(auto=True)
    start = clock.time()
    gate = clock.claim()
    woken_at: dict[str, float] = {}

    def sleeper(name: str, seconds: float) -> None:
        with clock.active():
            clock.sleep(seconds)
            woken_at[name] = clock.time() - start

    threads = [
        in_thread(lambda: sleeper("late", 30))[0],
        in_thread(lambda: sleeper("early", 10))[0],
    ]
    wait_until(lambda: clock.sleeping == 2, timeout=BOUND, what="both to sleep")
    clock.suspend(gate)
    for thread in threads:
        thread.join(BOUND)

    assert woken_at == {"early": pytest.approx(10), "late": pytest.approx(30)}


def test_a_cancelled_sleep_returns_false() -> None:
    clock = stopped_clock()
    stop = threading.Event()
    thread, woke = in_thread(lambda: clock.sleep(60, cancelled=stop.is_set))
    wait_until(lambda: clock.sleeping == 1, timeout=BOUND, what="the sleeper to sleep")
    stop.set()
    thread.join(BOUND)
    assert woke == [False]
    assert clock.sleeping == 0


def test_suspend_unless_keeps_a_waker_from_being_lost() -> None:
    clock = stopped_clock(auto=True)
    parent = clock.claim()
    clock.suspend(parent, unless=lambda: True)  # what it waits for is done already
    assert clock.running == 1
    clock.suspend(parent)
    assert clock.running == 0


def test_wait_for_times_out_in_emulated_time() -> None:
    clock = stopped_clock(auto=True)
    start = clock.time()
    assert clock.wait_for(lambda: False, timeout=3600) is False  # nothing runs: a jump
    assert clock.time() == pytest.approx(start + 3600)


def test_the_clock_control_steps_and_describes_it(aws: EmbeddedAws) -> None:
    before = aws.clock.time()
    answer = aws.control("clock", advance=86_400)
    assert answer["scale"] == 0
    assert aws.clock.time() - before == pytest.approx(86_400, abs=1)
    assert answer["aheadOfWallClockSeconds"] >= 86_399


def test_a_function_reads_the_embedded_aws_clock(aws: EmbeddedAws) -> None:
    aws.clock.advance(86_400)  # a day ahead of the wall clock
    echo = aws.stack.functions["EchoFunction"]
    answer = aws.client("lambda").invoke(FunctionName=echo.name, Payload=b"{}")
    result = json.loads(answer["Payload"].read())
    assert result["now"] == pytest.approx(aws.clock.time(), abs=5)
    assert result["datetimeNow"] == pytest.approx(aws.clock.time(), abs=5)


def test_a_wait_state_sleeps_on_the_clock(aws: EmbeddedAws) -> None:
    # Given a workflow that waits an hour, on a clock that skips idle time
    aws.clock.configure("auto")
    before = aws.clock.time()
    entries = [
        {
            "EventBusName": aws.outputs["BusName"],
            "Source": "tests.emulator",
            "DetailType": "StubRequested",
            "Detail": json.dumps({"waitSeconds": 3600}),
        }
    ]

    # When it runs
    assert aws.client("events").put_events(Entries=entries)["FailedEntryCount"] == 0
    sfn = aws.client("stepfunctions")
    (execution,) = wait_until(
        lambda: [
            e
            for e in sfn.list_executions(stateMachineArn=aws.outputs["WorkflowArn"])["executions"]
            if e["status"] != "RUNNING"
        ],
        timeout=30,
        what="the workflow to finish",
    )

    # Then it went through the Wait state, and an hour of emulated time passed
    assert execution["status"] == "SUCCEEDED"
    history = sfn.get_execution_history(executionArn=execution["executionArn"])["events"]
    assert "WaitStateExited" in [event["type"] for event in history]
    assert aws.clock.time() - before >= 3600
    stop = execution["stopDate"].timestamp()
    assert stop - execution["startDate"].timestamp() >= 3600
