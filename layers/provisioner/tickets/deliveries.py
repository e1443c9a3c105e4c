"""What a ticket system's delivery asks for: a request (its kind, the ticket, the request
fields the mapping names), nothing (``Ignored``: another project, a comment, a status change
that is not the trigger), or a body that is not the system's (``BadDelivery``).

The payloads carry many site-specific fields: they are read permissively, only the keys named
here and in the mapping are looked at, and a mapped field the ticket leaves empty is simply not
given (the workflow's validation then names it with the ticket's label).

Payload shapes: Jira Cloud's webhook (``webhookEvent``, ``timestamp`` in epoch milliseconds,
``issue``, ``changelog.items``); GitHub's ``issues`` event (``action``, ``label``, ``issue``
with an issue form's body, ``repository``); ServiceNow, the requested item (``sc_req_item``)
as the Business Rule in the README posts it. ``events/tickets/README.md`` describes the samples.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from provisioner.contract.tickets import TICKET_KEY_PATTERNS, TicketRef
from provisioner.contract.vocabulary import TicketSystem
from provisioner.tickets.mapping import (
    GitHubMapping,
    JiraMapping,
    KindRule,
    RequestKind,
    ServiceNowMapping,
    TicketMapping,
)
from provisioner.tickets.signatures import header

NO_RESPONSE = "_No response_"  # how an issue form renders a field left empty


class BadDelivery(Exception):
    """The body is not a delivery of this system (answered 400, nothing put on the bus)."""


@dataclass(frozen=True)
class Ignored:
    reason: str


@dataclass(frozen=True)
class TicketRequest:
    kind: RequestKind
    ticket: TicketRef
    ticket_id: str  # what people call the ticket: OPS-42, RITM0010042, acme/requests#17
    requested_by: str | None
    fields: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Delivery:
    """One delivery: its id (to accept it once), when the ticket changed (if the payload
    says), and what it asks for."""

    delivery_id: str
    occurred_at: datetime | None
    outcome: TicketRequest | Ignored


def read_delivery(
    system: TicketSystem,
    body: Mapping[str, Any],
    headers: Mapping[str, str],
    raw: bytes,
    mapping: TicketMapping,
) -> Delivery:
    if system is TicketSystem.JIRA:
        return _jira(body, headers, raw, mapping.jira)
    if system is TicketSystem.SERVICENOW:
        return _servicenow(body, mapping.servicenow)
    return _github(body, headers, raw, mapping.github)


# --- Jira ------------------------------------------------------------------------------------
def _jira(
    body: Mapping[str, Any], headers: Mapping[str, str], raw: bytes, mapping: JiraMapping | None
) -> Delivery:
    event = _required(body, "webhookEvent", str)
    stamp = _required(body, "timestamp", int)
    # Atlassian: the same identifier on every retry of a delivery. Without it (older Data
    # Center), the body itself identifies the delivery.
    delivery_id = header(headers, "x-atlassian-webhook-identifier") or _digest(raw)
    occurred_at = _from_millis(stamp)
    if not event.startswith("jira:issue_"):
        return Delivery(delivery_id, occurred_at, Ignored(f"{event} is not an issue event"))
    issue = _required(body, "issue", dict)
    key = _required(issue, "key", str, where="issue.")
    fields = _required(issue, "fields", dict, where="issue.")
    if mapping is None:
        return Delivery(delivery_id, occurred_at, Ignored("no mapping for jira"))
    project = _text(_get(fields, "project", "key"))
    if mapping.projects and project not in mapping.projects:
        return Delivery(delivery_id, occurred_at, Ignored(f"project {project} is not mapped"))
    if not _jira_triggered(event, body, mapping):
        return Delivery(delivery_id, occurred_at, Ignored(f"{event} on {key} is not the trigger"))
    request_type = _text(_get(fields, mapping.request_type_field, "requestType", "name"))
    ticket_type = request_type or _text(_get(fields, "issuetype", "name"))
    rule = _rule(mapping.kinds, lambda when: when.casefold() == (ticket_type or "").casefold())
    if rule is None:
        return Delivery(delivery_id, occurred_at, Ignored(f"type {ticket_type!r} is not mapped"))
    reporter = fields.get("reporter") if isinstance(fields.get("reporter"), dict) else {}
    assert isinstance(reporter, dict)
    requested_by = _text(reporter.get("emailAddress")) or _text(reporter.get("displayName"))
    values = {name: _jira_value(fields.get(source.source)) for name, source in rule.fields.items()}
    return Delivery(
        delivery_id,
        occurred_at,
        _request(
            rule,
            TicketSystem.JIRA,
            key,
            key,
            requested_by or _text(reporter.get("accountId")),
            values,
        ),
    )


def _jira_triggered(event: str, body: Mapping[str, Any], mapping: JiraMapping) -> bool:
    if event == "jira:issue_created":
        return mapping.on_create
    if event != "jira:issue_updated":
        return False
    changelog = body.get("changelog")
    items = changelog.get("items") if isinstance(changelog, dict) else None
    wanted = mapping.approved_status.casefold()
    return any(
        isinstance(item, dict)
        and "status" in (item.get("fieldId"), item.get("field"))
        and str(item.get("toString") or "").casefold() == wanted
        for item in items or []
    )


def _jira_value(value: Any) -> Any:
    """A select list gives its ``value``, a user its ``accountId``, a list its items."""
    if isinstance(value, dict):
        for key in ("value", "name", "key", "accountId"):
            if isinstance(value.get(key), str):
                return _text(value[key])
        return None
    if isinstance(value, list):
        items = [_jira_value(item) for item in value]
        return [item for item in items if item is not None] or None
    if isinstance(value, str):
        return _text(value)
    return value


# --- ServiceNow --------------------------------------------------------------------------------
def _servicenow(body: Mapping[str, Any], mapping: ServiceNowMapping | None) -> Delivery:
    sys_id = _required(body, "sys_id", str)
    updated = _required(body, "sys_updated_on", str)
    try:
        occurred_at = datetime.strptime(updated, "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC)
    except ValueError:
        raise BadDelivery("sys_updated_on: must be YYYY-MM-DD hh:mm:ss (UTC)") from None
    if not re.fullmatch(TICKET_KEY_PATTERNS[TicketSystem.SERVICENOW], sys_id):
        raise BadDelivery("sys_id: must be 32 hexadecimal digits")
    # The record's sys_id and the moment it changed: a redelivery of this change has both.
    delivery_id = f"{sys_id}@{updated}"
    number = _text(body.get("number")) or sys_id
    table = body.get("table", "sc_req_item")
    if table != "sc_req_item":
        return Delivery(delivery_id, occurred_at, Ignored(f"table {table} is not sc_req_item"))
    if mapping is None:
        return Delivery(delivery_id, occurred_at, Ignored("no mapping for servicenow"))
    approval, state = _text(body.get("approval")), _text(body.get("state"))
    if approval != mapping.approval or state not in mapping.open_states:
        return Delivery(
            delivery_id, occurred_at, Ignored(f"{number}: approval {approval}, state {state}")
        )
    item = _text(_display(body.get("cat_item")))
    rule = _rule(mapping.kinds, lambda when: when.casefold() == (item or "").casefold())
    if rule is None:
        return Delivery(delivery_id, occurred_at, Ignored(f"catalog item {item!r} is not mapped"))
    variables = body.get("variables") if isinstance(body.get("variables"), dict) else {}
    assert isinstance(variables, dict)
    values = {}
    for name, source in rule.fields.items():
        where, _, variable = source.source.partition(".")
        raw_value = variables.get(variable) if where == "variables" else body.get(source.source)
        values[name] = _text(_display(raw_value))
    requester = body.get("requested_for") if isinstance(body.get("requested_for"), dict) else {}
    assert isinstance(requester, dict)
    requested_by = next(
        (
            _text(requester.get(k))
            for k in ("email", "user_name", "name")
            if _text(requester.get(k))
        ),
        None,
    )
    return Delivery(
        delivery_id,
        occurred_at,
        _request(rule, TicketSystem.SERVICENOW, sys_id, number, requested_by, values),
    )


def _display(value: Any) -> Any:
    """A reference field as the rule sends it (``{"sys_id", "name"}`` or the Table API's
    ``{"display_value", "value"}``), or a plain value."""
    if isinstance(value, dict):
        return value.get("name") or value.get("display_value") or value.get("value")
    return value


# --- GitHub -------------------------------------------------------------------------------------
def _github(
    body: Mapping[str, Any], headers: Mapping[str, str], raw: bytes, mapping: GitHubMapping | None
) -> Delivery:
    # GitHub: a GUID per delivery, the same when a delivery is redelivered.
    delivery_id = header(headers, "x-github-delivery") or _digest(raw)
    event = header(headers, "x-github-event") or "issues"
    if event == "ping":
        return Delivery(delivery_id, None, Ignored("ping"))
    if event != "issues":
        return Delivery(delivery_id, None, Ignored(f"{event} is not an issues event"))
    action = _required(body, "action", str)
    issue = _required(body, "issue", dict)
    number = _required(issue, "number", int, where="issue.")
    repository = _required(body, "repository", dict)
    full_name = _required(repository, "full_name", str, where="repository.")
    key = f"{full_name}#{number}"
    if mapping is None:
        return Delivery(delivery_id, None, Ignored("no mapping for github"))
    if mapping.repositories and full_name not in mapping.repositories:
        return Delivery(delivery_id, None, Ignored(f"repository {full_name} is not mapped"))
    label = _text(_get(body, "label", "name"))
    if action != "labeled" or label != mapping.trigger_label or "pull_request" in issue:
        return Delivery(delivery_id, None, Ignored(f"{action} {label or ''} on {key}".strip()))
    labels = {str(item.get("name")) for item in issue.get("labels") or [] if isinstance(item, dict)}
    rule = _rule(mapping.kinds, lambda when: when in labels)
    if rule is None:
        return Delivery(delivery_id, None, Ignored(f"{key} carries no mapped label"))
    sections = issue_form_sections(issue.get("body") if isinstance(issue.get("body"), str) else "")
    values = {name: sections.get(source.source.casefold()) for name, source in rule.fields.items()}
    requested_by = _text(_get(issue, "user", "login"))
    return Delivery(
        delivery_id, None, _request(rule, TicketSystem.GITHUB, key, key, requested_by, values)
    )


_SECTION = re.compile(r"^###[ \t]+(.+?)[ \t]*$", re.MULTILINE)


def issue_form_sections(body: str) -> dict[str, str]:
    """An issue form's answers by field label (casefolded): each ``### <label>`` heading and
    the text up to the next; ``_No response_`` and blanks are no answer."""
    found: dict[str, str] = {}
    headings = list(_SECTION.finditer(body.replace("\r\n", "\n")))
    text = body.replace("\r\n", "\n")
    for index, heading in enumerate(headings):
        end = headings[index + 1].start() if index + 1 < len(headings) else len(text)
        answer = text[heading.end() : end].strip()
        if answer and answer != NO_RESPONSE:
            found.setdefault(heading.group(1).strip().casefold(), answer)
    return found


# --- shared -------------------------------------------------------------------------------------
def _request(
    rule: KindRule,
    system: TicketSystem,
    key: str,
    ticket_id: str,
    requested_by: str | None,
    values: dict[str, Any],
) -> TicketRequest:
    labels = {name: source.label for name, source in rule.fields.items()}
    ticket = TicketRef.from_wire({"system": system, "key": key, "fieldLabels": labels})
    given = {name: value for name, value in values.items() if value is not None}
    return TicketRequest(rule.kind, ticket, ticket_id[:128], requested_by, given)


def _rule(rules: list[KindRule], matches: Any) -> KindRule | None:
    return next((rule for rule in rules if matches(rule.when)), None)


def _required(body: Mapping[str, Any], key: str, kind: type, *, where: str = "") -> Any:
    value = body.get(key)
    if value is None:
        raise BadDelivery(f"{where}{key}: required")
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise BadDelivery(f"{where}{key}: must be {_KIND_NAMES.get(kind, kind.__name__)}")
    return value


_KIND_NAMES = {str: "a string", int: "an integer", dict: "an object", list: "an array"}


def _get(value: Any, *path: str) -> Any:
    for key in path:
        if not isinstance(value, dict):
            return None
        value = value.get(key)
    return value


def _text(value: Any) -> str | None:
    """A non-blank string, stripped; anything else is no answer."""
    if isinstance(value, str) and value.strip():
        return value.strip()
    return None


def _from_millis(stamp: int) -> datetime:
    try:
        return datetime.fromtimestamp(stamp / 1000, tz=UTC)
    except (OverflowError, OSError, ValueError):
        raise BadDelivery("timestamp: must be epoch milliseconds") from None


def _digest(raw: bytes) -> str:
    return "sha256:" + hashlib.sha256(raw).hexdigest()
