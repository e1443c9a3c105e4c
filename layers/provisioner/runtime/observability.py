"""One Logger and Metrics for the whole package, configured by POWERTOOLS_* variables.

The correlation id is the request id: ``bind_request`` appends it to every log line.

No Tracer: the functions and state machines run with ``Tracing: Active``, which gives X-Ray the
Lambda and Step Functions segments without an SDK in the function; the X-Ray SDK for Python
(which Powertools Tracer wraps) is in maintenance mode since February 2026, and importing and
patching it would add 90-130 ms to every cold start after the handler's import, 0.13-0.20 of
``make bench`` (a)'s baseline (which measures it in every run). Without Tracer there is no
``capture_method`` and no ``capture_response`` to turn off: no response, and no requester's
data in it, is recorded in a trace.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from aws_lambda_powertools import Logger, Metrics

if TYPE_CHECKING:  # the type only: the ticket functions need no workflow payload models
    from provisioner.contract.payloads import RequestRef

logger = Logger()
metrics = Metrics()


def bind_request(request: RequestRef) -> None:
    logger.set_correlation_id(request.request_id)
    logger.append_keys(request_id=request.request_id, ticket_id=request.ticket_id)
