"""validate_request: the request contract at the edge (README, "The request contract
(EventBridge)")."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from provisioner.contract.errors import InvalidRequest
from provisioner.contract.events import request_ref_from_event
from provisioner.contract.requests import NLB_ARN_PATTERN, EndpointType
from provisioner.domain.validation import validate_request

from .support import ACCOUNT, REGION, FakeLambdaContext, eventbridge_event

pytestmark = pytest.mark.unit


def validate(event: dict[str, Any], settings: Any) -> Any:
    return validate_request(event, settings=settings)


def rejected_fields(event: dict[str, Any], settings: Any) -> dict[str, list[str]]:
    """``{field: [rule, ...]}`` of the InvalidRequest the event must raise."""
    with pytest.raises(InvalidRequest) as raised:
        validate(event, settings)
    by_field: dict[str, list[str]] = {}
    for problem in raised.value.fields:
        assert problem.rule, f"{problem.field} is reported without a rule"
        by_field.setdefault(problem.field, []).append(problem.rule)
    return by_field


def other_account_and_region(arn: str) -> str:
    return arn.replace(f":{REGION}:", ":eu-west-1:").replace(f":{ACCOUNT}:", ":210987654321:")


# --- accepted requests ---------------------------------------------------------------------------
def test_a_minimal_event_gets_every_default_filled_in(network, settings):
    # Given an event naming only the API and the NLB
    event = eventbridge_event({"apiName": "orders", "nlbArn": network.nlb_arn}, event_id="evt-1")

    # When it is validated
    request = validate(event, settings)

    # Then every documented default is filled in
    assert request.request_id == "evt-1"
    assert request.stage_name == settings.default_stage_name == "prod"
    assert request.endpoint_type is EndpointType.REGIONAL
    assert request.endpoint_url == f"http://{network.nlb_dns_name}"
    assert request.http_method == "GET"
    assert request.proxy_all_paths is False
    assert request.timeout_seconds == settings.link_timeout_seconds == 900
    assert request.nlb_arn == network.nlb_arn
    assert request.vpc_link_id is None
    assert request.tags == {}


def test_defaults_come_from_the_functions_settings(network, monkeypatch, make_event):
    # Given a stack configured with another default stage and link timeout
    from provisioner.runtime.settings import Settings

    monkeypatch.setenv("PROVISIONER_DEFAULT_STAGE_NAME", "live")
    monkeypatch.setenv("PROVISIONER_LINK_TIMEOUT_SECONDS", "300")

    # When a minimal event is validated
    request = validate(
        make_event({"apiName": "orders", "nlbArn": network.nlb_arn}),
        Settings.from_environment().running_as(FakeLambdaContext.invoked_function_arn),
    )

    # Then those defaults are used
    assert (request.stage_name, request.timeout_seconds) == ("live", 300)


def test_given_values_are_kept(network, settings, make_event, execute_api_endpoint):
    # Given an event that sets every optional field
    detail = {
        "requestId": "orders-2024.06_01",
        "ticketId": "OPS-42",
        "requestedBy": "alice@example.com",
        "apiName": "orders",
        "stageName": "v1",
        "endpointType": "PRIVATE",
        "nlbArn": network.nlb_arn,
        "endpointUrl": "https://orders.internal.example.com:8443/api/",
        "httpMethod": "POST",
        "proxyAllPaths": True,
        "timeoutSeconds": 120,
        "tags": {"team": "orders", "cost-center": "42"},
        "authorization": "AWS_IAM",
        "vpcEndpointIds": [execute_api_endpoint],
    }

    # When it is validated
    request = validate(make_event(detail, event_id="evt-2"), settings)

    # Then nothing is replaced by a default (the URL loses only its trailing slash); the link
    # version is filled in: V1, an NLB's default
    assert request.to_wire() == {
        **detail,
        "endpointUrl": "https://orders.internal.example.com:8443/api",
        "cognitoUserPoolArns": [],  # no authorizer with AWS_IAM
        "vpcLinkVersion": "V1",
    }


def test_a_named_vpc_link_alone_is_enough_and_lends_its_nlb(network, settings, apigw, make_event):
    # Given an existing link on the NLB
    link = apigw.create_vpc_link(name="existing", targetArns=[network.nlb_arn])

    # When an event names only the link
    request = validate(make_event({"apiName": "orders", "vpcLinkId": link["id"]}), settings)

    # Then the link is used and its NLB is the target
    assert request.vpc_link_id == link["id"]
    assert request.nlb_arn == network.nlb_arn
    assert request.endpoint_url == f"http://{network.nlb_dns_name}"


# --- rejected requests ---------------------------------------------------------------------------
def test_every_field_error_is_reported_at_once(network, settings, make_event):
    # Given an event with five bad fields
    event = make_event(
        {
            "apiName": "",
            "stageName": "prod stage",
            "endpointType": "INTERNAL",
            "httpMethod": "FETCH",
            "timeoutSeconds": 0,
            "nlbArn": network.nlb_arn,
        }
    )

    # When it is validated
    fields = rejected_fields(event, settings)

    # Then each bad field is named, with a rule, in one InvalidRequest
    assert set(fields) == {
        "detail.apiName",
        "detail.stageName",
        "detail.endpointType",
        "detail.httpMethod",
        "detail.timeoutSeconds",
    }


def test_the_message_lists_every_field_and_says_nothing_was_created(settings, make_event):
    with pytest.raises(InvalidRequest) as raised:
        validate(make_event({"stageName": "a b"}), settings)

    document = json.loads(str(raised.value))
    assert document["message"].startswith("3 fields are invalid: ")
    for field in ("detail.apiName", "detail.stageName", "detail.nlbArn"):
        assert field in document["message"]
    assert "nothing was created" in document["remedy"]
    assert {f["field"] for f in document["fields"]} == {
        "detail.apiName",
        "detail.stageName",
        "detail.nlbArn",
    }


def test_an_unknown_field_is_rejected_by_name(network, settings, make_event):
    fields = rejected_fields(
        make_event({"apiName": "orders", "nlbArn": network.nlb_arn, "stage": "prod"}), settings
    )
    assert list(fields) == ["detail.stage"]
    assert "unknown field" in fields["detail.stage"][0]


def test_api_name_is_required(network, settings, make_event):
    fields = rejected_fields(make_event({"nlbArn": network.nlb_arn}), settings)
    assert list(fields) == ["detail.apiName"]


@pytest.mark.parametrize("api_name", ["", "   ", "x" * 129])
def test_api_name_must_have_text_and_fit(network, settings, make_event, api_name):
    fields = rejected_fields(make_event({"apiName": api_name, "nlbArn": network.nlb_arn}), settings)
    assert list(fields) == ["detail.apiName"]


@pytest.mark.parametrize("stage_name", ["", "prod stage", "prod/v1", "préprod", "x" * 129])
def test_stage_name_is_letters_digits_dash_and_underscore(
    network, settings, make_event, stage_name
):
    fields = rejected_fields(
        make_event({"apiName": "orders", "nlbArn": network.nlb_arn, "stageName": stage_name}),
        settings,
    )
    assert list(fields) == ["detail.stageName"]


@pytest.mark.parametrize("endpoint_type", ["regional", "PUBLIC", "", None])
def test_endpoint_type_is_one_of_three(network, settings, make_event, endpoint_type):
    fields = rejected_fields(
        make_event({"apiName": "o", "nlbArn": network.nlb_arn, "endpointType": endpoint_type}),
        settings,
    )
    assert list(fields) == ["detail.endpointType"]


@pytest.mark.parametrize("endpoint_url", ["ftp://nlb.internal", "nlb.internal", "http://"])
def test_endpoint_url_must_be_http_or_https(network, settings, make_event, endpoint_url):
    fields = rejected_fields(
        make_event({"apiName": "o", "nlbArn": network.nlb_arn, "endpointUrl": endpoint_url}),
        settings,
    )
    assert list(fields) == ["detail.endpointUrl"]


def test_nlb_arn_is_required_unless_a_vpc_link_is_named(settings, make_event):
    fields = rejected_fields(make_event({"apiName": "orders"}), settings)
    assert list(fields) == ["detail.nlbArn"]
    assert "vpcLinkId" in fields["detail.nlbArn"][0]


def test_a_missing_target_is_reported_with_the_other_field_errors(settings, make_event):
    fields = rejected_fields(make_event({"apiName": "orders", "httpMethod": "FETCH"}), settings)
    assert set(fields) == {"detail.httpMethod", "detail.nlbArn"}


def test_an_nlb_in_another_account_and_region_is_rejected_for_both(network, settings, make_event):
    # Given the ARN of an NLB owned by another account, in another region
    foreign = other_account_and_region(network.nlb_arn)
    assert re.fullmatch(NLB_ARN_PATTERN, foreign)

    # When it is requested
    fields = rejected_fields(make_event({"apiName": "orders", "nlbArn": foreign}), settings)

    # Then both the account and the region are named in the rules
    rules = " | ".join(fields["detail.nlbArn"])
    assert f"this account ({ACCOUNT})" in rules
    assert f"this region ({REGION})" in rules
    assert list(fields) == ["detail.nlbArn"]


def test_an_nlb_that_does_not_exist_is_rejected(network, settings, make_event):
    missing = network.nlb_arn[:-16] + "0123456789abcdef"
    fields = rejected_fields(make_event({"apiName": "orders", "nlbArn": missing}), settings)
    assert fields == {"detail.nlbArn": [f"no load balancer {missing} exists"]}


def test_an_application_load_balancer_is_not_a_target(network, settings, make_event):
    fields = rejected_fields(make_event({"apiName": "orders", "nlbArn": network.alb_arn}), settings)
    assert list(fields) == ["detail.nlbArn"]
    assert "network load balancer" in fields["detail.nlbArn"][0]
    assert "'application'" in fields["detail.nlbArn"][0]


@pytest.mark.parametrize(
    "nlb_arn",
    [
        "not-an-arn",
        "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/tg/0123456789abcdef",
        "arn:aws:elasticloadbalancing:us-east-1:1234:loadbalancer/net/nlb/0123456789abcdef",
    ],
)
def test_an_nlb_arn_must_look_like_one(settings, make_event, nlb_arn):
    fields = rejected_fields(make_event({"apiName": "orders", "nlbArn": nlb_arn}), settings)
    assert list(fields) == ["detail.nlbArn"]


def test_a_vpc_link_that_does_not_exist_is_rejected(network, settings, make_event):
    fields = rejected_fields(make_event({"apiName": "orders", "vpcLinkId": "abc123"}), settings)
    assert fields == {"detail.vpcLinkId": ["no VpcLink abc123 exists"]}


def test_a_failed_vpc_link_is_rejected(network, settings, apigw, make_event, link_status):
    link = apigw.create_vpc_link(name="broken", targetArns=[network.nlb_arn])
    link_status(link["id"], "FAILED", "NLB is already associated with another VPC Endpoint Service")

    fields = rejected_fields(make_event({"apiName": "orders", "vpcLinkId": link["id"]}), settings)

    assert fields == {"detail.vpcLinkId": [f"VpcLink {link['id']} is FAILED"]}


def test_naming_both_an_nlb_and_a_vpc_link_is_refused(network, settings, apigw, make_event):
    link = apigw.create_vpc_link(name="orders", targetArns=[network.nlb_arn])

    fields = rejected_fields(
        make_event({"apiName": "orders", "vpcLinkId": link["id"], "nlbArn": network.nlb_arn}),
        settings,
    )

    assert list(fields) == ["detail.vpcLinkId"]
    assert "only one of" in fields["detail.vpcLinkId"][0]


@pytest.mark.parametrize("reserved", ["aws:cloudformation:stack-name", "AWS:x", "provisioner:x"])
def test_reserved_tag_prefixes_are_refused(network, settings, make_event, reserved):
    fields = rejected_fields(
        make_event({"apiName": "orders", "nlbArn": network.nlb_arn, "tags": {reserved: "v"}}),
        settings,
    )
    assert list(fields) == ["detail.tags"]
    assert "reserved" in fields["detail.tags"][0]


def test_tag_overriding_our_request_id_is_refused(network, settings, make_event):
    # The ownership tags decide what rollback deletes: a requester must not be able to set them.
    tags = {"provisioner:request-id": "someone-elses-request"}
    fields = rejected_fields(
        make_event({"apiName": "orders", "nlbArn": network.nlb_arn, "tags": tags}), settings
    )
    assert list(fields) == ["detail.tags"]


@pytest.mark.parametrize("request_id", ["", "has space", "x" * 65, "semi;colon"])
def test_a_malformed_request_id_is_rejected(network, settings, make_event, request_id):
    fields = rejected_fields(
        make_event({"apiName": "orders", "nlbArn": network.nlb_arn, "requestId": request_id}),
        settings,
    )
    assert list(fields) == ["detail.requestId"]


def test_a_detail_that_is_not_an_object_is_rejected(settings, make_event):
    with pytest.raises(InvalidRequest) as raised:
        validate(make_event(["apiName", "orders"]), settings)
    assert raised.value.fields
    assert all(f.field.startswith("detail") for f in raised.value.fields)


def test_an_event_that_is_not_an_eventbridge_event_is_rejected(settings):
    with pytest.raises(InvalidRequest) as raised:
        validate({"detail": {"apiName": "orders"}}, settings)
    assert {"id", "source", "detail-type"} <= {f.field for f in raised.value.fields}


def test_a_boolean_is_not_a_timeout(network, settings, make_event):
    fields = rejected_fields(
        make_event({"apiName": "orders", "nlbArn": network.nlb_arn, "timeoutSeconds": True}),
        settings,
    )
    assert list(fields) == ["detail.timeoutSeconds"]


def test_shape_errors_and_aws_checks_are_reported_together(network, settings, make_event):
    missing = network.nlb_arn[:-16] + "0123456789abcdef"
    fields = rejected_fields(
        make_event({"apiName": "orders", "stageName": "a b", "nlbArn": missing}), settings
    )
    assert set(fields) == {"detail.stageName", "detail.nlbArn"}


# --- nothing but InvalidRequest, nothing created ---------------------------------------------
_JSON_SCALARS = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20)
_JSON = st.recursive(
    _JSON_SCALARS,
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3)
    ),
    max_leaves=6,
)
_FIELDS = [
    "requestId",
    "ticketId",
    "requestedBy",
    "apiName",
    "stageName",
    "endpointType",
    "nlbArn",
    "vpcLinkId",
    "endpointUrl",
    "httpMethod",
    "proxyAllPaths",
    "timeoutSeconds",
    "tags",
]


def _plausible_values(network: Any) -> st.SearchStrategy[Any]:
    return st.sampled_from(
        [
            network.nlb_arn,
            network.alb_arn,
            other_account_and_region(network.nlb_arn),
            network.nlb_arn[:-16] + "0123456789abcdef",
            "abc123",
            "REGIONAL",
            "PRIVATE",
            "GET",
            "ANY",
            "http://nlb.internal",
            "prod",
            900,
            {"aws:x": "y"},
            {"team": "orders"},
        ]
    )


@hypothesis_settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_any_json_detail_is_either_accepted_or_an_invalid_request(
    network, settings, inventory, data
):
    # Given any JSON object as detail, mixing known fields, plausible values and noise
    before = inventory()
    detail = data.draw(
        st.dictionaries(
            st.sampled_from(_FIELDS) | st.text(max_size=10),
            _plausible_values(network) | _JSON,
            max_size=8,
        ),
        label="detail",
    )

    # When it is validated, Then it is a request or an InvalidRequest naming fields, nothing else
    try:
        validate(eventbridge_event(detail), settings)
    except InvalidRequest as rejected:
        assert rejected.fields
        assert all(f.field.startswith("detail") and f.rule for f in rejected.fields)

    # And validation created nothing either way
    assert inventory() == before


# --- who to answer -------------------------------------------------------------------------------
def test_request_ref_echoes_a_well_formed_request_id_and_ticket(make_event):
    ref = request_ref_from_event(
        make_event({"requestId": "r-1", "ticketId": "OPS-1", "requestedBy": "bob"}, event_id="e")
    )
    assert (ref.request_id, ref.ticket_id, ref.requested_by) == ("r-1", "OPS-1", "bob")


@pytest.mark.parametrize("request_id", ["has space", "", "x" * 65, 42, None, ["r-1"]])
def test_request_ref_falls_back_to_the_event_id(make_event, request_id):
    ref = request_ref_from_event(make_event({"requestId": request_id}, event_id="evt-9"))
    assert ref.request_id == "evt-9"


@pytest.mark.parametrize("detail", ["a string", None, [1, 2]])
def test_request_ref_survives_a_detail_that_is_not_an_object(make_event, detail):
    ref = request_ref_from_event(make_event(detail, event_id="evt-9"))
    assert (ref.request_id, ref.ticket_id) == ("evt-9", None)


def test_request_ref_drops_a_ticket_id_it_cannot_echo(make_event):
    ref = request_ref_from_event(make_event({"ticketId": "x" * 129, "requestedBy": 7}))
    assert (ref.ticket_id, ref.requested_by) == (None, None)
