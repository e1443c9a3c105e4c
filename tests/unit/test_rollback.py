"""rollback_request: undo what a failed request created (by tag) and say why it failed."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import msgspec
import pytest

from provisioner.contract import errors
from provisioner.contract.errors import FieldError, InvalidRequest
from provisioner.contract.payloads import AwsError
from provisioner.contract.payloads.rollback import RollbackTask
from provisioner.contract.progress import Status
from provisioner.domain.pacing import Turns
from provisioner.domain.rest_apis import create_api, deploy_api
from provisioner.domain.rollback import describe_error, rollback_request
from provisioner.domain.vpc_links import ensure_vpc_link
from provisioner.storage.keys import LinkKey
from provisioner.storage.ledger import Ledger
from provisioner.storage.requests import body_hash

from .support import EXECUTION_ARN, LEDGER_TABLE, eventbridge_event, stored_request

pytestmark = pytest.mark.unit
LEDGER = Ledger(LEDGER_TABLE)

LAMBDA_TIMEOUT_CAUSE = json.dumps(
    {"errorType": "Sandbox.Timedout", "errorMessage": "Task timed out after 30.00 seconds"}
)


def lambda_cause(error: errors.ProvisionerError) -> str:
    """The ``Cause`` Step Functions records when a Lambda task raises ``error``."""
    return json.dumps(
        {
            "errorMessage": str(error),
            "errorType": type(error).__name__,
            "requestId": "0b1e6a2c-0000-0000-0000-000000000000",
            "stackTrace": ['  File "/var/task/app.py", line 17, in handler\n'],
        }
    )


def caught(error: errors.ProvisionerError) -> AwsError:
    return AwsError(Error=type(error).__name__, Cause=lambda_cause(error))


def claim(request, execution_arn: str = EXECUTION_ARN) -> None:
    """Validate's claim in the ledger: this execution runs this request."""
    LEDGER.requests.claim(
        request_id=request.request_id,
        kind="PROVISION",
        fingerprint=body_hash(request.to_wire()),
        execution_arn=execution_arn,
        ticket_id=request.ticket_id,
        requested_by=request.requested_by,
    )


def failed(state: dict, execution_arn: str = EXECUTION_ARN) -> RollbackTask:
    """The Rollback payload: {"workflow": "PROVISION", "executionArn.$", "state.$": "$"}."""
    return RollbackTask.from_wire(
        {"workflow": "PROVISION", "executionArn": execution_arn, "state": state}
    )


def after(request, error: errors.ProvisionerError) -> RollbackTask:
    return failed({"request": request.to_wire(), "error": msgspec.to_builtins(caught(error))})


def provision(request, settings, link_status) -> tuple[str, str]:
    """What a request leaves behind when it fails late: its link, its API and its stage."""
    claim(request)
    link = ensure_vpc_link(
        request, Turns(settings, request.request_id), started_at=datetime.now(UTC).isoformat()
    )
    link_status(link.vpc_link_id, "AVAILABLE", "Your vpc link is ready for use")
    api = create_api(request, Turns(settings, request.request_id))
    deploy_api(request, link, api, Turns(settings, request.request_id))
    return link.vpc_link_id, api.rest_api_id


# --- FAILED: roll back what this request created --------------------------------------------------
def test_a_failed_request_loses_its_api_and_link_and_keeps_everyone_elses(
    network, second_nlb_arn, make_request, settings, inventory, link_status
):
    # Given a request that created a link and an API, beside another request's resources
    others = make_request(nlb_arn=second_nlb_arn, api_name="billing")
    other_link, other_api = provision(others, settings, link_status)
    request = make_request()
    link_id, api_id = provision(request, settings, link_status)

    # When the request fails and is rolled back
    report = rollback_request(
        after(request, errors.StageNotSafe("VpcLink x is PENDING; no stage")),
        settings=settings,
    )

    # Then only its own API and link are gone
    assert report.status is Status.FAILED
    assert sorted(report.deleted) == sorted([f"REST API {api_id}", f"VpcLink {link_id}"])
    assert report.kept == []
    assert inventory().rest_api_ids == [other_api]
    assert inventory().vpc_link_ids == [other_link]
    # And it explains the failure with the original error's message and remedy
    assert report.error == {
        "code": "StageNotSafe",
        "message": "VpcLink x is PENDING; no stage",
        "remedy": errors.StageNotSafe.default_remedy,
    }
    assert report.ref.request_id == request.request_id
    assert "Rolled back:" in report.sentence
    assert report.sentence.startswith(f"Request {request.request_id} failed: VpcLink x")


def test_a_reused_link_is_not_deleted_with_the_request_that_reused_it(
    network, apigw, make_request, settings, inventory, link_status
):
    # Given a link that already served the NLB, reused by a request that then failed
    shared = apigw.create_vpc_link(name="shared", targetArns=[network.nlb_arn])
    link_status(shared["id"], "AVAILABLE", "Your vpc link is ready for use")
    request = make_request()
    _, api_id = provision(request, settings, link_status)

    # When the request is rolled back
    report = rollback_request(
        after(request, errors.TransientAwsError("x")),
        settings=settings,
    )

    # Then its API is gone and the shared link stays
    assert report.deleted == [f"REST API {api_id}"]
    assert inventory().vpc_link_ids == [shared["id"]]
    assert inventory().rest_api_ids == []


def test_resources_of_another_stack_with_the_same_request_id_are_kept(
    network, apigw, make_request, settings, inventory
):
    # Given an API another control plane (another stack) created for the same request id
    request = make_request()
    claim(request)
    apigw.create_rest_api(
        name="foreign",
        tags={"provisioner:request-id": request.request_id, "provisioner:managed-by": "other"},
    )

    report = rollback_request(
        after(request, errors.TransientAwsError("x")),
        settings=settings,
    )

    assert report.deleted == []
    assert len(inventory().rest_api_ids) == 1


def test_a_failure_before_anything_was_created_says_so(network, make_request, settings, inventory):
    request = make_request()
    claim(request)

    report = rollback_request(
        after(request, errors.QuotaExceeded("VpcLink limit")),
        settings=settings,
    )

    assert (report.status, report.deleted, report.kept) == (Status.FAILED, [], [])
    assert report.sentence.endswith("Nothing had been created.")
    assert report.error["code"] == "QuotaExceeded"
    assert "quota" in report.error["remedy"].lower()


def test_a_link_that_another_api_uses_is_kept_with_the_reason(
    network, make_request, settings, inventory, link_status
):
    # AWS refuses to delete a referenced link; bare moto does not, emulator.fidelity (installed
    # for every unit test) does.

    # Given request A created a link, then request B reused it and deployed on it
    first = make_request()
    link_id, _ = provision(first, settings, link_status)
    second = make_request(api_name="billing")
    second_link, second_api = provision(second, settings, link_status)
    assert second_link == link_id

    # When A is rolled back
    report = rollback_request(after(first, errors.TransientAwsError("x")), settings=settings)

    # Then A's API is gone but the link B uses is kept, and the report says why
    assert [entry.split(" (")[0] for entry in report.kept] == [f"VpcLink {link_id}"]
    assert "Cannot delete vpc link" in report.kept[0]
    assert inventory().vpc_link_ids == [link_id]
    assert inventory().rest_api_ids == [second_api]
    assert "Kept:" in report.sentence


def test_the_ledger_records_the_failure_and_frees_the_nlb(
    network, make_request, settings, link_status
):
    # Given a request that created the NLB's link (and so holds the NLB's claim)
    request = make_request()
    link_id, _ = provision(request, settings, link_status)

    # When it is rolled back
    report = rollback_request(after(request, errors.TransientAwsError("x")), settings=settings)

    # Then its ledger item says FAILED with the outcome, and another request may claim the NLB
    item = stored_request(request.request_id)
    assert item["status"] == "FAILED"
    assert item["outcome"]["deleted"] == report.deleted
    assert f"VpcLink {link_id}" in report.deleted
    assert LEDGER.link_claims.claim(LinkKey.of_nlb(network.nlb_arn), "someone-else").won


def test_a_duplicate_delivery_that_failed_does_not_undo_the_originals_work(
    network, make_request, settings, inventory, link_status
):
    # Given a request provisioned by its first execution
    request = make_request()
    provision(request, settings, link_status)
    before = inventory()

    # When a second execution for the same request fails and rolls back
    duplicate = "arn:aws:states:us-east-1:123456789012:execution:provision:run-2"
    report = rollback_request(
        failed(
            {
                "request": request.to_wire(),
                "error": msgspec.to_builtins(caught(errors.TransientAwsError("x"))),
            },
            execution_arn=duplicate,
        ),
        settings=settings,
    )

    # Then nothing of the original's is deleted, and its ledger item is untouched
    assert report.status is Status.FAILED
    assert report.deleted == []
    assert inventory() == before
    assert stored_request(request.request_id)["status"] == "ACCEPTED"


def test_a_failed_link_creation_does_not_block_the_nlb_for_other_requests(
    network, make_request, settings, monkeypatch
):
    # Given a request that claimed the NLB, then AWS refused to create its link
    from provisioner.aws import apigateway

    first = make_request()
    claim(first)

    def quota_exceeded(**_: object) -> None:
        raise errors.QuotaExceeded("VpcLink limit of 20 reached")

    with monkeypatch.context() as patched:
        patched.setattr(apigateway, "create_vpc_link", quota_exceeded)
        with pytest.raises(errors.QuotaExceeded):
            ensure_vpc_link(
                first, Turns(settings, first.request_id), started_at=datetime.now(UTC).isoformat()
            )

    # When that request is rolled back
    rollback_request(
        after(first, errors.QuotaExceeded("VpcLink limit of 20 reached")), settings=settings
    )

    # Then another request for the same NLB can create its link at once
    second_request = make_request()
    second = ensure_vpc_link(
        second_request,
        Turns(settings, second_request.request_id),
        started_at=datetime.now(UTC).isoformat(),
    )
    assert second.created_by_this_request is True


# --- REJECTED: nothing was created, list the fields -----------------------------------------------
def test_a_rejected_request_deletes_nothing_and_lists_every_field(
    network, apigw, settings, inventory
):
    # Given a raw event that Validate rejected (its state is the event plus the error)
    event = eventbridge_event({"requestId": "r-7", "ticketId": "OPS-7"}, event_id="evt-7")
    rejection = InvalidRequest.of(
        [FieldError("detail.apiName", "Field required"), FieldError("detail.nlbArn", "required")]
    )
    # and, to prove nothing is looked for, an API tagged as if this request had made it
    apigw.create_rest_api(
        name="decoy",
        tags={"provisioner:request-id": "r-7", "provisioner:managed-by": settings.stack_name},
    )
    before = inventory()

    # When it is "rolled back"
    report = rollback_request(
        failed({**event, "error": msgspec.to_builtins(caught(rejection))}),
        settings=settings,
    )

    # Then nothing is deleted and the report lists every field error
    assert report.status is Status.REJECTED
    assert report.deleted == []
    assert inventory() == before
    assert report.error["code"] == "InvalidRequest"
    assert report.error["fields"] == [
        {"field": "detail.apiName", "rule": "Field required"},
        {"field": "detail.nlbArn", "rule": "required"},
    ]
    assert (report.ref.request_id, report.ref.ticket_id) == ("r-7", "OPS-7")
    assert report.sentence.startswith("Request r-7 was rejected: 2 fields are invalid")
    assert "Nothing had been created" not in report.sentence
    # And the ledger keeps a trace of the rejection
    assert stored_request("r-7")["status"] == "REJECTED"


def test_a_request_id_reused_for_another_body_is_rejected_and_deletes_nothing(
    network, make_request, settings, inventory, link_status
):
    # Given a provisioned request, and a different body sent under the same requestId
    request = make_request()
    provision(request, settings, link_status)
    before = inventory()
    conflict = errors.DuplicateRequestConflict(f"requestId {request.request_id} was used")

    # When that second execution rolls back
    report = rollback_request(
        failed(
            {"request": request.to_wire(), "error": msgspec.to_builtins(caught(conflict))},
            execution_arn="arn:aws:states:us-east-1:123456789012:execution:provision:run-2",
        ),
        settings=settings,
    )

    # Then it is REJECTED, the first request's resources stay, and its ledger item too
    assert report.status is Status.REJECTED
    assert inventory() == before
    assert stored_request(request.request_id)["status"] != "REJECTED"


def test_a_rejected_event_with_a_malformed_request_id_is_answered_by_event_id(aws, settings):
    event = eventbridge_event({"requestId": "not valid!"}, event_id="evt-8")
    rejection = InvalidRequest.of([FieldError("detail.requestId", "must match")])

    report = rollback_request(
        failed({**event, "error": msgspec.to_builtins(caught(rejection))}),
        settings=settings,
    )

    assert report.ref.request_id == "evt-8"


# --- describe_error -------------------------------------------------------------------------------
def test_describe_error_reads_our_json_error_message_back():
    error = errors.VpcLinkFailed("VpcLink abc FAILED: NLB is already associated")

    assert describe_error(caught(error)) == {
        "code": "VpcLinkFailed",
        "message": "VpcLink abc FAILED: NLB is already associated",
        "remedy": errors.VpcLinkFailed.default_remedy,
    }


def test_describe_error_passes_a_lambda_timeout_on_as_aws_wrote_it():
    described = describe_error(AwsError(Error="Sandbox.Timedout", Cause=LAMBDA_TIMEOUT_CAUSE))

    assert described["code"] == "Sandbox.Timedout"
    assert described["message"] == "Task timed out after 30.00 seconds"
    assert described["remedy"]


def test_describe_error_passes_a_non_json_cause_on_verbatim():
    cause = "An error occurred while executing the state 'CreateApi' (entered at the event id #9)."

    described = describe_error(AwsError(Error="States.Runtime", Cause=cause))

    assert described["code"] == "States.Runtime"
    assert described["message"] == cause
    assert described["remedy"]


def test_describe_error_of_our_name_without_json_uses_our_remedy():
    described = describe_error(AwsError(Error="TooManyRequests", Cause="Rate exceeded"))
    assert described == {
        "code": "TooManyRequests",
        "message": "Rate exceeded",
        "remedy": errors.TooManyRequests.default_remedy,
    }


@pytest.mark.parametrize("cause", [None, ""])
def test_describe_error_without_a_cause_uses_the_error_name(cause):
    described = describe_error(AwsError(Error="States.Timeout", Cause=cause))
    assert described["message"] == "States.Timeout"


@pytest.mark.parametrize("cause", ['"a json string"', "[1, 2]", '{"errorMessage": 42}', "null"])
def test_describe_error_survives_json_that_is_not_our_shape(cause):
    described = describe_error(AwsError(Error="States.Runtime", Cause=cause))
    assert described["code"] == "States.Runtime"
    assert isinstance(described["message"], str) and described["message"]


def test_a_link_another_running_request_reuses_is_kept_even_where_aws_would_delete_it(
    network, make_request, settings, monkeypatch
):
    # Given a request that created a link, and a second one that reused it while PENDING
    # (both record the link they use, as their EnsureVpcLink tasks do)
    from provisioner.aws import apigateway

    first, second = make_request(), make_request()
    now = datetime.now(UTC).isoformat()
    for request in (first, second):
        claim(request, execution_arn=f"{EXECUTION_ARN}-{request.request_id}")
        link = ensure_vpc_link(request, Turns(settings, request.request_id), started_at=now)
        LEDGER.requests.record_progress(
            request.request_id,
            status="VPC_LINK_PENDING",
            message="waiting",
            resources={"vpcLinkId": link.vpc_link_id},
        )
    assert link.created_by_this_request is False  # the second one reused the first's link

    # ... and AWS, which cannot see references through a stage variable, would delete it
    def must_not_delete(vpc_link_id: str) -> None:
        raise AssertionError(f"VpcLink {vpc_link_id} deleted from under a request using it")

    monkeypatch.setattr(apigateway, "delete_vpc_link", must_not_delete)

    # When the first request fails and is rolled back
    report = rollback_request(
        failed(
            {
                "request": first.to_wire(),
                "error": msgspec.to_builtins(caught(errors.QuotaExceeded("no"))),
            },
            execution_arn=f"{EXECUTION_ARN}-{first.request_id}",
        ),
        settings=settings,
    )

    # Then the link stays for the second, which the report names
    assert report.kept == [f"VpcLink {link.vpc_link_id} (still used by {second.request_id})"]
    assert apigateway.get_vpc_link(link.vpc_link_id) is not None
