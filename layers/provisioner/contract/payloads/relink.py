"""The relink workflow's payloads (statemachine/relink.asl.json)."""

from provisioner.contract.payloads import LinkRequest, PacedTask, VpcLinkState
from provisioner.contract.wire import WireStruct


class RelinkRequest(LinkRequest, kw_only=True):
    """A ``LinkRequest`` (``nlb_arn``: the new target, ALB or NLB; ``vpc_link_id``: the link
    named, if any), so the link tasks of provisioning serve relink as is; and the stage to
    switch."""

    api_name: str
    rest_api_id: str
    stage_name: str
    old_vpc_link_id: str | None = None
    provisioned_by: str | None = None  # the request that created the API, from its tag
    delete_old_link: bool


class StageSwitched(WireStruct, kw_only=True):
    """The stage points at its new link: what the switch did, when the relink then waits for
    a turn to delete the old link (a V2 link's DeleteVpcLink is paced) and is called again."""

    redeployed: str | None = None  # the integrations redeployed for a change of link version


class RelinkTask(PacedTask, kw_only=True):
    request: RelinkRequest
    link: VpcLinkState
    switched: StageSwitched | None = None  # by its earlier call, before a wait for a turn
