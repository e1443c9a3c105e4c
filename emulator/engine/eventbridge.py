"""Deliver EventBridge events to Step Functions and Lambda targets, which moto's EventBridge
does not.

moto's ``put_events`` builds the event envelope and calls ``Rule.send_to_targets`` for every
rule of the bus (after the entry checks, see :mod:`emulator.fidelity.events`); that method
checks the rule's pattern (moto's own matcher) and delivers to the target types moto knows.
We wrap it: for each target whose ARN is a state machine, we StartExecution with the event as
AWS would send it (the envelope, or the target's ``Input`` / ``InputPath`` /
``InputTransformer``); a function is invoked asynchronously through
:mod:`emulator.engine.lambda_runtime`. Patching the model means it works for in-process calls
and for clients over HTTP alike. A delivery that fails goes to the target's dead-letter queue
when it has one, as EventBridge does once its retries are exhausted.
"""

from __future__ import annotations

import copy
import datetime
import json
import logging
import threading
import uuid
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, cast

from moto.events import models as events_models
from moto.events.utils import EventTemplateParser
from moto.utilities.arns import parse_arn

if TYPE_CHECKING:
    from moto.events.utils import EventMessageType

LOG = logging.getLogger(__name__)
_lock = threading.Lock()
_installed = False
ENVELOPE_KEYS = (
    "version",
    "id",
    "detail-type",
    "source",
    "account",
    "time",
    "region",
    "resources",
    "detail",
)


def envelope(event: Mapping[str, Any]) -> dict[str, Any]:
    """The event as EventBridge delivers it: its documented keys, ``time`` in ISO 8601."""
    body = {key: event[key] for key in ENVELOPE_KEYS if key in event}
    when = body.get("time")
    if isinstance(when, int | float):
        moment = datetime.datetime.fromtimestamp(when, tz=datetime.UTC)
        body["time"] = moment.strftime("%Y-%m-%dT%H:%M:%SZ")
    elif isinstance(when, datetime.datetime):
        body["time"] = when.astimezone(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return body


def target_input(target: dict[str, Any], event: dict[str, Any]) -> str:
    """The execution input for one target: Input, InputPath, InputTransformer or the event."""
    if target.get("Input") is not None:
        return str(target["Input"])
    if target.get("InputPath"):
        from jsonpath_ng.ext.parser import parse

        matches = parse(target["InputPath"]).find(event)
        return json.dumps(matches[0].value if matches else None)
    transformer = target.get("InputTransformer")
    if transformer:
        transformed = EventTemplateParser.parse(
            input_template=transformer.get("InputTemplate"),
            input_paths_map=transformer.get("InputPathsMap", {}),
            event=cast("EventMessageType", event),  # the envelope, as moto types an event
        )
        return transformed if isinstance(transformed, str) else json.dumps(transformed)
    return json.dumps(event)


def _start_execution(rule: Any, target: dict[str, Any], event: dict[str, Any]) -> None:
    from moto.stepfunctions.responses import get_backend

    arn = parse_arn(target["Arn"])
    try:
        get_backend(arn.account, arn.region).start_execution(
            target["Arn"], name=str(uuid.uuid4()), execution_input=target_input(target, event)
        )
    except Exception as exc:  # EventBridge would retry, then dead-letter: we dead-letter
        LOG.warning("rule %s could not start %s: %s", rule.name, target["Arn"], exc)
        _dead_letter(rule, target, event)


def _invoke_function(rule: Any, target: dict[str, Any], event: dict[str, Any]) -> None:
    """EventBridge invokes a Lambda target asynchronously (InvocationType Event): our runtime
    runs it in the background; an invocation that cannot be made is dead-lettered."""
    from emulator.engine.lambda_runtime import runtime_for

    runtime = runtime_for(None, target["Arn"])
    if runtime is None:
        LOG.warning("rule %s: no function %s to invoke", rule.name, target["Arn"])
        _dead_letter(rule, target, event)
        return
    runtime.invoke_async(target["Arn"], target_input(target, event))


def _dead_letter(rule: Any, target: dict[str, Any], event: dict[str, Any]) -> None:
    dead_letter = (target.get("DeadLetterConfig") or {}).get("Arn")
    if dead_letter:
        rule._send_to_sqs_queue(parse_arn(dead_letter).resource_id, event)


_DELIVERIES = {"states": _start_execution, "lambda": _invoke_function}


def install() -> None:
    """Patch moto's ``Rule.send_to_targets`` once per process."""
    global _installed
    with _lock:
        if _installed:
            return
        original: Callable[..., None] = events_models.Rule.send_to_targets

        def send_to_targets(
            self: Any, original_event: EventMessageType, transform_input: bool = True
        ) -> None:
            # moto raises NotImplementedError on target types it does not know: hand it the
            # others only, on a shallow copy so the rule itself is never mutated.
            ours = [t for t in self.targets if parse_arn(t["Arn"]).service in _DELIVERIES]
            others = copy.copy(self)
            others.targets = [t for t in self.targets if t not in ours]
            original(others, original_event, transform_input)
            if self.state != "ENABLED" or not self.event_pattern.matches_event(original_event):
                return
            event = envelope(original_event)
            for target in ours:
                _DELIVERIES[parse_arn(target["Arn"]).service](self, target, event)

        events_models.Rule.send_to_targets = send_to_targets  # type: ignore[method-assign]
        _installed = True
