"""The functions' configuration, read from the environment the template gives them.

Read when a handler runs, never at import time, so tests and the embedded runtime can give
each function its own environment.
"""

import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Annotated, Literal, Self

import msgspec

if TYPE_CHECKING:
    from provisioner.storage.ledger import Ledger

# A switch's words (pydantic's for a boolean, and a template parameter's Enabled/Disabled)
_SWITCH_WORDS = {word: "true" for word in ("true", "1", "yes", "y", "on", "t", "enabled")} | {
    word: "false" for word in ("false", "0", "no", "n", "off", "f", "disabled")
}
# Read from the function's ARN, not from its environment.
_FROM_ARN = ("account", "region")

Positive = Annotated[int, msgspec.Meta(ge=1)]
Named = Annotated[str, msgspec.Meta(min_length=1)]


def _variable(name: str) -> str:
    """``stack_name`` is read from PROVISIONER_STACK_NAME."""
    return name if name in _FROM_ARN else f"PROVISIONER_{name.upper()}"


class Settings(msgspec.Struct, frozen=True, kw_only=True, rename=_variable):
    """Each field is read from the environment variable named ``PROVISIONER_`` and its name
    in capitals; a variable that breaks its rule fails the invocation, naming the variable."""

    stack_name: Named
    poll_interval_seconds: Positive = 15
    link_timeout_seconds: Positive = 900
    default_stage_name: str = "prod"
    ledger_table: Named
    # Only the function that answers stopped executions publishes from Python.
    progress_topic_arn: str | None = None
    request_bus_name: str | None = None
    outcome_event_source: str | None = None
    # Secure by default: unauthenticated APIs refused, load balancers exposed only with their
    # owner's consent (the tag private-api:expose=true), unless the stack's parameters say so.
    allow_unauthenticated_apis: bool = False
    require_exposure_tag: bool = True

    # API Gateway's fixed-rate calls taken in turn by every execution (domain.pacing).
    api_gateway_pacing: bool = True

    # Ticket self-service (README, "Requests from tickets"): the mapping's SSM parameter, each
    # system's webhook secret and write-back credentials (Secrets Manager ids), and how old a
    # delivery may be.
    ticket_mapping_parameter: str | None = None
    jira_webhook_secret: str | None = None
    servicenow_webhook_secret: str | None = None
    github_webhook_secret: str | None = None
    jira_credentials: str | None = None
    servicenow_credentials: str | None = None
    github_credentials: str | None = None
    delivery_max_age_seconds: Annotated[int, msgspec.Meta(ge=60)] = 21_600
    # The write-back's queue (its messages' visibility is how a retry waits) and the receives
    # its redrive policy allows before the dead-letter queue (the template sets both).
    ticket_writeback_queue_url: str | None = None
    ticket_writeback_max_receives: Annotated[int, msgspec.Meta(ge=1, le=1000)] = 10
    # The link version a request for an NLB gets when it names none (template parameter
    # DefaultNlbVpcLinkVersion): V1, as before VPC links V2, unless the operator says V2.
    default_nlb_vpc_link_version: Literal["V1", "V2"] = "V1"

    # Where the function runs (from its ARN): the stack's account and region, where the load
    # balancers a request names must be.
    account: str = ""
    region: str = ""

    @classmethod
    def from_environment(cls) -> Self:
        """The settings in ``os.environ``; numbers and booleans are read from their text
        (``msgspec.ValidationError`` names the variable at fault)."""
        return cls.from_variables(os.environ)

    @classmethod
    def from_variables(cls, variables: Mapping[str, object]) -> Self:
        given = {
            name: value for name, value in variables.items() if name.startswith("PROVISIONER_")
        }
        for name in _SWITCHES:
            if name in given:
                given[name] = _SWITCH_WORDS.get(str(given[name]).strip().lower(), given[name])
        return msgspec.convert(given, cls, strict=False)

    def running_as(self, function_arn: str) -> Self:
        _, _, _, region, account, *_ = function_arn.split(":")
        return msgspec.structs.replace(self, account=account, region=region)

    @property
    def ledger(self) -> "Ledger":
        """The ledger table, bound (``storage.ledger``)."""
        from provisioner.storage.ledger import Ledger

        return Ledger(self.ledger_table)


_SWITCHES = tuple(
    _variable(name) for name, kind in Settings.__annotations__.items() if kind in (bool, "bool")
)
