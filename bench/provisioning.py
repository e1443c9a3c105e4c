"""(b) End-to-end overhead and (c) transitions, invocations and cost, per provisioning.

The embedded AWS runs the real state machine and handlers. A background thread reads the
VpcLinks every 50 ms (the emulator settles a link's status lazily, on read, from its creation
time, so reading it often does not change when it becomes AVAILABLE, only how precisely we
see it) and keeps the first moment each one read AVAILABLE. It reads them in-process, from
the embedded AWS's API Gateway itself, not through its API: twenty calls a second would take
the whole of the account's API Gateway rate (10 calls per second, which the embedded AWS
enforces), and the workflow's own calls would be refused. The overhead of a provisioning is
its completion (execution ``stopDate``; the SUCCEEDED notification's arrival is shown too)
minus that moment: what the workflow adds after the link is ready (the last poll's wait,
joining the Parallel, deploy, stage variable, notification).
"""

from __future__ import annotations

import logging
import statistics
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from emulator.engine.lambda_runtime import InvocationRecord
from emulator.engine.runtime import EmbeddedAws
from privateapi.progress import ProgressFollower
from privateapi.requester import Requester

OVERHEAD_SLACK_SECONDS = 2.0
PRICE_PER_1000_TRANSITIONS = 0.025
EXECUTION_TIMEOUT_SECONDS = 60


class LinkWatcher:
    """First moment (``time.time()``) each VpcLink was seen, and first seen AVAILABLE.
    ``read_links()`` answers the links as GetVpcLinks's ``items``."""

    def __init__(self, read_links: Callable[[], list[dict[str, Any]]], interval: float = 0.05):
        self.read_links = read_links
        self.interval = interval
        self.first_seen: dict[str, float] = {}
        self.available_at: dict[str, float] = {}
        self.errors = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="bench-link-watcher", daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                links = self.read_links()
            except Exception:  # a hiccup of the emulator must not end the benchmark
                self.errors += 1
                links = []
            now = time.time()
            for link in links:
                self.first_seen.setdefault(link["id"], now)
                if link.get("status") == "AVAILABLE":
                    self.available_at.setdefault(link["id"], now)
            self._stop.wait(self.interval)

    def __enter__(self) -> LinkWatcher:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)


@dataclass
class Provisioning:
    index: int
    request_id: str
    status: str
    link_id: str
    started: float
    stopped: float
    notified: float | None
    error: str
    link_created: float | None
    link_available: float | None
    history: list[dict[str, Any]] = field(default_factory=list)
    invocations: list[InvocationRecord] = field(default_factory=list)

    @property
    def overhead(self) -> float | None:
        return None if self.link_available is None else self.stopped - self.link_available

    @property
    def notification_overhead(self) -> float | None:
        if self.link_available is None or self.notified is None:
            return None
        return self.notified - self.link_available

    @property
    def cold_after_available(self) -> float:
        """Seconds of cold-start init in invocations that ended after the link was AVAILABLE."""
        if self.link_available is None:
            return 0.0
        return sum(
            (i.init_ms or 0.0) / 1000
            for i in self.invocations
            if i.cold_start and i.ended > self.link_available
        )

    @property
    def transitions(self) -> int:
        return sum(1 for event in self.history if event["type"].endswith("StateEntered"))

    @property
    def cost(self) -> float:
        return self.transitions * PRICE_PER_1000_TRANSITIONS / 1000


@dataclass
class E2eResult:
    poll_interval: int
    pending_seconds: float
    startup_seconds: float
    runs: list[Provisioning]
    function_names: dict[str, str]  # physical name -> logical id
    watcher_errors: int = 0

    @property
    def target(self) -> float:
        return self.poll_interval + OVERHEAD_SLACK_SECONDS

    @property
    def overheads(self) -> list[float]:
        return [r.overhead for r in self.runs if r.overhead is not None]

    @property
    def passed(self) -> bool:
        complete = len(self.overheads) == len(self.runs) and self.runs
        return (
            bool(complete)
            and all(r.status == "SUCCEEDED" for r in self.runs)
            and max(self.overheads) <= self.target
        )


def _execution_of(sfn: Any, machine: str, known: set[str], request_id: str) -> str | None:
    for summary in sfn.list_executions(stateMachineArn=machine)["executions"]:
        arn = summary["executionArn"]
        if arn in known:
            continue
        if request_id in sfn.describe_execution(executionArn=arn).get("input", ""):
            known.add(arn)
            return str(arn)
    return None


@dataclass
class _Watch:
    """Follow one request until its execution ends; note when its final notification came."""

    sfn: Any
    follower: ProgressFollower
    request_id: str
    final_at: float | None = None
    final: dict[str, Any] = field(default_factory=dict)

    def _read_notifications(self) -> None:
        for notification in self.follower.poll(wait_seconds=1):
            if notification.request_id == self.request_id and notification.final:
                self.final_at, self.final = time.time(), notification.body

    def until_finished(self, machine: str, known: set[str]) -> dict[str, Any]:
        deadline = time.monotonic() + EXECUTION_TIMEOUT_SECONDS
        arn: str | None = None
        while time.monotonic() < deadline:
            self._read_notifications()
            arn = arn or _execution_of(self.sfn, machine, known, self.request_id)
            execution = self.sfn.describe_execution(executionArn=arn) if arn else {}
            if execution and execution["status"] != "RUNNING":
                drain_until = time.monotonic() + 3  # the final notification may trail a little
                while self.final_at is None and time.monotonic() < drain_until:
                    self._read_notifications()
                return dict(execution)
        raise TimeoutError(
            f"{self.request_id}: no finished execution in {EXECUTION_TIMEOUT_SECONDS} s"
        )


def _error_text(execution: dict[str, Any], history: list[dict[str, Any]]) -> str:
    """Why an execution did not succeed: its error, and the first failure in its history."""
    if execution.get("status") == "SUCCEEDED":
        return ""
    text = f"{execution.get('status')} {execution.get('error') or ''}".strip()
    for event in history:
        details = next((v for k, v in event.items() if k.endswith("FailedEventDetails")), None)
        if details:
            cause = " ".join(str(details.get("cause", "")).split())
            return f"{text}; first failure: {details.get('error')}: {cause[:240]}"
    return text


def _history(sfn: Any, execution_arn: str) -> list[dict[str, Any]]:
    pages = sfn.get_paginator("get_execution_history").paginate(executionArn=execution_arn)
    return [event for page in pages for event in page["events"]]


def _provision_once(
    aws: EmbeddedAws, index: int, watcher: LinkWatcher, known: set[str]
) -> Provisioning:
    requester = Requester.from_outputs(aws.client, aws.outputs)
    network = requester.create_network(f"bench-{index}")
    sfn = aws.client("stepfunctions")
    runtime = aws.lambda_runtime
    assert runtime is not None
    invocations_before = len(runtime.invocations)
    links_before = len(watcher.first_seen)
    with requester.follower() as follower:
        request_id = requester.request(apiName=f"bench-{index}", nlbArn=network.nlb_arn)
        watch = _Watch(sfn, follower, request_id)
        execution = watch.until_finished(aws.outputs["ProvisionStateMachineArn"], known)
    history = _history(sfn, execution["executionArn"])
    link_id = str(watch.final.get("vpcLinkId", ""))
    if not link_id and len(watcher.first_seen) > links_before:
        link_id = list(watcher.first_seen)[-1]  # no final notification: the newest link
    return Provisioning(
        index=index,
        request_id=request_id,
        status=execution["status"],
        link_id=link_id,
        started=execution["startDate"].timestamp(),
        stopped=execution.get("stopDate", execution["startDate"]).timestamp(),
        notified=watch.final_at,
        error=_error_text(execution, history),
        link_created=watcher.first_seen.get(link_id),
        link_available=watcher.available_at.get(link_id),
        history=history,
        invocations=list(runtime.invocations[invocations_before:]),
    )


def measure(count: int, poll_interval: int, pending_seconds: float) -> E2eResult:
    # moto's interpreter logs every evaluation error (a Choice reading an absent path, the
    # failures a Catch handles); failures are reported from the execution history instead.
    logging.getLogger("moto.stepfunctions.parser").setLevel(logging.CRITICAL)
    started = time.monotonic()
    with EmbeddedAws(
        parameters={"PollIntervalSeconds": poll_interval},
        vpc_link_pending_seconds=pending_seconds,
        vpc_link_deleting_seconds=0.5,
    ) as aws:
        startup = time.monotonic() - started
        assert aws.stack is not None
        names = {spec.name: logical_id for logical_id, spec in aws.stack.functions.items()}
        known: set[str] = set()
        with LinkWatcher(_links_in_process(aws)) as watcher:
            runs = [_provision_once(aws, i, watcher, known) for i in range(1, count + 1)]
        return E2eResult(poll_interval, pending_seconds, startup, runs, names, watcher.errors)


def _links_in_process(aws: EmbeddedAws) -> Callable[[], list[dict[str, Any]]]:
    """The embedded AWS's VpcLinks, read from its API Gateway backend in this process (its
    fidelity patch settles their status on this read as on GetVpcLinks): no API call."""
    from moto.apigateway.models import apigateway_backends

    account = aws.client("sts").get_caller_identity()["Account"]
    backend = apigateway_backends[account][aws.region]
    return lambda: [link.to_json() for link in backend.get_vpc_links()]


def _seconds(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f}"


def report_overhead(result: E2eResult) -> list[str]:
    lines = [
        f"(b) End-to-end overhead: completion - moment the VpcLink read AVAILABLE "
        f"(50 ms watcher); PollIntervalSeconds={result.poll_interval}, "
        f"link PENDING {result.pending_seconds:g} s, embedded AWS up in "
        f"{result.startup_seconds:.1f} s",
        "",
        f"    {'#':>2} {'status':<9} {'link pending s':>14} {'total s':>8} {'overhead s':>10} "
        f"{'(to SNS) s':>10} {'cold init s':>11} {'poll s':>6} {'target s':>8}  result",
    ]
    for run in result.runs:
        pending = (
            None
            if run.link_available is None or run.link_created is None
            else run.link_available - run.link_created
        )
        ok = run.overhead is not None and run.overhead <= result.target
        ok = ok and run.status == "SUCCEEDED"
        lines.append(
            f"    {run.index:>2} {run.status:<9} {_seconds(pending):>14} "
            f"{run.stopped - run.started:>8.2f} {_seconds(run.overhead):>10} "
            f"{_seconds(run.notification_overhead):>10} {run.cold_after_available:>11.2f} "
            f"{result.poll_interval:>6} "
            f"{'<=' + format(result.target, 'g'):>8}  {'PASS' if ok else 'FAIL'}"
        )
    lines.append(
        "    (cold init s: cold-start init of invocations that ended after AVAILABLE, "
        "included in the overhead)"
    )
    for run in result.runs:
        if run.error:
            lines.append(f"    #{run.index} {run.error}")
    if result.watcher_errors:
        lines.append(f"    (the link watcher had {result.watcher_errors} failed reads)")
    return lines


def _per_function(result: E2eResult, run: Provisioning) -> str:
    counts = Counter(
        result.function_names.get(i.function_name, i.function_name) for i in run.invocations
    )
    colds = Counter(
        result.function_names.get(i.function_name, i.function_name)
        for i in run.invocations
        if i.cold_start
    )
    return ", ".join(
        f"{name.removesuffix('Function')} {n}" + (f" ({colds[name]} cold)" if colds[name] else "")
        for name, n in counts.items()
    )


def report_counts(result: E2eResult) -> list[str]:
    lines = [
        "(c) Per provisioning: state transitions (*StateEntered events in the execution "
        f"history), Lambda invocations, Step Functions cost at ${PRICE_PER_1000_TRANSITIONS} "
        "per 1,000 transitions",
        "",
        f"    {'#':>2} {'transitions':>11} {'history events':>14} {'invocations':>11} "
        f"{'cold':>4} {'SFN cost $':>11}  per function",
    ]
    for run in result.runs:
        cold = sum(1 for i in run.invocations if i.cold_start)
        lines.append(
            f"    {run.index:>2} {run.transitions:>11} {len(run.history):>14} "
            f"{len(run.invocations):>11} {cold:>4} {run.cost:>11.6f}  "
            f"{_per_function(result, run)}"
        )
    durations = [i.duration_ms for run in result.runs for i in run.invocations if not i.cold_start]
    inits = [i.init_ms for run in result.runs for i in run.invocations if i.init_ms is not None]
    if durations:
        lines.append(f"    warm invocation duration median {statistics.median(durations):.0f} ms")
    if inits:
        lines.append(
            f"    cold start init (worker start + handler import) median "
            f"{statistics.median(inits):.0f} ms over {len(inits)}"
        )
    return lines
