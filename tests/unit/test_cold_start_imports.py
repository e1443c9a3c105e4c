"""What a handler's cold start must not import (make bench (a) measures what it costs)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

REPO = Path(__file__).resolve().parents[2]
HANDLERS = sorted(path.parent.name for path in (REPO / "functions").glob("*/app.py"))

# Powertools Tracer and the X-Ray SDK: Tracing Active needs neither (runtime.observability).
# The Parser's event models: our own models validate the workflow's payloads, the edge imports
# the Parser when a request arrives (domain.validation). Powertools' event handler and batch
# utility: every resolver, asyncio and every event source's data class, for one route
# (tickets.intake) and one queue (runtime.batch).
NOT_AT_INIT = (
    "aws_xray_sdk",
    "aws_lambda_powertools.utilities.parser",
    "aws_lambda_powertools.event_handler",
    "aws_lambda_powertools.utilities.batch",
)


def _modules_after_import(handler: str) -> list[str]:
    """The modules loaded by importing ``functions/<handler>/app.py`` in a fresh interpreter,
    as the Lambda runtime does (the layer on the path, the function's folder the cwd)."""
    answer = subprocess.run(
        [sys.executable, "-c", "import json, sys, app; print(json.dumps(sorted(sys.modules)))"],
        cwd=REPO / "functions" / handler,
        env={**os.environ, "PYTHONPATH": str(REPO / "layers")},
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    modules: list[str] = json.loads(answer.stdout)
    return modules


@pytest.mark.parametrize("handler", HANDLERS)
def test_a_handler_imports_none_of_what_its_cold_start_does_without(handler: str) -> None:
    # When the handler module is imported, as at a cold start
    modules = _modules_after_import(handler)

    # Then none of those was loaded
    loaded = [m for m in modules if m.startswith(NOT_AT_INIT)]
    assert loaded == []
