"""Patching moto's classes: ``wrap``, for a patch that calls the method it replaces (the API
Gateway, API Gateway V2, ELBv2 and DynamoDB patches use it). The EventBridge and Step
Functions patches assign theirs directly (moto's clock, its thread class, its waits)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


def wrap(owner: Any, name: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    original = getattr(owner, name)

    def decorate(replacement: Callable[..., Any]) -> Callable[..., Any]:
        def patched(*args: Any, **kwargs: Any) -> Any:
            return replacement(original, *args, **kwargs)

        patched.__name__ = name
        patched.__doc__ = original.__doc__
        patched._emulator_original = original  # type: ignore[attr-defined]
        setattr(owner, name, patched)
        return patched

    return decorate
