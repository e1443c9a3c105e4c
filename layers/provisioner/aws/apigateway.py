"""API Gateway (REST, v1): VpcLinks V1, REST APIs, integrations, deployments and stages.

VPC links V2 live in another API (``apigatewayv2``, :mod:`.apigatewayv2`) but are described by
the same :class:`VpcLink`, with ``version`` ``V2``, their subnets and security groups, and no
target: a V2 link serves every load balancer its subnets reach, and the integration names one
(``integrationTarget``)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, NamedTuple

from provisioner.aws import clients
from provisioner.aws.clients import aws_errors
from provisioner.contract import errors

# The integrations' connectionId: the stage's vpcLinkId variable gives them their link (the
# tutorial's way), so a relink changes the variable, not the integrations.
from provisioner.contract.vocabulary import STAGE_LINK_CONNECTION

if TYPE_CHECKING:
    from mypy_boto3_apigateway import APIGatewayClient

VERSION = "V1"
LINK_STATUSES_IN_SERVICE = frozenset({"PENDING", "AVAILABLE"})

# API Gateway's largest page (default 25): every call counts against the account's 10 per second.
_LARGEST_PAGES: Any = {"PaginationConfig": {"PageSize": 500}}


class VpcLink(NamedTuple):
    id: str
    name: str
    status: str
    status_message: str | None
    target_arns: list[str]
    tags: dict[str, str]
    version: str
    subnet_ids: list[str]  # V2 only
    security_group_ids: list[str]  # V2 only

    @classmethod
    def from_aws(cls, item: Any) -> VpcLink:
        return cls(
            id=item["id"],
            name=item.get("name", ""),
            status=item.get("status", "PENDING"),
            status_message=item.get("statusMessage"),
            target_arns=list(item.get("targetArns", [])),
            tags=dict(item.get("tags") or {}),
            version=VERSION,
            subnet_ids=[],
            security_group_ids=[],
        )


class RestApi(NamedTuple):
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
    return clients.if_found(
        lambda: VpcLink.from_aws(clients.apigateway().get_vpc_link(vpcLinkId=vpc_link_id))
    )


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
    return clients.if_found(
        lambda: _rest_api(clients.apigateway().get_rest_api(restApiId=rest_api_id))
    )


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
    vpc_endpoint_ids: list[str] | None = None,
    *,
    in_turn: bool = False,
) -> RestApi:
    endpoint: dict[str, Any] = {"types": [endpoint_type]}
    if vpc_endpoint_ids:  # a PRIVATE API's endpoints: they get its Route 53 alias names
        endpoint["vpcEndpointIds"] = vpc_endpoint_ids
    arguments: dict[str, Any] = {
        "name": name,
        "description": description,
        "endpointConfiguration": endpoint,
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
    authorization: str = "AWS_IAM",
    authorizer_id: str | None = None,
    integration_target: str | None = None,
) -> None:
    """The tutorial's method, authorized as asked (``AWS_IAM`` unless the request said
    otherwise; the tutorial's ``NONE`` only where the stack allows it), HTTP_PROXY over
    ``VPC_LINK``, link id taken from the ``vpcLinkId`` stage variable so the link can be
    switched without redeploying. ``integration_target``: the load balancer's ARN, which a VPC
    link V2 needs (AWS refuses a V2 link without it: "IntegrationTarget is required for
    VpcLinkV2 <id>."); none for V1.

    PUT is an upsert in API Gateway, so calling this again after a retry changes nothing.
    """
    request_parameters = {"method.request.path.proxy": True} if proxy_path_parameter else {}
    integration_parameters = (
        {"integration.request.path.proxy": "method.request.path.proxy"}
        if proxy_path_parameter
        else {}
    )
    method: dict[str, Any] = {"authorizerId": authorizer_id} if authorizer_id else {}
    integration: dict[str, Any] = {
        "restApiId": rest_api_id,
        "resourceId": resource_id,
        "httpMethod": http_method,
        "type": "HTTP_PROXY",
        "integrationHttpMethod": http_method,
        "uri": uri,
        "connectionType": "VPC_LINK",
        "connectionId": STAGE_LINK_CONNECTION,
        "requestParameters": integration_parameters,
    }
    if integration_target:
        integration["integrationTarget"] = integration_target
    client = clients.apigateway()
    with aws_errors():
        client.put_method(
            restApiId=rest_api_id,
            resourceId=resource_id,
            httpMethod=http_method,
            authorizationType=authorization,
            requestParameters=request_parameters,
            **method,
        )
        client.put_integration(**integration)


class StageLinkIntegration(NamedTuple):
    """An integration that takes its VpcLink from the ``vpcLinkId`` stage variable."""

    resource_id: str
    http_method: str
    integration: dict[str, Any]
    path: str = ""

    @property
    def target(self) -> str | None:
        return self.integration.get("integrationTarget") or None


def stage_link_integrations(rest_api_id: str) -> list[StageLinkIntegration]:
    """Every integration of the API whose ``connectionId`` is the ``vpcLinkId`` variable."""
    found = []
    client = clients.apigateway()
    with aws_errors():
        pages = client.get_paginator("get_resources").paginate(
            restApiId=rest_api_id, embed=["methods"]
        )
        for resource in (item for page in pages for item in page.get("items", [])):
            for method in resource.get("resourceMethods") or {}:
                integration = client.get_integration(
                    restApiId=rest_api_id, resourceId=resource["id"], httpMethod=method
                )
                if integration.get("connectionId") == STAGE_LINK_CONNECTION:
                    found.append(
                        StageLinkIntegration(
                            resource["id"], method, dict(integration), resource.get("path", "")
                        )
                    )
    return found


# What PutIntegration takes back from GetIntegration unchanged when only the target changes.
_KEPT_INTEGRATION_FIELDS = (
    "uri",
    "connectionType",
    "connectionId",
    "requestParameters",
    "requestTemplates",
    "passthroughBehavior",
    "cacheNamespace",
    "cacheKeyParameters",
    "contentHandling",
    "timeoutInMillis",
    "tlsConfig",
)


def set_integration_target(
    rest_api_id: str, found: StageLinkIntegration, integration_target: str | None
) -> None:
    """Put the integration again as it is, with another ``integrationTarget`` (None: none, as a
    V1 link needs). Only the API's definition changes: a stage serves its deployment until it
    is given another (:func:`point_stage_at_deployment`)."""
    integration: dict[str, Any] = {
        "restApiId": rest_api_id,
        "resourceId": found.resource_id,
        "httpMethod": found.http_method,
        "type": found.integration["type"],
        "integrationHttpMethod": found.integration.get("httpMethod", found.http_method),
    }
    integration.update(
        {
            key: found.integration[key]
            for key in _KEPT_INTEGRATION_FIELDS
            if key in found.integration
        }
    )
    if integration_target:
        integration["integrationTarget"] = integration_target
    with aws_errors():
        clients.apigateway().put_integration(**integration)


def authorizer_ids(rest_api_id: str) -> dict[str, str]:
    """The API's authorizers: id by name."""
    with aws_errors():
        items = clients.apigateway().get_authorizers(restApiId=rest_api_id).get("items", [])
    return {item["name"]: item["id"] for item in items}


def create_authorizer(rest_api_id: str, name: str, settings: dict[str, Any]) -> str:
    """An authorizer of the API (``settings``: type, providerARNs or authorizerUri, ...)."""
    with aws_errors():
        created = clients.apigateway().create_authorizer(
            restApiId=rest_api_id, name=name, **settings
        )
    return created["id"]


def get_stage(rest_api_id: str, stage_name: str) -> dict[str, Any] | None:
    return clients.if_found(
        lambda: dict(clients.apigateway().get_stage(restApiId=rest_api_id, stageName=stage_name))
    )


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


def create_stageless_deployment(rest_api_id: str, description: str) -> str:
    """A deployment of the API's definition as it is now, given to no stage yet."""
    with aws_errors():
        return clients.apigateway().create_deployment(
            restApiId=rest_api_id, description=description
        )["id"]


def point_stage_at_deployment(
    rest_api_id: str, stage_name: str, deployment_id: str, variables: dict[str, str]
) -> None:
    """Give the stage another deployment and change its variables in the same call: between
    two requests to the stage, both change or neither (one UpdateStage)."""
    operations: list[Any] = [{"op": "replace", "path": "/deploymentId", "value": deployment_id}]
    operations += [
        {"op": "replace", "path": f"/variables/{name}", "value": value}
        for name, value in variables.items()
    ]
    with aws_errors():
        clients.apigateway().update_stage(
            restApiId=rest_api_id, stageName=stage_name, patchOperations=operations
        )


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
