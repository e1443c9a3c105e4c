"""What ``serve`` and ``demo`` share: the embedded AWS on a well-known port, and clients that
reach it over HTTP exactly as the AWS CLI or any SDK would.

``LOCAL_PORT`` overrides the port (default 4566, LocalStack's, so existing habits work).
"""

from __future__ import annotations

import errno
import os
import socket
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypedDict

import boto3
from botocore.config import Config

from emulator.apps.console import Console, clock
from emulator.engine.clock import TimeScale
from emulator.engine.runtime import EmbeddedAws, free_port
from emulator.ticket_desk import DeskEvent, TicketDesk
from emulator.ticket_desk.wiring import TicketWiring, connect

DEFAULT_PORT = 4566
REGION = "us-east-1"
ACCOUNT_ID = "123456789012"  # moto's default account


class Credentials(TypedDict):
    """Keyword arguments of ``boto3.Session``: an access key (moto accepts any)."""

    aws_access_key_id: str
    aws_secret_access_key: str


LOCAL_CREDENTIALS = Credentials(aws_access_key_id="testing", aws_secret_access_key="testing")


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


def port_is_free(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError as exc:
            if exc.errno in (errno.EADDRINUSE, errno.EACCES):
                return False
            raise
    return True


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


def start_embedded_aws(settings: LocalSettings) -> EmbeddedAws:
    """The embedded AWS, listening on ``settings.port``, ``template.yaml`` deployed."""
    aws = EmbeddedAws(
        port=settings.port,
        parameters=settings.template_parameters(),
        region=REGION,
        vpc_link_pending_seconds=settings.vpc_link_pending_seconds,
        vpc_link_deleting_seconds=settings.vpc_link_deleting_seconds,
        time_scale=settings.time_scale,
    )
    return aws.start()


def http_client(endpoint_url: str, service: str) -> Any:
    """A boto3 client for ``service`` at ``endpoint_url`` (dummy credentials, standard retries)."""
    session = boto3.Session(region_name=REGION, **LOCAL_CREDENTIALS)
    config = Config(retries={"total_max_attempts": 3, "mode": "standard"})
    # any service by its name (boto3's stubs type a client per literal service name)
    make_client: Callable[..., Any] = session.client
    return make_client(service, endpoint_url=endpoint_url, config=config)


def start_ticket_desk(aws: EmbeddedAws, console: Console) -> TicketWiring:
    """The embedded ticket desk, started, the stack's write-back pointed at it (and sample
    tickets seeded), and each write-back printed as the desk receives it."""

    def show(event: DeskEvent) -> None:
        lines = event.describe().splitlines() or [""]
        console.line(f"{clock()}  ticket desk: {lines[0]}")
        for line in lines[1:]:  # a comment's further lines, under its first
            console.line(f"{'':10}{'':13}  {line}")

    desk = TicketDesk(on_change=show).start()
    secretsmanager = http_client(aws.endpoint_url, "secretsmanager")
    return connect(secretsmanager, aws.stack_name, aws.outputs["TicketIntakeUrl"], desk)
