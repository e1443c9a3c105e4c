"""The decorator between Lambda and a task: the ASL's payload parsed into the task's model.

The edge (the validate functions, which read EventBridge events) uses Powertools Parser; the
workflow's internal payloads are our own models, validated the same way without importing the
Parser's hundred event models into every function's cold start.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel

Handler = Callable[[dict[str, Any], LambdaContext], dict[str, Any]]


def task_payload[Payload: BaseModel](
    model: type[Payload],
) -> Callable[[Callable[[Payload, LambdaContext], dict[str, Any]]], Handler]:
    """Validate the event as ``model`` (a ``pydantic.ValidationError`` fails the task)."""

    def decorate(task: Callable[[Payload, LambdaContext], dict[str, Any]]) -> Handler:
        @wraps(task)
        def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
            return task(model.model_validate(event), context)

        return handler

    return decorate
