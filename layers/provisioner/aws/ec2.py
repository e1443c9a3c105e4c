"""EC2, as validation needs to see it: interface VPC endpoints (for a PRIVATE API), and which
subnets and security groups exist, and where (for a VPC link V2)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any, NamedTuple

from provisioner.aws import clients


class VpcEndpoint(NamedTuple):
    id: str
    type: str  # Interface, Gateway, GatewayLoadBalancer, ...
    service_name: str  # com.amazonaws.<region>.execute-api for API Gateway
    state: str
    vpc_id: str


def find_vpc_endpoints(ids: list[str]) -> dict[str, VpcEndpoint]:
    """The endpoints among ``ids`` that exist in this account and region, by id.

    DescribeVpcEndpoints answers an error for the whole call when one id does not exist, so
    the account's endpoints are read and picked from: each missing id can then be named.
    """
    wanted, found = set(ids), {}
    with clients.aws_errors():
        for page in clients.ec2().get_paginator("describe_vpc_endpoints").paginate():
            for item in page.get("VpcEndpoints", []):
                if item.get("VpcEndpointId") in wanted:
                    found[item["VpcEndpointId"]] = VpcEndpoint(
                        id=item["VpcEndpointId"],
                        type=item.get("VpcEndpointType", ""),
                        service_name=item.get("ServiceName", ""),
                        state=str(item.get("State", "")).lower(),
                        vpc_id=item.get("VpcId", ""),
                    )
    return found


def subnet_vpcs(subnet_ids: list[str]) -> dict[str, str]:
    """``{subnet id: its VPC id}`` for those of ``subnet_ids`` that exist (a filter, not ids:
    DescribeSubnets with one missing id fails as a whole)."""
    return _vpc_of_each(
        subnet_ids,
        "Subnets",
        "SubnetId",
        lambda: (
            clients.ec2()
            .get_paginator("describe_subnets")
            .paginate(Filters=[{"Name": "subnet-id", "Values": subnet_ids}])
        ),
    )


def security_group_vpcs(group_ids: list[str]) -> dict[str, str]:
    """``{security group id: its VPC id}`` for those of ``group_ids`` that exist."""
    return _vpc_of_each(
        group_ids,
        "SecurityGroups",
        "GroupId",
        lambda: (
            clients.ec2()
            .get_paginator("describe_security_groups")
            .paginate(Filters=[{"Name": "group-id", "Values": group_ids}])
        ),
    )


def _vpc_of_each(
    ids: list[str], items: str, id_key: str, pages: Callable[[], Iterable[Mapping[str, Any]]]
) -> dict[str, str]:
    """``{id: its VPC id}`` from the ``items`` of a filtered Describe call's ``pages``."""
    if not ids:
        return {}
    with clients.aws_errors():
        return {
            item[id_key]: item.get("VpcId", "") for page in pages() for item in page.get(items, [])
        }
