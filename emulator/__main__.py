"""The local control plane, without AWS.

    python -m emulator serve [--port N] [--time-scale X] [--poll-interval S] [--pending-seconds S]
    python -m emulator demo  [--port N] [--time-scale X]

The port defaults to ``LOCAL_PORT`` or 4566. ``serve`` refuses a busy port; ``demo`` takes a
free one instead and says so. ``--time-scale`` (default 1, real time) sets the embedded AWS's
clock: ``10`` runs every wait ten times faster, ``auto`` skips a wait whenever nothing else is
running (see :mod:`emulator.engine.clock`).
"""

from __future__ import annotations

import argparse
import logging
import sys

from emulator.apps.console import Console
from emulator.apps.options import LocalSettings, PortBusy, claim_port, requested_port
from emulator.engine.clock import parse_time_scale


def _template_parameter(text: str) -> tuple[str, str]:
    name, sep, value = text.partition("=")
    if not sep or not name:
        raise argparse.ArgumentTypeError(f"expected Name=Value, got {text!r}")
    return name, value


def _time_scale(text: str) -> float | str:
    try:
        return parse_time_scale(text)
    except ValueError as bad:
        raise argparse.ArgumentTypeError(f"expected a number >= 0 or 'auto': {bad}") from bad


def parser() -> argparse.ArgumentParser:
    cli = argparse.ArgumentParser(prog="python -m emulator", description=__doc__.split("\n")[0])
    commands = cli.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="run the embedded AWS in the foreground")
    demo = commands.add_parser("demo", help="provision a private API, then show two failures")
    for command, poll, pending in ((serve, 2, 5.0), (demo, 1, 3.0)):
        command.add_argument("--port", type=int, help="default: LOCAL_PORT or 4566")
        command.add_argument(
            "--poll-interval", type=int, default=poll, help=f"VpcLink poll, s (default {poll})"
        )
        command.add_argument(
            "--pending-seconds",
            type=float,
            default=pending,
            help=f"how long a new VpcLink stays PENDING (default {pending})",
        )
        command.add_argument(
            "--deleting-seconds",
            type=float,
            default=1.0,
            help="how long a deleted VpcLink stays DELETING (default 1)",
        )
        command.add_argument(
            "--time-scale",
            type=_time_scale,
            default=1.0,
            metavar="X",
            help="emulated seconds per real second, or 'auto' to skip idle waits (default 1)",
        )
        command.add_argument(
            "--parameter",
            action="append",
            type=_template_parameter,
            default=[],
            metavar="NAME=VALUE",
            help="override a template.yaml parameter (repeatable)",
        )
    return cli


def settings_from(arguments: argparse.Namespace) -> LocalSettings:
    return LocalSettings(
        port=requested_port(arguments.port),
        poll_interval_seconds=arguments.poll_interval,
        vpc_link_pending_seconds=arguments.pending_seconds,
        vpc_link_deleting_seconds=arguments.deleting_seconds,
        time_scale=arguments.time_scale,
        parameters=dict(arguments.parameter),
    )


def main(argv: list[str] | None = None) -> int:
    arguments = parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    # moto logs every failed execution at ERROR; we print them ourselves, briefly.
    logging.getLogger("moto.stepfunctions.parser").setLevel(logging.CRITICAL)
    console = Console()
    settings = settings_from(arguments)
    try:
        if arguments.command == "serve":
            claim_port(settings.port, fall_back_to_free=False)  # before moto is imported
            from emulator.apps.serve import serve

            return serve(settings, console)
        from emulator.apps.demo import run_demo

        return run_demo(settings, console)
    except PortBusy as busy:
        console.line(f"error: {busy}")
        return 2


if __name__ == "__main__":
    sys.exit(main())
