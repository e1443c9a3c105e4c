"""Bad input found by a generated corpus of malformed requests (issue 12), one defect per test:
each of these was accepted, or answered badly, before its fix."""

from __future__ import annotations

import json
from typing import Any

import pytest

from provisioner.contract.errors import MAX_LISTED_FIELDS, InvalidRequest
from provisioner.contract.events import request_ref_from_event
from provisioner.domain import validation
from provisioner.domain.validation import validate_request

from .support import eventbridge_event

pytestmark = pytest.mark.unit

CONTROL_CHARACTERS = ["\n", "\t", "\r", "\x1f", "\x00", "\x7f"]


def rejected(validate: Any, detail: Any, **kinds: Any) -> InvalidRequest:
    with pytest.raises(InvalidRequest) as raised:
        validate(eventbridge_event(detail, **kinds))
    assert raised.value.fields, "an InvalidRequest always names the fields at fault"
    return raised.value


def fields(error: InvalidRequest) -> set[str]:
    return {problem.field for problem in error.fields}


@pytest.fixture
def validate_provision(settings: Any) -> Any:
    return lambda event: validate_request(event, settings=settings)


# --- the contract accepts exactly the documented names ------------------------------------------
@pytest.mark.parametrize(
    ("alias", "value"),
    [
        ("stage_name", "snake"),
        ("timeout_seconds", 10),
        ("http_method", "POST"),
        ("proxy_all_paths", True),
        ("endpoint_type", "EDGE"),
        ("ticket_id", "OPS-1"),
        ("requested_by", "ana"),
        ("endpoint_url", "http://x.example.com"),
    ],
)
def test_a_snake_case_alias_is_an_unknown_field(network, validate_provision, alias, value):
    detail = {"apiName": "a", "nlbArn": network.nlb_arn, alias: value}
    error = rejected(validate_provision, detail)
    assert fields(error) == {f"detail.{alias}"}
    assert "unknown field" in error.fields[0].rule


def test_a_snake_case_target_is_unknown_and_leaves_the_target_missing(validate_provision, network):
    error = rejected(validate_provision, {"apiName": "a", "nlb_arn": network.nlb_arn})
    assert fields(error) == {"detail.nlb_arn", "detail.nlbArn"}


# --- tags: API Gateway's pattern, in provisioning and relink alike ------------------------------
@pytest.mark.parametrize("control", CONTROL_CHARACTERS, ids=repr)
@pytest.mark.parametrize("where", ["key", "value"])
def test_a_tag_with_a_control_character_is_rejected(network, validate_provision, control, where):
    tags = {f"team{control}": "x"} if where == "key" else {"team": f"x{control}y"}
    error = rejected(validate_provision, {"apiName": "a", "nlbArn": network.nlb_arn, "tags": tags})
    assert fields(error) == {"detail.tags"}
    assert "only letters, numbers, spaces" in error.fields[0].rule


@pytest.mark.parametrize(
    "tags",
    [{"team": "Zahlungen Köln 東京"}, {"cost-center": "4711"}, {"a b": "x@y.z:/=+-_"}, {"k": ""}],
)
def test_tags_api_gateway_allows_are_accepted(network, validate_provision, tags):
    detail = {"apiName": "a", "nlbArn": network.nlb_arn, "tags": tags}
    assert validate_provision(eventbridge_event(detail)).tags == tags


@pytest.mark.parametrize("reserved", ["aws:evil", "provisioner:request-id"])
def test_a_relink_validates_its_tags_like_a_provisioning(
    provision, second_nlb_arn, settings, reserved
):
    # Given a provisioned API and another NLB
    provisioned = provision()
    detail = {
        "targetRequestId": provisioned.request.request_id,
        "nlbArn": second_nlb_arn,
        "tags": {reserved: "1", "bad\nkey": "v" * 300},
    }

    # When a relink names a tag with a reserved prefix (either one) and a malformed one
    with pytest.raises(InvalidRequest) as raised:
        validation.validate_relink(
            eventbridge_event(detail, detail_type="PrivateApiRelinkRequested"),
            settings=settings,
        )

    # Then it is rejected for its tags: the reserved key, checked first, is the one named
    ((field, rule),) = [(problem.field, problem.rule) for problem in raised.value.fields]
    assert field == "detail.tags"
    assert f"tag {reserved!r}: the prefixes 'aws:' and 'provisioner:' are reserved" in rule


# --- free text that reaches AWS APIs and SNS message attributes ----------------------------------
@pytest.mark.parametrize("name", ["ticketId", "requestedBy", "apiName"])
@pytest.mark.parametrize("control", CONTROL_CHARACTERS, ids=repr)
def test_free_text_with_a_control_character_is_rejected(network, validate_provision, name, control):
    detail = {"apiName": "a", "nlbArn": network.nlb_arn, name: f"OPS{control}1"}
    error = rejected(validate_provision, detail)
    assert fields(error) == {f"detail.{name}"}
    assert "control characters" in error.fields[0].rule


def test_a_ticket_id_with_a_control_character_is_not_echoed_as_a_message_attribute():
    ref = request_ref_from_event({"id": "evt-1", "detail": {"ticketId": "OPS\n1"}})
    assert ref.ticket_id is None
    assert request_ref_from_event({"id": "e", "detail": {"ticketId": "OPS-1"}}).ticket_id == "OPS-1"


# --- a detail that is not an object ---------------------------------------------------------------
@pytest.mark.parametrize("detail", [[1, 2], "a string", None, 42, True], ids=repr)
@pytest.mark.parametrize("kind", ["provision", "teardown", "relink"])
def test_a_detail_that_is_not_an_object_is_named_as_such(aws, settings, detail, kind):
    validate = {
        "provision": lambda e: validate_request(e, settings=settings),
        "teardown": lambda e: validation.validate_teardown(e, settings=settings),
        "relink": lambda e: validation.validate_relink(e, settings=settings),
    }[kind]
    error = rejected(validate, detail)
    assert [problem.as_dict() for problem in error.fields] == [
        {"field": "detail", "rule": "must be a JSON object"}
    ]


# --- an error never grows with its input ---------------------------------------------------------
def test_two_thousand_unknown_fields_make_a_bounded_error(network, validate_provision):
    detail = {"apiName": "a", "nlbArn": network.nlb_arn}
    detail.update({f"unknown{index}": index for index in range(2000)})

    error = rejected(validate_provision, detail)

    assert len(error.fields) == MAX_LISTED_FIELDS
    assert error.more_fields == 2000 - MAX_LISTED_FIELDS
    assert "(and 1990 more)" in error.message
    assert len(str(error)) < 8 * 1024
    assert json.loads(str(error))["moreFields"] == 1990


def test_a_hundred_kilobyte_key_is_named_without_its_hundred_kilobytes(network, validate_provision):
    key = "k" * 100_000
    error = rejected(validate_provision, {"apiName": "a", "nlbArn": network.nlb_arn, key: 1})

    (problem,) = error.fields
    assert problem.field.startswith("detail.kkkk")
    assert len(problem.field) <= 200
    assert "100007 characters" in problem.field
    assert len(str(error)) < 2 * 1024


def test_the_error_says_who_to_answer_once_a_validate_task_sets_it():
    error = InvalidRequest.of([])
    error.request = {"requestId": "OPS-1"}
    assert json.loads(str(error))["request"] == {"requestId": "OPS-1"}
