"""The relink workflow's payloads (statemachine/relink.asl.json)."""

from pydantic import Field

from provisioner.contract.payloads import PacedTask, RequestRef, VpcLinkState
from provisioner.contract.requests import VpcLinkVersion
from provisioner.contract.wire import WireModel


class RelinkRequest(RequestRef):
    """Readable as a ``LinkRequest`` too: the link tasks of provisioning serve relink as is."""

    api_name: str
    rest_api_id: str
    stage_name: str
    old_vpc_link_id: str | None = None
    provisioned_by: str | None = None  # the request that created the API, from its tag
    nlb_arn: str | None = None
    vpc_link_id: str | None = None
    timeout_seconds: int
    delete_old_link: bool
    tags: dict[str, str] = Field(default_factory=dict)
    # VPC links V2 (issue 13), as in ProvisionRequest (``nlb_arn``: the new target, ALB or NLB).
    vpc_link_version: VpcLinkVersion = VpcLinkVersion.V1
    subnet_ids: list[str] | None = None
    security_group_ids: list[str] | None = None


class StageSwitched(WireModel):
    """The stage points at its new link: what the switch did, when the relink then waits for
    a turn to delete the old link (a V2 link's DeleteVpcLink is paced) and is called again."""

    redeployed: str | None = None  # the integrations redeployed for a change of link version


class RelinkTask(PacedTask):
    request: RelinkRequest
    link: VpcLinkState
    switched: StageSwitched | None = None  # by its earlier call, before a wait for a turn
