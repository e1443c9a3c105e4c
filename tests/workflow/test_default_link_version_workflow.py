"""An operator switches the account's default to VPC links V2 (issue 13): the stack deployed
with ``DefaultNlbVpcLinkVersion=V2`` gives a request for an NLB a V2 link unless it asks for V1.

This module's embedded AWS is deployed with that parameter (the others' with the default, V1).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from emulator.engine.runtime import EmbeddedAws
from tests.workflow.conftest import LINK_DELETING_SECONDS, LINK_PENDING_SECONDS, Provisioner

pytestmark = pytest.mark.workflow


@pytest.fixture(scope="module")
def embedded_aws() -> Iterator[EmbeddedAws]:
    with EmbeddedAws(
        parameters={"DefaultNlbVpcLinkVersion": "V2"},
        vpc_link_pending_seconds=LINK_PENDING_SECONDS,
        vpc_link_deleting_seconds=LINK_DELETING_SECONDS,
        time_scale="auto",
        ami_catalogue=False,
        rate_limits=False,
    ) as aws:
        yield aws


def provisioned(provisioner: Provisioner, **detail: Any) -> dict[str, Any]:
    request_id = provisioner.put({"apiName": "orders", **detail}, detail_type="PrivateApiRequested")
    final = provisioner.notifications(request_id)[-1]
    assert final.status == "SUCCEEDED", final.body
    return final.body


def root_integration(provisioner: Provisioner, rest_api_id: str) -> dict[str, Any]:
    apigateway = provisioner.apigateway
    root = next(
        r for r in apigateway.get_resources(restApiId=rest_api_id)["items"] if r["path"] == "/"
    )
    return dict(
        apigateway.get_integration(restApiId=rest_api_id, resourceId=root["id"], httpMethod="GET")
    )


def test_the_stack_parameter_reaches_every_function(embedded_aws: EmbeddedAws):
    assert embedded_aws.stack is not None
    for function in embedded_aws.stack.functions.values():
        assert function.environment["PROVISIONER_DEFAULT_NLB_VPC_LINK_VERSION"] == "V2"


def test_an_nlb_gets_a_v2_link_when_the_stack_says_so(provisioner: Provisioner):
    nlb = provisioner.network.nlb_arn

    final = provisioned(provisioner, nlbArn=nlb)

    (link,) = provisioner.aws.client("apigatewayv2").get_vpc_links()["Items"]
    assert final["vpcLinkId"] == link["VpcLinkId"]
    assert provisioner.vpc_links() == []  # no V1 link
    assert root_integration(provisioner, final["restApiId"])["integrationTarget"] == nlb


def test_a_request_may_still_ask_for_a_v1_link(provisioner: Provisioner):
    nlb = provisioner.network.nlb_arn

    final = provisioned(provisioner, nlbArn=nlb, vpcLinkVersion="V1")

    (link,) = provisioner.vpc_links()
    assert (final["vpcLinkId"], link["targetArns"]) == (link["id"], [nlb])
    assert provisioner.aws.client("apigatewayv2").get_vpc_links()["Items"] == []
    assert "integrationTarget" not in root_integration(provisioner, final["restApiId"])
