"""A stack deployed with the secure defaults turned off (AllowUnauthenticatedApis=true,
RequireExposureTag=false, for accounts where the bus policy is control enough): what the
default stack refuses is provisioned."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from emulator.engine.runtime import EmbeddedAws
from privateapi.network import create_sample_network
from tests.workflow.conftest import LINK_DELETING_SECONDS, LINK_PENDING_SECONDS, Provisioner

pytestmark = pytest.mark.workflow


@pytest.fixture(scope="module")
def embedded_aws() -> Iterator[EmbeddedAws]:
    with EmbeddedAws(
        parameters={"AllowUnauthenticatedApis": "true", "RequireExposureTag": "false"},
        vpc_link_pending_seconds=LINK_PENDING_SECONDS,
        vpc_link_deleting_seconds=LINK_DELETING_SECONDS,
        time_scale="auto",
        ami_catalogue=False,
        rate_limits=False,
    ) as aws:
        yield aws


def test_an_untagged_nlb_and_an_unauthenticated_api_are_provisioned(provisioner: Provisioner):
    untagged = create_sample_network(
        provisioner.aws.client("ec2"), provisioner.aws.client("elbv2"), "legacy", expose=False
    )

    request_id = provisioner.request(apiName="open", nlbArn=untagged.nlb_arn, authorization="NONE")
    final = provisioner.notifications(request_id)[-1].body

    assert final["status"] == "SUCCEEDED"
    assert final["authorization"] == "NONE"
    assert final["howToCall"].startswith("No authentication")
    resources = provisioner.apigateway.get_resources(restApiId=final["restApiId"])["items"]
    root = next(r for r in resources if r["path"] == "/")
    method = provisioner.apigateway.get_method(
        restApiId=final["restApiId"], resourceId=root["id"], httpMethod="GET"
    )
    assert method["authorizationType"] == "NONE"
