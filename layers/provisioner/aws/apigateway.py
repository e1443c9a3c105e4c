"""API Gateway (REST, v1): VpcLinks, REST APIs, deployments and stages."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from provisioner.aws import clients
from provisioner.aws.clients import aws_errors
from provisioner.contract import errors

if TYPE_CHECKING:
    from mypy_boto3_apigateway import APIGatewayClient

LINK_STATUSES_IN_SERVICE = frozenset({"PENDING", "AVAILABLE"})
# API Gateway's largest page (default 25): every call counts against the account's 10 per second.
_LARGEST_PAGES: Any = {"PaginationConfig": {"PageSize": 500}}


@dataclass(frozen=True, slots=True)
class VpcLink:
    id: str
    name: str
    status: str
    status_message: str | None
    target_arns: list[str]
    tags: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_aws(cls, item: Any) -> VpcLink:
        return cls(
            id=item["id"],
            name=item.get("name", ""),
            status=item.get("status", "PENDING"),
            status_message=item.get("statusMessage"),
            target_arns=list(item.get("targetArns", [])),
            tags=dict(item.get("tags") or {}),
        )


@dataclass(frozen=True, slots=True)
class RestApi:
    id: str
    name: str
    root_resource_id: str
    tags: dict[str, str]


def _client(in_turn: bool) -> APIGatewayClient:
    """``in_turn``: a call this stack paced (domain.pacing), made once; else retried by botocore."""
    return clients.apigateway_in_turn() if in_turn else clients.apigateway()


def prepare_paced_calls() -> None:
    """Make the client of the paced calls now, before a turn's gate (see ``_client``): built
    between the gate and its call, it would send the call late."""
    clients.apigateway_in_turn()


def region() -> str:
    return clients.apigateway().meta.region_name


def resource_arn(path: str) -> str:
    """ARN of an API Gateway resource path such as ``/restapis/abc123``, for tagging."""
    partition = clients.apigateway().meta.partition
    return f"arn:{partition}:apigateway:{region()}::{path}"


# --- VpcLinks ----------------------------------------------------------------------------------
def vpc_links() -> Iterator[VpcLink]:
    with aws_errors():
        pages = clients.apigateway().get_paginator("get_vpc_links").paginate(**_LARGEST_PAGES)
        for page in pages:
            for item in page.get("items", []):
                yield VpcLink.from_aws(item)


def get_vpc_link(vpc_link_id: str) -> VpcLink | None:
    try:
        with aws_errors():
            return VpcLink.from_aws(clients.apigateway().get_vpc_link(vpcLinkId=vpc_link_id))
    except errors.ResourceNotFound:
        return None


def create_vpc_link(name: str, nlb_arn: str, description: str, tags: dict[str, str]) -> VpcLink:
    with aws_errors():
        created = clients.apigateway().create_vpc_link(
            name=name, description=description, targetArns=[nlb_arn], tags=tags
        )
    return VpcLink.from_aws(created)


def delete_vpc_link(vpc_link_id: str) -> None:
    """Delete a link; AWS refuses (``AwsRequestRejected``) while an integration references it."""
    with aws_errors():
        clients.apigateway().delete_vpc_link(vpcLinkId=vpc_link_id)


# --- REST APIs ---------------------------------------------------------------------------------
def rest_apis() -> Iterator[RestApi]:
    with aws_errors():
        pages = clients.apigateway().get_paginator("get_rest_apis").paginate(**_LARGEST_PAGES)
        for page in pages:
            for item in page.get("items", []):
                yield _rest_api(item)


def get_rest_api(rest_api_id: str) -> RestApi | None:
    try:
        with aws_errors():
            return _rest_api(clients.apigateway().get_rest_api(restApiId=rest_api_id))
    except errors.ResourceNotFound:
        return None


def _rest_api(item: Any) -> RestApi:
    return RestApi(
        id=item["id"],
        name=item.get("name", ""),
        root_resource_id=item.get("rootResourceId", ""),
        tags=dict(item.get("tags") or {}),
    )


def create_rest_api(
    name: str,
    endpoint_type: str,
    description: str,
    tags: dict[str, str],
    policy: str | None,
    *,
    in_turn: bool = False,
) -> RestApi:
    arguments: dict[str, Any] = {
        "name": name,
        "description": description,
        "endpointConfiguration": {"types": [endpoint_type]},
        "tags": tags,
    }
    if policy:
        arguments["policy"] = policy
    with aws_errors():
        created = _client(in_turn).create_rest_api(**arguments)
    return RestApi(
        id=created["id"],
        name=created["name"],
        root_resource_id=created.get("rootResourceId") or _root_resource_id(created["id"]),
        tags=dict(created.get("tags") or {}),
    )


def _root_resource_id(rest_api_id: str) -> str:
    for resource in resources(rest_api_id):
        if resource["path"] == "/":
            return str(resource["id"])
    raise errors.ResourceNotFound(f"REST API {rest_api_id} has no root resource")


def resources(rest_api_id: str) -> list[dict[str, Any]]:
    with aws_errors():
        pages = clients.apigateway().get_paginator("get_resources").paginate(restApiId=rest_api_id)
        return [dict(item) for page in pages for item in page.get("items", [])]


def create_resource(rest_api_id: str, parent_id: str, path_part: str) -> str:
    with aws_errors():
        created = clients.apigateway().create_resource(
            restApiId=rest_api_id, parentId=parent_id, pathPart=path_part
        )
    return created["id"]


def put_private_integration(
    rest_api_id: str,
    resource_id: str,
    http_method: str,
    uri: str,
    *,
    proxy_path_parameter: bool = False,
) -> None:
    """The tutorial's method: authorization NONE, HTTP_PROXY over ``VPC_LINK``, link id taken
    from the ``vpcLinkId`` stage variable so the link can be switched without redeploying.

    PUT is an upsert in API Gateway, so calling this again after a retry changes nothing.
    """
    request_parameters = {"method.request.path.proxy": True} if proxy_path_parameter else {}
    integration_parameters = (
        {"integration.request.path.proxy": "method.request.path.proxy"}
        if proxy_path_parameter
        else {}
    )
    client = clients.apigateway()
    with aws_errors():
        client.put_method(
            restApiId=rest_api_id,
            resourceId=resource_id,
            httpMethod=http_method,
            authorizationType="NONE",
            requestParameters=request_parameters,
        )
        client.put_integration(
            restApiId=rest_api_id,
            resourceId=resource_id,
            httpMethod=http_method,
            type="HTTP_PROXY",
            integrationHttpMethod=http_method,
            uri=uri,
            connectionType="VPC_LINK",
            connectionId="${stageVariables.vpcLinkId}",
            requestParameters=integration_parameters,
        )


def get_stage(rest_api_id: str, stage_name: str) -> dict[str, Any] | None:
    try:
        with aws_errors():
            return dict(clients.apigateway().get_stage(restApiId=rest_api_id, stageName=stage_name))
    except errors.ResourceNotFound:
        return None


def stages(rest_api_id: str) -> list[dict[str, Any]]:
    with aws_errors():
        return [
            dict(stage) for stage in clients.apigateway().get_stages(restApiId=rest_api_id)["item"]
        ]


def create_deployment(
    rest_api_id: str,
    stage_name: str,
    variables: dict[str, str],
    description: str,
    *,
    in_turn: bool = False,
) -> str:
    """Deploy to ``stage_name``, creating the stage with its variables in the same call: the
    stage never exists, not even for a moment, without its ``vpcLinkId``."""
    with aws_errors():
        created = _client(in_turn).create_deployment(
            restApiId=rest_api_id,
            stageName=stage_name,
            variables=variables,
            description=description,
        )
    return created["id"]


def set_stage_variable(rest_api_id: str, stage_name: str, name: str, value: str) -> None:
    with aws_errors():
        clients.apigateway().update_stage(
            restApiId=rest_api_id,
            stageName=stage_name,
            patchOperations=[{"op": "replace", "path": f"/variables/{name}", "value": value}],
        )


def tag(path: str, tags: dict[str, str]) -> None:
    with aws_errors():
        clients.apigateway().tag_resource(resourceArn=resource_arn(path), tags=tags)


def delete_rest_api(rest_api_id: str, *, in_turn: bool = False) -> None:
    with aws_errors():
        _client(in_turn).delete_rest_api(restApiId=rest_api_id)
