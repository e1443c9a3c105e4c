"""One Logger, Tracer and Metrics for the whole package, configured by POWERTOOLS_* variables.

The correlation id is the request id: ``bind_request`` appends it to every log line.
"""

from __future__ import annotations

from aws_lambda_powertools import Logger, Metrics, Tracer

from provisioner.contract.payloads import RequestRef

logger = Logger()
# Only boto3 calls are traced: auto-patching everything would import libraries we never use
# (requests, httplib, ...) into every cold start.
tracer = Tracer(patch_modules=["botocore"])
metrics = Metrics()


def bind_request(request: RequestRef) -> None:
    logger.set_correlation_id(request.request_id)
    logger.append_keys(request_id=request.request_id, ticket_id=request.ticket_id)
    tracer.put_annotation(key="requestId", value=request.request_id)
