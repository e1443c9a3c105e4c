"""Fixtures for the emulator's own tests: an EmbeddedAws with a small test-only stack."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from emulator.runtime import EmbeddedAws

STUB_TEMPLATE = Path(__file__).parent / "fixtures" / "stub_stack" / "template.yaml"


@pytest.fixture(scope="module")
def stub_aws() -> Iterator[EmbeddedAws]:
    """One embedded AWS per test module (moto's state is process-global)."""
    with EmbeddedAws(
        template=STUB_TEMPLATE,
        stack_name="stub",
        parameters={"Greeting": "hi"},
        vpc_link_pending_seconds=0.2,
        vpc_link_deleting_seconds=0.2,
    ) as aws:
        yield aws


@pytest.fixture
def aws(stub_aws: EmbeddedAws) -> EmbeddedAws:
    """The module's embedded AWS, wiped and redeployed for this test."""
    stub_aws.reset()
    return stub_aws
