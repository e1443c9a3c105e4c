"""Fixtures for the unit tests: in-process moto, the functions' environment, a VPC with a
network and an application load balancer, EventBridge events and a Lambda context.

moto is looser than AWS (README, "Running it without AWS"): the embedded runtime's
``emulator.fidelity`` is installed for the whole session, with links that settle at once
(``pending_seconds=0``) and API Gateway's rate limits off, so these tests see what AWS would
show: a new link is PENDING until it is next read, ``net/`` NLB ARNs, ``connectionId`` kept,
referenced links undeletable. Tests that need a specific link status set it on moto's model
through :func:`force_link_status`.
"""

from __future__ import annotations

import functools
import io
import json
import uuid
import zipfile
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from types import ModuleType
from typing import Any

import boto3
import pytest
from moto import mock_aws

from emulator.engine.stack import REPO_ROOT, load_template
from privateapi.network import EXPOSE_TAG

from .support import (
    ACCOUNT,
    FIDELITY,
    FUNCTION_ENVIRONMENT,
    LEDGER_TABLE,
    REGION,
    AuthorizerFunctions,
    FakeLambdaContext,
    Inventory,
    Network,
    Provisioned,
    eventbridge_event,
    force_link_status,
)


def _zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("app.py", "def handler(event, context):\n    return None\n")
    return buffer.getvalue()


_EMPTY_ZIP = _zip()


# --- AWS ---------------------------------------------------------------------------------------
@pytest.fixture(scope="session")
def fidelity() -> ModuleType:
    """``emulator.fidelity``, installed once per process."""
    return FIDELITY


@pytest.fixture
def aws_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_SECURITY_TOKEN", "testing")
    monkeypatch.setenv("AWS_SESSION_TOKEN", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("AWS_REGION", REGION)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    # The EC2 backend otherwise loads thousands of AMIs for every test; none is used here.
    monkeypatch.setenv("MOTO_EC2_LOAD_DEFAULT_AMIS", "false")


@pytest.fixture
def function_environment(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """The environment the template gives every function."""
    for name, value in FUNCTION_ENVIRONMENT.items():
        monkeypatch.setenv(name, value)
    return dict(FUNCTION_ENVIRONMENT)


def _create_ledger_table() -> None:
    """The request ledger, with the keys and indexes template.yaml declares for it."""
    declared = load_template(REPO_ROOT / "template.yaml")["Resources"]["LedgerTable"]["Properties"]
    boto3.client("dynamodb", region_name=REGION).create_table(
        TableName=LEDGER_TABLE,
        AttributeDefinitions=declared["AttributeDefinitions"],
        KeySchema=declared["KeySchema"],
        GlobalSecondaryIndexes=declared.get("GlobalSecondaryIndexes", []),
        BillingMode=declared["BillingMode"],
    )


@functools.cache
def _shared_session() -> boto3.Session:
    return boto3.Session(region_name=REGION)


@pytest.fixture
def aws(aws_credentials: None, function_environment: dict[str, str]) -> Iterator[None]:
    """In-process moto; the layer's cached boto3 clients are made afresh inside it."""
    from provisioner.aws import clients

    saved = (
        FIDELITY.settings.vpc_link_pending_seconds,
        FIDELITY.settings.vpc_link_deleting_seconds,
    )
    FIDELITY.install(pending_seconds=0, deleting_seconds=0)
    FIDELITY.reset_hooks()
    FIDELITY.rate_limits.enable(False)  # these tests are not about API Gateway's rates
    clients.reset()
    with mock_aws():
        # moto hides boto3's default session for the duration of the mock, so every test would
        # parse the service models (EC2's is large) again; one session made under the mock has
        # moto's stubber and dummy credentials, and its loader keeps the models.
        boto3.DEFAULT_SESSION = _shared_session()
        _create_ledger_table()
        yield
    clients.reset()
    FIDELITY.reset_hooks()
    FIDELITY.set_vpc_link_timing(*saved)


@pytest.fixture
def settings(function_environment: dict[str, str]) -> Any:
    """As a task reads them: the environment, and the account and region of its function."""
    from provisioner.runtime.settings import Settings

    return Settings.from_environment().running_as(FakeLambdaContext.invoked_function_arn)


@pytest.fixture
def apigw(aws: None) -> Any:
    return boto3.client("apigateway", region_name=REGION)


@pytest.fixture
def network(aws: None) -> Network:
    """A VPC with two subnets, an internal network LB (the target) and an application LB."""
    ec2 = boto3.client("ec2", region_name=REGION)
    elbv2 = boto3.client("elbv2", region_name=REGION)
    vpc_id = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    subnet_ids = [
        ec2.create_subnet(VpcId=vpc_id, CidrBlock=cidr, AvailabilityZone=zone)["Subnet"]["SubnetId"]
        for cidr, zone in (("10.0.1.0/24", "us-east-1a"), ("10.0.2.0/24", "us-east-1b"))
    ]
    nlb = elbv2.create_load_balancer(
        Name="orders-nlb",
        Subnets=subnet_ids,
        Scheme="internal",
        Type="network",
        Tags=[EXPOSE_TAG],  # its owner consents to its exposure through API Gateway
    )["LoadBalancers"][0]
    alb = elbv2.create_load_balancer(
        Name="orders-alb",
        Subnets=subnet_ids,
        Scheme="internal",
        Type="application",
        Tags=[EXPOSE_TAG],
    )["LoadBalancers"][0]
    return Network(
        vpc_id=vpc_id,
        subnet_ids=subnet_ids,
        nlb_arn=nlb["LoadBalancerArn"],
        nlb_dns_name=nlb["DNSName"],
        alb_arn=alb["LoadBalancerArn"],
    )


@pytest.fixture
def execute_api_endpoint(network: Network) -> str:
    """An interface VPC endpoint of API Gateway (execute-api) in the VPC: what a PRIVATE API
    is invoked through."""
    ec2 = boto3.client("ec2", region_name=REGION)
    return str(
        ec2.create_vpc_endpoint(
            VpcId=network.vpc_id,
            ServiceName=f"com.amazonaws.{REGION}.execute-api",
            VpcEndpointType="Interface",
            SubnetIds=network.subnet_ids,
            PrivateDnsEnabled=True,
        )["VpcEndpoint"]["VpcEndpointId"]
    )


@pytest.fixture
def untagged_nlb_arn(network: Network) -> str:
    """A network load balancer whose owner has not consented to its exposure (no tag)."""
    elbv2 = boto3.client("elbv2", region_name=REGION)
    return str(
        elbv2.create_load_balancer(
            Name="private-nlb", Subnets=network.subnet_ids, Scheme="internal", Type="network"
        )["LoadBalancers"][0]["LoadBalancerArn"]
    )


@pytest.fixture
def gateway_endpoint(network: Network) -> str:
    """A VPC endpoint that is no use to a PRIVATE API: a Gateway endpoint of S3."""
    ec2 = boto3.client("ec2", region_name=REGION)
    return str(
        ec2.create_vpc_endpoint(
            VpcId=network.vpc_id,
            ServiceName=f"com.amazonaws.{REGION}.s3",
            VpcEndpointType="Gateway",
        )["VpcEndpoint"]["VpcEndpointId"]
    )


@pytest.fixture
def user_pool_arn(aws: None) -> str:
    """A Cognito user pool of this account and region."""
    idp = boto3.client("cognito-idp", region_name=REGION)
    return str(idp.create_user_pool(PoolName="orders-users")["UserPool"]["Arn"])


@pytest.fixture
def authorizer_functions(aws: None) -> AuthorizerFunctions:
    """Two Lambda functions: one whose owner lets API Gateway invoke it, one not."""
    iam = boto3.client("iam", region_name=REGION)
    role = iam.create_role(
        RoleName="authorizer-role",
        AssumeRolePolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": {"Service": "lambda.amazonaws.com"},
                        "Action": "sts:AssumeRole",
                    }
                ],
            }
        ),
    )["Role"]["Arn"]
    lambda_ = boto3.client("lambda", region_name=REGION)
    arns = []
    for name in ("orders-authorizer", "unshared-authorizer"):
        arns.append(
            lambda_.create_function(
                FunctionName=name,
                Runtime="python3.13",
                Role=role,
                Handler="app.handler",
                Code={"ZipFile": _EMPTY_ZIP},
            )["FunctionArn"]
        )
    lambda_.add_permission(
        FunctionName="orders-authorizer",
        StatementId="api-gateway-authorizers",
        Action="lambda:InvokeFunction",
        Principal="apigateway.amazonaws.com",
        SourceArn=f"arn:aws:execute-api:{REGION}:{ACCOUNT}:*/authorizers/*",
    )
    return AuthorizerFunctions(permitted=arns[0], unpermitted=arns[1])


@pytest.fixture
def second_nlb_arn(network: Network) -> str:
    """Another network load balancer in the same VPC."""
    elbv2 = boto3.client("elbv2", region_name=REGION)
    return str(
        elbv2.create_load_balancer(
            Name="billing-nlb",
            Subnets=network.subnet_ids,
            Scheme="internal",
            Type="network",
            Tags=[EXPOSE_TAG],
        )["LoadBalancers"][0]["LoadBalancerArn"]
    )


# --- link status control -----------------------------------------------------------------------
@pytest.fixture
def link_status() -> Callable[..., None]:
    return force_link_status


# --- resources left behind -------------------------------------------------------------------
@pytest.fixture
def inventory(apigw: Any) -> Callable[[], Inventory]:
    """What exists in API Gateway right now (links being deleted count as gone)."""

    def take() -> Inventory:
        return Inventory(
            vpc_link_ids=sorted(
                link["id"]
                for link in apigw.get_vpc_links()["items"]
                if link.get("status") != "DELETING"
            ),
            rest_api_ids=sorted(api["id"] for api in apigw.get_rest_apis()["items"]),
        )

    return take


# --- events, requests and the Lambda context ----------------------------------------------------
@pytest.fixture
def make_event() -> Callable[..., dict[str, Any]]:
    return eventbridge_event


@pytest.fixture
def make_request(network: Network) -> Callable[..., Any]:
    """A validated ``ProvisionRequest`` for the test NLB, with overrides (snake_case)."""
    from provisioner.contract.payloads.provisioning import ProvisionRequest
    from provisioner.contract.requests import EndpointType

    def build(**overrides: Any) -> ProvisionRequest:
        values: dict[str, Any] = {
            "request_id": f"req-{uuid.uuid4().hex[:12]}",
            "ticket_id": "OPS-42",
            "requested_by": "alice@example.com",
            "api_name": "orders",
            "stage_name": "prod",
            "endpoint_type": EndpointType.REGIONAL,
            "nlb_arn": network.nlb_arn,
            "endpoint_url": f"http://{network.nlb_dns_name}",
            "http_method": "GET",
            "proxy_all_paths": False,
            "timeout_seconds": 900,
            "tags": {"team": "orders"},
        }
        values.update(overrides)
        return ProvisionRequest(**values)

    return build


@pytest.fixture
def lambda_context() -> FakeLambdaContext:
    return FakeLambdaContext()


@pytest.fixture
def provision(make_request: Callable[..., Any], settings: Any) -> Callable[..., Provisioned]:
    """Provision an API as the workflow does (link found or created and made AVAILABLE, API
    created, stage deployed with its ``vpcLinkId``); overrides go to ``make_request``."""
    from provisioner.domain.pacing import Turns
    from provisioner.domain.rest_apis import create_api, deploy_api
    from provisioner.domain.vpc_links import ensure_vpc_link

    def run(**overrides: Any) -> Provisioned:
        request = make_request(**overrides)
        started_at = datetime.now(UTC).isoformat()
        link = ensure_vpc_link(request, Turns(settings, request.request_id), started_at=started_at)
        force_link_status(link.vpc_link_id, "AVAILABLE", "Your vpc link is ready for use")
        api = create_api(request, Turns(settings, request.request_id))
        deployment = deploy_api(request, link, api, Turns(settings, request.request_id))
        return Provisioned(request, link.vpc_link_id, api.rest_api_id, deployment.stage_name)

    return run


@pytest.fixture
def missing_api_deletion_not_found(monkeypatch: pytest.MonkeyPatch) -> None:
    """AWS answers DeleteRestApi for an API that is gone with NotFoundException; moto 5.2 (and
    emulator.fidelity) raise KeyError, a 500. Make moto answer as AWS does."""
    from moto.apigateway.exceptions import RestAPINotFound
    from moto.apigateway.models import APIGatewayBackend

    original = APIGatewayBackend.delete_rest_api

    def delete_rest_api(self: Any, function_id: str) -> Any:
        if function_id not in self.apis:
            raise RestAPINotFound()
        return original(self, function_id)

    monkeypatch.setattr(APIGatewayBackend, "delete_rest_api", delete_rest_api)
