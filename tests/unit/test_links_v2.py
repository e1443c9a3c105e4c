"""VPC links V2 (issue 13): the request contract's new fields, link versions and their
defaults, V2 links found, reused and created, INACTIVE links, the integration target, and the
move of a stage between link versions.

The embedded AWS's fidelity (emulator/fidelity/apigatewayv2.py) makes V2 links PENDING until
they are next read (these tests run with no PENDING period), FAILED when a subnet or security
group does not exist, keeps ``integrationTarget`` and refuses a V2 link without it.
"""

from __future__ import annotations

import threading
import uuid
from datetime import UTC, datetime
from typing import Any

import boto3
import msgspec
import pytest

from privateapi.network import SampleAlb, create_sample_alb
from provisioner.contract.errors import (
    InvalidRequest,
    LinkCreationInProgress,
    VpcLinkFailed,
    VpcLinkInactive,
)
from provisioner.contract.payloads import VpcLinkState
from provisioner.contract.payloads.relink import RelinkRequest
from provisioner.contract.requests import MANAGED_BY_TAG, REQUEST_ID_TAG, VpcLinkVersion
from provisioner.domain import relink, rest_apis, validation, vpc_links
from provisioner.domain.pacing import Turns
from provisioner.domain.validation import validate_request
from provisioner.storage.keys import LinkKey
from provisioner.storage.ledger import Ledger

from .support import (
    ACCOUNT,
    LEDGER_TABLE,
    REGION,
    STACK_NAME,
    eventbridge_event,
    stored,
)

pytestmark = pytest.mark.unit
LEDGER = Ledger(LEDGER_TABLE)

STAGE_LINK = "${stageVariables.vpcLinkId}"


# --- helpers -----------------------------------------------------------------------------------
def validate(detail: dict[str, Any], settings: Any) -> Any:
    return validate_request(eventbridge_event(detail), settings=settings)


def rejected(detail: dict[str, Any], settings: Any) -> dict[str, list[str]]:
    """``{field: [rule, ...]}`` of the InvalidRequest the detail must raise."""
    with pytest.raises(InvalidRequest) as raised:
        validate(detail, settings)
    found: dict[str, list[str]] = {}
    for problem in raised.value.fields:
        assert problem.rule
        found.setdefault(problem.field, []).append(problem.rule)
    return found


def now_iso() -> str:
    return datetime.now(UTC).isoformat()


def v2_link(link_id: str) -> Any:
    from moto.apigatewayv2.models import apigatewayv2_backends

    return apigatewayv2_backends[ACCOUNT][REGION].vpc_links[link_id]


def settle_available(link_id: str) -> None:
    """Read the link (the fidelity settles it) and check it is AVAILABLE."""
    link = boto3.client("apigatewayv2", region_name=REGION).get_vpc_link(VpcLinkId=link_id)
    assert link["VpcLinkStatus"] == "AVAILABLE", link


def v2_links() -> list[dict[str, Any]]:
    return list(boto3.client("apigatewayv2", region_name=REGION).get_vpc_links()["Items"])


@pytest.fixture
def ec2(aws: None) -> Any:
    return boto3.client("ec2", region_name=REGION)


@pytest.fixture
def elbv2(aws: None) -> Any:
    return boto3.client("elbv2", region_name=REGION)


@pytest.fixture
def alb(network: Any, ec2: Any, elbv2: Any) -> SampleAlb:
    """An internal ALB with a security group of its own, in the network's two subnets."""
    return create_sample_alb(ec2, elbv2, network, "payments")


@pytest.fixture
def https_alb(network: Any, ec2: Any, elbv2: Any) -> SampleAlb:
    certificate = boto3.client("acm", region_name=REGION).request_certificate(
        DomainName="orders.internal.example.com"
    )["CertificateArn"]
    return create_sample_alb(ec2, elbv2, network, "secure", https_certificate_arn=certificate)


@pytest.fixture
def other_vpc(ec2: Any) -> tuple[str, str]:
    """A subnet and a security group in another VPC."""
    vpc = ec2.create_vpc(CidrBlock="10.9.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.9.1.0/24")["Subnet"]["SubnetId"]
    group = ec2.create_security_group(GroupName="elsewhere", Description="x", VpcId=vpc)
    return subnet, group["GroupId"]


@pytest.fixture
def v2_defaults(settings: Any) -> Any:
    """The stack deployed with DefaultNlbVpcLinkVersion=V2."""
    return msgspec.structs.replace(settings, **{"default_nlb_vpc_link_version": "V2"})


# --- the contract: versions and their defaults ---------------------------------------------------
def test_an_alb_named_by_target_arn_gets_a_v2_link_in_its_subnets_and_security_groups(
    network, alb, settings
):
    # When a request names an ALB with targetArn and nothing else about the link
    request = validate({"apiName": "payments", "targetArn": alb.arn}, settings)

    # Then the link is V2, in the ALB's subnets with the ALB's security groups, and the
    # integration reaches the ALB by its DNS name over HTTP (it has no HTTPS listener)
    assert request.vpc_link_version is VpcLinkVersion.V2
    assert request.nlb_arn == alb.arn
    assert sorted(request.subnet_ids) == sorted(network.subnet_ids)
    assert request.security_group_ids == alb.security_group_ids
    assert request.endpoint_url == f"http://{alb.dns_name}"


def test_an_alb_with_an_https_listener_is_reached_over_https_by_default(https_alb, settings):
    request = validate({"apiName": "secure", "targetArn": https_alb.arn}, settings)

    assert request.endpoint_url == f"https://{https_alb.dns_name}"
    # ... unless the request says otherwise
    given = validate(
        {"apiName": "s", "targetArn": https_alb.arn, "endpointUrl": "http://x.internal"}, settings
    )
    assert given.endpoint_url == "http://x.internal"


@pytest.mark.parametrize("field", ["nlbArn", "targetArn"])
def test_an_nlb_gets_a_v1_link_by_default_exactly_as_before(network, settings, field):
    request = validate({"apiName": "orders", field: network.nlb_arn}, settings)

    assert request.vpc_link_version is VpcLinkVersion.V1
    assert (request.subnet_ids, request.security_group_ids) == (None, None)
    assert request.endpoint_url == f"http://{network.nlb_dns_name}"
    assert "vpcLinkVersion" in request.to_wire()
    assert "subnetIds" not in request.to_wire()


def test_an_nlb_gets_a_v2_link_when_asked(network, settings):
    request = validate(
        {"apiName": "orders", "nlbArn": network.nlb_arn, "vpcLinkVersion": "V2"}, settings
    )

    # The NLB has no security groups: the link gets none (its interfaces get the VPC's default)
    assert request.vpc_link_version is VpcLinkVersion.V2
    assert sorted(request.subnet_ids) == sorted(network.subnet_ids)
    assert request.security_group_ids == []


def test_an_nlb_gets_a_v2_link_when_the_stack_says_so_unless_the_request_asks_for_v1(
    network, v2_defaults
):
    assert validate({"apiName": "o", "nlbArn": network.nlb_arn}, v2_defaults).vpc_link_version == (
        VpcLinkVersion.V2
    )
    asked = validate(
        {"apiName": "o", "nlbArn": network.nlb_arn, "vpcLinkVersion": "V1"}, v2_defaults
    )
    assert asked.vpc_link_version is VpcLinkVersion.V1


def test_named_subnets_and_security_groups_are_used(network, alb, ec2, settings):
    group = ec2.create_security_group(GroupName="link", Description="x", VpcId=network.vpc_id)
    request = validate(
        {
            "apiName": "p",
            "targetArn": alb.arn,
            "subnetIds": network.subnet_ids[:1],
            "securityGroupIds": [group["GroupId"]],
        },
        settings,
    )

    assert (request.subnet_ids, request.security_group_ids) == (
        network.subnet_ids[:1],
        [group["GroupId"]],
    )


# --- the contract: every rule, by the field's name ------------------------------------------------
def test_an_alb_cannot_have_a_v1_link(alb, settings):
    fields = rejected({"apiName": "p", "targetArn": alb.arn, "vpcLinkVersion": "V1"}, settings)

    assert list(fields) == ["detail.vpcLinkVersion"]
    assert "NLB ARN is malformed" in fields["detail.vpcLinkVersion"][0]


def test_nlb_arn_still_names_only_a_network_load_balancer(alb, settings):
    fields = rejected({"apiName": "p", "nlbArn": alb.arn}, settings)

    assert list(fields) == ["detail.nlbArn"]
    assert "targetArn" in fields["detail.nlbArn"][0]


@pytest.mark.parametrize("field", ["subnetIds", "securityGroupIds"])
def test_a_v1_link_takes_no_subnets_or_security_groups(network, settings, field):
    value = network.subnet_ids if field == "subnetIds" else ["sg-0123456789abcdef0"]
    fields = rejected({"apiName": "o", "nlbArn": network.nlb_arn, field: value}, settings)

    assert list(fields) == [f"detail.{field}"]
    assert "vpcLinkVersion V2" in fields[f"detail.{field}"][0]


def test_subnets_and_security_groups_must_exist_in_the_load_balancers_vpc(
    network, alb, other_vpc, settings
):
    subnet_elsewhere, group_elsewhere = other_vpc
    fields = rejected(
        {
            "apiName": "p",
            "targetArn": alb.arn,
            "subnetIds": [network.subnet_ids[0], subnet_elsewhere, "subnet-0123456789abcdef0"],
            "securityGroupIds": [group_elsewhere, "sg-0123456789abcdef0"],
        },
        settings,
    )

    assert sorted(fields["detail.subnetIds"]) == sorted(
        [
            f"subnet {subnet_elsewhere} is in {_vpc_of(subnet_elsewhere)}, not in the load "
            f"balancer's VPC {network.vpc_id}",
            "no subnet subnet-0123456789abcdef0 exists",
        ]
    )
    assert sorted(fields["detail.securityGroupIds"]) == sorted(
        [
            f"security group {group_elsewhere} is in {_vpc_of_group(group_elsewhere)}, not in "
            f"the load balancer's VPC {network.vpc_id}",
            "no security group sg-0123456789abcdef0 exists",
        ]
    )


def _vpc_of(subnet_id: str) -> str:
    ec2 = boto3.client("ec2", region_name=REGION)
    return str(ec2.describe_subnets(SubnetIds=[subnet_id])["Subnets"][0]["VpcId"])


def _vpc_of_group(group_id: str) -> str:
    ec2 = boto3.client("ec2", region_name=REGION)
    return str(ec2.describe_security_groups(GroupIds=[group_id])["SecurityGroups"][0]["VpcId"])


@pytest.mark.parametrize(
    ("detail", "field"),
    [
        ({"vpcLinkVersion": "V3"}, "detail.vpcLinkVersion"),
        ({"vpcLinkVersion": "v2"}, "detail.vpcLinkVersion"),
        ({"subnetIds": []}, "detail.subnetIds"),
        ({"subnetIds": "subnet-0123456789abcdef0"}, "detail.subnetIds"),
        ({"subnetIds": ["sg-0123456789abcdef0"]}, "detail.subnetIds.0"),
        ({"subnetIds": ["subnet-0123456789abcdef0"] * 2}, "detail.subnetIds"),
        ({"subnetIds": [f"subnet-{n:017x}" for n in range(17)]}, "detail.subnetIds"),
        ({"securityGroupIds": ["subnet-0123456789abcdef0"]}, "detail.securityGroupIds.0"),
        ({"targetArn": "arn:aws:nope"}, "detail.targetArn"),
    ],
    ids=[
        "version-unknown",
        "version-lowercase",
        "no-subnets",
        "subnets-not-a-list",
        "not-a-subnet-id",
        "the-same-subnet-twice",
        "seventeen-subnets",
        "not-a-security-group-id",
        "target-malformed",
    ],
)
def test_the_new_fields_shapes_are_checked(alb, settings, detail, field):
    fields = rejected({"apiName": "p", "targetArn": alb.arn, **detail}, settings)

    assert field in fields


def test_the_target_is_named_exactly_once(network, alb, settings):
    both = rejected({"apiName": "p", "nlbArn": network.nlb_arn, "targetArn": alb.arn}, settings)
    assert both == {"detail.targetArn": ["give only one of nlbArn, targetArn, vpcLinkId"]}
    neither = rejected({"apiName": "p"}, settings)
    assert neither == {"detail.nlbArn": ["required unless targetArn or vpcLinkId is given"]}


def test_a_target_in_another_account_is_refused_by_its_field_name(alb, settings):
    foreign = alb.arn.replace(f":{ACCOUNT}:", ":210987654321:")
    fields = rejected({"apiName": "p", "targetArn": foreign}, settings)

    assert "must be in this account (123456789012), like the API" in fields["detail.targetArn"]


def test_a_named_v2_link_is_refused_it_has_no_target_to_lend(alb, make_request, settings):
    link = _ensure(make_request, alb, settings)

    fields = rejected({"apiName": "p", "vpcLinkId": link.vpc_link_id}, settings)

    assert list(fields) == ["detail.vpcLinkId"]
    assert "targetArn" in fields["detail.vpcLinkId"][0]


def test_a_named_v1_link_keeps_its_version_whatever_the_stacks_default(network, apigw, v2_defaults):
    link = apigw.create_vpc_link(name="existing", targetArns=[network.nlb_arn])

    request = validate({"apiName": "o", "vpcLinkId": link["id"]}, v2_defaults)

    assert request.vpc_link_version is VpcLinkVersion.V1
    fields = rejected(
        {"apiName": "o", "vpcLinkId": link["id"], "vpcLinkVersion": "V2"}, v2_defaults
    )
    assert fields == {"detail.vpcLinkVersion": [f"VpcLink {link['id']} is a V1 link"]}


# --- ensure_vpc_link: create, reuse, race ---------------------------------------------------------
def _ensure(make_request: Any, alb: SampleAlb, settings: Any, **overrides: Any) -> VpcLinkState:
    request = _v2_request(make_request, alb, **overrides)
    return vpc_links.ensure_vpc_link(
        request, Turns(settings, request.request_id), started_at=now_iso()
    )


def _v2_request(make_request: Any, alb: SampleAlb, **overrides: Any) -> Any:
    subnets = overrides.pop("subnet_ids", None)
    groups = overrides.pop("security_group_ids", alb.security_group_ids)
    if subnets is None:
        elbv2 = boto3.client("elbv2", region_name=REGION)
        lb = elbv2.describe_load_balancers(LoadBalancerArns=[alb.arn])["LoadBalancers"][0]
        subnets = [zone["SubnetId"] for zone in lb["AvailabilityZones"]]
    return make_request(
        nlb_arn=alb.arn,
        endpoint_url=f"http://{alb.dns_name}",
        vpc_link_version=VpcLinkVersion.V2,
        subnet_ids=subnets,
        security_group_ids=groups,
        **overrides,
    )


def test_a_v2_link_is_created_in_the_subnets_with_the_security_groups_and_tagged(
    network, alb, make_request, settings
):
    request = _v2_request(make_request, alb)

    state = vpc_links.ensure_vpc_link(
        request, Turns(settings, request.request_id), started_at=now_iso()
    )

    (link,) = v2_links()
    assert link["VpcLinkId"] == state.vpc_link_id
    assert sorted(link["SubnetIds"]) == sorted(network.subnet_ids)
    assert link["SecurityGroupIds"] == alb.security_group_ids
    assert link["Tags"] == {
        "team": "orders",
        REQUEST_ID_TAG: request.request_id,
        MANAGED_BY_TAG: STACK_NAME,
    }
    assert (state.vpc_link_version, state.created_by_this_request) == (VpcLinkVersion.V2, True)
    assert state.status == "PENDING"
    # ... and the ledger's claim on its key names it
    claim = stored(LinkKey.of_v2(network.subnet_ids, alb.security_group_ids).item_key)
    assert claim is not None and claim["vpcLinkId"] == state.vpc_link_id


def test_two_load_balancers_in_the_same_subnets_and_security_groups_share_one_v2_link(
    network, alb, ec2, elbv2, make_request, settings
):
    # Given a second ALB in the same subnets, with the same security group
    other = create_sample_alb(
        ec2, elbv2, network, "billing", security_group_ids=alb.security_group_ids
    )
    first = _ensure(make_request, alb, settings)

    # When a request for the second ALB ensures its link (subnets listed in another order)
    second = _ensure(make_request, other, settings, subnet_ids=list(reversed(network.subnet_ids)))

    # Then it reuses the first request's link
    assert (second.vpc_link_id, second.created_by_this_request) == (first.vpc_link_id, False)
    assert len(v2_links()) == 1


def test_other_security_groups_make_another_v2_link(network, alb, ec2, make_request, settings):
    first = _ensure(make_request, alb, settings)
    group = ec2.create_security_group(GroupName="other", Description="x", VpcId=network.vpc_id)

    second = _ensure(make_request, alb, settings, security_group_ids=[group["GroupId"]])

    assert second.vpc_link_id != first.vpc_link_id
    assert len(v2_links()) == 2


def test_a_retry_of_the_same_request_finds_its_own_v2_link(alb, make_request, settings):
    request = _v2_request(make_request, alb)
    first = vpc_links.ensure_vpc_link(
        request, Turns(settings, request.request_id), started_at=now_iso()
    )

    again = vpc_links.ensure_vpc_link(
        request, Turns(settings, request.request_id), started_at=now_iso()
    )

    assert (again.vpc_link_id, again.created_by_this_request) == (first.vpc_link_id, True)


def test_ten_simultaneous_requests_for_one_network_create_one_v2_link(alb, make_request, settings):
    # Given ten requests with the same subnets and security groups, released together
    requests = [_v2_request(make_request, alb) for _ in range(10)]
    barrier = threading.Barrier(len(requests))
    outcomes: list[Any] = []

    def ensure(request: Any) -> None:
        barrier.wait()
        try:
            outcomes.append(
                vpc_links.ensure_vpc_link(
                    request, Turns(settings, request.request_id), started_at=now_iso()
                )
            )
        except LinkCreationInProgress as waiting:
            outcomes.append(waiting)

    threads = [threading.Thread(target=ensure, args=(r,)) for r in requests]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    # Then one link exists; each request either has it or was told to wait for it
    (link,) = v2_links()
    states = [o for o in outcomes if isinstance(o, VpcLinkState)]
    assert len(outcomes) == 10
    assert {state.vpc_link_id for state in states} == {link["VpcLinkId"]}
    assert sum(state.created_by_this_request for state in states) == 1
    # ... and those told to wait reuse it when the workflow retries them
    for request in requests:
        retried = vpc_links.ensure_vpc_link(
            request, Turns(settings, request.request_id), started_at=now_iso()
        )
        assert retried.vpc_link_id == link["VpcLinkId"]


# --- INACTIVE, FAILED ------------------------------------------------------------------------
def test_an_inactive_v2_link_is_not_reused_and_the_requester_is_told(
    alb, make_request, settings, fidelity
):
    # Given a V2 link in the same network that went INACTIVE (60 days without traffic)
    old = _ensure(make_request, alb, settings)
    settle_available(old.vpc_link_id)
    fidelity.make_vpc_link_v2_inactive(old.vpc_link_id)

    # When a request for that network ensures its link
    state = _ensure(make_request, alb, settings)

    # Then a new link is made, the INACTIVE one is left as it is, and the state says why
    assert state.vpc_link_id != old.vpc_link_id
    assert state.created_by_this_request is True
    assert v2_link(old.vpc_link_id).status == "INACTIVE"
    assert state.note is not None
    assert f"VpcLink {old.vpc_link_id}" in state.note
    assert "INACTIVE" in state.note and "60 days" in state.note


def test_a_link_that_goes_inactive_while_awaited_is_an_inactive_error_not_a_missing_one(
    alb, make_request, settings, fidelity
):
    state = _ensure(make_request, alb, settings)
    settle_available(state.vpc_link_id)
    fidelity.make_vpc_link_v2_inactive(state.vpc_link_id)

    with pytest.raises(VpcLinkInactive) as raised:
        vpc_links.check_vpc_link(state, settings=settings)

    assert "INACTIVE" in raised.value.message
    assert "traffic" in raised.value.remedy


def test_a_named_inactive_link_is_refused_with_what_to_do(alb, make_request, settings, fidelity):
    state = _ensure(make_request, alb, settings)
    settle_available(state.vpc_link_id)
    fidelity.make_vpc_link_v2_inactive(state.vpc_link_id)

    fields = rejected({"apiName": "p", "vpcLinkId": state.vpc_link_id}, settings)

    rules = " ".join(fields["detail.vpcLinkId"])
    assert f"VpcLink {state.vpc_link_id} is INACTIVE" in rules
    assert "requests through it resume" in rules


def test_a_failed_v2_link_is_reported_with_its_status_message_and_a_v2_remedy(
    network, alb, make_request, settings
):
    # Given a V2 link with a security group that does not exist (AWS makes it FAILED)
    state = _ensure(make_request, alb, settings, security_group_ids=["sg-0123456789abcdef0"])

    with pytest.raises(VpcLinkFailed) as raised:
        vpc_links.check_vpc_link(state, settings=settings)

    assert "The security group 'sg-0123456789abcdef0' does not exist" in raised.value.message
    assert "securityGroupIds" in raised.value.remedy


# --- release -----------------------------------------------------------------------------------
def test_our_unused_v2_link_is_deleted_and_its_claim_released(network, alb, make_request, settings):
    state = _ensure(make_request, alb, settings)
    settle_available(state.vpc_link_id)

    release = vpc_links.release_link(state.vpc_link_id, Turns(settings, "teardown-1"), ignoring=[])

    assert release.state in ("DELETING", "DELETED")
    assert [link for link in v2_links() if link["VpcLinkStatus"] != "DELETING"] == []
    key = LinkKey.of_v2(network.subnet_ids, alb.security_group_ids)
    assert stored(key.item_key) is None


def test_a_v2_link_a_request_uses_is_kept(alb, make_request, settings):
    request = _v2_request(make_request, alb)
    state = vpc_links.ensure_vpc_link(
        request, Turns(settings, request.request_id), started_at=now_iso()
    )
    LEDGER.requests.claim(
        request_id="user-1",
        kind="PROVISION",
        fingerprint="x",
        execution_arn="arn:x",
        ticket_id=None,
        requested_by=None,
    )
    LEDGER.requests.record_progress("user-1", status="SUCCEEDED", message="m",
        resources={"vpcLinkId": state.vpc_link_id},
    )  # fmt: skip

    release = vpc_links.release_link(state.vpc_link_id, Turns(settings, "teardown-1"), ignoring=[])

    assert (release.state, release.reason) == ("KEPT", "still used by user-1")


# --- the integration -------------------------------------------------------------------------
def _integrations(apigw: Any, rest_api_id: str) -> dict[str, dict[str, Any]]:
    found = {}
    for resource in apigw.get_resources(restApiId=rest_api_id)["items"]:
        for method in resource.get("resourceMethods") or {}:
            found[f"{method} {resource['path']}"] = apigw.get_integration(
                restApiId=rest_api_id, resourceId=resource["id"], httpMethod=method
            )
    return found


def test_a_v2_api_names_the_load_balancer_as_its_integration_target(
    alb, apigw, make_request, settings
):
    request = _v2_request(make_request, alb, proxy_all_paths=True)

    api = rest_apis.create_api(request, Turns(settings, request.request_id))

    integrations = _integrations(apigw, api.rest_api_id)
    assert set(integrations) == {"GET /", "ANY /{proxy+}"}
    for integration in integrations.values():
        assert integration["type"] == "HTTP_PROXY"
        assert integration["connectionType"] == "VPC_LINK"
        assert integration["connectionId"] == STAGE_LINK
        assert integration["integrationTarget"] == alb.arn


def test_a_v1_api_has_no_integration_target(network, apigw, make_request, settings):
    request = make_request()
    api = rest_apis.create_api(request, Turns(settings, request.request_id))

    (integration,) = _integrations(apigw, api.rest_api_id).values()
    assert "integrationTarget" not in integration


def provision_v2(make_request: Any, alb: SampleAlb, settings: Any, **overrides: Any) -> Any:
    request = _v2_request(make_request, alb, **overrides)
    link = vpc_links.ensure_vpc_link(
        request, Turns(settings, request.request_id), started_at=now_iso()
    )
    settle_available(link.vpc_link_id)
    link = msgspec.structs.replace(link, **{"status": "AVAILABLE"})
    api = rest_apis.create_api(request, Turns(settings, request.request_id))
    rest_apis.deploy_api(request, link, api, Turns(settings, request.request_id))
    return request, link, api


def test_a_v2_api_is_deployed_with_its_link_in_the_stage_variable(
    alb, apigw, make_request, settings
):
    _, link, api = provision_v2(make_request, alb, settings)

    stage = apigw.get_stage(restApiId=api.rest_api_id, stageName="prod")
    assert stage["variables"] == {"vpcLinkId": link.vpc_link_id}


# --- relink across versions --------------------------------------------------------------------
def _relink_request(provisioned: Any, link: VpcLinkState, old: str, target: str | None) -> Any:
    request, _, api = provisioned
    return RelinkRequest(
        request_id=f"relink-{uuid.uuid4().hex[:8]}",
        api_name=request.api_name,
        rest_api_id=api.rest_api_id,
        stage_name="prod",
        old_vpc_link_id=old,
        provisioned_by=request.request_id,
        nlb_arn=target,
        vpc_link_id=None,
        timeout_seconds=900,
        delete_old_link=False,
        vpc_link_version=link.vpc_link_version,
    )


def test_a_relink_from_v1_to_v2_changes_the_integration_target_and_redeploys(
    network, alb, apigw, provision, make_request, settings
):
    # Given an API on a V1 link to the NLB
    v1 = provision()
    deployments_before = apigw.get_deployments(restApiId=v1.rest_api_id)["items"]
    # ... and an AVAILABLE V2 link for the ALB
    v2 = _ensure(make_request, alb, settings)
    settle_available(v2.vpc_link_id)
    v2 = msgspec.structs.replace(v2, **{"status": "AVAILABLE"})

    # When the stage is relinked to the V2 link
    relinking = _relink_request((v1.request, None, _api(v1)), v2, v1.vpc_link_id, alb.arn)
    said = relink.relink_stage(relinking, v2, Turns(settings, relinking.request_id)).news

    # Then the integrations name the ALB, the stage has a new deployment and the new link
    (integration,) = _integrations(apigw, v1.rest_api_id).values()
    assert integration["integrationTarget"] == alb.arn
    stage = apigw.get_stage(restApiId=v1.rest_api_id, stageName="prod")
    assert stage["variables"]["vpcLinkId"] == v2.vpc_link_id
    assert stage["deploymentId"] not in {d["id"] for d in deployments_before}
    assert stage["tags"][REQUEST_ID_TAG] == v1.request.request_id  # the stage kept its tags
    # ... and the notification will say what changed
    assert said is not None
    assert "from a V1 link to a V2 link" in said
    assert f"integrationTarget {alb.arn}" in said
    assert "GET /" in said


def test_a_relink_from_v2_back_to_v1_removes_the_integration_target(
    network, alb, apigw, make_request, settings, link_status
):
    # Given an API on a V2 link
    provisioned = provision_v2(make_request, alb, settings)
    _, v2, api = provisioned
    # ... and an AVAILABLE V1 link to the NLB
    request = make_request()
    v1 = vpc_links.ensure_vpc_link(
        request, Turns(settings, request.request_id), started_at=now_iso()
    )
    link_status(v1.vpc_link_id, "AVAILABLE", "Your vpc link is ready for use")
    v1 = msgspec.structs.replace(v1, **{"status": "AVAILABLE"})

    relinking = _relink_request(provisioned, v1, v2.vpc_link_id, network.nlb_arn)
    said = relink.relink_stage(relinking, v1, Turns(settings, relinking.request_id)).news

    (integration,) = _integrations(apigw, api.rest_api_id).values()
    assert "integrationTarget" not in integration
    assert apigw.get_stage(restApiId=api.rest_api_id, stageName="prod")["variables"] == {
        "vpcLinkId": v1.vpc_link_id
    }
    assert said is not None and "from a V2 link to a V1 link" in said


def test_a_relink_from_v1_to_v1_only_changes_the_stage_variable(
    network, second_nlb_arn, apigw, provision, make_request, settings, link_status
):
    v1 = provision()
    deployment = apigw.get_stage(restApiId=v1.rest_api_id, stageName="prod")["deploymentId"]
    request = make_request(nlb_arn=second_nlb_arn)
    other = vpc_links.ensure_vpc_link(
        request, Turns(settings, request.request_id), started_at=now_iso()
    )
    link_status(other.vpc_link_id, "AVAILABLE", "Your vpc link is ready for use")
    other = msgspec.structs.replace(other, **{"status": "AVAILABLE"})

    relinking = _relink_request((v1.request, None, _api(v1)), other, v1.vpc_link_id, second_nlb_arn)
    said = relink.relink_stage(relinking, other, Turns(settings, relinking.request_id)).news

    stage = apigw.get_stage(restApiId=v1.rest_api_id, stageName="prod")
    assert (stage["deploymentId"], stage["variables"]["vpcLinkId"]) == (
        deployment,
        other.vpc_link_id,
    )
    assert said is None


def test_a_relink_validates_the_v2_fields_like_a_provisioning(alb, provision, settings):
    api = provision()
    event = eventbridge_event(
        {"restApiId": api.rest_api_id, "targetArn": alb.arn},
        detail_type="PrivateApiRelinkRequested",
    )

    request = validation.validate_relink(event, settings=settings)

    assert request.vpc_link_version is VpcLinkVersion.V2
    assert request.nlb_arn == alb.arn
    assert request.security_group_ids == alb.security_group_ids
    bad = eventbridge_event(
        {"restApiId": api.rest_api_id, "targetArn": alb.arn, "vpcLinkVersion": "V1"},
        detail_type="PrivateApiRelinkRequested",
    )
    with pytest.raises(InvalidRequest) as raised:
        validation.validate_relink(bad, settings=settings)
    assert [f.field for f in raised.value.fields] == ["detail.vpcLinkVersion"]


def _api(provisioned: Any) -> Any:
    from provisioner.contract.payloads.provisioning import ApiState

    return ApiState(
        rest_api_id=provisioned.rest_api_id, root_resource_id="", created_by_this_request=True
    )


# --- IAM (template.yaml) -----------------------------------------------------------------------
def _statements(resources: dict[str, Any], function: str) -> list[dict[str, Any]]:
    """The inline statements and those of the managed policies a function references."""
    found = []
    for policy in resources[function]["Properties"]["Policies"]:
        if isinstance(policy, dict) and "Ref" in policy:
            document = resources[policy["Ref"]]["Properties"]["PolicyDocument"]
            found += document["Statement"]
        elif isinstance(policy, dict) and "Statement" in policy:
            found += policy["Statement"]
    return found


def _actions(statement: dict[str, Any]) -> list[str]:
    actions = statement["Action"]
    return [actions] if isinstance(actions, str) else list(actions)


def test_links_v2_get_least_privilege_permissions():
    from emulator.engine.stack import REPO_ROOT, load_template

    template = load_template(REPO_ROOT / "template.yaml")
    resources = template["Resources"]
    assert template["Parameters"]["DefaultNlbVpcLinkVersion"]["Default"] == "V1"

    # The service-linked role API Gateway makes V2 links' interfaces with: only that role,
    # only for API Gateway, only for the function that creates links
    creators = {
        name
        for name, resource in resources.items()
        if resource["Type"] == "AWS::Serverless::Function"
        for statement in _statements(resources, name)
        if "iam:CreateServiceLinkedRole" in _actions(statement)
    }
    assert creators == {"EnsureVpcLinkFunction"}
    (role,) = [
        s
        for s in _statements(resources, "EnsureVpcLinkFunction")
        if "iam:CreateServiceLinkedRole" in _actions(s)
    ]
    assert role["Resource"]["Fn::Sub"].endswith(
        ":role/aws-service-role/ops.apigateway.amazonaws.com/AWSServiceRoleForAPIGateway"
    )
    assert role["Condition"] == {
        "StringEquals": {"iam:AWSServiceName": "ops.apigateway.amazonaws.com"}
    }
    # ... no function may make network interfaces itself (the service-linked role does)
    every_action = {
        action
        for resource in resources.values()
        if resource["Type"] in ("AWS::Serverless::Function", "AWS::IAM::ManagedPolicy")
        for statement in (
            resource["Properties"].get("PolicyDocument", {}).get("Statement", [])
            + [
                s
                for p in resource["Properties"].get("Policies", [])
                if isinstance(p, dict) and "Statement" in p
                for s in p["Statement"]
            ]
        )
        for action in _actions(statement)
    }
    assert not {a for a in every_action if "NetworkInterface" in a}
    # ... and both validations can see a V2 link's subnets and security groups
    for function in ("ValidateRequestFunction", "ValidateRelinkFunction"):
        actions = {a for s in _statements(resources, function) for a in _actions(s)}
        assert {"ec2:DescribeSubnets", "ec2:DescribeSecurityGroups"} <= actions
