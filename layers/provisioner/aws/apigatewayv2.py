"""API Gateway V2 (``apigatewayv2``): VPC links V2, which REST APIs use since November 2025.

A V2 link is network interfaces in its subnets, with its security groups: it is not tied to a
load balancer and serves every ALB or NLB they reach (the integration names one, with
``integrationTarget``). Its status goes ``PENDING`` → ``AVAILABLE`` | ``FAILED``; ``DELETING``
after a delete; ``INACTIVE`` after 60 days without traffic (its network interfaces deleted,
re-created when requests resume). Source: API Gateway Developer Guide, "Set up VPC links V2 in
API Gateway" (apigateway-vpc-links-v2.html). The links are described as :mod:`.apigateway`'s
:class:`VpcLink`, with ``version`` ``V2``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from provisioner.aws import apigateway, clients
from provisioner.aws.apigateway import VpcLink
from provisioner.aws.clients import aws_errors

if TYPE_CHECKING:
    from mypy_boto3_apigatewayv2 import ApiGatewayV2Client

VERSION = "V2"

# What an INACTIVE VPC link V2 means, and what to do (API Gateway Developer Guide, "Set up VPC
# links V2 in API Gateway").
INACTIVE_HELP = (
    "no traffic crossed it for 60 days, so API Gateway deleted its network interfaces; it "
    "re-creates them, in a few minutes, when requests through it resume. Send traffic through "
    "an API that uses it (its status becomes PENDING, then AVAILABLE), or name the load "
    "balancer with targetArn to get a link in service"
)


def _client(in_turn: bool) -> ApiGatewayV2Client:
    """``in_turn``: a call this stack paced (domain.pacing), made once; else retried by botocore."""
    return clients.apigatewayv2_in_turn() if in_turn else clients.apigatewayv2()


def prepare_paced_calls() -> None:
    """Make the client of the paced calls now, before a turn's gate (see ``apigateway``'s)."""
    clients.apigatewayv2_in_turn()


def _link(item: Any) -> VpcLink:
    return VpcLink(
        id=item["VpcLinkId"],
        name=item.get("Name", ""),
        status=item.get("VpcLinkStatus", "PENDING"),
        status_message=item.get("VpcLinkStatusMessage"),
        target_arns=[],
        tags=dict(item.get("Tags") or {}),
        version=VERSION,
        subnet_ids=list(item.get("SubnetIds") or []),
        security_group_ids=list(item.get("SecurityGroupIds") or []),
    )


def vpc_links() -> Iterator[VpcLink]:
    """Every V2 link of the account and region (GetVpcLinks has no boto3 paginator)."""
    token: str | None = None
    while True:
        with aws_errors():
            page = clients.apigatewayv2().get_vpc_links(**({"NextToken": token} if token else {}))
        for item in page.get("Items", []):
            yield _link(item)
        token = page.get("NextToken")
        if not token:
            return


def get_vpc_link(vpc_link_id: str) -> VpcLink | None:
    return clients.if_found(
        lambda: _link(clients.apigatewayv2().get_vpc_link(VpcLinkId=vpc_link_id))
    )


def find_link(vpc_link_id: str, version: str | None = None) -> VpcLink | None:
    """The V1 or V2 link with this id (``version``: the API to ask, when it is known; else
    API Gateway's V1 links are asked first)."""
    if version != VERSION:
        link = apigateway.get_vpc_link(vpc_link_id)
        if link is not None or version == apigateway.VERSION:
            return link
    return get_vpc_link(vpc_link_id)


def create_vpc_link(
    name: str,
    subnet_ids: list[str],
    security_group_ids: list[str],
    tags: dict[str, str],
    *,
    in_turn: bool = False,
) -> VpcLink:
    """CreateVpcLink: 1 call every 15 s per account and region (paced: ``in_turn``)."""
    arguments: dict[str, Any] = {"Name": name, "SubnetIds": subnet_ids, "Tags": tags}
    if security_group_ids:  # optional: without any, the interfaces get the VPC's default group
        arguments["SecurityGroupIds"] = security_group_ids
    with aws_errors():
        return _link(_client(in_turn).create_vpc_link(**arguments))


def delete_vpc_link(vpc_link_id: str, *, in_turn: bool = False) -> None:
    """Delete a link; AWS refuses (``AwsRequestRejected``) while a REST API uses it.
    DeleteVpcLink: 1 call every 30 s per account and region (paced: ``in_turn``)."""
    with aws_errors():
        _client(in_turn).delete_vpc_link(VpcLinkId=vpc_link_id)
