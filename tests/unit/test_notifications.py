"""The progress contract (README, "The progress contract (SNS)")."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta

import pytest

from provisioner.contract.payloads import RequestRef
from provisioner.contract.progress import FINAL_STATUSES, Status, invoke_url, progress

pytestmark = pytest.mark.unit

ISO_8601_UTC_MS = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")


def test_the_body_carries_who_what_when_and_everything_known():
    # Given a request with a ticket, and what is known at deployment
    ref = RequestRef(request_id="r-1", ticket_id="OPS-1", requested_by="alice")

    # When the progress notification is built
    before = datetime.now(UTC) - timedelta(milliseconds=1)
    notification = progress(
        ref,
        Status.API_DEPLOYED,
        "API abc deployed to stage 'prod'.",
        vpcLinkId="l1",
        restApiId="abc",
        stageName="prod",
        invokeUrl=None,
    )
    after = datetime.now(UTC) + timedelta(milliseconds=1)

    # Then the body has the contract's fields, leaving out what is not known
    body = notification["message"]
    timestamp = body.pop("timestamp")
    assert body == {
        "requestId": "r-1",
        "ticketId": "OPS-1",
        "requestedBy": "alice",
        "status": "API_DEPLOYED",
        "message": "API abc deployed to stage 'prod'.",
        "vpcLinkId": "l1",
        "restApiId": "abc",
        "stageName": "prod",
    }
    assert ISO_8601_UTC_MS.match(timestamp), timestamp
    assert before <= datetime.fromisoformat(timestamp) <= after


def test_the_body_is_json_serialisable_with_an_error():
    ref = RequestRef(request_id="r-1")
    error = {"code": "VpcLinkFailed", "message": "FAILED: x", "remedy": "Use another NLB."}

    body = progress(ref, Status.FAILED, "Request r-1 failed: FAILED: x", error=error)["message"]

    assert json.loads(json.dumps(body))["error"] == error
    # ticketId is part of every message, null when the request had none
    assert "ticketId" in body and body["ticketId"] is None


def test_attributes_let_subscribers_filter_on_request_status_and_ticket():
    ref = RequestRef(request_id="r-1", ticket_id="OPS-1")

    attributes = progress(ref, Status.SUCCEEDED, "Ready.")["attributes"]

    assert attributes == {
        "requestId": {"DataType": "String", "StringValue": "r-1"},
        "status": {"DataType": "String", "StringValue": "SUCCEEDED"},
        "ticketId": {"DataType": "String", "StringValue": "OPS-1"},
    }


def test_attributes_leave_out_a_ticket_id_that_is_not_set():
    # SNS refuses a String attribute without a value, so an absent ticket has no attribute
    attributes = progress(RequestRef(request_id="r-1"), Status.REJECTED, "Rejected.")["attributes"]
    assert set(attributes) == {"requestId", "status"}


def test_the_final_statuses_are_the_contracts():
    assert {s.value for s in FINAL_STATUSES} == {"SUCCEEDED", "FAILED", "REJECTED"}


def test_the_invoke_url_is_the_regional_execute_api_url_of_the_stage():
    assert invoke_url("a1b2c3", "eu-west-1", "v1") == (
        "https://a1b2c3.execute-api.eu-west-1.amazonaws.com/v1"
    )


def test_a_milestone_already_recorded_keeps_the_moment_it_was_recorded():
    # Given a milestone the ledger recorded at a known moment
    ref = RequestRef(request_id="r-1")

    # When its notification is built with that moment
    body = progress(ref, Status.FAILED, "failed", at="2026-11-21T10:41:12.345Z")["message"]

    # Then the notification tells the same moment (the ticket write-back orders by it)
    assert body["timestamp"] == "2026-11-21T10:41:12.345Z"
