"""What ``serve`` and ``demo`` are asked for: the port (``--port``, else ``LOCAL_PORT``, else
4566, LocalStack's, so existing habits work), whether it is free, and how the local control
plane runs. Light on purpose: ``python -m emulator serve`` refuses a busy port before it
imports moto (about 4 s).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

from emulator.engine.clock import TimeScale
from emulator.engine.ports import free_port, port_is_free

DEFAULT_PORT = 4566


class PortBusy(RuntimeError):
    """The requested port is taken by another process."""

    def __init__(self, port: int) -> None:
        super().__init__(
            f"port {port} is already in use (another `make local`? LocalStack?). "
            "Stop that process or choose another port: LOCAL_PORT=4577 make local"
        )
        self.port = port


def requested_port(explicit: int | None = None) -> int:
    """``--port`` if given, else ``LOCAL_PORT``, else 4566."""
    if explicit:
        return explicit
    return int(os.environ.get("LOCAL_PORT") or DEFAULT_PORT)


def claim_port(port: int, *, fall_back_to_free: bool) -> int:
    """``port`` when free; else a free one (``fall_back_to_free``) or :class:`PortBusy`."""
    if port_is_free(port):
        return port
    if fall_back_to_free:
        return free_port()
    raise PortBusy(port)


@dataclass(frozen=True)
class LocalSettings:
    """How the local control plane runs: port, polling, how long a link stays PENDING, and how
    fast its clock goes (:mod:`emulator.engine.clock`)."""

    port: int = DEFAULT_PORT
    poll_interval_seconds: int = 2
    vpc_link_pending_seconds: float = 5.0
    vpc_link_deleting_seconds: float = 1.0
    time_scale: TimeScale = 1.0
    parameters: dict[str, str] = field(default_factory=dict)

    def template_parameters(self) -> dict[str, Any]:
        return {"PollIntervalSeconds": self.poll_interval_seconds, **self.parameters}
