"""What the local control plane prints: notifications as they arrive, checks, summaries.

On a terminal the output is a compact live view (colours, and a status line rewritten in place
while a request is waiting on AWS); anywhere else (a pipe, CI, a test) it is plain lines, one
per event, with no escape codes.
"""

from __future__ import annotations

import json
import shutil
import sys
import time
from collections.abc import Iterable
from datetime import datetime
from typing import Any, TextIO

from privateapi.progress import Notification
from provisioner.contract.vocabulary import Status

_COLOURS = {"green": "32", "red": "31", "yellow": "33", "cyan": "36", "dim": "2", "bold": "1"}
_STATUS_COLOURS: dict[str, str] = {
    Status.SUCCEEDED: "green",
    Status.FAILED: "red",
    Status.REJECTED: "red",
    Status.ACCEPTED: "cyan",
}
_SPINNER = "|/-\\"
STATUS_WIDTH = 19


class Console:
    """Prints to ``stream``; live (colours, in-place status line) only when it is a TTY."""

    def __init__(self, stream: TextIO | None = None, *, live: bool | None = None) -> None:
        self.stream = stream or sys.stdout
        self.live = self.stream.isatty() if live is None else live
        self._status_line = False
        self._ticks = 0

    # --- primitives ---------------------------------------------------------------------------
    def paint(self, text: str, colour: str) -> str:
        return f"\x1b[{_COLOURS[colour]}m{text}\x1b[0m" if self.live else text

    def fit(self, text: str, room: int) -> str:
        """On a terminal, ``text`` cut to ``room`` characters (the live view stays one line per
        notification); elsewhere, all of it."""
        if not self.live or len(text) <= room:
            return text
        return text[: max(room - 1, 10)] + "\u2026"

    def _columns(self) -> int:
        return shutil.get_terminal_size((120, 24)).columns

    def line(self, text: str = "") -> None:
        self._clear_status()
        self.stream.write(text + "\n")
        self.stream.flush()

    def heading(self, text: str) -> None:
        self.line()
        self.line(self.paint(f"== {text}", "bold"))

    def field(self, label: str, value: Any, width: int = 14) -> None:
        self.line(f"  {label:<{width}} {value}")

    # --- live status (terminal only) ---------------------------------------------------------
    def status(self, text: str) -> None:
        """A transient status line, rewritten in place; nothing at all when not live."""
        if not self.live:
            return
        self._ticks += 1
        spinner = _SPINNER[self._ticks % len(_SPINNER)]
        text = self.fit(f"{spinner} {text}", self._columns() - 3)
        self.stream.write(f"\r\x1b[K  {self.paint(text, 'dim')}")
        self.stream.flush()
        self._status_line = True

    def _clear_status(self) -> None:
        if self._status_line:
            self.stream.write("\r\x1b[K")
            self._status_line = False

    # --- domain output ------------------------------------------------------------------------
    def notification(self, notification: Notification, prefix: str) -> None:
        """One progress notification: ``prefix  STATUS  message`` and its error, if any."""
        status = notification.status
        painted = self.paint(f"{status:<{STATUS_WIDTH}}", _STATUS_COLOURS.get(status, "yellow"))
        room = self._columns() - len(prefix) - STATUS_WIDTH - 5
        self.line(f"  {prefix}  {painted} {self.fit(notification.body.get('message', ''), room)}")
        error = notification.body.get("error")
        if isinstance(error, dict):
            self.error_details(error, said=str(notification.body.get("message", "")))

    def error_details(self, error: dict[str, Any], said: str = "") -> None:
        """The error's code, its message unless ``said`` already holds it, fields, remedy."""
        indent = " " * 6
        message = error.get("message") or ""
        told = f": {message}" if message not in said or self.live else ""
        self.line(f"{indent}error   {error.get('code')}{told}")
        for bad in error.get("fields") or []:
            self.line(f"{indent}field   {bad.get('field')}: {bad.get('rule')}")
        if error.get("remedy"):
            self.line(f"{indent}remedy  {error['remedy']}")

    def execution_failed(self, name: str, error: str | None, cause: str | None) -> None:
        painted = self.paint("execution FAILED", "red")
        self.line(f"  {clock()}  {painted} {name}: {error or '?'}")
        if cause:
            self.line(f"      cause   {summarize_cause(cause)}")

    def check(self, ok: bool, what: str, detail: str = "") -> bool:
        mark = self.paint("PASS", "green") if ok else self.paint("FAIL", "red")
        suffix = f"  ({detail})" if detail and not ok else ""
        self.line(f"  [{mark}] {what}{suffix}")
        return ok

    def steps(self, steps: Iterable[tuple[str, float, float]]) -> None:
        """``(status, seconds since the previous step, seconds since the request)`` rows."""
        for status, step, total in steps:
            self.line(f"    {status:<{STATUS_WIDTH}} +{step:5.1f} s   (at {total:5.1f} s)")


def summarize_cause(cause: str, limit: int = 400) -> str:
    """A Lambda error's ``errorType: errorMessage`` (not its stack trace), at most ``limit``."""
    try:
        parsed = json.loads(cause)
    except ValueError:
        parsed = None
    if isinstance(parsed, dict) and "errorMessage" in parsed:
        cause = f"{parsed.get('errorType', 'Error')}: {parsed['errorMessage']}"
    return cause if len(cause) <= limit else cause[:limit] + " ..."


def clock() -> str:
    return datetime.now().strftime("%H:%M:%S")


def since(start: float) -> float:
    return time.monotonic() - start
