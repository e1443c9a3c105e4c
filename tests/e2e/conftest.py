"""End-to-end fixtures: ``python -m emulator serve`` as a real subprocess on a free port, driven
only over HTTP with boto3 (``endpoint_url``), as a user with the AWS CLI or an SDK would.

Nothing here imports the emulator: the server is a black box at ``http://127.0.0.1:<port>``.
"""

from __future__ import annotations

import functools
import json
import os
import signal
import socket
import subprocess
import sys
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from privateapi.progress import Notification, ProgressFollower
from privateapi.requester import REQUEST_ID_TAG, Requester
from privateapi.waiting import wait_until

REPO_ROOT = Path(__file__).resolve().parents[2]
REGION = "us-east-1"
BUS_NAME = "private-api-requests"
SERVE_SAMPLE_NLB = "orders-service-nlb"  # what `serve` creates before it says it is ready
READY_LINE = "Ready."
STARTUP_TIMEOUT_SECONDS = 60
STOP_TIMEOUT_SECONDS = 20
FOLLOW_TIMEOUT_SECONDS = 60
# What `serve` is started with: the template's poll interval and AWS's own link timings, on a
# clock that skips a wait whenever nothing else runs.
POLL_INTERVAL_SECONDS = 15
LINK_PENDING_SECONDS = 180
LINK_DELETING_SECONDS = 60


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class LocalServer:
    """``python -m emulator serve`` in a subprocess, its output in a log file."""

    port: int
    process: subprocess.Popen[bytes]
    log: Path
    _clients: dict[str, Any] = field(default_factory=dict)

    @property
    def endpoint_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def client(self, service: str) -> Any:
        if service not in self._clients:
            session = boto3.Session(
                aws_access_key_id="testing", aws_secret_access_key="testing", region_name=REGION
            )
            self._clients[service] = session.client(
                service,
                endpoint_url=self.endpoint_url,
                config=Config(retries={"total_max_attempts": 2, "mode": "standard"}),
            )
        return self._clients[service]

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def is_ready(self) -> bool:
        """Says it is ready (as a user waits for it to), and answers over HTTP with the sample
        network created. Nothing is asked before it says so: a request in the middle of the
        sample network's creation would change its NLB ARN (see emulator/apps/serve.py)."""
        if self.process.poll() is not None:
            raise AssertionError(f"serve exited with {self.process.returncode}:\n{self.output()}")
        if READY_LINE not in self.output():
            return False
        try:
            self.client("elbv2").describe_load_balancers(Names=[SERVE_SAMPLE_NLB])
        except (BotoCoreError, ClientError):
            return False
        return True

    def control(self, hook: str, **body: Any) -> dict[str, Any]:
        """POST ``/_emulator/<hook>``: the emulator's documented test controls."""
        request = urllib.request.Request(
            f"{self.endpoint_url}/_emulator/{hook}",
            data=json.dumps(body).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            return dict(json.loads(response.read()))

    def stop(self) -> int:
        """SIGTERM, as a service manager would; the exit status."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=STOP_TIMEOUT_SECONDS)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return int(self.process.returncode)

    # --- the control plane as a requester sees it -------------------------------------------
    @functools.cached_property
    def requester(self) -> Requester:
        """The shared harness over HTTP, on ``serve``'s stack (found by its names, as a user
        would find them with ``list-topics`` and ``list-tables``)."""
        topics = self.client("sns").list_topics()["Topics"]
        topic = next(t["TopicArn"] for t in topics if t["TopicArn"].endswith("-progress"))
        tables = self.client("dynamodb").list_tables()["TableNames"]
        ledger = next(name for name in tables if name.endswith("-ledger"))
        return Requester(self.client, BUS_NAME, topic, ledger)

    def execution_arns(self) -> set[str]:
        sfn = self.client("stepfunctions")
        pages = sfn.get_paginator("list_executions").paginate(
            stateMachineArn=self.requester.state_machine_arn()
        )
        return {e["executionArn"] for page in pages for e in page["executions"]}

    def tagged_with(self, request_id: str) -> list[str]:
        """REST APIs and VpcLinks (any status) tagged with this request id."""
        apigateway = self.client("apigateway")
        found = [
            f"{kind} {item['id']}"
            for kind, items in (
                ("rest api", apigateway.get_rest_apis()["items"]),
                ("vpc link", apigateway.get_vpc_links()["items"]),
            )
            for item in items
            if (item.get("tags") or {}).get(REQUEST_ID_TAG) == request_id
        ]
        return found

    def links_to(self, nlb_arn: str) -> list[dict[str, Any]]:
        links = self.client("apigateway").get_vpc_links()["items"]
        return [link for link in links if nlb_arn in link.get("targetArns", [])]


@dataclass
class Progress:
    """Every notification that arrived on a test's own subscription, by request id."""

    follower: ProgressFollower
    by_request: dict[str, list[Notification]] = field(default_factory=dict)

    def wait_until(
        self,
        request_id: str,
        condition: Callable[[list[Notification]], bool],
        timeout: float = FOLLOW_TIMEOUT_SECONDS,
    ) -> list[Notification]:
        def met() -> list[Notification] | None:
            arrived = self.by_request.get(request_id, [])
            if condition(arrived):
                return arrived
            for notification in self.follower.poll(wait_seconds=1):
                self.by_request.setdefault(notification.request_id, []).append(notification)
            return None

        return wait_until(
            met, timeout=timeout, interval=0, what=f"the notifications {request_id} awaits"
        )

    def until_final(self, request_id: str) -> list[Notification]:
        return self.wait_until(request_id, lambda seen: bool(seen) and seen[-1].final)


@pytest.fixture(scope="module")
def local_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalServer]:
    """One ``serve`` per module, on the ``auto`` clock; SIGTERM at the end must stop it with
    exit status 0."""
    port = free_port()
    log = tmp_path_factory.mktemp("serve") / "serve.log"
    command = [sys.executable, "-m", "emulator", "serve", "--port", str(port)]
    command += ["--poll-interval", str(POLL_INTERVAL_SECONDS), "--time-scale", "auto"]
    command += ["--pending-seconds", str(LINK_PENDING_SECONDS)]
    command += ["--deleting-seconds", str(LINK_DELETING_SECONDS)]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    with log.open("wb") as output:
        process = subprocess.Popen(
            command, cwd=REPO_ROOT, env=env, stdout=output, stderr=subprocess.STDOUT
        )
    server = LocalServer(port, process, log)
    try:
        wait_until(server.is_ready, timeout=STARTUP_TIMEOUT_SECONDS, what="serve to be ready")
        yield server
    finally:
        status = server.stop()
    assert status == 0, f"serve exited with {status} after SIGTERM:\n{server.output()}"


@pytest.fixture
def progress(local_server: LocalServer) -> Iterator[Progress]:
    with local_server.requester.follower() as follower:
        yield Progress(follower)
