"""Network load balancers, as validation needs to see them."""

from __future__ import annotations

from dataclasses import dataclass

from provisioner.aws import clients
from provisioner.contract import errors


@dataclass(frozen=True, slots=True)
class LoadBalancer:
    arn: str
    type: str
    dns_name: str
    state: str


def find_load_balancer(arn: str) -> LoadBalancer | None:
    """The load balancer with this ARN, or None when it does not exist."""
    try:
        with clients.aws_errors():
            found = clients.elbv2().describe_load_balancers(LoadBalancerArns=[arn])
    except errors.ResourceNotFound:
        return None
    for lb in found.get("LoadBalancers", []):
        return LoadBalancer(
            arn=lb["LoadBalancerArn"],
            type=lb.get("Type", ""),
            dns_name=lb.get("DNSName", ""),
            state=lb.get("State", {}).get("Code", ""),
        )
    return None


def load_balancer_tags(arn: str) -> dict[str, str]:
    """The load balancer's tags (DescribeTags); empty when it has none."""
    with clients.aws_errors():
        found = clients.elbv2().describe_tags(ResourceArns=[arn])
    for description in found.get("TagDescriptions", []):
        return {tag["Key"]: tag.get("Value", "") for tag in description.get("Tags", [])}
    return {}
