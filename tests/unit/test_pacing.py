"""Pacing: API Gateway's fixed-rate calls taken in turn across executions (domain.pacing).

The turns live in the ledger (``PACE#<operation>``); the function's clock is the test's
(:class:`TurnClock`), so every turn is exact: a turn is ``rate + 0.2 s`` after the previous one.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

import msgspec
import pytest

from provisioner.aws import clients
from provisioner.contract import errors
from provisioner.contract.payloads import ApiGatewayTurn, EnsureVpcLinkTask
from provisioner.contract.payloads.provisioning import CreateApiTask, DeployApiTask
from provisioner.domain import pacing
from provisioner.domain.pacing import MARGIN_SECONDS, Paced
from provisioner.runtime.settings import Settings
from provisioner.storage.ledger import Ledger
from provisioner.storage.pace import IN_FLIGHT_BOUND_SECONDS, PaceRecord
from provisioner.tasks import provisioning

from .support import FUNCTION_ENVIRONMENT, LEDGER_TABLE, FakeLambdaContext, stored_request

pytestmark = pytest.mark.unit
LEDGER = Ledger(LEDGER_TABLE)

T0 = datetime(2030, 1, 1, 10, 0, 0, tzinfo=UTC).timestamp()
DEPLOY = Paced.CREATE_DEPLOYMENT
SPACING = 5 + MARGIN_SECONDS  # CreateDeployment: 1 call every 5 s, plus the margin


class TurnClock:
    """The function's clock for ``domain.pacing``: it moves when the test (or a pause) moves it."""

    def __init__(self, at: float) -> None:
        self.at = at
        self.paused: list[float] = []

    def now(self) -> float:
        return self.at

    def pause(self, seconds: float) -> None:
        self.paused.append(round(seconds, 3))
        self.at += seconds


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> TurnClock:
    frozen = TurnClock(T0)
    monkeypatch.setattr(pacing, "_now", frozen.now)
    monkeypatch.setattr(pacing, "_pause", frozen.pause)
    return frozen


@pytest.fixture
def paced(aws: None) -> Settings:
    """The functions' settings with pacing on (the template's default; off in the other unit
    tests, which are not about rates)."""
    environment = {**FUNCTION_ENVIRONMENT, "PROVISIONER_API_GATEWAY_PACING": "Enabled"}
    settings = Settings.from_variables(environment)
    assert settings.api_gateway_pacing
    return settings


def at_once[T](calls: list[Callable[[], T]]) -> list[T]:
    """Every call in its own thread, all released at the same moment."""
    clients.dynamodb()  # one shared client, made before the threads race for it
    start = threading.Barrier(len(calls))

    def run(call: Callable[[], T]) -> T:
        start.wait(timeout=10)
        return call()

    with ThreadPoolExecutor(max_workers=len(calls)) as pool:
        return list(pool.map(run, calls))


def take(settings: Settings, caller: str, holding: ApiGatewayTurn | None = None) -> Any:
    """Take a turn; when it may call now, its call is made and comes back at once."""
    turn = pacing.take_turn(DEPLOY, holding, settings=settings, caller=caller)
    if turn is None:
        Ledger(settings.ledger_table).pace.record_returned(DEPLOY, now=pacing.now(), caller=caller)
    return turn


def record(operation: Paced = DEPLOY) -> PaceRecord:
    return LEDGER.pace.record(operation)


# --- reserving turns ---------------------------------------------------------------------------
def test_a_free_turn_is_taken_with_its_call_in_one_write(paced, clock):
    # When the first request of the account asks for CreateDeployment's turn
    turn = take(paced, "r-1")

    # Then it may call now: the call is recorded, and the next turn is a spacing later
    assert turn is None
    assert record() == PaceRecord(next_free_at=T0 + SPACING, last_call_at=T0)


def test_the_turn_is_free_again_once_a_spacing_has_passed(paced, clock):
    assert take(paced, "r-1") is None
    clock.at += SPACING
    assert take(paced, "r-2") is None
    assert record().last_call_at == pytest.approx(T0 + SPACING)


def test_a_request_behind_a_call_gets_the_next_turn_rounded_up_to_the_second(paced, clock):
    # Given a call made now
    assert take(paced, "r-1") is None

    # When another request asks a second later
    clock.at += 1
    turn = take(paced, "r-2")

    # Then it is told its turn: a spacing after the call, waited for until the next second
    assert isinstance(turn, ApiGatewayTurn)
    assert turn.at_seconds == pytest.approx(T0 + SPACING)
    assert turn.wait_until == "2030-01-01T10:00:06Z"  # 10:00:05.2, to the second
    assert turn.wait_seconds == 5
    assert (turn.operation, turn.queue, turn.turns) == ("CreateDeployment", DEPLOY.value, 1)


def test_fifty_requests_at_once_get_fifty_turns_a_spacing_apart_none_shared(paced, clock):
    # When fifty requests ask for CreateDeployment's turn at the same moment
    answers = at_once([lambda n=n: take(paced, f"r-{n}") for n in range(50)])

    # Then exactly one calls now, and the others have successive turns: no two alike
    assert answers.count(None) == 1
    turns = sorted(turn.at_seconds for turn in answers if turn is not None)
    expected = [T0 + SPACING * k for k in range(1, 50)]
    assert turns == pytest.approx(expected)
    # ... and the ledger's next free turn is after the last of them (no update lost)
    assert record().next_free_at == pytest.approx(T0 + SPACING * 50)


def test_reservations_under_contention_with_calls_in_flight_never_overlap(paced, clock):
    # Given a queue of turns already reserved
    assert take(paced, "first") is None
    queued = [take(paced, f"q-{n}") for n in range(5)]

    # When twenty more requests race for turns at once
    racing = at_once([lambda n=n: take(paced, f"r-{n}") for n in range(20)])

    # Then each gets its own turn behind the queue
    everyone = [turn.at_seconds for turn in [*queued, *racing]]
    assert len(set(everyone)) == 25
    assert sorted(everyone) == pytest.approx([T0 + SPACING * k for k in range(1, 26)])


def test_the_first_turn_after_a_call_made_outside_any_turn_keeps_its_distance(paced, clock):
    # Given a DeleteRestApi made by a rollback (not in a turn) 10 s ago, and no turn reserved
    spacing = 30 + MARGIN_SECONDS
    pacing.record_call(Paced.DELETE_REST_API, settings=paced, caller="rollback", at=T0 - 10)

    # When a teardown asks for its turn
    turn = pacing.take_turn(Paced.DELETE_REST_API, None, settings=paced, caller="teardown")

    # Then its turn comes a spacing after that call
    assert isinstance(turn, ApiGatewayTurn)
    assert turn.at_seconds == pytest.approx(T0 - 10 + spacing)
    assert record(Paced.DELETE_REST_API).next_free_at == pytest.approx(T0 - 10 + 2 * spacing)


def test_each_operation_has_its_own_queue(paced, clock):
    assert take(paced, "r-1") is None
    create = pacing.take_turn(Paced.CREATE_REST_API, None, settings=paced, caller="r-2")
    edge = pacing.take_turn(Paced.CREATE_EDGE_REST_API, None, settings=paced, caller="r-3")
    assert (create, edge) == (None, None)


# --- the gate, at the turn ---------------------------------------------------------------------
def test_at_its_turn_a_request_passes_the_gate_and_its_call_is_recorded(paced, clock):
    assert take(paced, "r-1") is None
    turn = take(paced, "r-2")
    clock.at = T0 + 6  # the Wait state ends at 10:00:06Z

    assert take(paced, "r-2", holding=turn) is None
    assert record().last_call_at == pytest.approx(clock.at)
    assert clock.paused == []


def test_a_turn_within_two_seconds_is_paused_for_in_the_task(paced, clock):
    # Given a call made 4 s ago: the next turn is 1.2 s away
    assert take(paced, "r-1") is None
    clock.at += 4

    # Then the next request does not wait in a Wait state: it pauses, then calls
    assert take(paced, "r-2") is None
    assert clock.paused == [pytest.approx(1.2)]
    assert record().last_call_at == pytest.approx(T0 + SPACING)


def test_a_predecessor_that_called_late_is_waited_for_a_moment(paced, clock):
    # Given turns at T0 + 5.2 (r-2) and T0 + 10.4 (r-3), and r-2 calling 1.5 s late
    assert take(paced, "r-1") is None
    second, third = take(paced, "r-2"), take(paced, "r-3")
    clock.at = second.at_seconds + 1.5
    assert take(paced, "r-2", holding=second) is None

    # When r-3's turn comes
    clock.at = third.at_seconds

    # Then it pauses until a spacing after r-2's call, then calls
    assert take(paced, "r-3", holding=third) is None
    assert clock.paused == [pytest.approx(1.5)]
    assert record().last_call_at == pytest.approx(second.at_seconds + 1.5 + SPACING)


def test_a_turn_taken_by_a_much_later_call_costs_a_new_turn(paced, clock):
    # Given r-2 calling 4 s after its turn, right before r-3's
    assert take(paced, "r-1") is None
    second, third = take(paced, "r-2"), take(paced, "r-3")
    clock.at = second.at_seconds + 4
    assert take(paced, "r-2", holding=second) is None

    # When r-3's turn comes
    clock.at = third.at_seconds
    again = take(paced, "r-3", holding=third)

    # Then it waits for a new turn behind the queue, and never calls inside r-2's spacing
    assert isinstance(again, ApiGatewayTurn)
    assert again.turns == 2
    assert again.at_seconds >= record().last_call_at + SPACING - 1e-6
    assert record().last_call_at == pytest.approx(second.at_seconds + 4)


# --- in_turn: the call itself ------------------------------------------------------------------
def test_with_pacing_off_the_call_is_made_at_once_and_retried_by_botocore(aws, settings, clock):
    made = []
    assert not settings.api_gateway_pacing  # the unit tests' environment

    answer = pacing.in_turn(
        DEPLOY, None, retried=False, settings=settings, caller="r-1", call=made.append
    )

    assert made == [False]  # not "in turn": the ordinary client, with botocore's retries
    assert answer is None
    assert record() == PaceRecord(0, 0)


def test_a_call_made_in_turn_is_made_once_without_botocore_retries(paced, clock):
    made: list[bool] = []

    answer = pacing.in_turn(
        DEPLOY,
        None,
        retried=False,
        settings=paced,
        caller="r-1",
        call=lambda in_turn: made.append(in_turn) or "dep-1",
    )

    assert (answer, made) == ("dep-1", [True])


def test_a_call_is_recorded_when_it_came_back_and_the_next_keeps_its_distance_from_that(
    paced, clock
):
    # Given a call that API Gateway answers 4 s after its gate (a busy machine, a slow network:
    # API Gateway saw it at some moment in those 4 s)
    def slow(in_turn: bool) -> str:
        clock.at += 4
        return "dep-1"

    answer = pacing.in_turn(DEPLOY, None, retried=False, settings=paced, caller="r-1", call=slow)

    # Then the call is recorded as made when it came back, and no longer in flight
    assert answer == "dep-1"
    assert record() == PaceRecord(next_free_at=T0 + SPACING, last_call_at=T0 + 4)

    # ... so a request asking a spacing after the gate is not let through: its turn is a
    # spacing after the answer
    clock.at = T0 + SPACING + 0.1
    turn = take(paced, "r-2")
    assert isinstance(turn, ApiGatewayTurn)
    assert turn.at_seconds >= T0 + 4 + SPACING


def test_while_a_call_is_in_flight_no_other_passes_the_gate(paced, clock):
    told: list[Any] = []

    # Given a call that API Gateway has still not answered a spacing and a second after its
    # gate, when the next request asks for its turn
    def stuck(in_turn: bool) -> str:
        clock.at += SPACING + 1
        told.append(take(paced, "r-2"))
        return "dep-1"

    pacing.in_turn(DEPLOY, None, retried=False, settings=paced, caller="r-1", call=stuck)

    # Then the next request waited a moment for the answer, looking every tenth of a second,
    # then took a turn of its own: a spacing after the moment it gave up waiting
    (turn,) = told
    assert isinstance(turn, ApiGatewayTurn)
    polls = round(pacing.MAX_PAUSE_SECONDS / pacing.IN_FLIGHT_POLL_SECONDS)
    assert clock.paused == [pacing.IN_FLIGHT_POLL_SECONDS] * polls
    came_back = record().last_call_at
    assert came_back == pytest.approx(clock.at)
    assert turn.at_seconds == pytest.approx(came_back + SPACING)

    # ... and at that turn (its Wait state ends on the next whole second) it calls
    clock.at = math.ceil(turn.at_seconds)
    assert take(paced, "r-2", holding=turn) is None


def test_a_mark_left_by_a_function_that_died_mid_call_goes_stale(paced, clock):
    # Given a call whose function died before it came back (it never records its answer)
    assert pacing.take_turn(DEPLOY, None, settings=paced, caller="r-1") is None
    assert record().in_flight_since == pytest.approx(T0)

    # When the functions' timeout has passed: the call has ended, one way or another
    clock.at += IN_FLIGHT_BOUND_SECONDS + 1

    # Then the next request takes the free turn
    assert take(paced, "r-2") is None
    assert record().in_flight_since is None


def test_a_call_api_gateway_refuses_takes_a_new_turn_and_gives_up_after_max_turns(paced, clock):
    def refused(in_turn: bool) -> str:
        raise errors.TooManyRequests("AWS throttled the control plane: Too Many Requests")

    # When the free turn's call is refused (another tool took the account's rate)
    turn = pacing.in_turn(DEPLOY, None, retried=False, settings=paced, caller="r", call=refused)

    # Then the request takes the next turn, rather than calling again inside someone's turn
    assert isinstance(turn, ApiGatewayTurn)
    assert (turn.turns, turn.at_seconds) == (1, pytest.approx(T0 + SPACING))

    # ... and each refusal takes another, until MAX_TURNS: then the ASL's backoff takes over
    for expected in range(2, pacing.MAX_TURNS):
        clock.at = turn.at_seconds
        turn = pacing.in_turn(DEPLOY, turn, retried=False, settings=paced, caller="r", call=refused)
        assert isinstance(turn, ApiGatewayTurn)
        assert turn.turns == expected
    clock.at = turn.at_seconds
    with pytest.raises(errors.TooManyRequests):
        pacing.in_turn(DEPLOY, turn, retried=False, settings=paced, caller="r", call=refused)


def test_a_retried_attempt_does_not_use_its_predecessors_turn(paced, clock):
    # Given r-1's call now and r-2 holding the next turn, whose attempt failed and was retried
    # by the ASL a moment later (before r-2's turn even came)
    assert take(paced, "r-1") is None
    held = take(paced, "r-2")
    clock.at += 1

    # When the retry runs with the same input (the turn)
    again = pacing.in_turn(
        DEPLOY, held, retried=True, settings=paced, caller="r-2", call=lambda _: "called"
    )

    # Then it takes a new turn behind the queue: the spent one is wasted, never shared
    assert isinstance(again, ApiGatewayTurn)
    assert again.at_seconds == pytest.approx(held.at_seconds + SPACING)


@pytest.mark.parametrize(("retry_count", "retried"), [(0, False), (1, True), (2, True)])
def test_a_tasks_turns_are_read_from_its_payload(paced, clock, retry_count, retried):
    # Given a task that holds CreateDeployment's next turn, called by the ASL (its
    # $$.State.RetryCount: above 0, an attempt after a failed one)
    assert take(paced, "r-1") is None
    held = take(paced, "r-2")
    task = EnsureVpcLinkTask.from_wire(
        {
            "request": {"requestId": "r-2", "timeoutSeconds": 900},
            "startedAt": "2030-01-01T10:00:00Z",
            "turn": held.to_wire(),
            "retryCount": retry_count,
        }
    )

    # When the task's turns are read from its payload
    turns = pacing.Turns.of(task, paced)

    # Then they are its request's, with the turn it waited for, spent when it is a retry's
    assert (turns.settings, turns.caller, turns.turn) == (paced, "r-2", held)
    assert turns.retried is retried


def test_new_turns_after_a_refusal_count_the_wait_from_the_first(paced, clock):
    # Given a call refused in its first turn, which then waits for a second
    assert take(paced, "r-1") is None
    first = take(paced, "r-2")
    clock.at = first.at_seconds

    def refused(in_turn: bool) -> str:
        raise errors.TooManyRequests("AWS throttled the control plane: Too Many Requests")

    second = pacing.in_turn(
        DEPLOY, first, retried=False, settings=paced, caller="r-2", call=refused
    )

    # Then the second turn's wait counts from the first turn's reservation (what a deadline
    # leaves out, ApiGatewayTurn.waited_seconds)
    assert isinstance(second, ApiGatewayTurn)
    assert second.queued_at == first.reserved_at
    assert second.waited_seconds == pytest.approx(second.at_seconds - T0)


def test_without_a_wait_state_a_far_turn_is_given_up_for_a_call_out_of_turn_recorded(paced, clock):
    # Given five calls queued for CreateDeployment (the next turn 31.2 s away)
    assert take(paced, "r-0") is None
    for n in range(1, 6):
        assert isinstance(take(paced, f"r-{n}"), ApiGatewayTurn)
    made: list[tuple[bool, float]] = []
    clock.at += 1

    # When a caller with no Wait state (the answer to a stopped execution) may pause 10 s
    pacing.in_turn_here(
        DEPLOY,
        within=10,
        settings=paced,
        caller="stopped",
        call=lambda in_turn: made.append((in_turn, clock.at)),
    )

    # Then it does not pause: it calls at once, retried by botocore (out of turn), and the
    # call is recorded, so that the calls made in turns keep their distance from it
    assert made == [(False, T0 + 1)]
    assert clock.paused == []
    assert record().last_call_at == T0 + 1


# --- the tasks ---------------------------------------------------------------------------------
@pytest.fixture
def handler_settings(paced: Settings) -> Settings:
    return paced.running_as(FakeLambdaContext.invoked_function_arn)


@pytest.fixture
def notices(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[dict[str, Any]]]:
    from provisioner.tasks import common

    told: list[dict[str, Any]] = []
    original = common.announce

    def announce(settings: Settings, note: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        told.append(note["message"])
        return original(settings, note, **kwargs)

    monkeypatch.setattr(common, "announce", announce)
    yield told


def claimed(request_id: str) -> None:
    LEDGER.requests.claim(
        request_id=request_id,
        kind="PROVISION",
        fingerprint=request_id,
        execution_arn=f"arn:aws:states:us-east-1:123456789012:execution:provision:{request_id}",
        ticket_id=None,
        requested_by=None,
    )


def test_create_api_waits_its_turn_and_the_requester_hears_it_past_ten_seconds(
    network, make_request, handler_settings, clock, notices, fidelity
):
    # Given five requests for APIs at the same moment
    requests = [make_request(request_id=f"r-{n}", api_name=f"api-{n}") for n in range(5)]
    for request in requests:
        claimed(request.request_id)
    fidelity.rate_limits.reset()  # the record of API Gateway calls

    # When CreateApi runs for each ({"request.$": "$.request", "retryCount.$": ...})
    results = [
        provisioning.create_api(
            CreateApiTask.from_wire({"request": request.to_wire(), "retryCount": 0}),
            handler_settings,
        )
        for request in requests
    ]

    # Then the first creates its API; the others answer their turns, 3.2 s apart
    assert results[0]["api"] is not None and results[0]["turn"] is None
    turns = [ApiGatewayTurn.from_wire(result["turn"]) for result in results[1:]]
    assert [turn.wait_seconds for turn in turns] == [4, 7, 10, 13]
    assert all(result["api"] is None for result in results[1:])
    # ... having asked API Gateway nothing (is the API there already? asked in their turns):
    # the account's 10 calls per second are shared by every request
    asked = {call.operation for call in fidelity.rate_limits.calls()}
    assert len([c for c in fidelity.rate_limits.calls() if c.operation == "GetRestApis"]) == 1
    assert "CreateRestApi" in asked

    # ... and only the waits longer than ten seconds are told, with when and how long
    waiting = [n for n in notices if n["status"] == "WAITING_FOR_API_GATEWAY"]
    assert [n["requestId"] for n in waiting] == ["r-4"]
    assert waiting[0]["expectedAt"] == turns[-1].wait_until
    assert waiting[0]["waitSeconds"] == 13
    assert waiting[0]["apiGatewayOperation"] == "CreateRestApi"
    assert stored_request("r-4")["status"] == "WAITING_FOR_API_GATEWAY"

    # When the last one's Wait state ends and it is called again with its turn
    clock.at = turns[-1].at_seconds
    again = provisioning.create_api(
        CreateApiTask.from_wire(
            {"request": requests[-1].to_wire(), "turn": results[-1]["turn"], "retryCount": 0}
        ),
        handler_settings,
    )

    # Then (the three before it having not called, their turns wasted) it creates its API
    assert again["api"] is not None and again["turn"] is None


def test_deploy_api_answers_its_turn_without_deploying(
    network, provision, make_request, handler_settings, clock, apigw
):
    # Given an API whose link is AVAILABLE, and a deployment made by another request just now
    api = provision(request_id="r-1")
    assert take(handler_settings, "another") is None
    request = msgspec.structs.replace(api.request, **{"stage_name": "next"})
    claimed(request.request_id)
    link = {
        "vpcLinkId": api.vpc_link_id,
        "status": "AVAILABLE",
        "createdByThisRequest": True,
        "deadline": "2030-01-01T10:15:00+00:00",
        "nextPollSeconds": 15,
    }
    task = {
        "request": request.to_wire(),
        "link": link,
        "api": {"restApiId": api.rest_api_id, "rootResourceId": "x", "createdByThisRequest": True},
    }

    # When DeployApi runs
    waiting = provisioning.deploy_api(DeployApiTask.from_wire(task), handler_settings)

    # Then it deploys nothing yet and answers its turn (no notice: 6 s is not worth one)
    assert waiting["progress"] is None
    assert ApiGatewayTurn.from_wire(waiting["turn"]).wait_seconds == 6
    stages = {stage["stageName"] for stage in apigw.get_stages(restApiId=api.rest_api_id)["item"]}
    assert stages == {"prod"}

    # When its turn comes
    clock.at += 6
    done = provisioning.deploy_api(
        DeployApiTask.from_wire({**task, "turn": waiting["turn"]}), handler_settings
    )

    # Then it deploys, and says so
    assert done["turn"] is None
    assert done["progress"]["message"]["status"] == "SUCCEEDED"
