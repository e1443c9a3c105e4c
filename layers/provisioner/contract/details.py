"""The request contract's events (README, "The request contract"): the ``detail`` a requester
may put in each kind of event, as its model, and :func:`parse_detail`, which reads an event's
``detail`` into one with every field error at once. The fields' types and rules are
``contract.requests``'; only the validate tasks import these models (the ticket mapping's
list of the fields a ticket may fill is held equal to them by a unit test).
"""

import re
from typing import Annotated, Any, NamedTuple

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    TypeAdapter,
    ValidationError,
)

from provisioner.contract.errors import ExposureNotAllowed, FieldError, InvalidRequest
from provisioner.contract.requests import (
    MAX_TIMEOUT_SECONDS,
    NLB_ARN_PATTERN,
    STAGE_NAME_PATTERN,
    TICKET_INTAKE_SOURCE,
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
    WireModel,
)


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


class ParsedDetail[DetailModel: BaseModel](NamedTuple):
    """An event's ``detail`` as far as its shape goes: the model when every field is right,
    and every shape problem; :meth:`well_formed` gives a field that is right by itself, so the
    checks that need AWS still run and every problem is reported at once."""

    event_id: str
    raw: dict[str, Any]
    detail: DetailModel | None
    problems: list[FieldError]

    def well_formed(self, name: str, pattern: str) -> str | None:
        value = self.raw.get(name)
        flagged = {problem.field for problem in self.problems}
        if f"detail.{name}" in flagged or not isinstance(value, str):
            return None
        return value if re.fullmatch(pattern, value) else None

    def flagged(self, name: str) -> bool:
        """Whether the shape check found ``name`` (or an item of it) wrong."""
        field_name = f"detail.{name}"
        return any(
            problem.field == field_name or problem.field.startswith(field_name + ".")
            for problem in self.problems
        )

    def well_formed_as(self, name: str, kind: Any) -> Any:
        """The field as ``kind`` (an annotated type of the contract) when it is given and
        right by itself, else None."""
        value = self.raw.get(name)
        if value is None or self.flagged(name):
            return None
        try:
            return TypeAdapter(kind).validate_python(value)
        except ValidationError:
            return None

    def given(self, name: str) -> bool:
        return self.raw.get(name) is not None

    def reference(self, detail: Any) -> dict[str, Any]:
        """The fields every request has (``RequestRef``'s) from its valid detail: its id (the
        event's when it names none), ticket and requester."""
        return {
            "request_id": detail.request_id or self.event_id,
            "ticket_id": detail.ticket_id,
            "requested_by": detail.requested_by,
            "ticket": detail.ticket,
        }

    def answer(
        self, found: list[FieldError], exposure: list[FieldError] | None = None
    ) -> DetailModel:
        """The detail, or ``InvalidRequest`` listing the shape problems, ``found`` and
        ``exposure``; ``ExposureNotAllowed`` when a missing consent is all that is wrong."""
        problems = self.problems + found
        if problems or self.detail is None:
            listed = problems + (exposure or [])
            raise InvalidRequest.of(listed or [FieldError("detail", "is not a valid request")])
        if exposure:
            raise ExposureNotAllowed.of(exposure)
        return self.detail


def parse_detail[DetailModel: BaseModel](
    event: dict[str, Any],
    model: type[DetailModel],
    *,
    one_of: tuple[tuple[str, ...], ...] = (),
) -> ParsedDetail[DetailModel]:
    """The event's ``detail`` as ``model`` and every field error. Each group in ``one_of``
    names fields of which exactly one must be given."""
    # Imported here: only the functions that read EventBridge events pay for the Parser's
    # models at cold start.
    from aws_lambda_powertools.utilities.parser import parse
    from aws_lambda_powertools.utilities.parser.models import EventBridgeModel

    event_id = str(event.get("id") or "")
    raw = event.get("detail")
    if not isinstance(raw, dict):
        return ParsedDetail(event_id, {}, None, [FieldError("detail", "must be a JSON object")])
    try:
        event_id = parse(event=event, model=EventBridgeModel).id
    except ValidationError as error:
        return ParsedDetail(event_id, raw, None, _field_errors(error, prefix=""))
    problems = [problem for group in one_of for problem in _exactly_one(raw, group)]
    if "ticket" in raw and event.get("source") != TICKET_INTAKE_SOURCE:
        problems.append(
            FieldError("detail.ticket", f"set only by the ticket intake ({TICKET_INTAKE_SOURCE})")
        )
    try:
        detail = model.model_validate(raw)
    except ValidationError as error:
        return ParsedDetail(event_id, raw, None, _field_errors(error, prefix="detail.") + problems)
    return ParsedDetail(event_id, raw, None if problems else detail, problems)


def _exactly_one(detail: dict[str, Any], group: tuple[str, ...]) -> list[FieldError]:
    """Checked beside the model, so it is reported together with every other field error."""
    given = [name for name in group if detail.get(name) is not None]
    if len(given) == 1:
        return []
    first, *others = group
    if not given:
        return [FieldError(f"detail.{first}", f"required unless {' or '.join(others)} is given")]
    return [FieldError(f"detail.{given[1]}", f"give only one of {', '.join(group)}")]


def _field_errors(error: ValidationError, *, prefix: str) -> list[FieldError]:
    found = []
    for item in error.errors():
        location = ".".join(str(part) for part in item["loc"])
        rule = str(item["msg"]).removeprefix("Value error, ")
        if item["type"] == "extra_forbidden":
            rule = "unknown field (check its spelling against the request contract)"
        elif item["type"] == "string_pattern_mismatch":
            rule = f"must match {item.get('ctx', {}).get('pattern', 'the documented pattern')}"
        found.append(FieldError(field=f"{prefix}{location}".rstrip("."), rule=rule))
    return found
