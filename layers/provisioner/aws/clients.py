"""boto3 clients, made once per execution environment, and ClientError → named error."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import cache
from typing import TYPE_CHECKING, Any

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

from provisioner.contract import errors

if TYPE_CHECKING:
    from mypy_boto3_apigateway import APIGatewayClient
    from mypy_boto3_apigatewayv2 import ApiGatewayV2Client
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_ec2 import EC2Client
    from mypy_boto3_elbv2 import ElasticLoadBalancingv2Client
    from mypy_boto3_events import EventBridgeClient
    from mypy_boto3_lambda import LambdaClient
    from mypy_boto3_sns import SNSClient
    from mypy_boto3_sqs import SQSClient
    from mypy_boto3_stepfunctions import SFNClient

# botocore's standard mode retries throttling and 5xx a few times with jittered backoff within
# the invocation; what is still failing after that becomes a named error that the state
# machine retries with longer, fully jittered delays (cheaper than failing the request).
_CONFIG = Config(
    retries={"mode": "standard", "max_attempts": 3},
    user_agent_extra="private-api-provisioner",
)


@cache
def apigateway() -> APIGatewayClient:
    return boto3.client("apigateway", config=_CONFIG)


# A call made in a turn this stack reserved for it (domain.pacing) is made once: botocore
# would retry a refused one a moment later, inside the turn of the request queued behind it.
_ONE_ATTEMPT = Config(
    retries={"mode": "standard", "total_max_attempts": 1},
    user_agent_extra="private-api-provisioner",
)


@cache
def apigateway_in_turn() -> APIGatewayClient:
    """API Gateway for the paced calls: one attempt, no retry (the pacing takes a new turn)."""
    return boto3.client("apigateway", config=_ONE_ATTEMPT)


@cache
def apigatewayv2() -> ApiGatewayV2Client:
    return boto3.client("apigatewayv2", config=_CONFIG)


@cache
def apigatewayv2_in_turn() -> ApiGatewayV2Client:
    """API Gateway V2 for the paced calls (VPC links V2): one attempt, like apigateway's."""
    return boto3.client("apigatewayv2", config=_ONE_ATTEMPT)


@cache
def ec2() -> EC2Client:
    return boto3.client("ec2", config=_CONFIG)


@cache
def elbv2() -> ElasticLoadBalancingv2Client:
    return boto3.client("elbv2", config=_CONFIG)


@cache
def lambda_() -> LambdaClient:
    return boto3.client("lambda", config=_CONFIG)


@cache
def cognito_idp() -> Any:  # no typed stubs in the toolchain for cognito-idp
    return boto3.client("cognito-idp", config=_CONFIG)


@cache
def dynamodb() -> DynamoDBClient:
    return boto3.client("dynamodb", config=_CONFIG)


@cache
def sns() -> SNSClient:
    return boto3.client("sns", config=_CONFIG)


@cache
def sqs() -> SQSClient:
    return boto3.client("sqs", config=_CONFIG)


@cache
def events() -> EventBridgeClient:
    return boto3.client("events", config=_CONFIG)


@cache
def stepfunctions() -> SFNClient:
    return boto3.client("stepfunctions", config=_CONFIG)


def reset() -> None:
    """Forget cached clients (tests that switch endpoints or regions)."""
    for client in (
        apigateway,
        apigateway_in_turn,
        apigatewayv2,
        apigatewayv2_in_turn,
        elbv2,
        ec2,
        lambda_,
        cognito_idp,
        dynamodb,
        sns,
        sqs,
        events,
        stepfunctions,
    ):
        client.cache_clear()


_THROTTLING = {
    "TooManyRequestsException",
    "Throttling",
    "ThrottlingException",
    "ThrottledException",
}
_NOT_FOUND = {
    "NotFoundException",
    "LoadBalancerNotFound",
    "LoadBalancerNotFoundException",
    "ResourceNotFoundException",  # Lambda, Cognito
}
_TRANSIENT = {
    "ServiceUnavailableException",
    "InternalFailure",
    "ServiceUnavailable",
    "RequestTimeout",
}


def translate(error: ClientError) -> errors.ProvisionerError:
    """Map an AWS error code onto the name the state machine retries or catches."""
    code = error.response.get("Error", {}).get("Code", "Unknown")
    message = error.response.get("Error", {}).get("Message", str(error))
    status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
    if code == "ConditionalCheckFailedException":
        failed = errors.ConditionFailed(message)
        item = dict(error.response).get("Item")  # with ReturnValuesOnConditionCheckFailure
        failed.item = item if isinstance(item, dict) else None
        return failed
    if code in _THROTTLING or status == 429 or code == "ProvisionedThroughputExceededException":
        return errors.TooManyRequests(f"AWS throttled the control plane: {message}")
    if code in _TRANSIENT or status >= 500 or _concurrent_modification(code, message):
        return errors.TransientAwsError(f"{code}: {message}")
    if code == "LimitExceededException":
        return errors.QuotaExceeded(message)
    if code in {"AccessDeniedException", "AccessDenied", "UnauthorizedException"}:
        return errors.AccessDenied(message)
    if code in _NOT_FOUND:
        return errors.ResourceNotFound(message)
    return errors.AwsRequestRejected(f"{code}: {message}")


def _concurrent_modification(code: str, message: str) -> bool:
    """API Gateway's ConflictException is transient only for "concurrent modification";
    "already exists" and the like will never succeed on a retry."""
    return code == "ConflictException" and "concurrent modification" in message.lower()


@contextmanager
def aws_errors() -> Iterator[None]:
    """Re-raise any ClientError in the block as the named error the workflow expects."""
    try:
        yield
    except ClientError as error:
        raise translate(error) from error


def if_found[Answer](call: Callable[[], Answer]) -> Answer | None:
    """What ``call`` answers, or None when AWS says what it asks for does not exist
    (``ResourceNotFound``); any other error raised as :func:`aws_errors` names it."""
    try:
        with aws_errors():
            return call()
    except errors.ResourceNotFound:
        return None
