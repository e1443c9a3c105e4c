"""Function URL: ticket systems deliver webhooks here; an approved ticket becomes a request
on the bus (README, "Requests from tickets")."""

from provisioner.runtime.function_url import function_url_task
from provisioner.tickets import intake

handler = function_url_task(intake.ROUTE, intake.deliver)
