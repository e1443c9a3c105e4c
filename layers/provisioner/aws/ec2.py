"""Interface VPC endpoints, as a PRIVATE API's validation needs to see them."""

from __future__ import annotations

from dataclasses import dataclass

from provisioner.aws import clients


@dataclass(frozen=True, slots=True)
class VpcEndpoint:
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
