"""Helpers shared by the emulator's tests."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from emulator.runtime import EmbeddedAws


def wait_for(predicate: Callable[[], Any], timeout: float = 10.0, interval: float = 0.05) -> Any:
    """Poll until ``predicate()`` is truthy; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"condition not met within {timeout} s")


def load_balancer(aws: EmbeddedAws, name: str, lb_type: str = "network") -> str:
    """Create a load balancer (with its VPC and subnet) and return its ARN."""
    ec2 = aws.client("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.1.0/24")["Subnet"]["SubnetId"]
    created = aws.client("elbv2").create_load_balancer(Name=name, Subnets=[subnet], Type=lb_type)
    return str(created["LoadBalancers"][0]["LoadBalancerArn"])
