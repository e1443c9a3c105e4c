"""``python -m privateapi``: request, follow and inspect private APIs, as a person would.

Uses the normal AWS credential chain; ``--endpoint-url http://127.0.0.1:4566`` (or the
``AWS_ENDPOINT_URL`` variable) points it at the embedded AWS of ``make local``. The stack's
names are read from its CloudFormation outputs (``--stack``), given with the flags, or taken
from ``PRIVATEAPI_BUS``, ``PRIVATEAPI_TOPIC_ARN`` and ``PRIVATEAPI_LEDGER_TABLE`` (``make
local`` prints the lines that set them).

    python -m privateapi request --api-name orders --nlb-arn arn:...:loadbalancer/net/x/123 --follow
    python -m privateapi request --api-name pay --target-arn arn:...:loadbalancer/app/y/456 --follow
    python -m privateapi request --file events/provision-detail.json
    python -m privateapi follow REQUEST_ID
    python -m privateapi status REQUEST_ID
    python -m privateapi list
    python -m privateapi teardown --target-request-id REQUEST_ID --follow
    python -m privateapi relink --target-request-id REQUEST_ID --nlb-arn arn:... --follow
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

import boto3

from privateapi.progress import Notification, ProgressFollower
from privateapi.requester import DEFAULT_BUS, Requester
from provisioner.contract.vocabulary import (
    FINAL_STATUSES,
    PROVISION_REQUESTED,
    RELINK_REQUESTED,
    TEARDOWN_REQUESTED,
    Status,
)

DETAIL_TYPES = {
    "request": PROVISION_REQUESTED,
    "teardown": TEARDOWN_REQUESTED,
    "relink": RELINK_REQUESTED,
}
# flag name -> detail field, for each request type
FIELDS = {
    "request": {
        "api_name": "apiName",
        "nlb_arn": "nlbArn",
        "target_arn": "targetArn",
        "vpc_link_version": "vpcLinkVersion",
        "vpc_link_id": "vpcLinkId",
        "stage_name": "stageName",
        "endpoint_type": "endpointType",
        "backend_url": "endpointUrl",  # --endpoint-url is the AWS endpoint, as in the AWS CLI
        "http_method": "httpMethod",
        "timeout_seconds": "timeoutSeconds",
        "authorization": "authorization",
        "authorizer_function_arn": "authorizerFunctionArn",
    },
    "teardown": {"target_request_id": "targetRequestId", "rest_api_id": "restApiId"},
    "relink": {
        "target_request_id": "targetRequestId",
        "rest_api_id": "restApiId",
        "stage_name": "stageName",
        "nlb_arn": "nlbArn",
        "target_arn": "targetArn",
        "vpc_link_version": "vpcLinkVersion",
        "vpc_link_id": "vpcLinkId",
        "timeout_seconds": "timeoutSeconds",
    },
}
# flag name -> detail field holding a list (a VPC link V2's network), for each request type
LISTS = {
    "request": {"subnet_ids": "subnetIds", "security_group_ids": "securityGroupIds"},
    "teardown": {},
    "relink": {"subnet_ids": "subnetIds", "security_group_ids": "securityGroupIds"},
}
# the values a flag may take, where the contract allows only a few
CHOICES = {"vpc_link_version": ("V1", "V2")}
# repeatable flag -> list field (--vpc-endpoint-id vpce-1 --vpc-endpoint-id vpce-2)
REPEATED = {
    "request": {"vpc_endpoint_id": "vpcEndpointIds", "cognito_user_pool_arn": "cognitoUserPoolArns"}
}
FLAGS = {
    "request": {"proxy_all_paths": "proxyAllPaths"},
    "teardown": {"keep_vpc_link": "keepVpcLink"},
    "relink": {"delete_old_link": "deleteOldLink"},
}


class Stack(Requester):
    """The deployed control plane: its names from CloudFormation outputs (``--stack``), the
    flags or the environment, in that order of precedence over the outputs: flags first."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.session = boto3.Session(region_name=args.region)
        self.endpoint_url = args.endpoint_url or os.environ.get("AWS_ENDPOINT_URL")
        super().__init__(self.make_client)
        outputs = self._outputs(args.stack) if args.stack else {}
        env = os.environ.get
        self.bus_name = (
            args.bus or outputs.get("RequestBusName") or env("PRIVATEAPI_BUS", DEFAULT_BUS)
        )
        self.topic_arn = (
            args.topic_arn or outputs.get("ProgressTopicArn") or env("PRIVATEAPI_TOPIC_ARN")
        )
        self.ledger_table = (
            args.ledger_table or outputs.get("LedgerTableName") or env("PRIVATEAPI_LEDGER_TABLE")
        )

    def make_client(self, service: str) -> Any:
        return self.session.client(service, endpoint_url=self.endpoint_url)  # type: ignore[call-overload]

    def _outputs(self, stack_name: str) -> dict[str, str]:
        stacks = self.client("cloudformation").describe_stacks(StackName=stack_name)["Stacks"]
        return {o["OutputKey"]: o["OutputValue"] for o in stacks[0].get("Outputs", [])}

    def need(self, value: str | None, flag: str) -> str:
        if not value:
            sys.exit(f"privateapi: {flag} is required (or --stack to read it from the outputs)")
        return value


def detail_from(args: argparse.Namespace) -> dict[str, Any]:
    detail: dict[str, Any] = json.loads(Path(args.file).read_text()) if args.file else {}
    for flag, field in FIELDS[args.command].items():
        if getattr(args, flag, None) is not None:
            detail[field] = getattr(args, flag)
    for flag, field in {**LISTS[args.command], **REPEATED.get(args.command, {})}.items():
        if getattr(args, flag, None):  # a list either way (nargs="+" or action="append")
            detail[field] = list(getattr(args, flag))
    for flag, field in FLAGS[args.command].items():
        if getattr(args, flag, False):
            detail[field] = True
    for key, value in args.tag or []:
        detail.setdefault("tags", {})[key] = value
    for flag, field in (("request_id", "requestId"), ("ticket_id", "ticketId"),
                        ("requested_by", "requestedBy")):  # fmt: skip
        if getattr(args, flag):
            detail[field] = getattr(args, flag)
    return detail


def send(args: argparse.Namespace) -> int:
    stack = Stack(args)
    detail, detail_type = detail_from(args), DETAIL_TYPES[args.command]
    if not args.follow:
        print(stack.put(detail, detail_type=detail_type))
        return 0
    with _follower(stack) as follower:  # subscribed before sending: no message is missed
        request_id = stack.put(detail, detail_type=detail_type)
        print(f"requestId {request_id}")
        return _print_until_final(follower, request_id, args.timeout)


def follow(args: argparse.Namespace) -> int:
    stack = Stack(args)
    with _follower(stack) as follower:
        entry = stack.ledger_entry(args.request_id) if stack.ledger_table else None
        if entry and entry.get("status") in FINAL_STATUSES:  # it is over: show what happened
            for step in entry.get("history", []):
                print(f"{step['timestamp']}  {step['status']:20} {step['message']}")
            return 0 if entry["status"] == Status.SUCCEEDED else 1
        return _print_until_final(follower, args.request_id, args.timeout)


def status(args: argparse.Namespace) -> int:
    entry = _with_ledger(Stack(args)).ledger_entry(args.request_id)
    if entry is None:
        print(f"no request {args.request_id} in the ledger", file=sys.stderr)
        return 1
    print(f"{entry['requestId']}  {entry.get('kind', '')}  {entry.get('status')}")
    for key in (
        "ticketId",
        "requestedBy",
        "createdAt",
        "updatedAt",
        "attempt",
        "duplicatesIgnored",
    ):
        if key in entry:
            print(f"  {key:18} {entry[key]}")
    for key, value in sorted(entry.get("resources", {}).items()):
        print(f"  {key:18} {value}")
    print("  history:")
    for step in entry.get("history", []):
        print(f"    {step['timestamp']}  {step['status']:20} {step['message']}")
    if args.json:
        print(json.dumps(entry, indent=2))
    return 0


def list_requests(args: argparse.Namespace) -> int:
    for item in _with_ledger(Stack(args)).ledger_requests()[: args.limit]:
        resources = item.get("resources", {})
        print(
            f"{item.get('createdAt', ''):26} {item['requestId']:40} {item.get('kind', ''):10} "
            f"{item.get('status', ''):20} {resources.get('restApiId', '')} "
            f"{resources.get('vpcLinkId', '')}"
        )
    return 0


def _with_ledger(stack: Stack) -> Stack:
    stack.need(stack.ledger_table, "--ledger-table")
    return stack


def _follower(stack: Stack) -> ProgressFollower:
    stack.need(stack.topic_arn, "--topic-arn")
    return stack.follower()


def _print_until_final(follower: ProgressFollower, request_id: str, timeout: float) -> int:
    final: Notification | None = None
    for notification in follower.follow(request_id, timeout_seconds=timeout):
        body = notification.body
        print(f"{body.get('timestamp', '')}  {notification.status:20} {body.get('message', '')}")
        error = body.get("error") or {}
        for field in error.get("fields", []):
            print(f"{'':26}{field['field']}: {field['rule']}")
        if error.get("remedy"):
            print(f"{'':26}remedy: {error['remedy']}")
        final = notification
    return 0 if final is not None and final.status == Status.SUCCEEDED else 1


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="python -m privateapi", description=__doc__.split("\n")[0])
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--endpoint-url", help="e.g. http://127.0.0.1:4566 for the embedded AWS")
    common.add_argument("--region", default=os.environ.get("AWS_DEFAULT_REGION", "us-east-1"))
    common.add_argument("--stack", help="read bus, topic and ledger names from this stack")
    common.add_argument("--bus", help="event bus name (default private-api-requests)")
    common.add_argument("--topic-arn", help="progress topic ARN")
    common.add_argument("--ledger-table", help="ledger table name")
    common.add_argument("--timeout", type=float, default=1200, help="seconds to follow")
    commands = root.add_subparsers(dest="command", required=True)

    for name, help_text in (
        ("request", f"provision a private API ({PROVISION_REQUESTED})"),
        ("teardown", f"delete an API this control plane created ({TEARDOWN_REQUESTED})"),
        ("relink", f"point an API's stage at another link ({RELINK_REQUESTED})"),
    ):
        command = commands.add_parser(name, parents=[common], help=help_text)
        command.add_argument("--file", help="a JSON file with the event's detail")
        command.add_argument("--follow", action="store_true", help="follow until the outcome")
        command.add_argument("--request-id")
        command.add_argument("--ticket-id")
        command.add_argument("--requested-by")
        command.add_argument("--tag", nargs=2, action="append", metavar=("KEY", "VALUE"))
        for flag in FIELDS[name]:
            kind = int if flag == "timeout_seconds" else str
            command.add_argument(
                f"--{flag.replace('_', '-')}", type=kind, choices=CHOICES.get(flag)
            )
        for flag in LISTS[name]:
            command.add_argument(f"--{flag.replace('_', '-')}", nargs="+", metavar="ID")
        for flag in FLAGS[name]:
            command.add_argument(f"--{flag.replace('_', '-')}", action="store_true")
        for flag in REPEATED.get(name, {}):
            command.add_argument(f"--{flag.replace('_', '-')}", action="append")
        command.set_defaults(run=send)

    for name, run, help_text in (
        ("follow", follow, "print a request's notifications until its outcome"),
        ("status", status, "a request's status, resources and history, from the ledger"),
    ):
        command = commands.add_parser(name, parents=[common], help=help_text)
        command.add_argument("request_id")
        command.set_defaults(run=run)
    commands.choices["status"].add_argument("--json", action="store_true")
    listing = commands.add_parser("list", parents=[common], help="the most recent requests")
    listing.add_argument("--limit", type=int, default=50)
    listing.set_defaults(run=list_requests)
    return root


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    return int(args.run(args))


if __name__ == "__main__":
    sys.exit(main())
