"""``python -m emulator demo`` (``make demo``) runs from nothing to a private API (AWS_IAM by
default), shows the failure scenarios (an un-tagged NLB among them), a private API to an ALB
through a VPC link V2, and the ticket scenarios, and exits 0 when every check holds (run here on
the ``auto`` clock: the same scenarios, without the real-time waits)."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

from tests.e2e.conftest import REPO_ROOT, free_port

pytestmark = pytest.mark.e2e

DEMO_TIMEOUT_SECONDS = 90


def test_the_demo_provisions_a_private_api_and_passes_every_check():
    # Given a free port
    env = {**os.environ, "LOCAL_PORT": str(free_port())}

    # When
    finished = subprocess.run(
        [sys.executable, "-m", "emulator", "demo", "--time-scale", "auto"],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=DEMO_TIMEOUT_SECONDS,
    )
    # Then
    output = finished.stdout + finished.stderr
    assert finished.returncode == 0, output
    assert re.search(r"^\s+VPC link\s+\w+$", finished.stdout, re.MULTILINE), output
    invoke_url = r"^\s+Invoke URL\s+https://\w+\.execute-api\.us-east-1\.amazonaws\.com/prod$"
    assert re.search(invoke_url, finished.stdout, re.MULTILINE), output
    alb_target = (
        r"^\s+Integration target\s+arn:aws:elasticloadbalancing:us-east-1:\d{12}:"
        r"loadbalancer/app/payments-service-alb/[0-9a-f]{16}$"
    )
    assert re.search(alb_target, finished.stdout, re.MULTILINE), output
    assert re.search(r"^\s+Link version\s+V2, AVAILABLE$", finished.stdout, re.MULTILINE), output
    assert "[FAIL]" not in finished.stdout
    assert "\x1b[" not in finished.stdout  # not a terminal: plain lines
    for status in ("SUCCEEDED", "REJECTED", "FAILED"):
        assert f"the request ended {status}" in finished.stdout
    # secure by default: an AWS_IAM API, and an un-tagged NLB refused
    assert re.search(r"^\s+Authorization\s+AWS_IAM$", finished.stdout, re.MULTILINE), output
    assert "GET / is authorized with AWS_IAM" in finished.stdout
    assert "error code ExposureNotAllowed" in finished.stdout
    # requests from tickets: the Jira ticket hears every step and is moved; GitHub's is told
    assert "ticket desk: jira OPS-42 transition" in finished.stdout, output
    assert "OPS-42 was moved to Done" in finished.stdout
    assert "a redelivery is answered 200 as a duplicate, not run twice" in finished.stdout
    assert "the issue is told which of its own fields is wrong" in finished.stdout
