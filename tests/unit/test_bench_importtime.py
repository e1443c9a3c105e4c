"""make bench (a)'s "why" table: a handler is charged only what it adds to the baseline."""

from __future__ import annotations

import pytest

from bench import importtime

pytestmark = pytest.mark.unit

# What `python -X importtime -c "import app"` prints (children before their parent): our
# clients module happens to import boto3 first, and payloads imports pydantic.
_HANDLER = """\
import time: self [us] | cumulative | imported package
import time:       900 |        900 | encodings
import time:       300 |        300 |         botocore.exceptions
import time:      1000 |       1300 |       botocore
import time:       200 |       1500 |     boto3
import time:        50 |       1550 |   provisioner.aws.clients
import time:       700 |        700 |       pydantic_core
import time:       400 |       1100 |     pydantic
import time:       100 |        100 |       json
import time:       300 |        400 |     pydantic.types
import time:      2000 |       3500 |   provisioner.contract.payloads
import time:        10 |       5060 | app
"""
_BASELINE = frozenset({"boto3", "botocore", "botocore.exceptions", "json"})
_OURS = frozenset({"app", "provisioner"})


def test_the_importer_of_boto3_is_not_charged_for_what_the_baseline_imports() -> None:
    # Given a handler whose first import of boto3 is ours (after the interpreter's start-up)
    lines = importtime.imported_by(importtime.parse(_HANDLER), "app")
    assert "encodings" not in {line.module for line in lines}

    # When its imports are attributed against the baseline's modules
    why = importtime.attribute(lines, _BASELINE, _OURS)

    # Then boto3 is no entry point, and pydantic is charged its own modules only
    assert [(c.importer, c.module, c.added_ms) for c in why.entry_points] == [
        ("provisioner.contract.payloads", "pydantic", 1.1),
        ("provisioner.contract.payloads", "pydantic.types", 0.3),
    ]
    # And what the baseline imports too (json below pydantic.types included) is counted apart
    assert why.shared_ms == pytest.approx(1.6)
    assert why.added_ms == pytest.approx(0.05 + 0.7 + 0.4 + 0.3 + 2.0 + 0.01)
    assert why.own[0] == ("provisioner.contract.payloads", 2.0)
    assert dict(why.packages) == pytest.approx(
        {"provisioner": 2.05, "pydantic_core": 0.7, "pydantic": 0.7, "app": 0.01}
    )
