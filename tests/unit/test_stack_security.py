"""The stack as SAM translates it (issue 10): IAM deletes only what this stack tagged, the bus
takes requests from this account (or the trusted organization) only, the secure defaults
reach every function, and no workflow can run forever."""

from __future__ import annotations

import json
from functools import cache
from typing import Any

import pytest

from emulator.engine.stack import REPO_ROOT, load_template, transform
from provisioner.contract.details import RequestDetail
from provisioner.domain.teardown import LINK_DELETION_DEADLINE

pytestmark = pytest.mark.unit

MANAGED_BY = "aws:ResourceTag/provisioner:managed-by"


@cache
def translated() -> dict[str, Any]:
    cfn, _ = transform(load_template(REPO_ROOT / "template.yaml"), REPO_ROOT, "s", "us-east-1", {})
    return cfn


def statements() -> list[tuple[str, dict[str, Any]]]:
    """Every IAM statement of the translated template, with where it is."""
    found = []
    for logical_id, resource in translated()["Resources"].items():
        properties = resource.get("Properties", {})
        documents = [properties.get("PolicyDocument")] + [
            policy["PolicyDocument"] for policy in properties.get("Policies", [])
        ]
        for document in filter(None, documents):
            found += [(logical_id, statement) for statement in document["Statement"]]
    return found


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def test_every_api_gateway_delete_requires_our_managed_by_tag():
    deletes = [
        (where, statement)
        for where, statement in statements()
        if "apigateway:DELETE" in as_list(statement["Action"])
    ]

    assert {where for where, _ in deletes} == {
        "DeleteApiFunctionRole",
        "DeleteApisAndLinksPolicy",
        "DeleteLinksPolicy",
    }
    for where, statement in deletes:
        assert statement["Effect"] == "Allow"
        assert as_list(statement["Action"]) == ["apigateway:DELETE"], where
        assert statement["Condition"] == {"StringEquals": {MANAGED_BY: {"Ref": "AWS::StackName"}}}
        for resource in as_list(statement["Resource"]):
            path = resource["Fn::Sub"].rsplit("::", 1)[1]
            assert path in ("/restapis/*", "/vpclinks/*"), (where, path)


def test_no_function_may_import_or_overwrite_a_rest_api():
    for where, statement in statements():
        if "apigateway:PUT" not in as_list(statement["Action"]):
            continue
        for resource in as_list(statement["Resource"]):
            path = resource["Fn::Sub"].rsplit("::", 1)[1]
            assert path not in ("/restapis", "/restapis/*"), where


def test_the_request_bus_takes_requests_from_this_account_or_the_trusted_organization_only():
    bus = translated()["Resources"]["RequestBus"]["Properties"]
    allow_account, organization, deny = bus["Policy"]["Statement"]

    assert allow_account["Principal"] == {
        "AWS": {"Fn::Sub": "arn:${AWS::Partition}:iam::${AWS::AccountId}:root"}
    }
    assert allow_account["Action"] == "events:PutEvents"
    only_if, allow_organization, otherwise = organization["Fn::If"]
    assert (only_if, otherwise) == ("TrustsAnOrganization", {"Ref": "AWS::NoValue"})
    assert allow_organization["Condition"] == {
        "StringEquals": {"aws:PrincipalOrgID": {"Ref": "TrustedOrganizationId"}}
    }
    assert (deny["Effect"], deny["Principal"], deny["Action"]) == (
        "Deny",
        "*",
        "events:PutEvents",
    )
    condition, with_organization, account_only = deny["Condition"]["StringNotEquals"]["Fn::If"]
    assert condition == "TrustsAnOrganization"
    assert account_only == {"aws:PrincipalAccount": {"Ref": "AWS::AccountId"}}
    assert with_organization == {
        "aws:PrincipalAccount": {"Ref": "AWS::AccountId"},
        "aws:PrincipalOrgID": {"Ref": "TrustedOrganizationId"},
    }


def test_the_secure_defaults_reach_every_function():
    template = load_template(REPO_ROOT / "template.yaml")
    parameters = template["Parameters"]
    assert parameters["AllowUnauthenticatedApis"]["Default"] == "false"
    assert parameters["RequireExposureTag"]["Default"] == "true"
    assert parameters["TrustedOrganizationId"]["Default"] == ""
    variables = template["Globals"]["Function"]["Environment"]["Variables"]
    assert variables["PROVISIONER_ALLOW_UNAUTHENTICATED_APIS"] == {
        "Ref": "AllowUnauthenticatedApis"
    }
    assert variables["PROVISIONER_REQUIRE_EXPOSURE_TAG"] == {"Ref": "RequireExposureTag"}


def test_validation_may_read_what_it_checks():
    granted = {
        action
        for where, statement in statements()
        if where in ("ValidateRequestFunctionRole", "ReadLoadBalancersPolicy")
        for action in as_list(statement["Action"])
    }

    assert {
        "elasticloadbalancing:DescribeTags",
        "ec2:DescribeVpcEndpoints",
        "cognito-idp:DescribeUserPool",
        "lambda:GetFunction",
        "lambda:GetPolicy",
    } <= granted


@pytest.mark.parametrize("workflow", ["provision", "relink", "teardown"])
def test_every_workflow_has_a_timeout_above_its_longest_legitimate_run(workflow):
    definition = json.loads((REPO_ROOT / "statemachine" / f"{workflow}.asl.json").read_text())
    longest_link_wait = next(
        meta.le
        for meta in RequestDetail.model_fields["timeout_seconds"].metadata
        if hasattr(meta, "le")
    )
    deadline = (
        LINK_DELETION_DEADLINE.total_seconds() if workflow == "teardown" else longest_link_wait
    )

    # the deadline, then a poll, the last steps and a rollback at their worst: under an hour
    assert deadline + 3600 < definition["TimeoutSeconds"] <= deadline + 3 * 3600
