"""The stub stack's configuration and messaging resources, created from the template and read
back through their services' APIs: secrets, a parameter, an SNS subscription to SQS with a
filter policy on message attributes (publishes from a function)."""

from __future__ import annotations

import json

import pytest

from emulator.engine.runtime import EmbeddedAws
from privateapi.waiting import wait_until

pytestmark = pytest.mark.unit


def test_every_resource_of_the_stub_stack_is_created(aws: EmbeddedAws) -> None:
    assert aws.stack is not None
    assert aws.stack.skipped == {}
    assert set(aws.stack.resources) == set(aws.stack.template["Resources"])


def test_a_generated_secret_follows_its_template(aws: EmbeddedAws) -> None:
    secrets = aws.client("secretsmanager")
    arn = aws.outputs["DeskSecretArn"]  # Ref: the ARN

    value = json.loads(secrets.get_secret_value(SecretId=arn)["SecretString"])

    assert arn.startswith("arn:aws:secretsmanager:us-east-1:123456789012:secret:DeskSecret-")
    assert set(value) == {"username", "password"}
    assert value["username"] == "desk-bot"
    assert len(value["password"]) == 24
    assert not set(value["password"]) & set('"@/\\')
    described = secrets.describe_secret(SecretId=arn)
    assert described["Description"] == "Generated credentials, as a ticket desk's would be."


def test_a_secret_string_is_stored_under_its_name(aws: EmbeddedAws) -> None:
    secrets = aws.client("secretsmanager")

    answer = secrets.get_secret_value(SecretId="stub/named")

    assert answer["ARN"] == aws.outputs["NamedSecretArn"]
    assert json.loads(answer["SecretString"]) == {"note": "a placeholder value, not a credential"}


def test_a_parameter_is_created_with_its_value(aws: EmbeddedAws) -> None:
    name = aws.outputs["DeskParameterName"]  # Ref: the name

    parameter = aws.client("ssm").get_parameter(Name=name)["Parameter"]

    assert name.startswith("CFN-DeskParameter-")
    assert parameter["Type"] == "String"
    assert parameter["Value"] == "https://desk.example/stub"


def test_the_subscription_has_the_templates_attributes(aws: EmbeddedAws) -> None:
    arn = aws.stack.resources["TicketSubscription"].ref  # type: ignore[union-attr]

    attributes = aws.client("sns").get_subscription_attributes(SubscriptionArn=arn)["Attributes"]

    assert attributes["TopicArn"] == aws.outputs["TopicArn"]
    assert attributes["Protocol"] == "sqs"
    assert attributes["RawMessageDelivery"] == "true"
    assert attributes["FilterPolicyScope"] == "MessageAttributes"
    assert json.loads(attributes["FilterPolicy"]) == {"kind": ["ticket"]}


def test_only_messages_matching_the_filter_policy_reach_the_queue(aws: EmbeddedAws) -> None:
    # Given a function publishing a message the policy rejects, then one it accepts
    messages = [
        {"body": "not for the queue", "attributes": {"kind": "progress"}},
        {"body": "for the queue", "attributes": {"kind": "ticket", "system": "jira"}},
        {"body": "no attributes at all"},
    ]
    published = aws.client("lambda").invoke(
        FunctionName=aws.outputs["PublisherFunctionName"],
        Payload=json.dumps({"messages": messages}),
    )
    assert "FunctionError" not in published
    accepted_id = json.loads(published["Payload"].read())["messageIds"][1]

    # When the queue is read (SNS delivers in order: the others were filtered by then)
    sqs = aws.client("sqs")
    received = wait_until(
        lambda: sqs.receive_message(
            QueueUrl=aws.outputs["TicketQueueUrl"],
            MaxNumberOfMessages=10,
            MessageAttributeNames=["All"],
        ).get("Messages"),
        timeout=10,
        what="the accepted message in the queue",
    )

    # Then only the accepted one is there, raw (no SNS envelope), with its attributes
    assert [m["Body"] for m in received] == ["for the queue"]
    attributes = received[0]["MessageAttributes"]
    assert attributes["kind"] == {"StringValue": "ticket", "DataType": "String"}
    assert attributes["system"] == {"StringValue": "jira", "DataType": "String"}
    assert accepted_id  # SNS's message id, which raw delivery does not carry


def test_reset_keeps_the_stacks_subscription(aws: EmbeddedAws) -> None:
    sns = aws.client("sns")
    queue = aws.client("sqs").create_queue(QueueName="test-added")["QueueUrl"]
    added = sns.subscribe(
        TopicArn=aws.outputs["TopicArn"],
        Protocol="sqs",
        Endpoint="arn:aws:sqs:us-east-1:123456789012:test-added",
        ReturnSubscriptionArn=True,
    )["SubscriptionArn"]
    assert queue

    aws.reset()

    arns = {s["SubscriptionArn"] for s in sns.list_subscriptions()["Subscriptions"]}
    assert arns == {aws.stack.resources["TicketSubscription"].ref}  # type: ignore[union-attr]
    assert added not in arns
