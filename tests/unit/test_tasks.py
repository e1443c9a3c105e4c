"""The teardown, relink and rollback tasks (provisioner.tasks.*), called with the payloads
statemachine/*.asl.json send them; they return what the ASL's ResultSelector picks up."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import msgspec
import pytest

from provisioner.aws import announce as announcements
from provisioner.contract import errors
from provisioner.contract.errors import FieldError, InvalidRequest
from provisioner.contract.payloads import EnsureVpcLinkTask, ValidateTask
from provisioner.contract.payloads.relink import RelinkTask
from provisioner.contract.payloads.rollback import RollbackTask
from provisioner.contract.payloads.teardown import TeardownTask
from provisioner.runtime.settings import Settings
from provisioner.storage.ledger import Ledger
from provisioner.storage.requests import body_hash
from provisioner.tasks import links as link_tasks
from provisioner.tasks import relink as relink_tasks
from provisioner.tasks import rollback as rollback_tasks
from provisioner.tasks import teardown as teardown_tasks
from provisioner.tasks import validate as validate_tasks

from .support import (
    ACCOUNT,
    LEDGER_TABLE,
    REGION,
    FakeLambdaContext,
    eventbridge_event,
    force_link_status,
    stored_request,
)

pytestmark = pytest.mark.unit
LEDGER = Ledger(LEDGER_TABLE)

PROVISIONING = f"arn:aws:states:{REGION}:{ACCOUNT}:execution:provision:run-1"
TEARDOWN = f"arn:aws:states:{REGION}:{ACCOUNT}:execution:teardown:run-1"
RELINK = f"arn:aws:states:{REGION}:{ACCOUNT}:execution:relink:run-1"


def start_time() -> str:
    """``$$.Execution.StartTime`` as Step Functions writes it."""
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def progress_of(result: dict[str, Any], status: str, request_id: str) -> dict[str, Any]:
    """Check the notification a task returns for the ASL to publish; give back its body."""
    progress = result["progress"]
    body = progress["message"]
    assert (body["status"], body["requestId"]) == (status, request_id)
    assert body["message"]
    assert progress["attributes"]["status"] == {"DataType": "String", "StringValue": status}
    json.dumps(progress)
    return body


def ledger_item(request_id: str) -> dict[str, Any]:
    found = stored_request(request_id)
    assert found is not None, f"no ledger item for {request_id}"
    return found


def statuses(request_id: str) -> list[str]:
    return [entry["status"] for entry in ledger_item(request_id)["history"]]


def claimed_provisioning(api: Any) -> None:
    """The provisioning request as its workflow left it in the ledger: SUCCEEDED."""
    LEDGER.requests.claim(
        request_id=api.request.request_id,
        kind="PROVISION",
        fingerprint=body_hash(api.request.to_wire()),
        execution_arn=PROVISIONING,
        ticket_id=None,
        requested_by=None,
    )
    LEDGER.requests.record_progress(api.request.request_id, status="SUCCEEDED", message="ready")


def running_settings() -> Settings:
    """What ``lambda_task`` gives a task: the environment's settings, where the function runs."""
    return Settings.from_environment().running_as(FakeLambdaContext.invoked_function_arn)


def validate_teardown(detail: dict[str, Any]) -> dict[str, Any]:
    """ValidateTeardown's payload: {"event.$": "$", "executionArn.$": "$$.Execution.Id"}."""
    event = eventbridge_event(detail, detail_type="PrivateApiDeletionRequested")
    return validate_tasks.validate_teardown(
        ValidateTask.from_wire({"event": event, "executionArn": TEARDOWN}), running_settings()
    )


# --- teardown ------------------------------------------------------------------------------------
def test_validate_teardown_returns_the_request_and_claims_it(network, provision):
    # Given a provisioned API
    api = provision()

    # When ValidateTeardown runs on a deletion event naming its request
    result = validate_teardown(
        {"requestId": "DEL-1", "ticketId": "OPS-7", "targetRequestId": api.request.request_id}
    )

    # Then it returns the camelCase request and the ACCEPTED notification
    assert set(result) == {"request", "progress"}
    assert result["request"] == {
        "requestId": "DEL-1",
        "ticketId": "OPS-7",
        "restApiId": api.rest_api_id,
        "apiName": "orders",
        "createdByRequest": api.request.request_id,
        "vpcLinkIds": [api.vpc_link_id],
        "keepVpcLink": False,
    }
    body = progress_of(result, "ACCEPTED", "DEL-1")
    assert body["ticketId"] == "OPS-7"
    assert api.rest_api_id in body["message"]
    assert api.vpc_link_id in body["message"]
    # And the ledger holds the teardown, ACCEPTED, run by this execution
    recorded = ledger_item("DEL-1")
    assert (recorded["kind"], recorded["status"], recorded["executionArn"]) == (
        "TEARDOWN",
        "ACCEPTED",
        TEARDOWN,
    )
    assert statuses("DEL-1") == ["ACCEPTED"]


def test_validate_teardown_raises_for_an_api_we_did_not_create_and_records_nothing(
    aws, apigw, inventory
):
    api_id = apigw.create_rest_api(name="hand-made")["id"]

    with pytest.raises(InvalidRequest) as raised:
        validate_teardown({"requestId": "DEL-1", "restApiId": api_id})

    assert [f.field for f in raised.value.fields] == ["detail.restApiId"]
    assert stored_request("DEL-1") is None
    assert inventory().rest_api_ids == [api_id]


def test_the_teardown_tasks_delete_the_api_then_wait_for_the_link(
    network, provision, inventory, monkeypatch
):
    # Given a provisioned API, SUCCEEDED in the ledger, and its teardown validated
    api = provision()
    claimed_provisioning(api)
    request = validate_teardown({"requestId": "DEL-1", "targetRequestId": api.request.request_id})[
        "request"
    ]

    # When DeleteApi runs ({"request.$": "$.request"})
    deleted = teardown_tasks.delete_api(
        TeardownTask.from_wire({"request": request}), running_settings()
    )

    # Then the API is gone and API_DELETED is announced and recorded; the links' deletion
    # deadline will count from that moment (no turn was waited for: pacing is off here)
    assert set(deleted) == {"deletedAt", "turn", "progress"}
    assert deleted["turn"] is None
    told = progress_of(deleted, "API_DELETED", "DEL-1")
    assert told["restApiId"] == api.rest_api_id
    assert inventory().rest_api_ids == []
    assert ledger_item("DEL-1")["resources"] == {"restApiId": api.rest_api_id}
    # recorded with the notification's own timestamp (the ticket write-back orders by it)
    assert ledger_item("DEL-1")["history"][-1]["timestamp"] == told["timestamp"]

    # When ReleaseVpcLinks runs ({"request.$", "startedAt.$": "$.deletion.deletedAt"})
    release = TeardownTask.from_wire({"request": request, "startedAt": deleted["deletedAt"]})
    first = teardown_tasks.release_links(release, running_settings())

    # Then, while the link is DELETING, it asks to be called again and announces nothing
    assert first == {
        "pending": True,
        "nextPollSeconds": 15,
        "progress": None,
        "links": [{"vpcLinkId": api.vpc_link_id, "state": "DELETING", "reason": "being deleted"}],
        "turn": None,  # no DeleteVpcLink turn to wait for (a V1 link's has no rate of its own)
        "startedAt": deleted["deletedAt"],  # the deadline still counts from the deletion
    }
    assert ledger_item("DEL-1")["status"] == "API_DELETED"

    # When it runs again once the link is gone, with a progress topic (the provisioning's
    # status in the ledger noted as each notification is published)
    status_when_told: list[tuple[str, str]] = []

    def publish(topic_arn: str, note: dict[str, Any]) -> None:
        status_when_told.append(
            (note["message"]["status"], ledger_item(api.request.request_id)["status"])
        )

    monkeypatch.setattr(announcements, "publish_progress", publish)
    topic = "arn:aws:sns:us-east-1:123456789012:progress"
    settings = msgspec.structs.replace(running_settings(), **{"progress_topic_arn": topic})
    done = teardown_tasks.release_links(release, settings)

    # Then the teardown SUCCEEDED, and the provisioning request was marked DELETED before
    # anyone heard it
    assert status_when_told == [("SUCCEEDED", "DELETED")]
    assert (done["pending"], done["links"]) == (
        False,
        [{"vpcLinkId": api.vpc_link_id, "state": "DELETED", "reason": "deleted"}],
    )
    body = progress_of(done, "SUCCEEDED", "DEL-1")
    assert api.vpc_link_id in body["message"]
    assert statuses("DEL-1") == ["ACCEPTED", "API_DELETED", "SUCCEEDED"]
    assert ledger_item("DEL-1")["outcome"] == body
    assert ledger_item(api.request.request_id)["status"] == "DELETED"
    assert ledger_item(api.request.request_id)["history"][-1]["message"] == (
        "Deleted by request DEL-1."
    )
    assert inventory().vpc_link_ids == []


def test_a_teardown_delivered_again_after_its_api_was_deleted_is_an_ignored_duplicate(
    network, provision
):
    # Given a teardown that was accepted and has deleted its API
    api = provision()
    event = eventbridge_event(
        {"requestId": "DEL-1", "targetRequestId": api.request.request_id},
        detail_type="PrivateApiDeletionRequested",
    )
    first = validate_tasks.validate_teardown(
        ValidateTask.from_wire({"event": event, "executionArn": TEARDOWN}), running_settings()
    )
    teardown_tasks.delete_api(
        TeardownTask.from_wire({"request": first["request"]}), running_settings()
    )

    # When EventBridge delivers the same event again (another execution)
    with pytest.raises(errors.DuplicateRequest):
        validate_tasks.validate_teardown(
            ValidateTask.from_wire({"event": event, "executionArn": TEARDOWN + "-copy"}),
            running_settings(),
        )

    # Then the copy ends quietly and is counted, as for every other workflow
    assert ledger_item("DEL-1")["duplicatesIgnored"] == 1


def test_delete_api_of_an_api_already_gone_says_so(
    network, provision, apigw, missing_api_deletion_not_found
):
    # Given a validated teardown whose API is deleted before DeleteApi runs (a retried task)
    api = provision()
    request = validate_teardown({"requestId": "DEL-1", "restApiId": api.rest_api_id})["request"]
    apigw.delete_rest_api(restApiId=api.rest_api_id)

    result = teardown_tasks.delete_api(
        TeardownTask.from_wire({"request": request}), running_settings()
    )

    assert "was already gone" in progress_of(result, "API_DELETED", "DEL-1")["message"]


def test_a_teardown_that_keeps_the_link_succeeds_at_once(network, provision, inventory):
    api = provision()
    request = validate_teardown({"restApiId": api.rest_api_id, "keepVpcLink": True})["request"]
    teardown_tasks.delete_api(TeardownTask.from_wire({"request": request}), running_settings())

    result = teardown_tasks.release_links(
        TeardownTask.from_wire({"request": request, "startedAt": start_time()}),
        running_settings(),
    )

    assert result["pending"] is False
    assert result["links"] == [
        {"vpcLinkId": api.vpc_link_id, "state": "KEPT", "reason": "keepVpcLink was asked"}
    ]
    progress_of(result, "SUCCEEDED", request["requestId"])
    assert inventory().vpc_link_ids == [api.vpc_link_id]


# --- relink --------------------------------------------------------------------------------------
def test_the_relink_tasks_move_the_stage_to_a_new_link_and_delete_the_old_one(
    network, second_nlb_arn, provision, apigw, lambda_context
):
    # Given a provisioned API
    api = provision()

    # When ValidateRelink runs on a relink event to another NLB
    event = eventbridge_event(
        {
            "requestId": "REL-1",
            "targetRequestId": api.request.request_id,
            "nlbArn": second_nlb_arn,
            "deleteOldLink": True,
        },
        detail_type="PrivateApiRelinkRequested",
    )
    validated = validate_tasks.validate_relink(
        ValidateTask.from_wire({"event": event, "executionArn": RELINK}), running_settings()
    )

    # Then the request names the stage and its current link, and the ledger holds it
    assert set(validated) == {"request", "progress"}
    request = validated["request"]
    assert {key: request[key] for key in ("restApiId", "stageName", "oldVpcLinkId")} == {
        "restApiId": api.rest_api_id,
        "stageName": "prod",
        "oldVpcLinkId": api.vpc_link_id,
    }
    progress_of(validated, "ACCEPTED", "REL-1")
    assert (ledger_item("REL-1")["kind"], ledger_item("REL-1")["status"]) == ("RELINK", "ACCEPTED")

    # When EnsureVpcLink runs on the relink request, and its link becomes AVAILABLE
    ensured = link_tasks.ensure_link(
        EnsureVpcLinkTask.from_wire({"request": request, "startedAt": start_time()}),
        running_settings(),
    )
    link = ensured["link"]
    assert link["createdByThisRequest"] is True
    assert apigw.get_vpc_link(vpcLinkId=link["vpcLinkId"])["targetArns"] == [second_nlb_arn]
    force_link_status(link["vpcLinkId"], "AVAILABLE", "Your vpc link is ready for use")

    # And RelinkStage runs ({"request.$": "$.request", "link.$": "$.linkState.link"})
    done = relink_tasks.relink_stage(
        RelinkTask.from_wire({"request": request, "link": link}), running_settings()
    )

    # Then the stage uses the new link, the old one is being deleted, and it SUCCEEDED (no
    # DeleteVpcLink turn waited for: the old link is V1)
    assert set(done) == {"progress", "turn", "switched"}
    assert done["turn"] is None
    body = progress_of(done, "SUCCEEDED", "REL-1")
    assert (body["vpcLinkId"], body["restApiId"], body["stageName"]) == (
        link["vpcLinkId"],
        api.rest_api_id,
        "prod",
    )
    assert f"old VpcLink {api.vpc_link_id} is being deleted" in body["message"]
    stage = apigw.get_stage(restApiId=api.rest_api_id, stageName="prod")
    assert stage["variables"]["vpcLinkId"] == link["vpcLinkId"]
    assert ledger_item("REL-1")["status"] == "SUCCEEDED"
    assert ledger_item("REL-1")["resources"]["vpcLinkId"] == link["vpcLinkId"]


# --- rollback ------------------------------------------------------------------------------------
def caught(error: errors.ProvisionerError) -> dict[str, str]:
    """What a Catch puts at $.error when a Lambda task raises ``error``."""
    cause = {"errorMessage": str(error), "errorType": type(error).__name__}
    return {"Error": type(error).__name__, "Cause": json.dumps(cause)}


def rollback(workflow: str, execution_arn: str, state: dict[str, Any]) -> dict[str, Any]:
    """Rollback's payload: {"workflow", "executionArn.$": "$$.Execution.Id", "state.$": "$"}."""
    return rollback_tasks.rollback(
        RollbackTask.from_wire(
            {"workflow": workflow, "executionArn": execution_arn, "state": state}
        ),
        running_settings(),
    )


@pytest.mark.parametrize(
    ("workflow", "detail_type"),
    [
        ("PROVISION", "PrivateApiProvisioningFailed"),
        ("TEARDOWN", "PrivateApiDeletionFailed"),
        ("RELINK", "PrivateApiRelinkFailed"),
    ],
)
def test_a_failed_request_of_each_workflow_names_its_outcome_event(aws, workflow, detail_type):
    # Given a request this execution claimed, that then failed
    LEDGER.requests.claim(
        request_id="R-1",
        kind=workflow,
        fingerprint="body",
        execution_arn=TEARDOWN,
        ticket_id="OPS-1",
        requested_by=None,
    )
    failure = errors.VpcLinkTimeout("VpcLink l1 was still DELETING")

    # When Rollback runs on the state the Catch left
    result = rollback(
        workflow,
        TEARDOWN,
        {"request": {"requestId": "R-1", "ticketId": "OPS-1"}, "error": caught(failure)},
    )

    # Then the outcome is FAILED, for the workflow's own failure event, and recorded
    assert set(result) == {"outcome", "turn", "rolledBack", "progress"}
    assert (result["turn"], result["rolledBack"]) == (None, None)  # no turn to wait for
    outcome = result["outcome"]
    assert (outcome["status"], outcome["detailType"]) == ("FAILED", detail_type)
    assert outcome["error"]["code"] == "VpcLinkTimeout"
    assert outcome["error"]["message"] == "VpcLink l1 was still DELETING"
    body = progress_of(result, "FAILED", "R-1")
    assert body["error"] == outcome["error"]
    assert ledger_item("R-1")["status"] == "FAILED"
    # And the history entry tells the notification's own moment (the write-back orders by it)
    assert ledger_item("R-1")["history"][-1]["timestamp"] == body["timestamp"]


@pytest.mark.parametrize("workflow", ["PROVISION", "TEARDOWN", "RELINK"])
def test_a_rejected_request_of_any_workflow_is_a_rejection_event(aws, workflow):
    # Given a request its Validate task rejected (the raw event is the state)
    event = eventbridge_event({"requestId": "R-2", "restApiId": "x y"}, event_id="evt-2")
    invalid = InvalidRequest.of([FieldError("detail.restApiId", "must match ^[a-z0-9]{1,32}$")])

    # When Rollback runs
    result = rollback(workflow, TEARDOWN, {**event, "error": caught(invalid)})

    # Then the outcome is REJECTED, with the fields, and the ledger keeps a trace of it
    outcome = result["outcome"]
    assert (outcome["status"], outcome["detailType"]) == ("REJECTED", "PrivateApiRequestRejected")
    assert outcome["error"]["fields"] == [
        {"field": "detail.restApiId", "rule": "must match ^[a-z0-9]{1,32}$"}
    ]
    assert outcome["deleted"] == []
    body = progress_of(result, "REJECTED", "R-2")
    recorded = ledger_item("R-2")
    assert (recorded["kind"], recorded["status"]) == (workflow, "REJECTED")
    assert recorded["history"][-1]["timestamp"] == body["timestamp"]


def test_a_conflicting_request_id_is_rejected_without_touching_the_original(aws):
    # Given a request accepted under R-3
    LEDGER.requests.claim(
        request_id="R-3",
        kind="TEARDOWN",
        fingerprint="first body",
        execution_arn=TEARDOWN,
        ticket_id=None,
        requested_by=None,
    )
    before = ledger_item("R-3")
    event = eventbridge_event({"requestId": "R-3", "restApiId": "abc123"})
    conflict = errors.DuplicateRequestConflict("requestId R-3 was already used")

    # When another body under R-3 is rolled back by its own execution
    result = rollback("TEARDOWN", RELINK, {**event, "error": caught(conflict)})

    # Then it is a rejection, and the original request's item is untouched
    assert result["outcome"]["detailType"] == "PrivateApiRequestRejected"
    assert result["outcome"]["error"]["code"] == "DuplicateRequestConflict"
    assert ledger_item("R-3") == before
