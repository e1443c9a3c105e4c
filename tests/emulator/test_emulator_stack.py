"""Deploying templates: intrinsics, ordering, and the real template.yaml."""

from __future__ import annotations

import json

import pytest

from emulator.engine.runtime import EmbeddedAws
from emulator.engine.stack import REPO_ROOT, Resolver, creation_order, load_template, transform

pytestmark = pytest.mark.unit


def test_resolver_handles_ref_getatt_sub_join() -> None:
    resolver = Resolver({"Stage": "prod", "AWS::Region": "us-east-1"})
    from emulator.engine.stack import PhysicalResource

    resolver.resources["Fn"] = PhysicalResource(
        "Fn", "AWS::Lambda::Function", "fn", {"Arn": "arn:fn"}
    )
    node = {
        "a": {"Ref": "Stage"},
        "b": {"Fn::GetAtt": ["Fn", "Arn"]},
        "c": {"Fn::Sub": "${Fn.Arn}/${Stage}/${!Literal}"},
        "d": {"Fn::Sub": ["${X}-${AWS::Region}", {"X": {"Ref": "Fn"}}]},
        "e": {"Fn::Join": [":", ["x", {"Ref": "Stage"}]]},
    }
    assert resolver.resolve(node) == {
        "a": "prod",
        "b": "arn:fn",
        "c": "arn:fn/prod/${Literal}",
        "d": "fn-us-east-1",
        "e": "x:prod",
    }


def test_fn_if_may_leave_out_a_list_item_or_a_property() -> None:
    resolver = Resolver({"Org": ""}, {"TrustsAnOrganization": False, "Always": True})
    node = {
        "Statement": [
            {"Sid": "a"},
            {"Fn::If": ["TrustsAnOrganization", {"Sid": "org"}, {"Ref": "AWS::NoValue"}]},
        ],
        "Extra": {"Fn::If": ["TrustsAnOrganization", "x", {"Ref": "AWS::NoValue"}]},
        "Kept": {"Fn::If": ["Always", {"k": "v"}, {"Ref": "AWS::NoValue"}]},
    }

    assert resolver.resolve(node) == {"Statement": [{"Sid": "a"}], "Kept": {"k": "v"}}


def test_creation_order_follows_references() -> None:
    resources = {
        "Rule": {"Properties": {"Targets": [{"Arn": {"Ref": "Machine"}}]}},
        "Machine": {"Properties": {"RoleArn": {"Fn::GetAtt": ["Role", "Arn"]}}},
        "Role": {"Properties": {}},
    }
    assert creation_order(resources) == ["Role", "Machine", "Rule"]


def test_sam_transform_maps_local_code_to_folders() -> None:
    template = load_template(REPO_ROOT / "template.yaml")
    cfn, local_paths = transform(template, REPO_ROOT, "s", "us-east-1", {})

    functions = [r for r in cfn["Resources"].values() if r["Type"] == "AWS::Lambda::Function"]
    assert functions
    for function in functions:
        assert local_paths[function["Properties"]["Code"]["S3Key"]].is_dir()


@pytest.mark.skipif(
    not (REPO_ROOT / "functions" / "validate_request" / "app.py").exists(),
    reason="functions/validate_request/app.py is not written yet",
)
def test_real_template_deploys_every_resource() -> None:
    with EmbeddedAws(parameters={"PollIntervalSeconds": 1}) as aws:
        stack = aws.stack
        assert stack is not None
        template_types = {r["Type"] for r in stack.template["Resources"].values()}
        created = {r.logical_id for r in stack.resources.values()}
        assert created == set(stack.template["Resources"])
        definitions = [
            r
            for r in stack.template["Resources"].values()
            if r["Type"] == "AWS::StepFunctions::StateMachine"
        ]
        missing_asl = [
            logical_id
            for logical_id, reason in stack.skipped.items()
            if reason == "definition missing"
        ]
        assert set(stack.skipped) == set(missing_asl), stack.skipped

        # every function exists in moto, and its worker environment is the template's
        lambda_ = aws.client("lambda")
        names = {f["FunctionName"] for f in lambda_.list_functions()["Functions"]}
        assert names == {spec.name for spec in stack.functions.values()}
        for spec in stack.functions.values():
            assert spec.environment["PROVISIONER_POLL_INTERVAL_SECONDS"] == "1"
            assert (spec.code_dir / "app.py").is_file()
            assert spec.layer_dirs == (REPO_ROOT / "layers",)

        bus = aws.client("events").describe_event_bus(Name=aws.outputs["RequestBusName"])
        # the bus's resource policy is applied, not skipped: this account only, nobody else
        statements = {s["Sid"]: s for s in json.loads(bus["Policy"])["Statement"]}
        assert set(statements) == {"ThisAccountMayRequest", "NobodyElseMayRequest"}
        assert statements["NobodyElseMayRequest"]["Condition"] == {
            "StringNotEquals": {"aws:PrincipalAccount": "123456789012"}
        }
        assert aws.client("sns").get_topic_attributes(TopicArn=aws.outputs["ProgressTopicArn"])
        assert aws.client("sqs").get_queue_attributes(
            QueueUrl=aws.outputs["RequestDeadLetterQueueUrl"], AttributeNames=["All"]
        )
        # the ticket write-back's dead-letter alarm watches its dead-letter queue
        (alarm,) = aws.client("cloudwatch").describe_alarms(
            AlarmNames=[stack.resources["TicketWriteBackDeadLetterAlarm"].ref]
        )["MetricAlarms"]
        dead_letters = aws.outputs["TicketWriteBackDeadLetterQueueUrl"].rsplit("/", 1)[1]
        assert alarm["Dimensions"] == [{"Name": "QueueName", "Value": dead_letters}]
        assert (alarm["Threshold"], alarm["ComparisonOperator"]) == (0, "GreaterThanThreshold")
        rules = aws.client("events").list_rules(EventBusName=aws.outputs["RequestBusName"])
        targets = aws.client("events").list_targets_by_rule(
            Rule=rules["Rules"][0]["Name"], EventBusName=aws.outputs["RequestBusName"]
        )["Targets"]
        assert targets[0]["Arn"] == aws.outputs["ProvisionStateMachineArn"]
        assert targets[0]["DeadLetterConfig"]["Arn"].endswith(
            ":" + aws.outputs["RequestDeadLetterQueueUrl"].rsplit("/", 1)[1]
        )
        if "AWS::StepFunctions::StateMachine" in template_types and not missing_asl:
            machines = aws.client("stepfunctions").list_state_machines()["stateMachines"]
            assert len(machines) == len(definitions)
            described = aws.client("stepfunctions").describe_state_machine(
                stateMachineArn=aws.outputs["ProvisionStateMachineArn"]
            )
            assert "${" not in described["definition"]  # every substitution applied


def test_embedded_aws_can_be_started_and_stopped_twice_in_a_row() -> None:
    ports = []
    for _ in range(2):
        with EmbeddedAws(deploy_stack=False) as aws:
            ports.append(aws.port)
            assert aws.client("apigateway").get_rest_apis()["items"] == []
            aws.client("apigateway").create_rest_api(name="leftover")
    assert len(set(ports)) == 2
