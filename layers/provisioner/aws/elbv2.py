"""Load balancers (network and application), as validation needs to see them."""

from __future__ import annotations

from typing import NamedTuple

from provisioner.aws import clients


class LoadBalancer(NamedTuple):
    arn: str
    type: str
    dns_name: str
    state: str
    vpc_id: str
    subnet_ids: list[str]
    # An ALB always has some; an NLB only when it was created with them.
    security_group_ids: list[str]


def find_load_balancer(arn: str) -> LoadBalancer | None:
    """The load balancer with this ARN, or None when it does not exist."""
    found = clients.if_found(
        lambda: clients.elbv2().describe_load_balancers(LoadBalancerArns=[arn])
    )
    if found is None:
        return None
    for lb in found.get("LoadBalancers", []):
        return LoadBalancer(
            arn=lb["LoadBalancerArn"],
            type=lb.get("Type", ""),
            dns_name=lb.get("DNSName", ""),
            state=lb.get("State", {}).get("Code", ""),
            vpc_id=lb.get("VpcId", ""),
            subnet_ids=[
                zone["SubnetId"] for zone in lb.get("AvailabilityZones", []) if "SubnetId" in zone
            ],
            security_group_ids=list(lb.get("SecurityGroups", [])),
        )
    return None


def load_balancer_tags(arn: str) -> dict[str, str]:
    """The load balancer's tags (DescribeTags); empty when it has none."""
    with clients.aws_errors():
        found = clients.elbv2().describe_tags(ResourceArns=[arn])
    for description in found.get("TagDescriptions", []):
        return {tag["Key"]: tag.get("Value", "") for tag in description.get("Tags", [])}
    return {}


def listens_on_https(arn: str) -> bool:
    """Whether the load balancer has an HTTPS listener (DescribeListeners)."""
    with clients.aws_errors():
        pages = clients.elbv2().get_paginator("describe_listeners").paginate(LoadBalancerArn=arn)
        return any(
            listener.get("Protocol") == "HTTPS"
            for page in pages
            for listener in page.get("Listeners", [])
        )
