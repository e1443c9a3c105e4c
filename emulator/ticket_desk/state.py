"""What the ticket desk holds: the seeded tickets, what each one received, the faults still to
answer with, and the log of every request; one lock for all of it.

The three systems' handlers (``jira``, ``servicenow``, ``github``) change tickets only inside
:meth:`DeskState.change`, which records each write-back as a :class:`DeskEvent` on its ticket
and in the desk's ordered log, then calls the ``on_change`` hook once the lock is released (a
hook that inspects the desk cannot deadlock) and before the client has its answer (a test
that got its response can assert on the hook without waiting).
"""

from __future__ import annotations

import datetime
import logging
import re
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

LOG = logging.getLogger(__name__)

type System = Literal["jira", "servicenow", "github"]
type EventKind = Literal["comment", "transition", "state", "label"]
SYSTEMS: tuple[System, ...] = ("jira", "servicenow", "github")

JIRA_KEY = re.compile(r"^[A-Z][A-Z0-9_]*-[1-9][0-9]*$")
SERVICENOW_SYS_ID = re.compile(r"^[0-9a-f]{32}$")


def now() -> datetime.datetime:
    """The desk's clock: real UTC time (tickets carry wall-clock stamps, as the systems do)."""
    return datetime.datetime.now(datetime.UTC)


@dataclass(frozen=True)
class DeskEvent:
    """One write-back as the desk received it, in the words of the ticket system.

    ``text`` is the comment body, the Jira status reached, the ServiceNow state value or the
    GitHub state, or the labels added. ``public`` says whether the requester can see a
    comment (Jira Service Management ``public``, ServiceNow ``comments`` against
    ``work_notes``; GitHub comments are always public). ``detail`` keeps the rest: the
    endpoint, the transition id, the previous state, the state reason.
    """

    system: System
    ticket: str
    kind: EventKind
    text: str
    public: bool | None = None
    detail: dict[str, str] = field(default_factory=dict)
    at: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "system": self.system,
            "ticket": self.ticket,
            "kind": self.kind,
            "text": self.text,
            "public": self.public,
            "detail": dict(self.detail),
            "at": self.at,
        }

    def describe(self) -> str:
        """One line for a console: what arrived on which ticket."""
        audience = {True: " (public)", False: " (internal)", None: ""}[self.public]
        label = self.detail.get("display", self.text)
        text = self.text if label == self.text else f"{label} ({self.text})"
        return f"{self.system} {self.ticket} {self.kind}{audience}: {text}"


@dataclass(frozen=True)
class Fault:
    """An answer the desk gives instead of the real one: a 429 or a 5xx, with an optional
    ``Retry-After`` in seconds."""

    status: int
    retry_after: int | None


@dataclass(frozen=True)
class RequestRecord:
    """One request a system's API received and the status it was answered with."""

    system: System
    method: str
    path: str
    status: int

    def to_json(self) -> dict[str, Any]:
        return {
            "system": self.system,
            "method": self.method,
            "path": self.path,
            "status": self.status,
        }


class Ticket(Protocol):
    """What every emulated ticket has: a name for people and what it received, in order."""

    @property
    def name(self) -> str: ...

    received: list[DeskEvent]

    def to_json(self) -> dict[str, Any]: ...


# --- Jira -----------------------------------------------------------------------------------
type StatusCategory = Literal["new", "indeterminate", "done"]


@dataclass(frozen=True)
class JiraStatus:
    """A workflow status; ``category`` is Jira's status category key (To Do / In Progress /
    Done), which clients read to tell a finished issue from an open one."""

    id: str
    name: str
    category: StatusCategory


@dataclass(frozen=True)
class JiraTransition:
    """A workflow transition: its id (what POST transitions takes), its name (what people
    see, often not the target status's name), the status it leads to, and the statuses it
    starts from (none: a global transition, available from every status)."""

    id: str
    name: str
    to: str
    sources: tuple[str, ...] = ()


@dataclass(frozen=True)
class JiraWorkflow:
    statuses: tuple[JiraStatus, ...]
    transitions: tuple[JiraTransition, ...]

    def __post_init__(self) -> None:
        names = {status.name for status in self.statuses}
        for transition in self.transitions:
            unknown = {transition.to, *transition.sources} - names
            if unknown:
                raise ValueError(f"transition {transition.id} names unknown statuses {unknown}")

    def status(self, name: str) -> JiraStatus:
        for status in self.statuses:
            if status.name == name:
                return status
        raise ValueError(f"status {name!r} is not in the workflow")

    def available_from(self, status: str) -> list[JiraTransition]:
        """The transitions Jira offers from ``status`` (GET transitions lists only these)."""
        return [t for t in self.transitions if not t.sources or status in t.sources]

    @classmethod
    def from_json(cls, body: dict[str, Any]) -> JiraWorkflow:
        statuses = tuple(
            JiraStatus(str(s["id"]), str(s["name"]), s.get("category", "indeterminate"))
            for s in body["statuses"]
        )
        transitions = tuple(
            JiraTransition(str(t["id"]), str(t["name"]), str(t["to"]), tuple(t.get("from", ())))
            for t in body["transitions"]
        )
        return cls(statuses, transitions)


# An approval workflow like a Jira Service Management request type's: transition ids are
# numbers Jira assigned, unrelated to the names, so a client must look them up.
DEFAULT_JIRA_WORKFLOW = JiraWorkflow(
    statuses=(
        JiraStatus("10000", "Open", "new"),
        JiraStatus("10001", "Approved", "indeterminate"),
        JiraStatus("10002", "Done", "done"),
        JiraStatus("10003", "Declined", "done"),
    ),
    transitions=(
        JiraTransition("21", "Approve", "Approved", ("Open",)),
        JiraTransition("31", "Resolve", "Done", ("Approved",)),
        JiraTransition("41", "Decline", "Declined", ("Open", "Approved")),
        JiraTransition("51", "Reopen", "Open", ("Done", "Declined")),
    ),
)


@dataclass
class JiraIssue:
    key: str
    id: str
    summary: str
    status: str
    workflow: JiraWorkflow
    received: list[DeskEvent] = field(default_factory=list)

    @property
    def name(self) -> str:
        return self.key

    def to_json(self) -> dict[str, Any]:
        return {
            "system": "jira",
            "id": self.key,
            "key": self.key,
            "issue_id": self.id,
            "summary": self.summary,
            "status": self.status,
            "received": [event.to_json() for event in self.received],
        }


# --- ServiceNow -------------------------------------------------------------------------------
# The choice list of sc_req_item.state (inherited from task): the value the Table API stores
# and returns by default, and the label it takes or gives with the display-value parameters.
SERVICENOW_STATES: dict[str, str] = {
    "-5": "Pending",
    "1": "Open",
    "2": "Work in Progress",
    "3": "Closed Complete",
    "4": "Closed Incomplete",
    "7": "Closed Skipped",
}
SERVICENOW_CLOSED_STATES = frozenset({"3", "4", "7"})


@dataclass
class ServiceNowItem:
    """A requested item (sc_req_item). Journal fields (``comments``, ``work_notes``) are
    write-only through the Table API: each write appends an entry to the journal."""

    sys_id: str
    number: str
    state: str
    approval: str
    short_description: str
    requested_for: str
    cat_item: str
    opened_at: datetime.datetime
    fields: dict[str, str] = field(default_factory=dict)
    journal: list[tuple[str, str, datetime.datetime, str]] = field(default_factory=list)
    closed_at: datetime.datetime | None = None
    closed_by: str = ""
    updated_at: datetime.datetime | None = None
    updated_by: str = "admin"
    mod_count: int = 0
    received: list[DeskEvent] = field(default_factory=list)

    @property
    def name(self) -> str:
        return self.number

    @property
    def active(self) -> bool:
        return self.state not in SERVICENOW_CLOSED_STATES

    def to_json(self) -> dict[str, Any]:
        return {
            "system": "servicenow",
            "id": self.number,
            "number": self.number,
            "sys_id": self.sys_id,
            "state": self.state,
            "status": SERVICENOW_STATES.get(self.state, self.state),
            "approval": self.approval,
            "active": self.active,
            "received": [event.to_json() for event in self.received],
        }


# --- GitHub -----------------------------------------------------------------------------------
@dataclass
class GitHubLabel:
    id: int
    name: str
    color: str = "ededed"
    description: str | None = None


@dataclass
class GitHubIssue:
    owner: str
    repo: str
    number: int
    id: int
    title: str
    body: str
    state: str
    user: str
    created_at: datetime.datetime
    labels: list[str] = field(default_factory=list)
    state_reason: str | None = None
    closed_at: datetime.datetime | None = None
    comments: int = 0
    updated_at: datetime.datetime | None = None
    received: list[DeskEvent] = field(default_factory=list)

    @property
    def name(self) -> str:
        return f"{self.owner}/{self.repo}#{self.number}"

    def to_json(self) -> dict[str, Any]:
        return {
            "system": "github",
            "id": self.name,
            "owner": self.owner,
            "repo": self.repo,
            "number": self.number,
            "state": self.state,
            "state_reason": self.state_reason,
            "status": self.state,
            "labels": list(self.labels),
            "received": [event.to_json() for event in self.received],
        }


# --- the desk's state -------------------------------------------------------------------------
class UnknownTicket(LookupError):
    """No ticket of that system by that name: each API answers it with its own 404."""


class Change:
    """The write-backs one request makes, recorded on their tickets under the desk's lock."""

    def __init__(self, system: System) -> None:
        self.system = system
        self.events: list[DeskEvent] = []

    def record(
        self,
        ticket: Ticket,
        kind: EventKind,
        text: str,
        *,
        public: bool | None = None,
        detail: dict[str, str] | None = None,
    ) -> DeskEvent:
        event = DeskEvent(
            self.system, ticket.name, kind, text, public, dict(detail or {}), now().isoformat()
        )
        ticket.received.append(event)
        self.events.append(event)
        return event


class DeskState:
    """Every ticket of the three systems, the faults to inject, and the logs; thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self.on_change: Callable[[DeskEvent], object] | None = None
        self.reset()

    def reset(self) -> None:
        """No tickets, no faults, empty logs (the hook stays)."""
        with self._lock:
            self.jira: dict[str, JiraIssue] = {}
            self.servicenow: dict[str, ServiceNowItem] = {}
            self.github: dict[tuple[str, str, int], GitHubIssue] = {}
            self.github_labels: dict[tuple[str, str], dict[str, GitHubLabel]] = {}
            self._faults: dict[System, list[Fault]] = {system: [] for system in SYSTEMS}
            self._events: list[DeskEvent] = []
            self._requests: list[RequestRecord] = []
            self._counters: dict[str, int] = {}

    def next_id(self, counter: str, start: int) -> int:
        """The next number of a sequence (comment ids, RITM numbers, ...), from ``start``."""
        with self._lock:
            value = self._counters.get(counter, start - 1) + 1
            self._counters[counter] = value
            return value

    # --- changes and what they tell the hook ---------------------------------------------
    @contextmanager
    def change(self, system: System) -> Iterator[Change]:
        """Hold the lock while a request reads and changes tickets; afterwards, log its
        events and tell the hook about each, in order, outside the lock."""
        change = Change(system)
        with self._lock:
            yield change
            self._events.extend(change.events)
            hook = self.on_change
        for event in change.events:
            self._notify(hook, event)

    @contextmanager
    def reading(self) -> Iterator[None]:
        """Hold the lock while a request reads several things that must agree."""
        with self._lock:
            yield

    @staticmethod
    def _notify(hook: Callable[[DeskEvent], object] | None, event: DeskEvent) -> None:
        if hook is None:
            return
        try:
            hook(event)
        except Exception:
            # The hook observes (a console, a test's list); its failure must not change the
            # answer the ticket system's client gets. It is logged, not hidden.
            LOG.exception("the ticket desk's on_change hook failed on %s", event.describe())

    def events(self) -> list[DeskEvent]:
        with self._lock:
            return list(self._events)

    # --- faults -----------------------------------------------------------------------------
    def add_faults(self, system: System, count: int, status: int, retry_after: int | None) -> None:
        if system not in SYSTEMS:
            raise ValueError(f"system must be one of {', '.join(SYSTEMS)}, not {system!r}")
        if count < 1:
            raise ValueError("count must be at least 1")
        if status != 429 and not 500 <= status <= 599:
            raise ValueError(f"a fault is a 429 or a 5xx, not {status}")
        if retry_after is not None and retry_after < 0:
            raise ValueError("retry_after must not be negative")
        with self._lock:
            self._faults[system].extend([Fault(status, retry_after)] * count)

    def take_fault(self, system: System) -> Fault | None:
        """The fault the next request to ``system`` gets, if one is pending (used up)."""
        with self._lock:
            pending = self._faults[system]
            return pending.pop(0) if pending else None

    def pending_faults(self) -> dict[str, int]:
        with self._lock:
            return {system: len(faults) for system, faults in self._faults.items()}

    # --- requests ---------------------------------------------------------------------------
    def log_request(self, record: RequestRecord) -> None:
        with self._lock:
            self._requests.append(record)

    def requests(self) -> list[RequestRecord]:
        with self._lock:
            return list(self._requests)

    # --- seeding ----------------------------------------------------------------------------
    def add_jira_issue(
        self,
        key: str,
        *,
        summary: str,
        status: str | None,
        workflow: JiraWorkflow,
        issue_id: str | None = None,
    ) -> JiraIssue:
        if not JIRA_KEY.match(key):
            raise ValueError(f"a Jira issue key is PROJECT-NUMBER (like OPS-42), not {key!r}")
        initial = status or workflow.statuses[0].name
        workflow.status(initial)
        with self._lock:
            if key in self.jira or any(i.id == issue_id for i in self.jira.values()):
                raise FileExistsError(f"Jira issue {key} ({issue_id}) exists")
            issue_id = issue_id or str(self.next_id("jira-issue", 10001))
            issue = JiraIssue(
                key, issue_id, summary or f"Private API request {key}", initial, workflow
            )
            self.jira[key] = issue
            return issue

    def jira_issue(self, key_or_id: str) -> JiraIssue:
        with self._lock:
            issue = self.jira.get(key_or_id) or next(
                (i for i in self.jira.values() if i.id == key_or_id), None
            )
            if issue is None:
                raise UnknownTicket(key_or_id)
            return issue

    def add_servicenow_item(
        self,
        *,
        number: str | None,
        sys_id: str | None,
        state: str,
        approval: str,
        short_description: str,
        requested_for: str,
        cat_item: str,
    ) -> ServiceNowItem:
        if state not in SERVICENOW_STATES:
            raise ValueError(f"state must be one of {', '.join(SERVICENOW_STATES)}, not {state!r}")
        if sys_id is not None and not SERVICENOW_SYS_ID.match(sys_id):
            raise ValueError(f"a sys_id is 32 lowercase hex digits, not {sys_id!r}")
        with self._lock:
            number = number or f"RITM{self.next_id('ritm', 10001):07d}"
            sys_id = sys_id or uuid.uuid4().hex
            taken = {(i.number, i.sys_id) for i in self.servicenow.values()}
            if any(number == n or sys_id == s for n, s in taken):
                raise FileExistsError(f"ServiceNow item {number} / {sys_id} exists")
            item = ServiceNowItem(
                sys_id,
                number,
                state,
                approval,
                short_description or f"Private API request {number}",
                requested_for,
                cat_item,
                opened_at=now(),
            )
            self.servicenow[sys_id] = item
            return item

    def servicenow_item(self, sys_id_or_number: str) -> ServiceNowItem:
        with self._lock:
            item = self.servicenow.get(sys_id_or_number) or next(
                (i for i in self.servicenow.values() if i.number == sys_id_or_number), None
            )
            if item is None:
                raise UnknownTicket(sys_id_or_number)
            return item

    def add_github_issue(
        self,
        owner: str,
        repo: str,
        number: int,
        *,
        title: str,
        body: str,
        state: str,
        labels: list[str],
        user: str,
    ) -> GitHubIssue:
        if state not in ("open", "closed"):
            raise ValueError(f"a GitHub issue is open or closed, not {state!r}")
        if number < 1:
            raise ValueError("an issue number starts at 1")
        with self._lock:
            if (owner, repo, number) in self.github:
                raise FileExistsError(f"GitHub issue {owner}/{repo}#{number} exists")
            issue = GitHubIssue(
                owner,
                repo,
                number,
                self.next_id("github-issue", 1_900_000_001),
                title or f"Private API request #{number}",
                body,
                state,
                user,
                created_at=now(),
            )
            for label in labels:
                self.github_label(owner, repo, label)
                if label not in issue.labels:
                    issue.labels.append(label)
            self.github[(owner, repo, number)] = issue
            return issue

    def github_issue(self, owner: str, repo: str, number: int) -> GitHubIssue:
        with self._lock:
            issue = self.github.get((owner, repo, number))
            if issue is None:
                raise UnknownTicket(f"{owner}/{repo}#{number}")
            return issue

    def github_label(self, owner: str, repo: str, name: str) -> GitHubLabel:
        """The repository's label by that name, created (as GitHub does when a label that
        does not exist is added to an issue) if needed."""
        with self._lock:
            labels = self.github_labels.setdefault((owner, repo), {})
            if name not in labels:
                labels[name] = GitHubLabel(self.next_id("github-label", 5_000_000_001), name)
            return labels[name]

    # --- inspection -------------------------------------------------------------------------
    def all_tickets(self) -> list[Ticket]:
        with self._lock:
            return [*self.jira.values(), *self.servicenow.values(), *self.github.values()]

    def find(self, system: System, name: str) -> Ticket:
        """A ticket by the name people use: OPS-42, RITM0010001 (or its sys_id), owner/repo#7."""
        if system == "jira":
            return self.jira_issue(name)
        if system == "servicenow":
            return self.servicenow_item(name)
        match = re.fullmatch(r"([^/]+)/([^#]+)#([0-9]+)", name)
        if match is None:
            raise UnknownTicket(name)
        return self.github_issue(match[1], match[2], int(match[3]))
