"""DynamoDB's conditional writes are atomic, moto's are not (see :func:`install`)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from emulator.fidelity.patching import wrap

# Item operations, as moto's response handler answers them.
_ITEM_ACTIONS = (
    "get_item",
    "put_item",
    "update_item",
    "delete_item",
    "query",
    "scan",
    "batch_get_item",
    "batch_write_item",
    "transact_get_items",
    "transact_write_items",
)


def install() -> None:
    """DynamoDB applies a conditional write atomically and a read sees whole items; moto checks
    the condition and writes without a lock, so two threads of the threaded server can both
    pass the same ``attribute_not_exists`` check, and its handler deep-copies a live item
    (UpdateItem's old image) while another thread writes it ("dictionary changed size during
    iteration"). Serialise moto's item operations, as DynamoDB orders them per item: the
    backend's writes, and each whole request of its handler (an RLock: a handler's request
    calls the backend's writes on the same thread)."""
    from moto.dynamodb.models import DynamoDBBackend
    from moto.dynamodb.responses import DynamoHandler

    items = threading.RLock()

    def serialised(owner: type, name: str) -> None:
        @wrap(owner, name)
        def _atomic(original: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
            with items:
                return original(*args, **kwargs)

    for name in ("put_item", "update_item", "delete_item", "transact_write_items"):
        serialised(DynamoDBBackend, name)
    for name in _ITEM_ACTIONS:
        if hasattr(DynamoHandler, name):
            serialised(DynamoHandler, name)
