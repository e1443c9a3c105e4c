"""The ledger: one DynamoDB table (``PROVISIONER_LEDGER_TABLE``) that holds, each under its own
key (``storage.keys``), the requests (``storage.requests``), the claims on link keys
(``storage.link_claims``), API Gateway's turns (``storage.pace``) and what ticket self-service
keeps (``storage.tickets``).

``Ledger(table)`` binds the four to the table; the domain (``domain/``, ``tickets/``) is the
only layer that writes through it.
"""

from __future__ import annotations

from provisioner.storage.link_claims import LinkClaims
from provisioner.storage.pace import Pace
from provisioner.storage.requests import Requests
from provisioner.storage.table import Table
from provisioner.storage.tickets import Tickets


class Ledger:
    def __init__(self, table_name: str) -> None:
        table = Table(table_name)
        self.requests = Requests(table)
        self.link_claims = LinkClaims(table)
        self.pace = Pace(table)
        self.tickets = Tickets(table)
