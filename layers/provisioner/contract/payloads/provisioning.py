"""The provisioning workflow's payloads (statemachine/provision.asl.json): the validated
request and what its tasks make."""

from pydantic import Field

from provisioner.contract.payloads import LinkRequest, PacedTask, VpcLinkState
from provisioner.contract.requests import Authorization, EndpointType, HttpMethod
from provisioner.contract.wire import WireModel


class ProvisionRequest(LinkRequest):
    """A validated request with every default filled in: what every later task works from.
    Its link fields (``nlb_arn``, ``vpc_link_id``, ``tags``, the VPC link V2 network...) are
    ``LinkRequest``'s, so the link tasks read it as one.

    ``nlb_arn`` is the target load balancer, named so since the first contract: a network one,
    or (with a VPC link V2) an application one too; required here."""

    api_name: str
    nlb_arn: str
    stage_name: str
    endpoint_type: EndpointType
    endpoint_url: str
    http_method: HttpMethod
    proxy_all_paths: bool
    authorization: Authorization = Authorization.AWS_IAM
    cognito_user_pool_arns: list[str] = Field(default_factory=list)
    authorizer_function_arn: str | None = None
    vpc_endpoint_ids: list[str] = Field(default_factory=list)


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
