"""A sample service network: a VPC, two private subnets and an internal network load balancer.

What the tutorial assumes exists before it starts; the demo and the tests create it. Its NLB
carries the tag ``private-api:expose=true`` (its owner's consent to expose it through API
Gateway, which the control plane requires) unless ``expose=False``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class SampleNetwork:
    vpc_id: str
    subnet_ids: list[str]
    nlb_arn: str
    nlb_dns_name: str


EXPOSE_TAG = {"Key": "private-api:expose", "Value": "true"}


def create_sample_network(
    ec2: Any, elbv2: Any, name: str = "orders-service", *, expose: bool = True
) -> SampleNetwork:
    vpc_id = ec2.create_vpc(CidrBlock="10.20.0.0/16")["Vpc"]["VpcId"]
    zones = [z["ZoneName"] for z in ec2.describe_availability_zones()["AvailabilityZones"]][:2]
    subnet_ids = [
        ec2.create_subnet(VpcId=vpc_id, CidrBlock=f"10.20.{index}.0/24", AvailabilityZone=zone)[
            "Subnet"
        ]["SubnetId"]
        for index, zone in enumerate(zones, start=1)
    ]
    consent = {"Tags": [EXPOSE_TAG]} if expose else {}
    nlb = elbv2.create_load_balancer(
        Name=f"{name}-nlb", Type="network", Scheme="internal", Subnets=subnet_ids, **consent
    )["LoadBalancers"][0]
    return SampleNetwork(
        vpc_id=vpc_id,
        subnet_ids=subnet_ids,
        nlb_arn=nlb["LoadBalancerArn"],
        nlb_dns_name=nlb["DNSName"],
    )
