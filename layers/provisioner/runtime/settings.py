"""The functions' configuration, read from the environment the template gives them.

Read when a handler runs, never at import time, so tests and the embedded runtime can give
each function its own environment.
"""

from __future__ import annotations

import os
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


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
    def from_environment(cls) -> Settings:
        return cls.model_validate(dict(os.environ))

    def running_as(self, function_arn: str) -> Settings:
        _, _, _, region, account, *_ = function_arn.split(":")
        return self.model_copy(update={"account": account, "region": region})
