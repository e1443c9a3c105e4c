"""What ``serve`` and ``demo`` share: the embedded AWS on a well-known port, and clients that
reach it over HTTP exactly as the AWS CLI or any SDK would (the port and the settings:
:mod:`emulator.apps.options`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypedDict

import boto3
from botocore.config import Config

from emulator.apps.console import Console, clock
from emulator.apps.options import LocalSettings
from emulator.engine.runtime import EmbeddedAws
from emulator.ticket_desk import DeskEvent, TicketDesk
from emulator.ticket_desk.wiring import TicketWiring, connect

REGION = "us-east-1"
ACCOUNT_ID = "123456789012"  # moto's default account


class Credentials(TypedDict):
    """Keyword arguments of ``boto3.Session``: an access key (moto accepts any)."""

    aws_access_key_id: str
    aws_secret_access_key: str


LOCAL_CREDENTIALS = Credentials(aws_access_key_id="testing", aws_secret_access_key="testing")


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
