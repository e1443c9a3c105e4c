"""The thin handlers, called with the payloads statemachine/provision.asl.json sends them."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from provisioner.contract.errors import InvalidRequest, StageNotSafe, VpcLinkFailed
from provisioner.contract.requests import MANAGED_BY_TAG, REQUEST_ID_TAG

from .support import (
    EXECUTION_ARN,
    FUNCTIONS,
    REGION,
    STACK_NAME,
    eventbridge_event,
    load_handler,
    stored_request,
)

pytestmark = [
    pytest.mark.unit,
    # A task that raises publishes no metric; Powertools says so, and that is expected here.
    pytest.mark.filterwarnings("ignore:No application metrics to publish:UserWarning"),
]

STATE_MACHINES = sorted((Path(__file__).resolve().parents[2] / "statemachine").glob("*.asl.json"))
HANDLER_NAMES = sorted(path.parent.name for path in FUNCTIONS.glob("*/app.py"))


@pytest.fixture(scope="module")
def handlers() -> dict[str, ModuleType]:
    return {name: load_handler(name) for name in HANDLER_NAMES}


def progress_of(result: dict[str, Any], status: str, request_id: str) -> dict[str, Any]:
    """Check the progress notification a task returns; give back its body."""
    progress = result["progress"]
    assert set(progress) == {"message", "attributes"}
    body = progress["message"]
    assert body["status"] == status
    assert body["requestId"] == request_id
    assert body["message"]
    assert progress["attributes"]["status"] == {"DataType": "String", "StringValue": status}
    assert progress["attributes"]["requestId"]["StringValue"] == request_id
    json.dumps(progress)  # SNS gets it as JSON
    return body


def event_driven_functions() -> dict[str, set[str]]:
    """The folders of the functions something other than a workflow invokes (an EventBridge
    rule, a queue, a function URL), with what invokes them."""
    from emulator.engine.stack import REPO_ROOT, load_template

    resources = load_template(REPO_ROOT / "template.yaml")["Resources"]
    driven: dict[str, set[str]] = {}
    for resource in resources.values():
        if resource["Type"] != "AWS::Serverless::Function":
            continue
        properties = resource["Properties"]
        sources = {event["Type"] for event in (properties.get("Events") or {}).values()}
        if properties.get("FunctionUrlConfig"):
            sources.add("FunctionUrl")
        if sources:
            driven[properties["CodeUri"].strip("/").split("/")[-1]] = sources
    return driven


def test_every_handler_is_made_by_one_of_the_runtimes_makers():
    # A handler is one line: a maker of runtime/ (parse, settings, log context, metrics) around
    # a task of the layer; lambda_task for a workflow's payload or an EventBridge event,
    # sqs_batch_task for a queue, function_url_task for a Function URL.
    made = re.compile(
        r"^handler = (lambda_task|sqs_batch_task|function_url_task)\(", flags=re.MULTILINE
    )
    makers = {
        name: made.findall((FUNCTIONS / name / "app.py").read_text()) for name in HANDLER_NAMES
    }

    assert {name: found for name, found in makers.items() if len(found) != 1} == {}
    assert {found[0] for found in makers.values()} == {
        "lambda_task",
        "sqs_batch_task",
        "function_url_task",
    }


def test_every_lambda_task_of_every_workflow_has_a_handler_and_every_handler_a_task():
    def function_names(states: dict[str, Any]) -> set[str]:
        found = set()
        for state in states.values():
            if state.get("Resource") == "arn:aws:states:::lambda:invoke":
                found.add(state["Parameters"]["FunctionName"])
            for branch in state.get("Branches", []):
                found |= function_names(branch["States"])
        return found

    referenced = set().union(
        *(function_names(json.loads(path.read_text())["States"]) for path in STATE_MACHINES)
    )
    # ${ValidateRequestFunctionArn} is functions/validate_request
    as_folders = {re.sub(r"(?<!^)(?=[A-Z])", "_", name[2:-12]).lower() for name in referenced}
    assert as_folders | set(event_driven_functions()) == set(HANDLER_NAMES)
    assert event_driven_functions() == {
        "answer_stopped_execution": {"EventBridgeRule"},
        "ticket_intake": {"FunctionUrl"},
        "ticket_writeback": {"SQS"},
    }


def validated(handlers, lambda_context, detail, **event) -> dict[str, Any]:
    """ValidateRequest's payload and result: {"event.$": "$", "executionArn.$": ...}."""
    return handlers["validate_request"].handler(
        {"event": eventbridge_event(detail, **event), "executionArn": EXECUTION_ARN},
        lambda_context,
    )


# --- validate_request -----------------------------------------------------------------------------
def test_validate_returns_the_camel_case_request_and_the_accepted_notification(
    network, handlers, lambda_context
):
    # Given the ASL's payload: {"event.$": "$"}
    event = eventbridge_event(
        {"apiName": "orders", "nlbArn": network.nlb_arn, "ticketId": "OPS-1"}, event_id="evt-1"
    )

    # When the handler runs
    result = handlers["validate_request"].handler(
        {"event": event, "executionArn": EXECUTION_ARN}, lambda_context
    )

    # Then it returns the request with every default, camelCase, and an ACCEPTED notification
    assert set(result) == {"request", "progress"}
    assert result["request"] == {
        "requestId": "evt-1",
        "ticketId": "OPS-1",
        "apiName": "orders",
        "stageName": "prod",
        "endpointType": "REGIONAL",
        "nlbArn": network.nlb_arn,
        "endpointUrl": f"http://{network.nlb_dns_name}",
        "httpMethod": "GET",
        "proxyAllPaths": False,
        "timeoutSeconds": 900,
        "tags": {},
        "authorization": "AWS_IAM",  # secure by default
        "cognitoUserPoolArns": [],
        "vpcEndpointIds": [],
        "vpcLinkVersion": "V1",  # an NLB's default (the stack's DefaultNlbVpcLinkVersion)
    }
    body = progress_of(result, "ACCEPTED", "evt-1")
    assert body["ticketId"] == "OPS-1"
    assert result["progress"]["attributes"]["ticketId"]["StringValue"] == "OPS-1"
    # And the request is claimed in the ledger by this execution
    item = stored_request("evt-1")
    assert (item["status"], item["executionArn"]) == ("ACCEPTED", EXECUTION_ARN)


def test_validate_raises_invalid_request_instead_of_returning_it(network, handlers, lambda_context):
    event = eventbridge_event({"apiName": "", "stageName": "a b"})

    with pytest.raises(InvalidRequest) as raised:
        handlers["validate_request"].handler(
            {"event": event, "executionArn": EXECUTION_ARN}, lambda_context
        )

    # The Lambda runtime reports the class name as errorType and str() as errorMessage
    assert type(raised.value).__name__ == "InvalidRequest"
    fields = {f["field"] for f in json.loads(str(raised.value))["fields"]}
    assert fields == {"detail.apiName", "detail.stageName", "detail.nlbArn"}
    assert stored_request(event["id"]) is None  # nothing claimed either


def test_validate_checks_the_nlb_against_the_functions_own_account(
    network, handlers, lambda_context
):
    # Given a function deployed in another account than the NLB's
    class OtherAccountContext(type(lambda_context)):
        invoked_function_arn = f"arn:aws:lambda:{REGION}:999999999999:function:x"

    event = eventbridge_event({"apiName": "orders", "nlbArn": network.nlb_arn})

    with pytest.raises(InvalidRequest, match="999999999999"):
        handlers["validate_request"].handler(
            {"event": event, "executionArn": EXECUTION_ARN}, OtherAccountContext()
        )


# --- the happy path, task by task, as the ASL chains them -----------------------------------------
def test_the_tasks_chain_into_a_deployed_api_on_its_link(
    network, apigw, handlers, lambda_context, link_status
):
    # Given a validated request
    state = validated(
        handlers,
        lambda_context,
        {"apiName": "orders", "nlbArn": network.nlb_arn, "requestId": "r-42", "tags": {"t": "1"}},
    )
    request = state["request"]

    # When EnsureVpcLink runs ({"request.$", "startedAt.$": "$$.Execution.StartTime"})
    started_at = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    ensured = handlers["ensure_vpc_link"].handler(
        {"request": request, "startedAt": started_at}, lambda_context
    )
    link = ensured["link"]
    assert set(ensured) == {"link", "turn", "progress"}
    assert link["createdByThisRequest"] is True
    assert link["status"] in {"PENDING", "AVAILABLE"}
    assert 1 <= link["nextPollSeconds"] <= 15
    body = progress_of(ensured, f"VPC_LINK_{link['status']}", "r-42")
    assert body["vpcLinkId"] == link["vpcLinkId"]

    # And GetVpcLinkStatus polls it ({"request.$", "link.$": "$.linkState.link"})
    link_status(link["vpcLinkId"], "AVAILABLE", "Your vpc link is ready for use")
    polled = handlers["get_vpc_link_status"].handler(
        {"request": request, "link": link}, lambda_context
    )
    link = polled["link"]
    assert link["status"] == "AVAILABLE"
    assert link["statusMessage"] == "Your vpc link is ready for use"
    progress_of(polled, "VPC_LINK_AVAILABLE", "r-42")

    # And CreateApi runs in the other branch ({"request.$"})
    created = handlers["create_api"].handler({"request": request}, lambda_context)
    api = created["api"]
    assert set(api) == {"restApiId", "rootResourceId", "createdByThisRequest"}
    assert progress_of(created, "API_CREATED", "r-42")["restApiId"] == api["restApiId"]

    # And DeployApi, which deploys and tells the requester the API is ready
    deployed = handlers["deploy_api"].handler(
        {"request": request, "link": link, "api": api}, lambda_context
    )
    deployment = deployed["deployment"]
    invoke_url = f"https://{api['restApiId']}.execute-api.{REGION}.amazonaws.com/prod"
    assert deployment["stageName"] == "prod"
    assert deployment["invokeUrl"] == invoke_url
    done = deployed
    history = [step["status"] for step in stored_request("r-42")["history"]]
    assert history[-2:] == ["API_DEPLOYED", "SUCCEEDED"]

    # Then the last notification is SUCCEEDED with the invoke URL and everything known
    assert set(done) == {"deployment", "turn", "progress"}
    assert done["turn"] is None  # deployed in this call: no turn to wait for
    body = progress_of(done, "SUCCEEDED", "r-42")
    assert body["invokeUrl"] == invoke_url
    assert (body["vpcLinkId"], body["restApiId"], body["stageName"]) == (
        link["vpcLinkId"],
        api["restApiId"],
        "prod",
    )
    assert invoke_url in body["message"]
    # And the resources left behind are the request's, pointed at its link
    stage = apigw.get_stage(restApiId=api["restApiId"], stageName="prod")
    assert stage["variables"] == {"vpcLinkId": link["vpcLinkId"]}
    tags = apigw.get_rest_api(restApiId=api["restApiId"])["tags"]
    assert tags == {"t": "1", REQUEST_ID_TAG: "r-42", MANAGED_BY_TAG: STACK_NAME}
    # And the ledger tells the story, milestone by milestone
    item = stored_request("r-42")
    assert item["status"] == "SUCCEEDED"
    assert item["resources"]["vpcLinkId"] == link["vpcLinkId"]
    assert item["resources"]["restApiId"] == api["restApiId"]
    assert [entry["status"] for entry in item["history"]] == [
        "ACCEPTED",
        f"VPC_LINK_{ensured['link']['status']}",
        "VPC_LINK_AVAILABLE",
        "API_CREATED",
        "API_DEPLOYED",
        "SUCCEEDED",
    ]


def test_get_vpc_link_status_raises_vpc_link_failed_with_aws_reason(
    network, apigw, handlers, lambda_context, make_request, link_status
):
    request = make_request()
    created = apigw.create_vpc_link(name="l", targetArns=[network.nlb_arn])
    link_status(
        created["id"], "FAILED", "NLB is already associated with another VPC Endpoint Service"
    )
    link = {
        "vpcLinkId": created["id"],
        "status": "PENDING",
        "createdByThisRequest": True,
        "deadline": "2999-01-01T00:00:00+00:00",
        "nextPollSeconds": 15,
    }

    with pytest.raises(VpcLinkFailed, match="already associated with another VPC Endpoint"):
        handlers["get_vpc_link_status"].handler(
            {"request": request.to_wire(), "link": link}, lambda_context
        )


def test_deploy_api_raises_stage_not_safe_for_a_pending_link(
    network, apigw, handlers, lambda_context, link_status
):
    request = validated(handlers, lambda_context, {"apiName": "o", "nlbArn": network.nlb_arn})[
        "request"
    ]
    api = handlers["create_api"].handler({"request": request}, lambda_context)["api"]
    created = apigw.create_vpc_link(name="l", targetArns=[network.nlb_arn])
    link_status(created["id"], "PENDING", "Your vpc link is being created")
    link = {
        "vpcLinkId": created["id"],
        "status": "PENDING",
        "createdByThisRequest": True,
        "deadline": "2999-01-01T00:00:00+00:00",
        "nextPollSeconds": 15,
    }

    with pytest.raises(StageNotSafe):
        handlers["deploy_api"].handler(
            {"request": request, "link": link, "api": api}, lambda_context
        )
    assert apigw.get_stages(restApiId=api["restApiId"])["item"] == []


# --- rollback_request ----------------------------------------------------------------------------
def test_rollback_of_a_rejected_event_returns_a_rejected_outcome(
    network, handlers, lambda_context, inventory
):
    # Given Validate's Catch: the raw event with the error at $.error ("Payload.$": "$")
    event = eventbridge_event({"stageName": "a b", "ticketId": "OPS-9"}, event_id="evt-9")
    with pytest.raises(InvalidRequest) as raised:
        handlers["validate_request"].handler(
            {"event": event, "executionArn": EXECUTION_ARN}, lambda_context
        )
    cause = json.dumps({"errorMessage": str(raised.value), "errorType": "InvalidRequest"})
    before = inventory()

    # When Rollback runs
    result = handlers["rollback_request"].handler(
        {
            "workflow": "PROVISION",
            "executionArn": EXECUTION_ARN,
            "state": {**event, "error": {"Error": "InvalidRequest", "Cause": cause}},
        },
        lambda_context,
    )

    # Then the outcome is REJECTED with every field error, and nothing changed
    assert set(result) == {"outcome", "turn", "rolledBack", "progress"}
    assert result["outcome"]["status"] == "REJECTED"
    assert result["outcome"]["detailType"] == "PrivateApiRequestRejected"
    assert result["outcome"]["deleted"] == []
    assert result["outcome"]["error"]["code"] == "InvalidRequest"
    assert {f["field"] for f in result["outcome"]["error"]["fields"]} == {
        "detail.apiName",
        "detail.stageName",
        "detail.nlbArn",
    }
    body = progress_of(result, "REJECTED", "evt-9")
    assert body["ticketId"] == "OPS-9"
    assert body["error"] == result["outcome"]["error"]
    assert inventory() == before


def test_rollback_after_a_late_failure_deletes_the_requests_resources(
    network, handlers, lambda_context, inventory
):
    # Given a request that created its link and API, then failed in DeployApi
    request = validated(handlers, lambda_context, {"apiName": "o", "nlbArn": network.nlb_arn})[
        "request"
    ]
    handlers["ensure_vpc_link"].handler(
        {"request": request, "startedAt": datetime.now(UTC).isoformat()}, lambda_context
    )
    handlers["create_api"].handler({"request": request}, lambda_context)
    assert len(inventory().vpc_link_ids) == len(inventory().rest_api_ids) == 1
    cause = json.dumps(
        {
            "errorType": "StageNotSafe",
            "errorMessage": str(StageNotSafe("VpcLink l is PENDING; no stage may point at it")),
        }
    )

    # When Rollback runs on the state DeployApi's Catch leaves ({request, link, api, error})
    result = handlers["rollback_request"].handler(
        {
            "workflow": "PROVISION",
            "executionArn": EXECUTION_ARN,
            "state": {"request": request, "error": {"Error": "StageNotSafe", "Cause": cause}},
        },
        lambda_context,
    )

    # Then both are gone and the outcome is FAILED with the reason
    assert inventory().vpc_link_ids == inventory().rest_api_ids == []
    assert result["outcome"]["status"] == "FAILED"
    assert result["outcome"]["detailType"] == "PrivateApiProvisioningFailed"
    assert result["outcome"]["error"]["message"] == "VpcLink l is PENDING; no stage may point at it"
    body = progress_of(result, "FAILED", request["requestId"])
    assert "Rolled back" in body["message"]
