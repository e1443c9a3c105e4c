"""Function URL: ticket systems deliver webhooks here; an approved ticket becomes a request
on the bus (README, "Requests from tickets")."""

from provisioner.tickets.intake import handler

__all__ = ["handler"]
