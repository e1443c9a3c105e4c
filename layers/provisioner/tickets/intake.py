"""The ticket intake: ``POST /tickets/{jira|servicenow|github}`` on the function's URL. A
delivery for a ticket that reached its trigger becomes an ordinary request on the bus.

Why a Lambda Function URL and not an API Gateway route: the HMAC of the body is the
authentication (none of these systems can sign AWS SigV4 requests), so API Gateway's
authorizers add nothing; a URL has no stage to deploy, one hop less, and does not spend the API
Gateway control-plane rate this stack provisions with.

Each delivery, in this order (the ticket systems time out after 5-10 s; nothing here waits):

1. over ``MAX_BODY_BYTES``: 413; a system we do not know: 404;
2. a missing or wrong signature over the raw body (``signatures``): 401, with no detail;
3. a content type other than JSON (GitHub's ``application/x-www-form-urlencoded`` with its
   ``payload`` field is JSON too): 415; a body that is not the system's JSON: 400;
4. not a request (another project, a comment, a change that is not the trigger): 200;
5. Jira's ``timestamp`` or ServiceNow's ``sys_updated_on`` older than the age window: 400;
6. a delivery id seen before (kept a day, and at least the age window): 200 with the
   ``requestId`` it became (a duplicate is never a 409: Jira retries on 409);
7. else the request is put on the bus (source ``private-api-provisioner.ticket-intake``): 202
   with its ``requestId``; if EventBridge refuses it, 503 and the delivery is forgotten so the
   system's retry goes through.

A ticket's fields that are missing or wrong still make a request: the workflow REJECTS it with
every field at fault, and the write-back tells the ticket, by the ticket's own field labels.

The one route, ``ROUTE``, is matched by ``runtime.function_url``, not by Powertools' event
handler: importing it loads every resolver it has (AppSync, Bedrock agents, VPC Lattice, an
asyncio HTTP server, OpenAPI types), about 50 ms of this function's cold start (``make bench``
(a)). Its answers are kept as they were: any other method or path is its 404
``{"statusCode":404,"message":"Not found"}``.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
import unicodedata
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs

from aws_lambda_powertools.metrics import MetricUnit

from provisioner.aws import announce
from provisioner.contract import errors
from provisioner.contract.vocabulary import TICKET_INTAKE_SOURCE, TicketSystem
from provisioner.runtime.function_url import UrlRequest, response
from provisioner.runtime.observability import logger, metrics
from provisioner.runtime.settings import Settings
from provisioner.tickets import signatures
from provisioner.tickets.deliveries import (
    BadDelivery,
    Ignored,
    TicketRequest,
    read_delivery,
)
from provisioner.tickets.mapping import DETAIL_TYPES, TicketMapping, load_mapping

MAX_BODY_BYTES = 512 * 1024  # GitHub caps an issue body at 65,536 characters; Jira's are smaller
DELIVERY_MEMORY = timedelta(days=1, hours=1)
SECRET_MAX_AGE = 300  # seconds a webhook secret is cached
FORCED_REFRESH_EVERY = 60.0  # at most one uncached read per system per minute

_BOOLEAN_FIELDS = frozenset({"proxyAllPaths", "keepVpcLink", "deleteOldLink"})
_INTEGER_FIELDS = frozenset({"timeoutSeconds"})
_forced_refresh_at: dict[TicketSystem, float] = {}

# The one route, ``POST /tickets/<name>``, matched as Powertools' event handler matched it
# (its characters for a path parameter); any other request is its 404.
ROUTE = re.compile(r"^/tickets/(?P<name>[-._~()'!*:@,;=+&$%<> \[\]{}|^\w]+)$")


def _answer(status: int, **body: Any) -> dict[str, Any]:
    return response(status, json.dumps(body))


def _system(delivered: UrlRequest) -> TicketSystem | None:
    """The system the route names (``ROUTE``'s ``name``), if it is one we know."""
    try:
        return TicketSystem(delivered.parameters["name"])
    except ValueError:
        return None


def deliver(delivered: UrlRequest, settings: Settings) -> dict[str, Any]:
    """A ticket system's delivery to ``POST /tickets/<name>``: headers and body are never
    logged (signatures)."""
    return refused(delivered, settings) or receive(delivered, settings)


def refused(delivered: UrlRequest, settings: Settings) -> dict[str, Any] | None:
    """413 / 404 / 401 before anything is parsed; None for a delivery to go on with."""
    if len(delivered.raw) > MAX_BODY_BYTES:
        return _answer(413, message=f"The body is over {MAX_BODY_BYTES} bytes.")
    system = _system(delivered)
    if system is None:
        return _answer(404, message="Not found.")
    headers, raw = delivered.headers, delivered.raw
    signed = signatures.is_signed(system, headers, raw, _secrets(system, settings))
    if not signed and not _refreshed_secret_matches(system, settings, headers, raw):
        logger.warning("Delivery refused: signature", extra={"system": system.value})
        metrics.add_metric(name="TicketDeliveriesUnauthorized", unit=MetricUnit.Count, value=1)
        return _answer(401, message="Unauthorized.")
    return None


def _secrets(system: TicketSystem, settings: Settings, *, force: bool = False) -> list[str]:
    from aws_lambda_powertools.utilities import parameters

    secret_id = getattr(settings, f"{system.value}_webhook_secret")
    if not secret_id:
        return []
    value = parameters.get_secret(
        secret_id, transform="json", max_age=SECRET_MAX_AGE, force_fetch=force
    )
    if not isinstance(value, dict):
        return []
    return [str(value.get(which) or "") for which in ("current", "previous")]


def _refreshed_secret_matches(
    system: TicketSystem, settings: Settings, headers: dict[str, str], raw: bytes
) -> bool:
    """A rotation within the cache's five minutes: read the secret again, at most once a
    minute per system (so unsigned floods cannot turn into Secrets Manager calls)."""
    now = time.monotonic()
    if now - _forced_refresh_at.get(system, -FORCED_REFRESH_EVERY) < FORCED_REFRESH_EVERY:
        return False
    _forced_refresh_at[system] = now
    return signatures.is_signed(system, headers, raw, _secrets(system, settings, force=True))


def receive(delivered: UrlRequest, settings: Settings) -> dict[str, Any]:
    system = TicketSystem(delivered.parameters["name"])
    try:
        body = _json_body(system, delivered.headers, delivered.raw)
    except _UnsupportedMediaType as error:
        return _answer(415, message=str(error))
    except BadDelivery as error:
        return _answer(400, message=str(error))
    mapping = _mapping(settings)
    try:
        delivery = read_delivery(system, body, delivered.headers, delivered.raw, mapping)
    except BadDelivery as error:
        return _answer(400, message=str(error))
    logger.append_keys(ticket_system=system.value, delivery_id=delivery.delivery_id)
    if isinstance(delivery.outcome, Ignored):
        logger.info("Delivery is not a request", extra={"reason": delivery.outcome.reason})
        return _answer(200, ignored=delivery.outcome.reason)
    request = delivery.outcome
    max_age = timedelta(seconds=settings.delivery_max_age_seconds)
    if delivery.occurred_at is not None and datetime.now(UTC) - delivery.occurred_at > max_age:
        logger.warning("Delivery refused: too old", extra={"occurredAt": str(delivery.occurred_at)})
        return _answer(400, message=f"The delivery is older than {_duration(max_age)}.")
    request_id = request_id_for(request)
    logger.set_correlation_id(request_id)
    seen = settings.ledger.tickets.remember_delivery(
        system.value,
        delivery.delivery_id,
        request_id=request_id,
        keep_for=max(DELIVERY_MEMORY, max_age + timedelta(hours=1)),
    )
    if seen is not None:
        logger.info("Delivery already received")
        metrics.add_metric(name="TicketDeliveriesDuplicate", unit=MetricUnit.Count, value=1)
        return _answer(200, requestId=seen, duplicate=True)
    try:
        announce.put_event(
            settings.request_bus_name or "",
            TICKET_INTAKE_SOURCE,
            DETAIL_TYPES[request.kind],
            request_detail(request, request_id),
        )
    except errors.ProvisionerError:
        logger.exception("Could not put the request on the bus")
        settings.ledger.tickets.forget_delivery(system.value, delivery.delivery_id)
        return _answer(503, message="Could not take the request now; retry.")
    logger.info("Ticket request on the bus", extra={"kind": request.kind})
    metrics.add_metric(name="TicketRequests", unit=MetricUnit.Count, value=1)
    return _answer(202, requestId=request_id, kind=request.kind, ticketId=request.ticket_id)


class _UnsupportedMediaType(Exception):
    pass


def _json_body(system: TicketSystem, headers: dict[str, str], raw: bytes) -> dict[str, Any]:
    content_type = (signatures.header(headers, "content-type") or "").split(";")[0].strip()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise BadDelivery("The body is not UTF-8 JSON.") from None
    if system is TicketSystem.GITHUB and content_type == "application/x-www-form-urlencoded":
        payload = parse_qs(text).get("payload")  # GitHub's form content type
        text = payload[0] if payload else ""
    elif content_type != "application/json" and not content_type.endswith("+json"):
        raise _UnsupportedMediaType(f"Content-Type must be application/json, not {content_type!r}.")
    try:
        body = json.loads(text)
    except ValueError:
        raise BadDelivery("The body is not JSON.") from None
    if not isinstance(body, dict):
        raise BadDelivery("The body must be a JSON object.")
    return body


def _mapping(settings: Settings) -> TicketMapping:
    if not settings.ticket_mapping_parameter:
        return TicketMapping()
    return load_mapping(settings.ticket_mapping_parameter)


def request_id_for(request: TicketRequest) -> str:
    """The same ticket asking for the same kind of request is the same request, however many
    times it is delivered or approved: ``jira.OPS-42.provision``."""
    slug = re.sub(r"[^A-Za-z0-9._-]+", ".", request.ticket_id).strip(".")
    request_id = f"{request.ticket.system.value}.{slug}.{request.kind}"
    if len(request_id) <= 64:
        return request_id
    digest = hashlib.sha256(request.ticket.key.encode()).hexdigest()[:24]
    return f"{request.ticket.system.value}.{digest}.{request.kind}"


def request_detail(request: TicketRequest, request_id: str) -> dict[str, Any]:
    """The event's detail: an ordinary request. Values are given as the ticket has them, but
    for booleans and whole numbers written as text; validation names whatever is wrong."""
    detail: dict[str, Any] = {
        "requestId": request_id,
        "ticketId": request.ticket_id,
        "ticket": request.ticket.to_wire(),
    }
    if request.requested_by:
        detail["requestedBy"] = _printable(request.requested_by)[:256]
    for name, value in request.fields.items():
        detail[name] = _typed(name, value)
    return detail


def _typed(name: str, value: Any) -> Any:
    if isinstance(value, str):
        text = value.strip()
        if name in _BOOLEAN_FIELDS and text.casefold() in {"true", "yes", "false", "no"}:
            return text.casefold() in {"true", "yes"}
        if name in _INTEGER_FIELDS and text.isdigit():
            return int(text)
        if name == "tags":
            return _tags(text)
    return value


def _tags(text: str) -> Any:
    """``team=payments, env=prod`` (or one per line) as a map; otherwise the text as given."""
    pairs = [item.partition("=") for item in re.split(r"[,\n]", text) if item.strip()]
    if pairs and all(sep for _, sep, _ in pairs):
        return {key.strip(): value.strip() for key, _, value in pairs}
    return text


def _printable(text: str) -> str:
    return "".join(c for c in text if unicodedata.category(c) not in {"Cc", "Cf"}) or "unknown"


def _duration(age: timedelta) -> str:
    minutes = int(age.total_seconds() // 60)
    return f"{minutes // 60} hours" if minutes % 60 == 0 else f"{minutes} minutes"
