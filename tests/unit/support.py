"""Helpers shared by the unit tests (fixtures live in conftest.py)."""

from __future__ import annotations

import importlib.util
import os
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import ModuleType
from typing import Any

from emulator import fidelity

ACCOUNT = "123456789012"
REGION = "us-east-1"
STACK_NAME = "private-api-provisioner-test"
LEDGER_TABLE = f"{STACK_NAME}-ledger"
EXECUTION_ARN = f"arn:aws:states:{REGION}:{ACCOUNT}:execution:provision:run-1"

FUNCTION_ENVIRONMENT = {
    "PROVISIONER_STACK_NAME": STACK_NAME,
    "PROVISIONER_POLL_INTERVAL_SECONDS": "15",
    "PROVISIONER_LINK_TIMEOUT_SECONDS": "900",
    "PROVISIONER_DEFAULT_STAGE_NAME": "prod",
    "PROVISIONER_LEDGER_TABLE": LEDGER_TABLE,
    # Like API Gateway's rate limits (off in the ``aws`` fixture): the tests about pacing
    # turn it on (test_pacing.py); the workflow tests run the template's default, Enabled.
    "PROVISIONER_API_GATEWAY_PACING": "Disabled",
    "POWERTOOLS_SERVICE_NAME": "private-api-provisioner",
    "POWERTOOLS_METRICS_NAMESPACE": "PrivateApiProvisionerTests",
    "POWERTOOLS_TRACE_DISABLED": "true",
}

# Powertools reads its variables when ``provisioner.runtime.observability`` is imported (at
# collection time, before any fixture runs), so they must be in place before the test modules
# import it.
for _name, _value in FUNCTION_ENVIRONMENT.items():
    if _name.startswith("POWERTOOLS_"):
        os.environ.setdefault(_name, _value)


# The embedded AWS's corrections to moto (emulator/fidelity), installed for every unit test:
# one mode, in which moto behaves as AWS does where it matters (README, "Running it without AWS").
FIDELITY = fidelity


@dataclass(frozen=True)
class Network:
    vpc_id: str
    subnet_ids: list[str]
    nlb_arn: str
    nlb_dns_name: str
    alb_arn: str


@dataclass(frozen=True)
class AuthorizerFunctions:
    permitted: str  # its policy lets API Gateway invoke it
    unpermitted: str


@dataclass(frozen=True)
class Provisioned:
    """What a provisioning left behind: its request, its link, its API and its stage."""

    request: Any  # provisioner.contract.payloads.provisioning.ProvisionRequest
    vpc_link_id: str
    rest_api_id: str
    stage_name: str


@dataclass
class Inventory:
    vpc_link_ids: list[str] = field(default_factory=list)
    rest_api_ids: list[str] = field(default_factory=list)


def _link_model(vpc_link_id: str) -> Any:
    from moto.apigateway.models import apigateway_backends

    return apigateway_backends[ACCOUNT][REGION].vpc_links[vpc_link_id]


def force_link_status(vpc_link_id: str, status: str, status_message: str | None = None) -> None:
    """Put a link in ``status`` as AWS would report it (moto's own links are AVAILABLE at
    once and have no ``statusMessage``; fidelity settles PENDING links unless held)."""
    model = _link_model(vpc_link_id)
    if status == "PENDING":
        FIDELITY.hold_vpc_links(model.target_arns[0])
    model.status = status
    model.status_message = status_message
    plain_to_json = type(model).to_json

    def to_json() -> dict[str, Any]:
        body = plain_to_json(model)
        if model.status_message is not None:
            body["statusMessage"] = model.status_message
        return body

    model.to_json = to_json  # moto 5.2's VpcLink.to_json has no statusMessage


def eventbridge_event(
    detail: Any, *, event_id: str | None = None, detail_type: str = "PrivateApiRequested"
) -> dict[str, Any]:
    return {
        "version": "0",
        "id": event_id or str(uuid.uuid4()),
        "detail-type": detail_type,
        "source": "tests",
        "account": ACCOUNT,
        "time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": REGION,
        "resources": [],
        "detail": detail,
    }


class FakeLambdaContext:
    function_name = "x"
    function_version = "$LATEST"
    invoked_function_arn = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:x"
    memory_limit_in_mb = 256
    aws_request_id = "00000000-0000-0000-0000-000000000000"
    log_group_name = "/aws/lambda/x"
    log_stream_name = "2024/01/01/[$LATEST]0123456789abcdef"

    def get_remaining_time_in_millis(self) -> int:
        return 30_000


class FrozenClock:
    """Stands in for ``datetime`` in a module that calls ``datetime.now(UTC)``: the time is
    whatever the test says, and moves only when the test moves it."""

    def __init__(self, at: datetime) -> None:
        self.at = at

    def now(self, tz: Any = None) -> datetime:
        return self.at

    fromisoformat = staticmethod(datetime.fromisoformat)

    def advance(self, by: timedelta) -> None:
        self.at += by


def hold_link_deleting(vpc_link_id: str) -> None:
    """Leave a link DELETING, as AWS does for a while after DeleteVpcLink (the unit tests'
    fidelity would drop it on the next read; the ``aws`` fixture restores its timing)."""
    FIDELITY.set_vpc_link_timing(deleting_seconds=3600)
    force_link_status(vpc_link_id, "DELETING", "Your vpc link is being deleted")


def stored(key: dict[str, str]) -> dict[str, Any] | None:
    """A ledger item exactly as stored (what the CLI and people reading the table see)."""
    from provisioner.storage.table import Table

    return Table(LEDGER_TABLE).get(key)


def stored_request(request_id: str) -> dict[str, Any] | None:
    """A request's ledger item exactly as stored."""
    from provisioner.storage.keys import request_key

    return stored(request_key(request_id))


FUNCTIONS = Path(__file__).resolve().parents[2] / "functions"


def load_handler(name: str) -> ModuleType:
    """``functions/<name>/app.py`` under a name of its own (every handler is called app.py)."""
    spec = importlib.util.spec_from_file_location(
        f"unit_handler_{name}", FUNCTIONS / name / "app.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
