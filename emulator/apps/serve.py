"""``python -m emulator serve`` (``make local``): the control plane in the foreground.

Starts the embedded AWS on 127.0.0.1 (port 4566 or ``LOCAL_PORT``), deploys ``template.yaml``,
creates the sample network (a VPC, two subnets, an internal NLB and an internal ALB with its
security group), prints the stack outputs and ready-to-paste ``aws events put-events`` lines
(one for the NLB, one for the ALB), then prints every progress notification and every failed
execution as they happen. SIGINT (Ctrl-C) or SIGTERM stops the Lambda workers
and the server and exits 0.

The sample NLB's ARN is the same on every run: moto's ID generator is seeded just before the
network is created, so ``events/provision.json`` in the repository names it and works as is (the
ALB is made after the NLB, so the NLB's ARN did not change when it was added; its own ARN is
named by ``events/provision-alb.json``).
(A client calling in the middle of that creation, or a moto upgrade, could change the ARN: the
file is checked, and when it does not name this NLB and bus the printed command carries the
same entries inline with the right values, so the line printed is always ready to paste.)
"""

from __future__ import annotations

import json
import shlex
import signal
import threading
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

from moto.moto_api._internal import mock_random

from emulator.apps.console import Console, clock
from emulator.apps.local import http_client, start_embedded_aws, start_ticket_desk
from emulator.apps.options import LocalSettings
from emulator.engine.clock import CLOCK, describe_time_scale
from emulator.engine.runtime import EmbeddedAws
from emulator.engine.stack import REPO_ROOT
from emulator.ticket_desk.wiring import SYSTEMS, TicketWiring, sample_delivery
from privateapi.network import SampleNetwork, create_sample_network
from privateapi.progress import ProgressFollower

SAMPLE_NETWORK_SEED = 4566
SAMPLE_NETWORK_NAME = "orders-service"
PROVISION_EVENTS_FILE = REPO_ROOT / "events" / "provision.json"
TICKET_DELIVERIES_DIR = REPO_ROOT / ".local" / "tickets"
PROVISION_ALB_EVENTS_FILE = REPO_ROOT / "events" / "provision-alb.json"


def create_seeded_sample_network(endpoint_url: str) -> SampleNetwork:
    """The sample network, over HTTP, with the same IDs (and NLB ARN) on every run."""
    mock_random.seed(SAMPLE_NETWORK_SEED)
    return create_sample_network(
        http_client(endpoint_url, "ec2"),
        http_client(endpoint_url, "elbv2"),
        SAMPLE_NETWORK_NAME,
        alb=True,
    )


# --- the ready-to-paste request ---------------------------------------------------------------
def put_events_command(
    endpoint_url: str,
    bus_name: str,
    arn: str,
    *,
    events_file: Path = PROVISION_EVENTS_FILE,
    field: str = "nlbArn",
) -> str:
    """``aws events put-events`` for ``events_file`` when it names this bus and load balancer
    (in ``field``), else the same entries inline with the right values substituted."""
    entries = json.loads(events_file.read_text())
    prefix = f"aws --endpoint-url {endpoint_url} events put-events --entries "
    if _names(entries, bus_name, arn, field):
        return prefix + f"file://{_shown_path(events_file)}"
    for entry in entries:
        entry["EventBusName"] = bus_name
        entry["Detail"] = json.dumps({**json.loads(entry["Detail"]), field: arn})
    return prefix + shlex.quote(json.dumps(entries))


def _names(entries: list[dict[str, Any]], bus_name: str, arn: str, field: str) -> bool:
    return bool(entries) and all(
        entry.get("EventBusName") == bus_name
        and json.loads(entry.get("Detail", "{}")).get(field) == arn
        for entry in entries
    )


def _shown_path(path: Path) -> str:
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


# --- what happens while it runs ---------------------------------------------------------------
@dataclass
class ActivityPrinter:
    """Prints each notification as it arrives and each execution that failed, with its cause."""

    console: Console
    follower: ProgressFollower
    sfn: Any
    state_machine_arn: str
    reported_failures: set[str] = field(default_factory=set)
    in_progress: set[str] = field(default_factory=set)

    def print_new_activity(self) -> None:
        for notification in self.follower.poll(wait_seconds=1):
            prefix = f"{clock()}  {notification.request_id}"
            self.console.notification(notification, prefix)
            if notification.final:
                self.in_progress.discard(notification.request_id)
            else:
                self.in_progress.add(notification.request_id)
        self._print_failed_executions()
        count = len(self.in_progress)
        self.console.status(f"{clock()}  {count} request(s) in progress; Ctrl-C stops")

    def _print_failed_executions(self) -> None:
        executions = self.sfn.list_executions(
            stateMachineArn=self.state_machine_arn, statusFilter="FAILED"
        )["executions"]
        for execution in executions:
            arn = execution["executionArn"]
            if arn in self.reported_failures:
                continue
            self.reported_failures.add(arn)
            described = self.sfn.describe_execution(executionArn=arn)
            self.console.execution_failed(
                execution["name"], described.get("error"), described.get("cause")
            )


# --- tickets ----------------------------------------------------------------------------------
def ticket_curls(tickets: TicketWiring, nlb_arn: str) -> dict[str, str]:
    """Per system, a ``curl`` posting its sample delivery (fresh: the intake refuses old
    ones), signed with the stack's webhook secret, saved under ``.local/tickets/``."""
    TICKET_DELIVERIES_DIR.mkdir(parents=True, exist_ok=True)
    commands = {}
    for system in SYSTEMS:
        body = sample_delivery(system, now=CLOCK.now(), nlb_arn=nlb_arn)
        path = TICKET_DELIVERIES_DIR / f"{system}.json"
        path.write_text(json.dumps(body, indent=1))
        commands[system] = tickets.curl(system, Path(_shown_path(path)), f"local-{system}-1")
    return commands


def stop_on_signals() -> threading.Event:
    """An event set by SIGINT or SIGTERM (instead of a KeyboardInterrupt mid-request)."""
    stop = threading.Event()

    def request_stop(signum: int, _frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    return stop


def print_ready(
    console: Console, aws: EmbeddedAws, network: SampleNetwork, tickets: TicketWiring
) -> None:
    console.heading(f"Embedded AWS on {aws.endpoint_url}  (region {aws.region})")
    console.line(f"Clock: {describe_time_scale(aws.time_scale)}")
    console.line("Stack outputs:")
    for name, value in sorted(aws.outputs.items()):
        console.field(name, value, width=26)
    console.line("Sample network:")
    console.field("VPC", network.vpc_id)
    console.field("Subnets", ", ".join(network.subnet_ids))
    console.field("NLB ARN", network.nlb_arn)
    console.field("NLB DNS name", network.nlb_dns_name)
    if network.alb is not None:
        console.field("ALB ARN", network.alb.arn)
        console.field("ALB DNS name", network.alb.dns_name)
        console.field("ALB groups", ", ".join(network.alb.security_group_ids))
    console.line()
    console.line("Credentials for the AWS CLI (any value works):")
    console.line(
        "  export AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing "
        f"AWS_DEFAULT_REGION={aws.region}"
    )
    console.line("Request a private API:")
    command = put_events_command(aws.endpoint_url, aws.outputs["RequestBusName"], network.nlb_arn)
    if "file://" not in command:
        console.line(f"  ({_shown_path(PROVISION_EVENTS_FILE)} names another NLB; inline instead:)")
    console.line(f"  {command}")
    if network.alb is not None:
        console.line("Request a private API to the ALB (through a VPC link V2):")
        alb_command = put_events_command(
            aws.endpoint_url,
            aws.outputs["RequestBusName"],
            network.alb.arn,
            events_file=PROVISION_ALB_EVENTS_FILE,
            field="targetArn",
        )
        if "file://" not in alb_command:
            shown = _shown_path(PROVISION_ALB_EVENTS_FILE)
            console.line(f"  ({shown} names another ALB; inline instead:)")
        console.line(f"  {alb_command}")
    console.line("Or with the CLI (python -m privateapi --help), after:")
    console.line(
        f"  export AWS_ENDPOINT_URL={aws.endpoint_url} "
        f"PRIVATEAPI_BUS={aws.outputs['RequestBusName']} "
        f"PRIVATEAPI_TOPIC_ARN={aws.outputs['ProgressTopicArn']} "
        f"PRIVATEAPI_LEDGER_TABLE={aws.outputs['LedgerTableName']}"
    )
    console.line(
        f"  python -m privateapi request --api-name orders --nlb-arn {network.nlb_arn} --follow"
    )
    console.line()
    console.line("Ticket intake (POST a signed delivery; the ticket desk shows the write-backs):")
    for system in SYSTEMS:
        console.field(system, tickets.url(system), width=12)
    console.field("ticket desk", f"{tickets.desk.base_url}/_desk/tickets", width=12)
    console.line("An approved ticket of each system, as it would deliver it (paste twice: the")
    console.line("second is answered as a duplicate):")
    for system, command in ticket_curls(tickets, network.nlb_arn).items():
        console.line(f"  # {system}")
        console.line(f"  {command}")
    console.line()
    console.line("Ready. Progress notifications and ticket write-backs appear below; Ctrl-C stops.")


def serve(settings: LocalSettings, console: Console) -> int:
    """Run until SIGINT / SIGTERM; 0 on a clean stop. The caller has refused a busy port
    (``python -m emulator serve``: before this module, and moto, are imported)."""
    stop = stop_on_signals()
    console.line(f"Starting the embedded AWS on 127.0.0.1:{settings.port} ...")
    aws = start_embedded_aws(settings)
    tickets: TicketWiring | None = None
    try:
        network = create_seeded_sample_network(aws.endpoint_url)
        tickets = start_ticket_desk(aws, console)
        with ProgressFollower(
            http_client(aws.endpoint_url, "sns"),
            http_client(aws.endpoint_url, "sqs"),
            aws.outputs["ProgressTopicArn"],
        ) as follower:
            print_ready(console, aws, network, tickets)
            printer = ActivityPrinter(
                console,
                follower,
                http_client(aws.endpoint_url, "stepfunctions"),
                aws.outputs["ProvisionStateMachineArn"],
            )
            while not stop.is_set():
                printer.print_new_activity()
    finally:
        if tickets is not None:
            tickets.desk.stop()
        aws.stop()
    console.line("Stopped.")
    return 0
