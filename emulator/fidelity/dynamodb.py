"""DynamoDB's conditional writes are atomic, moto's are not (see :func:`install`)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from emulator.fidelity.patching import wrap


def install() -> None:
    """DynamoDB applies a conditional write atomically; moto checks the condition and writes
    without a lock, so two threads of the threaded server can both pass the same
    ``attribute_not_exists`` check. Serialise moto's write operations, as DynamoDB does per item."""
    from moto.dynamodb.models import DynamoDBBackend

    writes = threading.Lock()
    for name in ("put_item", "update_item", "delete_item", "transact_write_items"):

        @wrap(DynamoDBBackend, name)
        def _atomic(original: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
            with writes:
                return original(*args, **kwargs)
