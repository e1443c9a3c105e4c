"""(d) A burst: N provisioning requests at once under API Gateway's rate limits, paced and not.

Two embedded AWSes, one after the other, each with API Gateway's control-plane rate limits on
(``emulator.fidelity.rate_limits``: CreateRestApi 1 per 3 s, CreateDeployment 1 per 5 s, 10
calls per second in all with bursts of 40) and the clock on ``auto`` (a wait costs no real time
while nothing runs; a step's own work takes as long in emulated time as it really takes). One
deploys the template with ``ApiGatewayPacing=Enabled`` (the default), the other with
``Disabled``. In each:

1. one request alone: its state transitions and Lambda invocations are the single-request
   figures;
2. the burst: N networks (a VPC and an internal NLB each), then N ``PrivateApiRequested``
   events, one per NLB, put on the bus in PutEvents calls of ten sent at once from threads
   (the table shows how far apart the executions started); the burst ends when every
   execution has ended and nothing runs.

Everything is measured in emulated time (the execution's ``stopDate`` is on the embedded AWS's
clock) and from the emulator's own records: every API Gateway call it answered (so the 429s
are counted where API Gateway would answer them), every Lambda invocation, every execution's
history. The benchmark itself makes no API Gateway call while the burst runs: its reads would
take tokens from the account's bucket like anyone else's.

The lower bound: N CreateDeployment calls at 1 per 5 s, plus the link's PENDING time (a
deployment waits for its link), as the issue states it. The true bound is 5 s less (the first
deployment needs no interval before it), so the ratio is a little generous.
"""

from __future__ import annotations

import itertools
import logging
import os
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from emulator import fidelity
from emulator.engine.runtime import EmbeddedAws
from emulator.fidelity.rate_limits import ApiCall
from privateapi.network import create_sample_network
from privateapi.requester import Requester
from privateapi.waiting import wait_until
from provisioner.contract.vocabulary import PROVISION_REQUESTED

TARGET_RATIO = 1.15
TARGET_THROTTLED_SHARE = 0.05
TARGET_PER_REQUEST = 1.5
CREATE_DEPLOYMENT_SECONDS = 5.0  # API Gateway: 1 CreateDeployment every 5 s per account
PUT_EVENTS_BATCH = 10  # EventBridge's largest PutEvents
# Real seconds a burst may take on a busy machine: a bound, not an expectation.
BURST_TIMEOUT_SECONDS = 1200
SINGLE_TIMEOUT_SECONDS = 300
WAITING_STATUS = "WAITING_FOR_API_GATEWAY"


@dataclass(frozen=True)
class PerRequest:
    transitions: float
    invocations: float


@dataclass
class BurstSide:
    """One side of the burst: pacing on or off."""

    pacing: bool
    requests: int
    link_seconds: float
    poll_interval: int
    single: PerRequest
    statuses: Counter[str]
    errors: Counter[str]  # the error names of the executions that did not succeed
    failures: Counter[str]  # their first failure: "<state>: <error>"
    first_event: float  # emulated epoch seconds
    put_seconds: float  # emulated seconds from the first PutEvents to the answer of the last
    start_spread: float  # emulated seconds from the first execution's start to the last's
    last_succeeded: float | None
    last_ended: float
    api_calls: list[ApiCall]
    transitions: int
    invocations: int
    invocations_by_function: Counter[str]
    waiting_notices: int
    slowest_ms: float  # the longest Lambda invocation, real milliseconds
    slowest_function: str
    real_seconds: float = 0.0
    load: tuple[float, float] = (0.0, 0.0)  # 1-minute load average at the start and the end

    # --- the figures -------------------------------------------------------------------------
    @property
    def succeeded(self) -> int:
        return self.statuses.get("SUCCEEDED", 0)

    @property
    def makespan(self) -> float | None:
        return None if self.last_succeeded is None else self.last_succeeded - self.first_event

    @property
    def bound(self) -> float:
        return self.requests * CREATE_DEPLOYMENT_SECONDS + self.link_seconds

    @property
    def ratio(self) -> float | None:
        return None if self.makespan is None else self.makespan / self.bound

    @property
    def throttled(self) -> list[ApiCall]:
        return [call for call in self.api_calls if call.status == 429]

    @property
    def throttled_share(self) -> float:
        return len(self.throttled) / len(self.api_calls) if self.api_calls else 0.0

    @property
    def per_request(self) -> PerRequest:
        return PerRequest(self.transitions / self.requests, self.invocations / self.requests)

    @property
    def transitions_ratio(self) -> float:
        return self.per_request.transitions / self.single.transitions

    @property
    def invocations_ratio(self) -> float:
        return self.per_request.invocations / self.single.invocations

    def successful(self, operation: str) -> list[float]:
        """When each successful call of ``operation`` arrived (emulated epoch seconds)."""
        return [c.time for c in self.api_calls if c.operation == operation and c.status < 300]

    def successful_gaps(self, operation: str) -> list[float]:
        """Emulated seconds between successive successful calls of ``operation``."""
        return [
            later - earlier for earlier, later in itertools.pairwise(self.successful(operation))
        ]

    # --- the targets --------------------------------------------------------------------------
    def verdicts(self) -> dict[str, bool]:
        """The targets; the makespan's only counts when every request SUCCEEDED."""
        ratio = self.ratio
        succeeded = self.succeeded == self.requests
        return {
            "succeeded": succeeded,
            "ratio": succeeded and ratio is not None and ratio <= TARGET_RATIO,
            "throttled": self.throttled_share < TARGET_THROTTLED_SHARE,
            "per_request": max(self.transitions_ratio, self.invocations_ratio)
            <= TARGET_PER_REQUEST,
        }

    @property
    def passed(self) -> bool:
        return all(self.verdicts().values())


@dataclass
class BurstResult:
    paced: BurstSide
    unpaced: BurstSide | None


# --- running it --------------------------------------------------------------------------------
def measure(
    requests: int, *, link_seconds: float, poll_interval: int, compare: bool = True
) -> BurstResult:
    """The burst with pacing on, then (``compare``) the same burst with pacing off."""
    # moto's interpreter logs every evaluation error (a Choice reading an absent path, the
    # failures a Catch handles); failures are reported from the execution history instead.
    logging.getLogger("moto.stepfunctions.parser").setLevel(logging.CRITICAL)
    paced = _side(True, requests, link_seconds, poll_interval)
    unpaced = _side(False, requests, link_seconds, poll_interval) if compare else None
    return BurstResult(paced, unpaced)


def _side(pacing: bool, requests: int, link_seconds: float, poll_interval: int) -> BurstSide:
    began, load = time.monotonic(), os.getloadavg()[0]
    with EmbeddedAws(
        parameters={
            "ApiGatewayPacing": "Enabled" if pacing else "Disabled",
            "PollIntervalSeconds": poll_interval,
        },
        vpc_link_pending_seconds=link_seconds,
        vpc_link_deleting_seconds=min(link_seconds, 60.0),
        time_scale="auto",
        ami_catalogue=False,
        rate_limits=True,
    ) as aws:
        single = _single(aws)
        aws.reset()  # full buckets, an empty call record, nothing but the stack
        side = _burst(aws, pacing, requests, link_seconds, poll_interval, single)
    side.real_seconds = time.monotonic() - began
    side.load = (load, os.getloadavg()[0])
    return side


def _single(aws: EmbeddedAws) -> PerRequest:
    """One request alone: its state transitions and Lambda invocations."""
    network = create_sample_network(aws.client("ec2"), aws.client("elbv2"), name="single")
    runtime = aws.lambda_runtime
    assert runtime is not None
    before = len(runtime.invocations)
    _put_requests(aws, [network.nlb_arn], prefix="single")
    executions = _all_ended(aws, 1, SINGLE_TIMEOUT_SECONDS)
    (execution,) = executions
    if execution["status"] != "SUCCEEDED":
        raise RuntimeError(f"the single request ended {execution['status']}: {execution}")
    transitions = _transitions(_history(aws, execution["executionArn"]))
    return PerRequest(transitions, len(runtime.invocations) - before)


def _burst(
    aws: EmbeddedAws,
    pacing: bool,
    requests: int,
    link_seconds: float,
    poll_interval: int,
    single: PerRequest,
) -> BurstSide:
    ec2, elbv2 = aws.client("ec2"), aws.client("elbv2")
    nlbs = [create_sample_network(ec2, elbv2, name=f"burst-{n}").nlb_arn for n in range(requests)]
    runtime = aws.lambda_runtime
    assert runtime is not None
    before = len(runtime.invocations)
    first_event = aws.clock.time()
    _put_requests(aws, nlbs, prefix="burst")
    put_seconds = aws.clock.time() - first_event
    executions = _all_ended(aws, requests, BURST_TIMEOUT_SECONDS)
    histories = {e["executionArn"]: _history(aws, e["executionArn"]) for e in executions}
    invocations = runtime.invocations[before:]
    assert aws.stack is not None
    names = {spec.name: logical_id for logical_id, spec in aws.stack.functions.items()}
    statuses = Counter(str(e["status"]) for e in executions)
    errors = Counter(
        str(e.get("error") or e["status"]) for e in executions if e["status"] != "SUCCEEDED"
    )
    succeeded = [e["stopDate"].timestamp() for e in executions if e["status"] == "SUCCEEDED"]
    starts = [e["startDate"].timestamp() for e in executions]
    slowest = max(invocations, key=lambda i: i.duration_ms)
    return BurstSide(
        pacing=pacing,
        requests=requests,
        link_seconds=link_seconds,
        poll_interval=poll_interval,
        single=single,
        statuses=statuses,
        errors=errors,
        failures=Counter(
            _first_failure(histories[e["executionArn"]])
            for e in executions
            if e["status"] != "SUCCEEDED"
        ),
        first_event=first_event,
        put_seconds=put_seconds,
        start_spread=max(starts) - min(starts),
        last_succeeded=max(succeeded) if succeeded else None,
        last_ended=max(e["stopDate"].timestamp() for e in executions),
        api_calls=[c for c in fidelity.rate_limits.calls() if c.time >= first_event],
        transitions=sum(_transitions(history) for history in histories.values()),
        invocations=len(invocations),
        invocations_by_function=Counter(
            names.get(i.function_name, i.function_name).removesuffix("Function")
            for i in invocations
        ),
        waiting_notices=_waiting_notices(aws),
        slowest_ms=slowest.duration_ms,
        slowest_function=names.get(slowest.function_name, slowest.function_name),
    )


def _put_requests(aws: EmbeddedAws, nlbs: list[str], prefix: str) -> None:
    details = [
        {"requestId": f"{prefix}-{n}", "apiName": f"{prefix}-{n}", "nlbArn": nlb}
        for n, nlb in enumerate(nlbs)
    ]
    requester = _requester(aws)
    batches = [list(batch) for batch in itertools.batched(details, PUT_EVENTS_BATCH, strict=False)]

    def put(batch: list[dict[str, Any]]) -> None:  # raises if the bus refuses any of them
        requester.put_all(batch, detail_type=PROVISION_REQUESTED, source="bench")

    # All at once, each PutEvents in a thread of its own: one after the other, the later ones
    # would wait for the emulator to start the executions of the earlier ones.
    with ThreadPoolExecutor(max_workers=len(batches)) as pool:
        list(pool.map(put, batches))


def _requester(aws: EmbeddedAws) -> Requester:
    """The shared requester harness on this embedded AWS (its clients, the stack's names)."""
    return Requester.from_outputs(aws.client, aws.outputs)


def _all_ended(aws: EmbeddedAws, count: int, timeout: float) -> list[dict[str, Any]]:
    """Every provisioning execution, described, once ``count`` exist, none runs, and nothing
    else runs either (a stopped execution's answer, a rollback)."""
    sfn = aws.client("stepfunctions")
    machine = aws.outputs["ProvisionStateMachineArn"]

    def ended() -> list[dict[str, Any]] | None:
        pages = sfn.get_paginator("list_executions").paginate(stateMachineArn=machine)
        executions = [e for page in pages for e in page["executions"]]
        if len(executions) < count or any(e["status"] == "RUNNING" for e in executions):
            return None
        return executions if aws.clock.running == 0 else None

    executions = wait_until(ended, timeout=timeout, what=f"{count} provisionings", interval=0.5)
    assert executions is not None  # wait_until answers a truthy value or raises
    return [dict(sfn.describe_execution(executionArn=e["executionArn"])) for e in executions]


def _history(aws: EmbeddedAws, execution_arn: str) -> list[dict[str, Any]]:
    sfn = aws.client("stepfunctions")
    pages = sfn.get_paginator("get_execution_history").paginate(executionArn=execution_arn)
    return [event for page in pages for event in page["events"]]


def _transitions(history: list[dict[str, Any]]) -> int:
    return sum(1 for event in history if event["type"].endswith("StateEntered"))


def _first_failure(history: list[dict[str, Any]]) -> str:
    """``<state>: <error>`` of the first failure in an execution's history (retried or not);
    the state is found through ``previousEventId`` (a Parallel's branches interleave)."""
    by_id = {event["id"]: event for event in history}
    for event in history:
        details = next(
            (
                value
                for key, value in event.items()
                if key.endswith(("FailedEventDetails", "TimedOutEventDetails"))
            ),
            None,
        )
        if details:
            return f"{_state_of(event, by_id)}: {details.get('error')}"
    return "no failure in the history"


def _state_of(event: dict[str, Any], by_id: dict[int, dict[str, Any]]) -> str:
    seen = 0
    while event and seen < len(by_id):
        entered = event.get("stateEnteredEventDetails")
        if entered:
            return str(entered["name"])
        event, seen = by_id.get(event.get("previousEventId", 0), {}), seen + 1
    return "?"


def _waiting_notices(aws: EmbeddedAws) -> int:
    """How many times a requester was told it waits for API Gateway (the ledger's history)."""
    return sum(
        1
        for request in _requester(aws).ledger_requests()
        for entry in request.get("history", [])
        if entry.get("status") == WAITING_STATUS
    )


# --- reporting ---------------------------------------------------------------------------------
def _verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def _seconds(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1f} s"


def _row(label: str, paced: str, unpaced: str | None, target: str = "") -> str:
    columns = f"    {label:<42} {paced:<26}"
    if unpaced is not None:
        columns += f" {unpaced:<26}"
    return f"{columns} {target}".rstrip()


def _counted(counter: Counter[str]) -> str:
    return ", ".join(f"{n} {what}" for what, n in counter.most_common()) or "none"


def _figures(side: BurstSide) -> dict[str, str]:
    ratio = side.ratio
    made = {op: len(side.successful(op)) for op in ("CreateDeployment", "CreateRestApi")}
    gaps = {op: side.successful_gaps(op) for op in made}
    return {
        "put": f"{side.put_seconds:.2f} s",
        "started": f"{side.start_spread:.2f} s",
        "succeeded": f"{side.succeeded}/{side.requests}",
        "makespan": _seconds(side.makespan),
        "last_ended": _seconds(side.last_ended - side.first_event),
        "bound": f"{side.bound:.1f} s",
        "ratio": "n/a" if ratio is None else f"{ratio:.3f}",
        "throttled": f"{len(side.throttled)}/{len(side.api_calls)} = {side.throttled_share:.1%}",
        "invocations": (
            f"{side.per_request.invocations:.2f}/{side.single.invocations:g} "
            f"= {side.invocations_ratio:.2f}x"
        ),
        "transitions": (
            f"{side.per_request.transitions:.2f}/{side.single.transitions:g} "
            f"= {side.transitions_ratio:.2f}x"
        ),
        **{
            op: f"{made[op]}" + (f", min gap {min(gaps[op]):.2f} s" if gaps[op] else "")
            for op in made
        },
        "waiting": str(side.waiting_notices),
        "slowest": f"{side.slowest_ms / 1000:.1f} s ({side.slowest_function})",
        "real": f"{side.real_seconds:.0f} s",
        "load": f"{side.load[0]:.1f} -> {side.load[1]:.1f}",
    }


def report(result: BurstResult) -> list[str]:
    paced, unpaced = result.paced, result.unpaced
    left = _figures(paced)
    right = _figures(unpaced) if unpaced else None

    def row(label: str, key: str, target: str = "") -> str:
        return _row(label, left[key], right[key] if right else None, target)

    verdicts = paced.verdicts()
    per_request = f"<= {TARGET_PER_REQUEST}x: "
    lines = [
        f"(d) Burst: {paced.requests} provisioning requests for {paced.requests} NLBs put on "
        f"the bus at once, API Gateway's rate limits on, link PENDING {paced.link_seconds:g} s, "
        f"PollIntervalSeconds {paced.poll_interval}, clock auto (times in emulated seconds)",
        "",
        _row("", "pacing on (Enabled)", "pacing off (Disabled)" if unpaced else None, "target"),
        row("PutEvents calls, first to last answer", "put"),
        row("executions started within", "started"),
        row("SUCCEEDED", "succeeded", f"all: {_verdict(verdicts['succeeded'])}"),
        row("makespan: first event -> last SUCCEEDED", "makespan"),
        row("first event -> last execution ended", "last_ended"),
        row(f"quota bound: {paced.requests} x 5 s + link PENDING", "bound"),
        row(
            "ratio makespan / bound",
            "ratio",
            f"<= {TARGET_RATIO}, all SUCCEEDED: {_verdict(verdicts['ratio'])}",
        ),
        row(
            "429 answers / API Gateway calls",
            "throttled",
            f"< {TARGET_THROTTLED_SHARE:.0%}: {_verdict(verdicts['throttled'])}",
        ),
        row(
            "Lambda invocations per request / alone",
            "invocations",
            per_request + _verdict(paced.invocations_ratio <= TARGET_PER_REQUEST),
        ),
        row(
            "state transitions per request / alone",
            "transitions",
            per_request + _verdict(paced.transitions_ratio <= TARGET_PER_REQUEST),
        ),
        row("successful CreateDeployment calls", "CreateDeployment"),
        row("successful CreateRestApi calls", "CreateRestApi"),
        row("WAITING_FOR_API_GATEWAY notifications", "waiting"),
        row("slowest Lambda invocation (real time)", "slowest"),
        row("real time of this side", "real"),
        row("1-min load average, start -> end", "load"),
    ]
    for side in filter(None, (paced, unpaced)):
        by_function = ", ".join(
            f"{name} {n / side.requests:.2f}" for name, n in side.invocations_by_function.items()
        )
        refused = Counter(f"{c.operation} ({c.limit})" for c in side.throttled)
        lines += [
            f"  pacing {'on' if side.pacing else 'off'}:",
            f"    not SUCCEEDED: {_counted(side.errors)}; first failure: {_counted(side.failures)}",
            f"    429 answers by operation (empty bucket): {_counted(refused)}",
            f"    invocations per request by function: {by_function}",
        ]
    return lines


def summary(result: BurstResult) -> str:
    paced, unpaced = result.paced, result.unpaced
    verdicts = paced.verdicts()
    ratio = "n/a" if paced.ratio is None else f"{paced.ratio:.3f}"
    line = (
        f"(d) burst of {paced.requests}, pacing on: {paced.succeeded}/{paced.requests} SUCCEEDED "
        f"({_verdict(verdicts['succeeded'])}); makespan {_seconds(paced.makespan)} / bound "
        f"{paced.bound:.0f} s = {ratio} (<= {TARGET_RATIO}: {_verdict(verdicts['ratio'])}); "
        f"429s {paced.throttled_share:.1%} of API Gateway calls (< "
        f"{TARGET_THROTTLED_SHARE:.0%}: {_verdict(verdicts['throttled'])}); per request "
        f"{paced.invocations_ratio:.2f}x invocations, {paced.transitions_ratio:.2f}x transitions "
        f"(<= {TARGET_PER_REQUEST}x: {_verdict(verdicts['per_request'])})"
    )
    if unpaced is not None:
        unpaced_ratio = "n/a" if unpaced.ratio is None else f"{unpaced.ratio:.3f}"
        line += (
            f"\n    pacing off, same burst: {unpaced.succeeded}/{unpaced.requests} SUCCEEDED, "
            f"ratio {unpaced_ratio}, 429s {unpaced.throttled_share:.1%}, per request "
            f"{unpaced.invocations_ratio:.2f}x invocations, {unpaced.transitions_ratio:.2f}x "
            "transitions"
        )
    return line
