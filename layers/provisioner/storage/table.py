"""The ledger's DynamoDB table, by name: the few operations every store of it uses, with
AWS's errors named once (``ConditionFailed`` for a condition that did not hold) and items as
plain Python (numbers as int or float, never Decimal)."""

from __future__ import annotations

from contextlib import suppress
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer

from provisioner.aws import clients
from provisioner.contract import errors
from provisioner.contract.vocabulary import timestamp
from provisioner.storage.keys import Key


def utcnow() -> datetime:
    """The ledger's clock (the unit tests set it)."""
    return datetime.now(UTC)


def now_iso() -> str:
    """Now on the ledger's clock, as every timestamp is written."""
    return timestamp(utcnow())


def seconds(value: float) -> Decimal:
    """Epoch seconds to the millisecond (DynamoDB numbers are decimals)."""
    return Decimal(f"{value:.3f}")


class Table:
    """One DynamoDB table. Every method raises ``errors.ConditionFailed`` when its condition
    does not hold (with the item as it stood, where DynamoDB returns it) and the named AWS
    errors otherwise."""

    def __init__(self, name: str) -> None:
        self.name = name

    def get(self, key: Key) -> dict[str, Any] | None:
        """The item, read consistently, or None."""
        with clients.aws_errors():
            found = clients.dynamodb().get_item(
                TableName=self.name, Key=marshal(key), ConsistentRead=True
            )
        return unmarshal(found["Item"]) if "Item" in found else None

    def put(
        self, item: dict[str, Any], condition: str, values: dict[str, Any] | None = None
    ) -> None:
        extra: dict[str, Any] = {"ExpressionAttributeValues": marshal(values)} if values else {}
        with clients.aws_errors():
            clients.dynamodb().put_item(
                TableName=self.name, Item=marshal(item), ConditionExpression=condition, **extra
            )

    def update(
        self,
        key: Key,
        update: str,
        *,
        condition: str | None = None,
        names: dict[str, str] | None = None,
        values: dict[str, Any] | None = None,
        returning: str = "NONE",
    ) -> dict[str, Any]:
        """The attributes ``returning`` asks for, plain."""
        extra: dict[str, Any] = {}
        if condition:
            extra["ConditionExpression"] = condition
            extra["ReturnValuesOnConditionCheckFailure"] = "ALL_OLD"
        if names:
            extra["ExpressionAttributeNames"] = names
        if values:
            extra["ExpressionAttributeValues"] = marshal(values)
        with clients.aws_errors():
            answer = clients.dynamodb().update_item(
                TableName=self.name,
                Key=marshal(key),
                UpdateExpression=update,
                ReturnValues=returning,  # type: ignore[arg-type]
                **extra,
            )
        return unmarshal(answer.get("Attributes", {}))

    def delete(self, key: Key) -> None:
        with clients.aws_errors():
            clients.dynamodb().delete_item(TableName=self.name, Key=marshal(key))

    def delete_if(self, key: Key, condition: str, values: dict[str, Any]) -> None:
        """Delete the item if the condition holds; otherwise leave it as it is."""
        with suppress(errors.ConditionFailed), clients.aws_errors():
            clients.dynamodb().delete_item(
                TableName=self.name,
                Key=marshal(key),
                ConditionExpression=condition,
                ExpressionAttributeValues=marshal(values),
            )

    def query(self, index: str, condition: str, flt: str, values: dict[str, Any]) -> list[Any]:
        """Every item of the index that the key condition and the filter select."""
        with clients.aws_errors():
            pages = (
                clients.dynamodb()
                .get_paginator("query")
                .paginate(
                    TableName=self.name,
                    IndexName=index,
                    KeyConditionExpression=condition,
                    FilterExpression=flt,
                    ExpressionAttributeValues=marshal(values),
                )
            )
            return [unmarshal(item) for page in pages for item in page.get("Items", [])]


_SERIALIZER = TypeSerializer()
_DESERIALIZER = TypeDeserializer()


def marshal(value: dict[str, Any]) -> dict[str, Any]:
    return {key: _SERIALIZER.serialize(item) for key, item in value.items()}


def unmarshal(item: dict[str, Any]) -> dict[str, Any]:
    return {key: _plain(_DESERIALIZER.deserialize(value)) for key, value in item.items()}


def _plain(value: Any) -> Any:
    """DynamoDB numbers come back as Decimal; people and JSON want int."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_plain(item) for item in value]
    return value
