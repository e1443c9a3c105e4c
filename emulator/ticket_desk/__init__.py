"""An emulated ticket desk: the write-back REST endpoints of Jira Service Management / Jira
Cloud, ServiceNow and GitHub issues on 127.0.0.1, so the code that comments on, transitions
and closes the tickets that requested private APIs can be run and tested without the real
systems.

The systems answer under path prefixes of one server: ``{base_url}/jira``,
``/servicenow``, ``/github``; the desk's own control API is ``/_desk``. ``python -m
emulator.ticket_desk`` runs it in the foreground, printing each write-back as it arrives.

Not deployed; tooling only. Entry point: :class:`TicketDesk`.
"""

from emulator.ticket_desk.github import GitHubCredentials
from emulator.ticket_desk.jira import JiraCredentials
from emulator.ticket_desk.server import TicketDesk
from emulator.ticket_desk.servicenow import ServiceNowCredentials
from emulator.ticket_desk.state import (
    DEFAULT_JIRA_WORKFLOW,
    DeskEvent,
    JiraStatus,
    JiraTransition,
    JiraWorkflow,
)

__all__ = [
    "DEFAULT_JIRA_WORKFLOW",
    "DeskEvent",
    "GitHubCredentials",
    "JiraCredentials",
    "JiraStatus",
    "JiraTransition",
    "JiraWorkflow",
    "ServiceNowCredentials",
    "TicketDesk",
]
