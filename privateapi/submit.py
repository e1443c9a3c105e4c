"""Put requests on the bus, exactly as any requester would."""

from __future__ import annotations

import json
import uuid
from typing import Any

PROVISION = "PrivateApiRequested"
DEFAULT_SOURCE = "privateapi.cli"


def put_request(
    events: Any,
    bus_name: str,
    detail: dict[str, Any],
    *,
    detail_type: str = PROVISION,
    source: str = DEFAULT_SOURCE,
) -> str:
    """Put one request event; returns its requestId (given, or a new one we set)."""
    detail = {"requestId": f"req-{uuid.uuid4().hex[:16]}", **detail}
    answer = events.put_events(
        Entries=[
            {
                "EventBusName": bus_name,
                "Source": source,
                "DetailType": detail_type,
                "Detail": json.dumps(detail),
            }
        ]
    )
    if answer.get("FailedEntryCount"):
        raise RuntimeError(f"the bus refused the request: {answer['Entries']}")
    return str(detail["requestId"])
