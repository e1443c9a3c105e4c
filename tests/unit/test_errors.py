"""Errors are part of the contract: their names are the ASL's, their text is JSON."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from provisioner.aws import clients
from provisioner.contract import errors
from provisioner.contract.errors import ERRORS_BY_NAME, FieldError, InvalidRequest

pytestmark = pytest.mark.unit

STATE_MACHINES = sorted((Path(__file__).resolve().parents[2] / "statemachine").glob("*.asl.json"))


def states_of(definition: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Every state, including those inside Parallel branches and Map iterators."""
    found: dict[str, dict[str, Any]] = {}
    for name, state in definition["States"].items():
        found[name] = state
        for branch in state.get("Branches", []):
            found.update(states_of(branch))
        for key in ("Iterator", "ItemProcessor"):
            if key in state:
                found.update(states_of(state[key]))
    return found


def state_maps(definition: dict[str, Any]) -> list[dict[str, dict[str, Any]]]:
    """Each ``States`` map on its own: a ``Next`` must name a state of the same map."""
    maps = [definition["States"]]
    for state in definition["States"].values():
        for branch in state.get("Branches", []):
            maps += state_maps(branch)
    return maps


@pytest.fixture(scope="module", params=STATE_MACHINES, ids=lambda path: path.name)
def asl(request: pytest.FixtureRequest) -> dict[str, Any]:
    """Each workflow definition in statemachine/ (provision, and whatever else is there)."""
    return json.loads(request.param.read_text())


def test_the_provisioning_workflow_is_among_the_definitions():
    assert "provision.asl.json" in {path.name for path in STATE_MACHINES}


def client_error(code: str, message: str = "AWS said so", status: int = 400) -> ClientError:
    return ClientError(
        {
            "Error": {"Code": code, "Message": message},
            "ResponseMetadata": {"HTTPStatusCode": status},
        },
        "AnyOperation",
    )


# --- the text of an error ------------------------------------------------------------------
def test_an_invalid_request_reads_as_json_with_message_remedy_and_fields():
    # Given two field errors
    problems = [
        FieldError("detail.apiName", "Field required"),
        FieldError("detail.stageName", "must match ^[A-Za-z0-9_-]{1,128}$"),
    ]

    # When they become an InvalidRequest
    error = InvalidRequest.of(problems)

    # Then its text is the JSON document the rollback reads back from the Cause
    assert json.loads(str(error)) == {
        "message": "2 fields are invalid: detail.apiName: Field required; "
        "detail.stageName: must match ^[A-Za-z0-9_-]{1,128}$",
        "remedy": InvalidRequest.default_remedy,
        "fields": [
            {"field": "detail.apiName", "rule": "Field required"},
            {"field": "detail.stageName", "rule": "must match ^[A-Za-z0-9_-]{1,128}$"},
        ],
    }
    assert error.code == "InvalidRequest"


def test_one_field_is_singular():
    error = InvalidRequest.of([FieldError("detail.apiName", "Field required")])
    assert json.loads(str(error))["message"] == "1 field is invalid: detail.apiName: Field required"


def test_an_error_without_fields_has_no_fields_key_and_keeps_a_given_remedy():
    error = errors.VpcLinkFailed("VpcLink abc FAILED: nope", remedy="Use another NLB.")
    assert json.loads(str(error)) == {
        "message": "VpcLink abc FAILED: nope",
        "remedy": "Use another NLB.",
    }


@pytest.mark.parametrize("name", sorted(ERRORS_BY_NAME))
def test_every_named_error_is_registered_under_its_class_name_with_a_remedy(name):
    cls = ERRORS_BY_NAME[name]
    assert cls.__name__ == name
    assert issubclass(cls, errors.ProvisionerError)
    assert cls("x").code == name
    assert cls.default_remedy.strip()


def test_only_throttling_transient_faults_and_a_link_being_created_are_retryable():
    retryable = {name for name, cls in ERRORS_BY_NAME.items() if cls.retryable}
    assert retryable == {"TooManyRequests", "TransientAwsError", "LinkCreationInProgress"}


# --- the contract with statemachine/provision.asl.json ----------------------------------------
def test_every_retried_error_name_in_the_asl_is_a_retryable_error_of_ours(asl):
    # Given every Retry of every state (Parallel branches included)
    retried = {
        (state_name, name)
        for state_name, state in states_of(asl).items()
        for retrier in state.get("Retry", [])
        for name in retrier["ErrorEquals"]
        if not name.startswith(("Lambda.", "States."))
    }
    assert retried, "the ASL retries none of our errors"

    # Then each name is one of our errors, and a retryable one
    for state_name, name in sorted(retried):
        assert name in ERRORS_BY_NAME, f"{state_name} retries unknown error {name}"
        assert ERRORS_BY_NAME[name].retryable, f"{state_name} retries non-retryable {name}"


def test_every_lambda_task_retries_throttling_and_transient_faults(asl):
    retryable = {"TooManyRequests", "TransientAwsError"}
    lambda_tasks = {
        name: state
        for name, state in states_of(asl).items()
        if state.get("Resource") == "arn:aws:states:::lambda:invoke"
    }
    assert lambda_tasks
    for name, state in lambda_tasks.items():
        retried = {n for retrier in state.get("Retry", []) for n in retrier["ErrorEquals"]}
        assert retryable <= retried, f"{name} does not retry {retryable - retried}"
        for retrier in state["Retry"]:
            assert retrier.get("JitterStrategy") == "FULL", f"{name} retries without jitter"


def test_every_error_name_the_asl_catches_or_raises_is_known(asl):
    named = {
        name
        for state in states_of(asl).values()
        for catcher in state.get("Catch", [])
        for name in catcher["ErrorEquals"]
    } | {state["Error"] for state in states_of(asl).values() if "Error" in state}
    ours = set(ERRORS_BY_NAME) | {"RollbackIncomplete"}
    assert {n for n in named if not n.startswith(("States.", "Lambda."))} <= ours


def test_every_catch_and_next_names_a_state_of_its_own_states_map(asl):
    for states in state_maps(asl):
        for name, state in states.items():
            targets = [state["Next"]] if "Next" in state else []
            targets += [catcher.get("Next") for catcher in state.get("Catch", [])]
            targets += [choice["Next"] for choice in state.get("Choices", [])]
            targets += [state["Default"]] if "Default" in state else []
            for target in targets:
                assert isinstance(target, str) and target in states, (
                    f"{name} goes to {target!r}, which is not a state beside it"
                )


# --- botocore ClientError → our names -----------------------------------------------------
def test_a_concurrent_modification_conflict_is_transient_any_other_is_not():
    concurrent = "Unable to complete operation due to concurrent modification. Try again later."
    assert isinstance(
        clients.translate(client_error("ConflictException", concurrent, 409)),
        errors.TransientAwsError,
    )
    exists = clients.translate(client_error("ConflictException", "Resource already exists", 409))
    assert isinstance(exists, errors.AwsRequestRejected)


@pytest.mark.parametrize(
    ("code", "status", "expected"),
    [
        ("TooManyRequestsException", 429, errors.TooManyRequests),
        ("SomethingNew", 429, errors.TooManyRequests),
        ("ThrottlingException", 400, errors.TooManyRequests),
        ("LimitExceededException", 400, errors.QuotaExceeded),
        ("NotFoundException", 404, errors.ResourceNotFound),
        ("LoadBalancerNotFound", 400, errors.ResourceNotFound),
        ("AccessDeniedException", 403, errors.AccessDenied),
        ("ConditionalCheckFailedException", 400, errors.ConditionFailed),
        ("ProvisionedThroughputExceededException", 400, errors.TooManyRequests),
        ("BadRequestException", 400, errors.AwsRequestRejected),
        ("ServiceUnavailableException", 503, errors.TransientAwsError),
        ("InternalFailure", 500, errors.TransientAwsError),
        ("AnythingElse", 502, errors.TransientAwsError),
        ("ConflictException", 409, errors.AwsRequestRejected),
    ],
)
def test_translate_maps_aws_codes_onto_our_names(code, status, expected):
    translated = clients.translate(client_error(code, "AWS message", status))
    assert type(translated) is expected
    assert "AWS message" in translated.message


def test_a_bad_request_passes_aws_message_on_verbatim():
    aws_message = "Invalid stage identifier specified: 'a b' (Service: AmazonApiGateway)"
    translated = clients.translate(client_error("BadRequestException", aws_message))
    assert isinstance(translated, errors.AwsRequestRejected)
    assert translated.message == f"BadRequestException: {aws_message}"
    assert json.loads(str(translated))["message"].endswith(aws_message)


def test_a_quota_error_keeps_aws_message_and_tells_what_to_do():
    translated = clients.translate(
        client_error("LimitExceededException", "VpcLink limit exceeded", 400)
    )
    assert translated.message == "VpcLink limit exceeded"
    assert "quota" in translated.remedy.lower()


def test_aws_errors_re_raises_a_client_error_as_its_named_error_chained():
    with pytest.raises(errors.TooManyRequests) as raised, clients.aws_errors():
        raise client_error("TooManyRequestsException", "Too Many Requests", 429)
    assert isinstance(raised.value.__cause__, ClientError)


def test_aws_errors_lets_other_exceptions_through():
    with pytest.raises(KeyError), clients.aws_errors():
        raise KeyError("not an AWS error")


def test_the_definitions_are_what_their_description_writes():
    # statemachine/*.asl.json are generated from statemachine/workflows.py: never edited by hand
    from statemachine.__main__ import rendered

    for path, text in rendered().items():
        assert path.read_text() == text, f"{path.name} is stale: run make asl"


def test_a_provisioning_tells_its_milestones_from_its_tasks_not_its_states(asl):
    # Every milestone is told in one place (domain.milestones.announce): no state publishes
    definition = json.dumps(asl)
    assert "sns:publish" not in definition
    assert "events:putEvents" not in definition
