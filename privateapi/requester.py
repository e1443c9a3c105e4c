"""The control plane as a requester sees it: put a request on the bus, follow its notifications,
read its ledger entry, find what carries its request id.

The one harness behind the CLI (``python -m privateapi``), ``make demo`` (``emulator.apps``) and
the workflow and end-to-end tests: each gives it a way to make clients (the embedded AWS over
HTTP, in-process, or a real account) and the stack's names, and adds only what is its own
(printing, checks, inspecting executions).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Self

from boto3.dynamodb.types import TypeDeserializer

from privateapi.network import SampleNetwork, create_sample_network
from privateapi.progress import ProgressFollower
from provisioner.contract.vocabulary import PROVISION_REQUESTED, REQUEST_ID_TAG
from provisioner.storage.keys import REQUEST_PREFIX, request_key

DEFAULT_SOURCE = "privateapi.cli"
DEFAULT_BUS = "private-api-requests"


@dataclass
class Requester:
    """``client(service)`` makes a boto3 client; the names are the stack's outputs
    (``RequestBusName``, ``ProgressTopicArn``, ``LedgerTableName``)."""

    client: Callable[[str], Any]
    bus_name: str = DEFAULT_BUS
    topic_arn: str | None = None
    ledger_table: str | None = None

    @classmethod
    def from_outputs(cls, client: Callable[[str], Any], outputs: dict[str, str]) -> Self:
        """For a stack whose CloudFormation outputs are known."""
        return cls(
            client,
            outputs["RequestBusName"],
            outputs.get("ProgressTopicArn"),
            outputs.get("LedgerTableName"),
        )

    # --- sending --------------------------------------------------------------------------------
    def put(
        self,
        detail: dict[str, Any],
        *,
        detail_type: str = PROVISION_REQUESTED,
        source: str = DEFAULT_SOURCE,
    ) -> str:
        """Put one request event; returns its requestId (given, or a new one set here)."""
        detail = {"requestId": f"req-{uuid.uuid4().hex[:16]}", **detail}
        self._put_entries([self._entry(detail, detail_type, source)])
        return str(detail["requestId"])

    def request(self, **detail: Any) -> str:
        """A provisioning request (``PrivateApiRequested``) with these fields."""
        return self.put(detail)

    def put_all(
        self,
        details: list[dict[str, Any]],
        *,
        detail_type: str = PROVISION_REQUESTED,
        source: str = DEFAULT_SOURCE,
    ) -> None:
        """Events in one PutEvents call (10 at most, EventBridge's limit): they arrive at the
        same moment. Each detail is put as given (a requestId, if any, is its own). Raises if
        the bus refuses any of them."""
        self._put_entries([self._entry(detail, detail_type, source) for detail in details])

    def put_copies(
        self, detail: dict[str, Any], copies: int, *, detail_type: str = PROVISION_REQUESTED
    ) -> None:
        """``copies`` identical events in one PutEvents call: they arrive at the same moment."""
        self.put_all([detail] * copies, detail_type=detail_type)

    def _entry(self, detail: dict[str, Any], detail_type: str, source: str) -> dict[str, str]:
        return {
            "EventBusName": self.bus_name,
            "Source": source,
            "DetailType": detail_type,
            "Detail": json.dumps(detail),
        }

    def _put_entries(self, entries: list[dict[str, str]]) -> None:
        answer = self.client("events").put_events(Entries=entries)
        if answer.get("FailedEntryCount"):
            raise RuntimeError(f"the bus refused the request: {answer['Entries']}")

    # --- following ------------------------------------------------------------------------------
    def follower(self) -> ProgressFollower:
        """A subscription to the progress topic (open it, with ``with``, before sending: no
        notification is missed)."""
        if not self.topic_arn:
            raise ValueError("the progress topic's ARN is needed to follow a request")
        return ProgressFollower(self.client("sns"), self.client("sqs"), self.topic_arn)

    # --- the ledger -----------------------------------------------------------------------------
    def ledger_entry(self, request_id: str) -> dict[str, Any] | None:
        """The request's ledger item as plain JSON (numbers as int or float), or None."""
        found = self.client("dynamodb").get_item(
            TableName=self._ledger(), Key=_attribute_values(request_key(request_id)),
            ConsistentRead=True,
        )  # fmt: skip
        return _plain(found["Item"]) if "Item" in found else None

    def ledger_requests(self) -> list[dict[str, Any]]:
        """Every request in the ledger, the most recent first."""
        scan: dict[str, Any] = {
            "TableName": self._ledger(),
            "FilterExpression": "begins_with(pk, :prefix)",
            "ExpressionAttributeValues": {":prefix": {"S": REQUEST_PREFIX}},
        }
        items: list[dict[str, Any]] = []
        for page in self.client("dynamodb").get_paginator("scan").paginate(**scan):
            items += [_plain(item) for item in page.get("Items", [])]
        return sorted(items, key=lambda item: str(item.get("createdAt", "")), reverse=True)

    def _ledger(self) -> str:
        if not self.ledger_table:
            raise ValueError("the ledger table's name is needed to read the ledger")
        return self.ledger_table

    # --- what a request made --------------------------------------------------------------------
    def tagged_with(self, request_id: str) -> list[str]:
        """REST APIs and VpcLinks (V1 and V2, whatever their status: DELETING links count) that
        carry ``request_id`` in their request-id tag."""
        apigateway = self.client("apigateway")
        links_v2 = [
            {"id": link["VpcLinkId"], "tags": link.get("Tags")}
            for link in self.client("apigatewayv2").get_vpc_links()["Items"]
        ]
        return [
            f"{kind} {item['id']}"
            for kind, items in (
                ("rest api", apigateway.get_rest_apis()["items"]),
                ("vpc link", apigateway.get_vpc_links()["items"]),
                ("vpc link", links_v2),
            )
            for item in items
            if (item.get("tags") or {}).get(REQUEST_ID_TAG) == request_id
        ]

    def state_machine_arn(self, workflow: str = "provision") -> str:
        """The stack's state machine for ``workflow`` (provision, teardown, relink)."""
        machines = self.client("stepfunctions").list_state_machines()["stateMachines"]
        return str(
            next(m["stateMachineArn"] for m in machines if m["name"].endswith(f"-{workflow}"))
        )

    def create_network(
        self, name: str = "orders", *, alb: bool = False, expose: bool = True
    ) -> SampleNetwork:
        """The network a request names (a VPC, subnets, an NLB, an ALB with ``alb``)."""
        return create_sample_network(
            self.client("ec2"), self.client("elbv2"), name, alb=alb, expose=expose
        )


def _attribute_values(plain: dict[str, str]) -> dict[str, dict[str, str]]:
    return {name: {"S": value} for name, value in plain.items()}


def _plain(item: dict[str, Any]) -> dict[str, Any]:
    """A DynamoDB item as plain JSON: numbers arrive as Decimal."""
    deserializer = TypeDeserializer()
    values = {key: deserializer.deserialize(value) for key, value in item.items()}
    return dict(
        json.loads(json.dumps(values, default=lambda n: int(n) if n == int(n) else float(n)))
    )
