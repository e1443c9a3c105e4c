"""The wire format every model of the contract shares: camelCase on the wire (like API
Gateway's own JSON), snake_case in Python, unknown fields refused."""

from typing import Any

from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel


class WireModel(BaseModel):
    """camelCase on the wire, snake_case in Python, unknown fields refused."""

    # defer_build: a handler builds the validators of the models it uses, on first use, not
    # those of every model of the package at import (a cold start cost).
    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        extra="forbid",
        frozen=True,
        defer_build=True,
    )

    def to_wire(self) -> dict[str, Any]:
        return self.model_dump(by_alias=True, mode="json", exclude_none=True)
