"""A sample service network: a VPC, two private subnets, an internal network load balancer and,
on request, an internal application load balancer with its security group.

What the tutorial assumes exists before it starts; the demo and the tests create it. Its NLB
carries the tag ``private-api:expose=true`` (its owner's consent to expose it through API
Gateway, which the control plane requires) unless ``expose=False``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from provisioner.contract import vocabulary


@dataclass(frozen=True)
class SampleAlb:
    """An internal application load balancer in the sample network's subnets."""

    arn: str
    dns_name: str
    security_group_ids: list[str] = field(default_factory=list)
    https: bool = False


@dataclass(frozen=True)
class SampleNetwork:
    vpc_id: str
    subnet_ids: list[str]
    nlb_arn: str
    nlb_dns_name: str
    alb: SampleAlb | None = None  # with create_sample_network(..., alb=True)

    @property
    def alb_arn(self) -> str:
        if self.alb is None:
            raise ValueError("this sample network has no ALB (create it with alb=True)")
        return self.alb.arn


# The tag by which a load balancer's owner consents to its exposure through API Gateway.
EXPOSE_TAG = {"Key": vocabulary.EXPOSE_TAG, "Value": vocabulary.EXPOSE_TAG_VALUE}


def create_sample_network(
    ec2: Any, elbv2: Any, name: str = "orders-service", *, alb: bool = False, expose: bool = True
) -> SampleNetwork:
    """The VPC, its two subnets and the internal NLB; with ``alb``, an internal ALB too (made
    after the NLB, so the NLB's ID, and ARN, are the same either way). With ``expose``, the
    load balancers carry the tag private-api:expose=true (their owner's consent)."""
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
    network = SampleNetwork(
        vpc_id=vpc_id,
        subnet_ids=subnet_ids,
        nlb_arn=nlb["LoadBalancerArn"],
        nlb_dns_name=nlb["DNSName"],
    )
    if not alb:
        return network
    made = create_sample_alb(ec2, elbv2, network, name, expose=expose)
    return SampleNetwork(**{**vars(network), "alb": made})


def create_sample_alb(
    ec2: Any,
    elbv2: Any,
    network: SampleNetwork,
    name: str,
    *,
    security_group_ids: list[str] | None = None,
    https_certificate_arn: str | None = None,
    expose: bool = True,
) -> SampleAlb:
    """An internal ALB in the network's subnets, with ``security_group_ids`` (default: a new
    security group of its own); with ``https_certificate_arn``, an HTTPS listener on 443; with
    ``expose``, the tag private-api:expose=true."""
    groups = security_group_ids or [
        ec2.create_security_group(
            GroupName=f"{name}-alb",
            Description=f"{name} application load balancer",
            VpcId=network.vpc_id,
        )["GroupId"]
    ]
    created = elbv2.create_load_balancer(
        Name=f"{name}-alb",
        Type="application",
        Scheme="internal",
        Subnets=network.subnet_ids,
        SecurityGroups=groups,
        **({"Tags": [EXPOSE_TAG]} if expose else {}),
    )["LoadBalancers"][0]
    if https_certificate_arn:
        target_group = elbv2.create_target_group(
            Name=f"{name}-alb-targets", Protocol="HTTP", Port=80, VpcId=network.vpc_id
        )["TargetGroups"][0]["TargetGroupArn"]
        elbv2.create_listener(
            LoadBalancerArn=created["LoadBalancerArn"],
            Protocol="HTTPS",
            Port=443,
            Certificates=[{"CertificateArn": https_certificate_arn}],
            DefaultActions=[{"Type": "forward", "TargetGroupArn": target_group}],
        )
    return SampleAlb(
        arn=created["LoadBalancerArn"],
        dns_name=created["DNSName"],
        security_group_ids=groups,
        https=bool(https_certificate_arn),
    )
