"""The teardown workflow's payloads (statemachine/teardown.asl.json)."""

from provisioner.contract.payloads import PacedTask, RequestRef


class TeardownRequest(RequestRef, kw_only=True):
    rest_api_id: str
    api_name: str
    created_by_request: str | None = None
    vpc_link_ids: list[str]
    keep_vpc_link: bool


class TeardownTask(PacedTask, kw_only=True):
    request: TeardownRequest
    # ReleaseVpcLinks: when the API was deleted; the links' deletion deadline counts from it
    # (not from the execution's start: a wait for a DeleteRestApi turn must not eat it), and
    # the release answers it moved on by its waits for DeleteVpcLink (V2) turns.
    started_at: str = ""
