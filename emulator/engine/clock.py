"""The embedded AWS's one clock: every period that models the passing of AWS time reads it.

Step Functions Wait states and retry intervals, ``$$.Execution.StartTime`` and the execution
history, VpcLink PENDING and DELETING periods, throttling windows, and the handlers' own
``datetime.now()`` (see :mod:`emulator.engine.lambda_worker`) all run on :data:`CLOCK`, so a
deadline computed by a handler and a Wait state measured by the interpreter agree.

How it moves:

* **scale** — emulated seconds per real second. ``1`` (the default of ``make local`` and
  ``make demo``) is real time, for a person watching; ``10`` runs ten times faster; ``0`` stands
  still until :meth:`Clock.advance` steps it.
* **auto-advance** (``--time-scale auto``, and the tests) — whenever nothing in the embedded
  AWS is running (no execution between two states, no Lambda invocation) and something sleeps
  on the clock (a Wait state, a retry interval), the clock jumps to the earliest wake-up. A
  15 s poll interval or a 3-minute PENDING link then costs no real time at all, while the
  workflow still goes through every Wait, every poll and every deadline; and since the clock
  only jumps over idle time, a step's own work takes exactly as long in emulated time as it
  does in real time, as in AWS: deadlines and leases keep their meaning on a slow machine.

Who counts as running is told by the Step Functions patches (:mod:`emulator.fidelity.stepfunctions`)
and the Lambda runtime, through :meth:`Clock.claim`, :meth:`Clock.active`,
:meth:`Clock.suspend` / :meth:`Clock.resume` and :meth:`Clock.sleep`.

The clock is process-global, like moto's backends.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from typing import Literal

# While a cancellable sleep waits, how often (real seconds) it looks at its cancel condition.
_CANCEL_CHECK_SECONDS = 0.1

TimeScale = float | Literal["auto"]


def parse_time_scale(text: str) -> TimeScale:
    """``auto`` or a non-negative number (``--time-scale``)."""
    if text.strip().lower() == "auto":
        return "auto"
    value = float(text)
    if value < 0:
        raise ValueError("the time scale cannot be negative")
    return value


def describe_time_scale(time_scale: TimeScale) -> str:
    """One line for a person: what the clock does at this setting."""
    if time_scale == "auto":
        return "auto (a wait is skipped whenever nothing else runs)"
    if time_scale == 1:
        return "real time (--time-scale 1)"
    if time_scale == 0:
        return "stopped: it moves only when stepped (POST /_emulator/clock)"
    return f"{time_scale:g}x real time (waits and PENDING periods {time_scale:g} times shorter)"


@dataclass(frozen=True, slots=True)
class ClockReading:
    """Enough to compute the clock in another process: ``emulated + (time.time() - wall) *
    scale``. A Lambda worker gets one with each invocation; the clock never jumps while an
    invocation runs (it is counted as running), so the worker's copy stays exact."""

    emulated: float
    wall: float
    scale: float

    def time(self) -> float:
        return self.emulated + (time.time() - self.wall) * self.scale


class Activity:
    """One unit of "something is running" (an execution thread, an invocation)."""

    __slots__ = ("counted",)

    def __init__(self) -> None:
        self.counted = False


@dataclass(eq=False)
class _Sleeper:
    target: float
    activity: Activity | None
    woken: bool = False


class Clock:
    def __init__(self) -> None:
        self._cond = threading.Condition(threading.RLock())
        self._reading = ClockReading(emulated=time.time(), wall=time.time(), scale=1.0)
        self._auto_advance = False
        self._running = 0
        self._sleepers: list[_Sleeper] = []
        self._local = threading.local()

    # --- reading --------------------------------------------------------------------------
    def time(self) -> float:
        """Emulated seconds since the epoch (what ``time.time()`` is in AWS)."""
        return self._reading.time()

    def now(self, tz: tzinfo | None = UTC) -> datetime:
        return datetime.fromtimestamp(self.time(), tz)

    def reading(self) -> ClockReading:
        return self._reading

    @property
    def scale(self) -> float:
        return self._reading.scale

    @property
    def auto_advance(self) -> bool:
        return self._auto_advance

    def describe(self) -> dict[str, object]:
        """What ``/_emulator/clock`` answers."""
        return {
            "now": self.now().isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "scale": "auto" if self._auto_advance else self.scale,
            "aheadOfWallClockSeconds": round(self.time() - time.time(), 3),
        }

    # --- setting ----------------------------------------------------------------------------
    def configure(self, time_scale: TimeScale, *, auto_advance: bool | None = None) -> None:
        """``auto``: real time plus auto-advance; a number: that scale, without auto-advance
        unless ``auto_advance`` says otherwise (a stopped clock that still jumps: scale 0)."""
        with self._cond:
            auto = time_scale == "auto" if auto_advance is None else auto_advance
            scale = 1.0 if time_scale == "auto" else float(time_scale)
            self._reading = ClockReading(emulated=self.time(), wall=time.time(), scale=scale)
            self._auto_advance = auto
            self._cond.notify_all()
            self._maybe_jump()

    def restart(self) -> None:
        """Back to the wall clock's time (a fresh embedded AWS); the scale is kept."""
        with self._cond:
            now = time.time()
            self._reading = ClockReading(emulated=now, wall=now, scale=self.scale)
            self._cond.notify_all()

    def advance(self, seconds: float) -> None:
        """Step the clock forward: every sleep whose time has come wakes up."""
        if seconds < 0:
            raise ValueError("the clock does not go back")
        with self._cond:
            current = self._reading
            self._reading = ClockReading(
                emulated=current.emulated + seconds, wall=current.wall, scale=current.scale
            )
            self._wake_due()
            self._cond.notify_all()

    # --- who is running -------------------------------------------------------------------
    def claim(self) -> Activity:
        """Count something as running from now on (before the thread that does it starts)."""
        activity = Activity()
        self.resume(activity)
        return activity

    @contextmanager
    def active(self, activity: Activity | None = None) -> Iterator[Activity]:
        """Run the block as ``activity`` (a new one if None) on this thread; it stops counting
        when the block ends. Sleeps on this thread suspend it."""
        activity = activity or self.claim()
        stack = self._stack()
        stack.append(activity)
        try:
            yield activity
        finally:
            stack.pop()
            self.suspend(activity)

    @contextmanager
    def acting_as(self, activity: Activity | None) -> Iterator[None]:
        """Run the block as another thread's ``activity``, which that thread lends while it
        waits for this one (it keeps counting it)."""
        stack = self._stack()
        if activity is not None:
            stack.append(activity)
        try:
            yield
        finally:
            if activity is not None:
                stack.pop()

    def current(self) -> Activity | None:
        """The activity this thread runs as, if any."""
        stack = self._stack()
        return stack[-1] if stack else None

    def suspend(
        self, activity: Activity | None, *, unless: Callable[[], bool] | None = None
    ) -> None:
        """``activity`` waits for something else (idempotent); not if ``unless()`` holds, which
        is checked under the clock's lock, so that a waker's :meth:`resume` is never lost."""
        if activity is None:
            return
        with self._cond:
            if unless is not None and unless():
                return
            if activity.counted:
                activity.counted = False
                self._running -= 1
                self._maybe_jump()

    def resume(self, activity: Activity | None) -> None:
        """``activity`` runs again (idempotent). A waker calls it for the one it wakes, before
        it stops counting itself, so the clock never sees a gap between the two."""
        if activity is None:
            return
        with self._cond:
            if not activity.counted:
                activity.counted = True
                self._running += 1

    def _stack(self) -> list[Activity]:
        stack: list[Activity] | None = getattr(self._local, "stack", None)
        if stack is None:
            stack = self._local.stack = []
        return stack

    # --- waiting ----------------------------------------------------------------------------
    def sleep(self, seconds: float, *, cancelled: Callable[[], bool] | None = None) -> bool:
        """Sleep ``seconds`` of emulated time; False if ``cancelled()`` became true first."""
        if seconds <= 0:
            return True
        activity = self.current()
        with self._cond:
            sleeper = _Sleeper(target=self.time() + seconds, activity=activity)
            self._sleepers.append(sleeper)
            if activity is not None and activity.counted:
                activity.counted = False
                self._running -= 1
            self._maybe_jump()
            while not sleeper.woken:
                if cancelled is not None and cancelled():
                    break
                remaining = sleeper.target - self.time()
                if remaining <= 0:
                    self._wake(sleeper)
                    break
                timeout = remaining / self.scale if self.scale > 0 else None
                if cancelled is not None:
                    timeout = min(timeout or _CANCEL_CHECK_SECONDS, _CANCEL_CHECK_SECONDS)
                self._cond.wait(timeout)
            if sleeper in self._sleepers:
                self._sleepers.remove(sleeper)
            self.resume(activity)
            return sleeper.woken

    def start_timer(self, timeout: float | None) -> _Sleeper | None:
        """A deadline ``timeout`` emulated seconds from now, counted from now: for a
        :meth:`wait_for` on work started after it (which may sleep on the clock before the
        wait begins: the clock must not jump past the deadline meanwhile)."""
        if timeout is None:
            return None
        with self._cond:
            # When it fires, the waiting thread's activity runs again (it was lent to the work,
            # which may be asleep): the clock must not jump on while the waiter handles it.
            timer = _Sleeper(target=self.time() + timeout, activity=self.current())
            self._sleepers.append(timer)
            return timer

    def wait_for(
        self,
        condition: Callable[[], bool],
        timeout: float | None,
        *,
        timer: _Sleeper | None = None,
    ) -> bool:
        """Wait until ``condition()`` holds (whoever makes it hold calls :meth:`notify`), at
        most ``timeout`` emulated seconds (None: no limit), or until ``timer`` (from
        :meth:`start_timer`); False on timeout. The waiting thread's activity keeps counting:
        it is lent to whoever does the work."""
        with self._cond:
            if timer is None:
                timer = self.start_timer(timeout)
            if timer is not None:
                self._maybe_jump()
            try:
                while not condition():
                    if timer is not None and (timer.woken or self.time() >= timer.target):
                        return False
                    remaining = None if timer is None else timer.target - self.time()
                    self._cond.wait(
                        None if remaining is None or self.scale == 0 else remaining / self.scale
                    )
                return True
            finally:
                if timer is not None and timer in self._sleepers:
                    self._sleepers.remove(timer)

    def notify(self) -> None:
        """Something a :meth:`wait_for` may wait on has changed."""
        with self._cond:
            self._cond.notify_all()

    def _wake(self, sleeper: _Sleeper) -> None:
        sleeper.woken = True
        if sleeper in self._sleepers:
            self._sleepers.remove(sleeper)
        self.resume(sleeper.activity)

    def _wake_due(self) -> None:
        now = self.time()
        for sleeper in [s for s in self._sleepers if s.target <= now]:
            self._wake(sleeper)

    def _maybe_jump(self) -> None:
        """Auto-advance: nothing runs and something sleeps, so jump to its wake-up."""
        if not self._auto_advance or self._running > 0 or not self._sleepers:
            return
        target = min(sleeper.target for sleeper in self._sleepers)
        current = self._reading
        ahead = target - current.time()
        if ahead > 0:
            self._reading = ClockReading(
                emulated=current.emulated + ahead, wall=current.wall, scale=current.scale
            )
        self._wake_due()
        self._cond.notify_all()

    @property
    def running(self) -> int:
        """How many activities are running now (for tests of the clock itself)."""
        return self._running

    @property
    def sleeping(self) -> int:
        return len(self._sleepers)


CLOCK = Clock()
