"""PutEvents as EventBridge answers it, where moto is looser (checked against moto 5.2): a
request whose entries add up to 256 KiB or more is refused whole (``ValidationException``), an
entry whose ``Detail`` is JSON but not an object is ``MalformedDetail`` in its own place, and an
event's ``time`` is the embedded AWS's clock.
"""

from __future__ import annotations

import json
from typing import Any

from moto.events import models as events_models

from emulator.engine.clock import CLOCK

# PutEvents refuses a request whose entries add up to 256 KiB or more, counted as EventBridge
# documents ("Calculating PutEvents event entry size"): Time 14 bytes, then the UTF-8 bytes of
# Source, DetailType, Detail and each of Resources.
MAX_ENTRIES_SIZE = 256 * 1024
TOO_LARGE = "Total size of the entries in the request is over the limit."
MALFORMED_DETAIL = {"ErrorCode": "MalformedDetail", "ErrorMessage": "Detail is malformed."}


def entry_size(entry: dict[str, Any]) -> int:
    size = 14 if entry.get("Time") is not None else 0
    for key in ("Source", "DetailType", "Detail"):
        size += len(str(entry.get(key) or "").encode())
    return size + sum(len(str(resource).encode()) for resource in entry.get("Resources") or [])


def _detail_is_not_an_object(entry: dict[str, Any]) -> bool:
    """JSON, but not an object (moto only warns; EventBridge answers MalformedDetail)."""
    try:
        detail = json.loads(entry.get("Detail") or "{}")
    except ValueError:
        return False  # moto answers MalformedDetail itself
    return not isinstance(detail, dict)


def install() -> None:
    from moto.events.exceptions import ValidationException

    original = events_models.EventsBackend.put_events

    def put_events(self: Any, events: list[dict[str, Any]]) -> list[dict[str, Any]]:
        if sum(entry_size(event) for event in events) >= MAX_ENTRIES_SIZE:
            raise ValidationException(TOO_LARGE)
        malformed = [_detail_is_not_an_object(event) for event in events]
        accepted = iter(
            original(self, [e for e, bad in zip(events, malformed, strict=True) if not bad])
        )
        return [dict(MALFORMED_DETAIL) if bad else next(accepted) for bad in malformed]

    events_models.EventsBackend.put_events = put_events  # type: ignore[method-assign]
    # moto.events.models' own name for moto.core.utils.unix_time (imported, so not exported)
    models: Any = events_models
    original_time = models.unix_time

    def unix_time(dt: Any = None) -> float:  # the event's "time": the embedded AWS's clock
        return CLOCK.time() if dt is None else float(original_time(dt))

    models.unix_time = unix_time
