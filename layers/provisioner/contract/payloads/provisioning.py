"""The provisioning workflow's payloads (statemachine/provision.asl.json): the validated
request and what its tasks make."""

import msgspec

from provisioner.contract.payloads import LinkRequest, PacedTask, VpcLinkState
from provisioner.contract.vocabulary import Authorization, EndpointType, HttpMethod
from provisioner.contract.wire import WireStruct


class ProvisionRequest(LinkRequest, kw_only=True):
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
    cognito_user_pool_arns: list[str] = msgspec.field(default_factory=list)
    authorizer_function_arn: str | None = None
    vpc_endpoint_ids: list[str] = msgspec.field(default_factory=list)


class ApiState(WireStruct, kw_only=True):
    rest_api_id: str
    root_resource_id: str
    created_by_this_request: bool


class DeploymentState(WireStruct, kw_only=True):
    deployment_id: str
    stage_name: str
    invoke_url: str


class CreateApiTask(PacedTask, kw_only=True):
    request: ProvisionRequest


class DeployApiTask(PacedTask, kw_only=True):
    request: ProvisionRequest
    link: VpcLinkState
    api: ApiState
