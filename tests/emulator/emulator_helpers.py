"""Helpers shared by the emulator's tests."""

from __future__ import annotations

from emulator.engine.runtime import EmbeddedAws


def load_balancer(aws: EmbeddedAws, name: str, lb_type: str = "network") -> str:
    """Create a load balancer (with its VPC and subnet) and return its ARN."""
    ec2 = aws.client("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.1.0/24")["Subnet"]["SubnetId"]
    created = aws.client("elbv2").create_load_balancer(Name=name, Subnets=[subnet], Type=lb_type)
    return str(created["LoadBalancers"][0]["LoadBalancerArn"])
