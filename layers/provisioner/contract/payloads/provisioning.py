"""The provisioning workflow's payloads (statemachine/provision.asl.json): the validated
request and what its tasks make."""

from pydantic import Field

from provisioner.contract.payloads import PacedTask, RequestRef, VpcLinkState
from provisioner.contract.requests import Authorization, EndpointType, HttpMethod, VpcLinkVersion
from provisioner.contract.wire import WireModel


class ProvisionRequest(RequestRef):
    """A validated request with every default filled in: what every later task works from.

    ``nlb_arn`` is the target load balancer, named so since the first contract: a network one,
    or (with a VPC link V2) an application one too."""

    api_name: str
    stage_name: str
    endpoint_type: EndpointType
    nlb_arn: str
    vpc_link_id: str | None = None
    endpoint_url: str
    http_method: HttpMethod
    proxy_all_paths: bool
    timeout_seconds: int
    tags: dict[str, str] = Field(default_factory=dict)
    authorization: Authorization = Authorization.AWS_IAM
    cognito_user_pool_arns: list[str] = Field(default_factory=list)
    authorizer_function_arn: str | None = None
    vpc_endpoint_ids: list[str] = Field(default_factory=list)
    # VPC links V2 (issue 13): the link's version and, for V2, its network.
    vpc_link_version: VpcLinkVersion = VpcLinkVersion.V1
    subnet_ids: list[str] | None = None
    security_group_ids: list[str] | None = None


class ApiState(WireModel):
    rest_api_id: str
    root_resource_id: str
    created_by_this_request: bool


class DeploymentState(WireModel):
    deployment_id: str
    stage_name: str
    invoke_url: str


class CreateApiTask(PacedTask):
    request: ProvisionRequest


class DeployApiTask(PacedTask):
    request: ProvisionRequest
    link: VpcLinkState
    api: ApiState
