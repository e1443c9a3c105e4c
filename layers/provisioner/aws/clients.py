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


# A call made in a turn this stack reserved for it (domain.pacing) is made once: botocore
# would retry a refused one a moment later, inside the turn of the request queued behind it.
_ONE_ATTEMPT = Config(
    retries={"mode": "standard", "total_max_attempts": 1},
    user_agent_extra="private-api-provisioner",
)

_FORGET: list[Callable[[], None]] = []  # each getter's cache_clear, for reset()


def _getter(service: str, config: Config = _CONFIG) -> Callable[[], Any]:
    """A getter of ``service``'s client: made on first use, then kept for the execution
    environment; typed by the annotation of the name it is bound to (boto3's stubs type a
    client by the literal service name, which a shared getter cannot pass them)."""

    @cache
    def client() -> Any:
        return boto3.client(service, config=config)  # type: ignore[call-overload]

    _FORGET.append(client.cache_clear)
    return client


apigateway: Callable[[], APIGatewayClient] = _getter("apigateway")
# the paced calls: one attempt, no retry (the pacing takes a new turn)
apigateway_in_turn: Callable[[], APIGatewayClient] = _getter("apigateway", _ONE_ATTEMPT)
apigatewayv2: Callable[[], ApiGatewayV2Client] = _getter("apigatewayv2")
apigatewayv2_in_turn: Callable[[], ApiGatewayV2Client] = _getter("apigatewayv2", _ONE_ATTEMPT)
ec2: Callable[[], EC2Client] = _getter("ec2")
elbv2: Callable[[], ElasticLoadBalancingv2Client] = _getter("elbv2")
lambda_: Callable[[], LambdaClient] = _getter("lambda")
cognito_idp: Callable[[], Any] = _getter("cognito-idp")  # no typed stubs in the toolchain
dynamodb: Callable[[], DynamoDBClient] = _getter("dynamodb")
sns: Callable[[], SNSClient] = _getter("sns")
sqs: Callable[[], SQSClient] = _getter("sqs")
events: Callable[[], EventBridgeClient] = _getter("events")
stepfunctions: Callable[[], SFNClient] = _getter("stepfunctions")


def reset() -> None:
    """Forget cached clients (tests that switch endpoints or regions)."""
    for forget in _FORGET:
        forget()


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
