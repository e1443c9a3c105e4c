"""What a COGNITO_USER_POOLS or CUSTOM authorization refers to: user pools and Lambda
functions, as validation needs to see them (never changed by this control plane)."""

from __future__ import annotations

import json
from typing import Any

from provisioner.aws import clients

APIGATEWAY_PRINCIPAL = "apigateway.amazonaws.com"


def user_pool_exists(user_pool_id: str) -> bool:
    pool = clients.if_found(
        lambda: clients.cognito_idp().describe_user_pool(UserPoolId=user_pool_id)
    )
    return pool is not None


def function_exists(function_arn: str) -> bool:
    function = clients.if_found(lambda: clients.lambda_().get_function(FunctionName=function_arn))
    return function is not None


def api_gateway_may_invoke(function_arn: str) -> bool:
    """Whether the function's resource policy lets API Gateway invoke it: its owner's
    consent, given with ``aws lambda add-permission``; this control plane never grants it."""
    policy = clients.if_found(
        lambda: clients.lambda_().get_policy(FunctionName=function_arn)["Policy"]
    )
    if policy is None:  # no resource policy at all
        return False
    statements = json.loads(policy).get("Statement", [])
    return any(_allows_api_gateway(statement) for statement in statements)


def _allows_api_gateway(statement: dict[str, Any]) -> bool:
    principal = statement.get("Principal")
    services = principal.get("Service") if isinstance(principal, dict) else principal
    services = services if isinstance(services, list) else [services]
    actions = statement.get("Action")
    actions = actions if isinstance(actions, list) else [actions]
    return (
        statement.get("Effect") == "Allow"
        and APIGATEWAY_PRINCIPAL in services
        and any(action in ("lambda:InvokeFunction", "lambda:*", "*") for action in actions)
    )
