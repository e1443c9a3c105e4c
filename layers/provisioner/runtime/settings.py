"""The functions' configuration, read from the environment the template gives them.

Read when a handler runs, never at import time, so tests and the embedded runtime can give
each function its own environment.
"""

import os
from typing import TYPE_CHECKING, Annotated, Literal, Self

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

if TYPE_CHECKING:
    from provisioner.storage.ledger import Ledger

_SWITCH = {"enabled": True, "disabled": False, "true": True, "false": False}


def _switch(value: object) -> object:
    """``Enabled`` / ``Disabled`` (a template parameter's words), or a boolean."""
    return _SWITCH.get(value.strip().lower(), value) if isinstance(value, str) else value


Switch = Annotated[bool, BeforeValidator(_switch)]


class Settings(BaseModel):
    model_config = ConfigDict(frozen=True, populate_by_name=True, extra="ignore", defer_build=True)

    stack_name: str = Field(alias="PROVISIONER_STACK_NAME", min_length=1)
    poll_interval_seconds: int = Field(alias="PROVISIONER_POLL_INTERVAL_SECONDS", ge=1, default=15)
    link_timeout_seconds: int = Field(alias="PROVISIONER_LINK_TIMEOUT_SECONDS", ge=1, default=900)
    default_stage_name: str = Field(alias="PROVISIONER_DEFAULT_STAGE_NAME", default="prod")
    ledger_table: str = Field(alias="PROVISIONER_LEDGER_TABLE", min_length=1)
    # Only the function that answers stopped executions publishes from Python.
    progress_topic_arn: str | None = Field(alias="PROVISIONER_PROGRESS_TOPIC_ARN", default=None)
    request_bus_name: str | None = Field(alias="PROVISIONER_REQUEST_BUS_NAME", default=None)
    outcome_event_source: str | None = Field(alias="PROVISIONER_OUTCOME_EVENT_SOURCE", default=None)
    # Secure by default: unauthenticated APIs refused, load balancers exposed only with their
    # owner's consent (the tag private-api:expose=true), unless the stack's parameters say so.
    allow_unauthenticated_apis: bool = Field(
        alias="PROVISIONER_ALLOW_UNAUTHENTICATED_APIS", default=False
    )
    require_exposure_tag: bool = Field(alias="PROVISIONER_REQUIRE_EXPOSURE_TAG", default=True)

    # API Gateway's fixed-rate calls taken in turn by every execution (domain.pacing)
    api_gateway_pacing: Switch = Field(alias="PROVISIONER_API_GATEWAY_PACING", default=True)

    # Ticket self-service (README, "Requests from tickets"): the mapping's SSM parameter, each
    # system's webhook secret and write-back credentials (Secrets Manager ids), and how old a
    # delivery may be.
    ticket_mapping_parameter: str | None = Field(
        alias="PROVISIONER_TICKET_MAPPING_PARAMETER", default=None
    )
    jira_webhook_secret: str | None = Field(alias="PROVISIONER_JIRA_WEBHOOK_SECRET", default=None)
    servicenow_webhook_secret: str | None = Field(
        alias="PROVISIONER_SERVICENOW_WEBHOOK_SECRET", default=None
    )
    github_webhook_secret: str | None = Field(
        alias="PROVISIONER_GITHUB_WEBHOOK_SECRET", default=None
    )
    jira_credentials: str | None = Field(alias="PROVISIONER_JIRA_CREDENTIALS", default=None)
    servicenow_credentials: str | None = Field(
        alias="PROVISIONER_SERVICENOW_CREDENTIALS", default=None
    )
    github_credentials: str | None = Field(alias="PROVISIONER_GITHUB_CREDENTIALS", default=None)
    delivery_max_age_seconds: int = Field(
        alias="PROVISIONER_DELIVERY_MAX_AGE_SECONDS", ge=60, default=21_600
    )
    # The write-back's queue (its messages' visibility is how a retry waits) and the receives
    # its redrive policy allows before the dead-letter queue (the template sets both).
    ticket_writeback_queue_url: str | None = Field(
        alias="PROVISIONER_TICKET_WRITEBACK_QUEUE_URL", default=None
    )
    ticket_writeback_max_receives: int = Field(
        alias="PROVISIONER_TICKET_WRITEBACK_MAX_RECEIVES", ge=1, le=1000, default=10
    )
    # The link version a request for an NLB gets when it names none (template parameter
    # DefaultNlbVpcLinkVersion): V1, as before VPC links V2, unless the operator says V2.
    default_nlb_vpc_link_version: Literal["V1", "V2"] = Field(
        alias="PROVISIONER_DEFAULT_NLB_VPC_LINK_VERSION", default="V1"
    )

    # Where the function runs (from its ARN): the stack's account and region, where the load
    # balancers a request names must be.
    account: str = ""
    region: str = ""

    @classmethod
    def from_environment(cls) -> Self:
        return cls.model_validate(dict(os.environ))

    def running_as(self, function_arn: str) -> Self:
        _, _, _, region, account, *_ = function_arn.split(":")
        return self.model_copy(update={"account": account, "region": region})

    @property
    def ledger(self) -> "Ledger":
        """The ledger table, bound (``storage.ledger``)."""
        from provisioner.storage.ledger import Ledger

        return Ledger(self.ledger_table)
