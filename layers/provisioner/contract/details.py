"""The request contract's events (README, "The request contract"): the ``detail`` a requester
may put in each kind of event, as its model. The fields' types and rules are
``contract.requests``'; only the functions that read a request event (the validate tasks, the
ticket intake's mapping) import these models.
"""

from typing import Annotated

from pydantic import ConfigDict, Field, StringConstraints

from provisioner.contract.requests import (
    MAX_TIMEOUT_SECONDS,
    NLB_ARN_PATTERN,
    STAGE_NAME_PATTERN,
    VPC_LINK_ID_PATTERN,
    ApiName,
    Authorization,
    EndpointType,
    EndpointUrl,
    HttpMethod,
    LambdaFunctionArn,
    LoadBalancerArn,
    RequestedBy,
    RequestId,
    RestApiId,
    SecurityGroupIds,
    SubnetIds,
    Tags,
    TicketId,
    TicketRef,
    UserPoolArn,
    VpcEndpointId,
    VpcLinkVersion,
)
from provisioner.contract.wire import WireModel


class RequesterFields(WireModel):
    """What every request type's ``detail`` may carry to identify and attribute it.

    The request contract's models accept exactly the documented camelCase names: no
    snake_case alias of a field is honoured (it is an unknown field, and refused)."""

    model_config = ConfigDict(validate_by_name=False, validate_by_alias=True)

    request_id: RequestId | None = None
    ticket_id: TicketId | None = None
    requested_by: RequestedBy | None = None
    ticket: TicketRef | None = None


class LinkFields(RequesterFields):
    """What a provisioning and a relink both say of the link their stage is to use: the load
    balancer or the link itself, and how long to wait for it."""

    stage_name: Annotated[str, StringConstraints(pattern=STAGE_NAME_PATTERN)] | None = None
    nlb_arn: Annotated[str, StringConstraints(pattern=NLB_ARN_PATTERN)] | None = None
    vpc_link_id: Annotated[str, StringConstraints(pattern=VPC_LINK_ID_PATTERN)] | None = None
    # Strict: JSON true is not a timeout of 1 s.
    timeout_seconds: int | None = Field(default=None, ge=1, le=MAX_TIMEOUT_SECONDS, strict=True)
    tags: Tags = Field(default_factory=dict)
    # VPC links V2 (issue 13): any ALB or NLB, a link version, the link's network.
    target_arn: LoadBalancerArn | None = None
    vpc_link_version: VpcLinkVersion | None = None
    subnet_ids: SubnetIds | None = None
    security_group_ids: SecurityGroupIds | None = None


class RequestDetail(LinkFields):
    """``detail`` of a ``PrivateApiRequested`` event, as the requester sends it."""

    api_name: ApiName
    endpoint_type: EndpointType = EndpointType.REGIONAL
    endpoint_url: EndpointUrl | None = None
    http_method: HttpMethod = "GET"
    # Strict: nor is the string "false" a boolean.
    proxy_all_paths: bool = Field(default=False, strict=True)
    # Secure by default (README, "Who may call the API"): which fields go with which
    # authorization and endpoint type is checked in domain.validation, with every other rule.
    authorization: Authorization = Authorization.AWS_IAM
    cognito_user_pool_arns: list[UserPoolArn] | None = Field(
        default=None, min_length=1, max_length=5
    )
    authorizer_function_arn: LambdaFunctionArn | None = None
    vpc_endpoint_ids: list[VpcEndpointId] | None = Field(default=None, min_length=1, max_length=10)


class TeardownDetail(RequesterFields):
    """``detail`` of a ``PrivateApiDeletionRequested`` event."""

    target_request_id: RequestId | None = None
    rest_api_id: RestApiId | None = None
    keep_vpc_link: bool = Field(default=False, strict=True)


class RelinkDetail(LinkFields):
    """``detail`` of a ``PrivateApiRelinkRequested`` event."""

    target_request_id: RequestId | None = None
    rest_api_id: RestApiId | None = None
    delete_old_link: bool = Field(default=False, strict=True)
