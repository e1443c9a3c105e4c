"""EC2, as validation needs to see it: which subnets and security groups exist, and where."""

from __future__ import annotations

from provisioner.aws import clients


def subnet_vpcs(subnet_ids: list[str]) -> dict[str, str]:
    """``{subnet id: its VPC id}`` for those of ``subnet_ids`` that exist (a filter, not ids:
    DescribeSubnets with one missing id fails as a whole)."""
    if not subnet_ids:
        return {}
    with clients.aws_errors():
        pages = (
            clients.ec2()
            .get_paginator("describe_subnets")
            .paginate(Filters=[{"Name": "subnet-id", "Values": subnet_ids}])
        )
        return {s["SubnetId"]: s["VpcId"] for page in pages for s in page.get("Subnets", [])}


def security_group_vpcs(group_ids: list[str]) -> dict[str, str]:
    """``{security group id: its VPC id}`` for those of ``group_ids`` that exist."""
    if not group_ids:
        return {}
    with clients.aws_errors():
        pages = (
            clients.ec2()
            .get_paginator("describe_security_groups")
            .paginate(Filters=[{"Name": "group-id", "Values": group_ids}])
        )
        return {
            g["GroupId"]: g.get("VpcId", "")
            for page in pages
            for g in page.get("SecurityGroups", [])
        }
