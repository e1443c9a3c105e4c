"""What a handler's cold start must not import (make bench (a) measures what it costs)."""

from __future__ import annotations

import functools
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
# the Parser when a request arrives (contract.events). Powertools' event handler and batch
# utility: every resolver, asyncio and every event source's data class, for one route
# (tickets.intake) and one queue (runtime.batch).
NOT_AT_INIT = (
    "aws_xray_sdk",
    "aws_lambda_powertools.utilities.parser",
    "aws_lambda_powertools.event_handler",
    "aws_lambda_powertools.utilities.batch",
)


@functools.cache
def _after_import(handler: str) -> dict[str, list[str]]:
    """What is loaded once ``functions/<handler>/app.py`` is imported in a fresh interpreter,
    as the Lambda runtime does (the layer on the path, the function's folder the cwd): the
    modules, and every dataclass our layer's modules define (``module.Class``). One
    interpreter per handler, whose answer the tests below share."""
    code = (
        "import dataclasses, json, sys, app\n"
        "ours = [(name, module) for name, module in list(sys.modules.items())"
        " if name.startswith('provisioner.')]\n"
        "print(json.dumps({'modules': sorted(sys.modules), 'dataclasses': sorted("
        "f'{name}.{attr}' for name, module in ours for attr, value in vars(module).items()"
        " if isinstance(value, type) and value.__module__ == name"
        " and dataclasses.is_dataclass(value))}))"
    )
    answer = subprocess.run(
        [sys.executable, "-c", code],
        cwd=REPO / "functions" / handler,
        env={**os.environ, "PYTHONPATH": str(REPO / "layers")},
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    loaded: dict[str, list[str]] = json.loads(answer.stdout)
    return loaded


def _modules_after_import(handler: str) -> list[str]:
    """The modules loaded by importing the handler module."""
    return _after_import(handler)["modules"]


@pytest.mark.parametrize("handler", HANDLERS)
def test_a_handler_imports_none_of_what_its_cold_start_does_without(handler: str) -> None:
    # When the handler module is imported, as at a cold start
    modules = _modules_after_import(handler)

    # Then none of those was loaded
    loaded = [m for m in modules if m.startswith(NOT_AT_INIT)]
    assert loaded == []


# The records of the workflow's adapters, ledger and domain are NamedTuples: a frozen dataclass
# costs a cold start about 4.8 M instructions to define on Python 3.13 (its methods are
# generated and compiled), a NamedTuple about 1.5 M. A rollback's report is built up as it
# goes (mutable), so it stays a dataclass.
WORKFLOW_HANDLERS = [handler for handler in HANDLERS if not handler.startswith("ticket_")]
DATACLASSES_AT_INIT = {"provisioner.domain.rollback.RollbackReport"}


def _dataclasses_after_import(handler: str) -> set[str]:
    """Every dataclass our layer's modules define once the handler module is imported."""
    return set(_after_import(handler)["dataclasses"])


@pytest.mark.parametrize("handler", WORKFLOW_HANDLERS)
def test_a_workflow_handler_defines_its_records_without_dataclasses(handler: str) -> None:
    # When the handler module is imported, as at a cold start
    defined = _dataclasses_after_import(handler)

    # Then no dataclass is defined but the rollback's report
    assert defined <= DATACLASSES_AT_INIT


# Only the validate tasks read a request event: the request contract's detail models and the
# validation (the load balancer, network and security checks with their adapters) are theirs
# (and the ticket intake's, which maps tickets onto the detail models). Imported by every
# workflow function, they cost each about 0.02x of the baseline (make bench (a)).
VALIDATE_HANDLERS = {"validate_request", "validate_teardown", "validate_relink"}
THE_VALIDATE_TASKS_OWN = (
    "provisioner.tasks.validate",
    "provisioner.domain.validation",
    "provisioner.domain.security",
    "provisioner.contract.details",
    "provisioner.aws.elbv2",
    "provisioner.aws.ec2",
    "provisioner.aws.authorizers",
)


@pytest.mark.parametrize(
    "handler", [handler for handler in WORKFLOW_HANDLERS if handler not in VALIDATE_HANDLERS]
)
def test_a_workflow_handler_past_validation_imports_no_request_validation(handler: str) -> None:
    # When the handler module of a task after Validate is imported, as at a cold start
    modules = _modules_after_import(handler)

    # Then neither the request contract's detail models nor the validation was loaded, nor
    # the reading of a request event, but by the rollback (it answers a request that failed
    # validation from its event)
    loaded = [m for m in modules if m in THE_VALIDATE_TASKS_OWN]
    assert loaded == []
    reads_events = handler in {"rollback_request", "answer_stopped_execution"}
    assert ("provisioner.contract.events" in modules) == reads_events


# pydantic costs a cold start about 0.2x of the baseline (make bench (a)): only the validate
# tasks, which check a requester's detail against the request contract's rules and answer
# with its messages, import it. The workflow's payloads, the settings, the notifications and
# the ticket mapping and credentials are msgspec structs (contract.wire).
@pytest.mark.parametrize("handler", HANDLERS)
def test_only_the_validate_functions_import_pydantic(handler: str) -> None:
    # When the handler module is imported, as at a cold start
    modules = _modules_after_import(handler)

    # Then pydantic was loaded if and only if it is a validate function's
    loaded = [m for m in modules if m == "pydantic" or m.startswith("pydantic.")]
    assert bool(loaded) == (handler in VALIDATE_HANDLERS), loaded[:3]


# The payload models are split by workflow (contract/payloads/<workflow>.py): a function
# defines its own workflow's models, beside the shared ones, not every workflow's.
OWN_PAYLOADS = {
    "create_api": {"provisioning"},
    "deploy_api": {"provisioning"},
    "relink_stage": {"relink", "provisioning"},  # it moves the stage as provisioning made it
    "delete_api": {"teardown"},
    "release_vpc_links": {"teardown"},
    "rollback_request": {"rollback"},
    "answer_stopped_execution": {"rollback"},
    "ensure_vpc_link": set(),
    "get_vpc_link_status": set(),
}


@pytest.mark.parametrize("handler", sorted(OWN_PAYLOADS))
def test_a_workflow_handler_defines_only_its_own_workflows_payloads(handler: str) -> None:
    # When the handler module is imported, as at a cold start
    modules = _modules_after_import(handler)

    # Then of the workflows' payload modules, only its own were loaded
    prefix = "provisioner.contract.payloads."
    loaded = {m.removeprefix(prefix) for m in modules if m.startswith(prefix)}
    assert loaded == OWN_PAYLOADS[handler]
