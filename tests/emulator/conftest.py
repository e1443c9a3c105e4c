"""Fixtures for the emulator's own tests: an EmbeddedAws with a small test-only stack."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from emulator.engine.runtime import EmbeddedAws

STUB_TEMPLATE = Path(__file__).parent / "fixtures" / "stub_stack" / "template.yaml"
LINK_PENDING_SECONDS = 120
LINK_DELETING_SECONDS = 30


@pytest.fixture(scope="module")
def stub_aws() -> Iterator[EmbeddedAws]:
    """One embedded AWS per test module (moto's state is process-global). Its clock stands
    still: a test that needs time to pass steps it (``aws.clock.advance`` or the HTTP
    control), so nothing here depends on how fast the machine is."""
    with EmbeddedAws(
        template=STUB_TEMPLATE,
        stack_name="stub",
        parameters={"Greeting": "hi"},
        vpc_link_pending_seconds=LINK_PENDING_SECONDS,
        vpc_link_deleting_seconds=LINK_DELETING_SECONDS,
        time_scale=0,
        ami_catalogue=False,
        rate_limits=False,  # not about API Gateway's rates
    ) as aws:
        yield aws


@pytest.fixture
def aws(stub_aws: EmbeddedAws) -> EmbeddedAws:
    """The module's embedded AWS, wiped and redeployed for this test."""
    stub_aws.reset()
    return stub_aws
