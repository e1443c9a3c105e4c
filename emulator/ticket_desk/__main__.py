"""``python -m emulator.ticket_desk``: the ticket desk in the foreground.

Starts the desk on 127.0.0.1 (``--port``, a free one by default), seeds the tickets the sample
deliveries in ``events/tickets`` name (unless ``--empty``), prints each system's base URL and
credentials, then one line per write-back as it arrives. SIGINT (Ctrl-C) or SIGTERM stops it
and exits 0.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
from collections.abc import Sequence
from types import FrameType
from typing import TextIO

from emulator.ticket_desk.samples import seed_sample_tickets
from emulator.ticket_desk.server import TicketDesk
from emulator.ticket_desk.state import DeskEvent, now


class EventPrinter:
    """The on_change hook of a console: each write-back as one timestamped line."""

    def __init__(self, out: TextIO) -> None:
        self.out = out

    def __call__(self, event: DeskEvent) -> None:
        print(f"{now():%H:%M:%S}  {event.describe()}", file=self.out, flush=True)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m emulator.ticket_desk",
        description="Emulated Jira, ServiceNow and GitHub write-back APIs on 127.0.0.1.",
    )
    parser.add_argument("--port", type=int, default=0, help="port (default: a free one)")
    parser.add_argument("--empty", action="store_true", help="seed no sample tickets")
    return parser.parse_args(argv)


def main(
    argv: Sequence[str] | None = None,
    *,
    stop: threading.Event | None = None,
    out: TextIO | None = None,
) -> int:
    """Run until ``stop`` is set (by SIGINT / SIGTERM when not given), printing to ``out``
    (standard output by default); 0 on a clean stop."""
    args = parse_args(argv)
    out = out or sys.stdout
    if stop is None:
        stop = threading.Event()

        def request_stop(signum: int, _frame: FrameType | None) -> None:
            stop.set()

        signal.signal(signal.SIGINT, request_stop)
        signal.signal(signal.SIGTERM, request_stop)
    with TicketDesk(args.port, on_change=EventPrinter(out)) as desk:
        seeded = [] if args.empty else seed_sample_tickets(desk)
        print(f"Ticket desk on {desk.base_url}", file=out, flush=True)
        print(json.dumps(desk.describe(), indent=2), file=out, flush=True)
        for ticket in seeded:
            print(
                f"Seeded {ticket['system']} {ticket['id']} ({ticket['status']})",
                file=out,
                flush=True,
            )
        print(
            "Ready: each write-back is printed as it arrives; Ctrl-C stops.", file=out, flush=True
        )
        stop.wait()
    print("Stopped.", file=out, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
