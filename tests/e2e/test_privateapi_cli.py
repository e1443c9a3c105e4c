"""The people's CLI (``python -m privateapi``) against the running embedded AWS, as a subprocess.

Given ``make local`` running, a person requests an API and follows it, reads its status and
history from the ledger, lists requests, and tears the API down.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid

import pytest

from privateapi.network import create_sample_alb
from provisioner.storage.keys import LinkKey
from tests.e2e.conftest import REPO_ROOT, LocalServer

pytestmark = pytest.mark.e2e


def run_cli(server: LocalServer, *args: str) -> subprocess.CompletedProcess[str]:
    environment = {
        **os.environ,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ENDPOINT_URL": server.endpoint_url,
        "PRIVATEAPI_TOPIC_ARN": server.requester.topic_arn or "",
        "PRIVATEAPI_LEDGER_TABLE": server.requester.ledger_table or "",
    }
    return subprocess.run(
        [sys.executable, "-m", "privateapi", *args, "--timeout", "60"],
        cwd=REPO_ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_request_follow_status_list_and_teardown_from_the_cli(local_server: LocalServer):
    # Given an NLB
    network = local_server.requester.create_network(f"cli-{uuid.uuid4().hex[:6]}")
    request_id = f"cli-{uuid.uuid4().hex[:8]}"

    # When a person requests an API and follows it
    requested = run_cli(
        local_server, "request", "--api-name", "from-cli", "--nlb-arn", network.nlb_arn,
        "--request-id", request_id, "--ticket-id", "OPS-1", "--follow",
    )  # fmt: skip

    # Then they see each milestone and the outcome, and the exit status says it worked
    assert requested.returncode == 0, requested.stdout + requested.stderr
    assert "ACCEPTED" in requested.stdout
    assert "SUCCEEDED" in requested.stdout
    assert "execute-api.us-east-1.amazonaws.com/prod" in requested.stdout

    # ... the ledger tells its status, resources and history
    status = run_cli(local_server, "status", request_id)
    assert status.returncode == 0, status.stderr
    assert f"{request_id}  PROVISION  SUCCEEDED" in status.stdout
    assert "restApiId" in status.stdout and "vpcLinkId" in status.stdout
    assert "OPS-1" in status.stdout
    listed = run_cli(local_server, "list")
    assert listed.returncode == 0, listed.stderr
    assert request_id in listed.stdout
    # ... and not the ledger's claims on links (storage.keys.LinkKey: NLB#<arn>, this request's
    # among them), whichever NLB they are for
    assert LinkKey.of_nlb(network.nlb_arn).pk.startswith("NLB#")
    assert "NLB#" not in listed.stdout

    # When they tear it down
    teardown = run_cli(local_server, "teardown", "--target-request-id", request_id, "--follow")

    # Then it is gone, and the ledger says so
    assert teardown.returncode == 0, teardown.stdout + teardown.stderr
    assert "API_DELETED" in teardown.stdout
    assert local_server.requester.tagged_with(request_id) == []
    after = run_cli(local_server, "status", request_id)
    assert f"{request_id}  PROVISION  DELETED" in after.stdout


def test_a_rejected_request_exits_non_zero_and_names_the_field(local_server: LocalServer):
    rejected = run_cli(local_server, "request", "--api-name", "x", "--follow")
    assert rejected.returncode == 1
    assert "REJECTED" in rejected.stdout
    assert "detail.nlbArn" in rejected.stdout


def test_an_alb_is_requested_from_the_cli_with_a_v2_link(local_server: LocalServer):
    # Given an internal ALB
    network = local_server.requester.create_network(f"cli-alb-{uuid.uuid4().hex[:6]}")
    alb = create_sample_alb(
        local_server.client("ec2"), local_server.client("elbv2"), network, "cli-alb"
    )
    request_id = f"cli-alb-{uuid.uuid4().hex[:8]}"

    # When a person requests an API for it by --target-arn, asking for a V2 link
    requested = run_cli(
        local_server, "request", "--api-name", "alb-from-cli", "--target-arn", alb.arn,
        "--vpc-link-version", "V2", "--request-id", request_id, "--follow",
    )  # fmt: skip

    # Then it succeeds through a V2 link
    assert requested.returncode == 0, requested.stdout + requested.stderr
    assert "VPC link V2" in requested.stdout
    assert "SUCCEEDED" in requested.stdout
