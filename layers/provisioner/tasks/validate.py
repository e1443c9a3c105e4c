"""The three workflows' first task: validate the request event, claim the request in the ledger
exactly once and tell its acceptance (statemachine/*.asl.json, ``Validate``). The other tasks
never read a request event, so they import none of this."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import partial
from typing import Any, Protocol

from provisioner.contract import errors
from provisioner.contract.events import request_ref_from_event
from provisioner.contract.payloads import RequestRef, ValidateTask, WorkflowKind
from provisioner.contract.payloads.provisioning import ProvisionRequest
from provisioner.contract.payloads.relink import RelinkRequest
from provisioner.contract.payloads.teardown import TeardownRequest
from provisioner.contract.requests import VpcLinkVersion
from provisioner.domain import milestones, validation
from provisioner.runtime.observability import bind_request
from provisioner.runtime.settings import Settings


def validate_request(task: ValidateTask, settings: Settings) -> dict[str, Any]:
    """A ``PrivateApiRequested`` event."""
    return _admit(
        WorkflowKind.PROVISION, task, settings, validation.validate_request, _provisioning_accepted
    )


def _provisioning_accepted(request: ProvisionRequest) -> str:
    target = f"VpcLink {request.vpc_link_id}" if request.vpc_link_id else request.nlb_arn
    if request.vpc_link_version is VpcLinkVersion.V2:
        target = f"{target} through a VPC link V2"
    return (
        f"Request accepted: {request.endpoint_type.value} API '{request.api_name}', "
        f"stage '{request.stage_name}', private integration to {target}, "
        f"authorization {request.authorization.value}."
    )


def validate_teardown(task: ValidateTask, settings: Settings) -> dict[str, Any]:
    """A ``PrivateApiDeletionRequested`` event."""
    return _admit(
        WorkflowKind.TEARDOWN, task, settings, validation.validate_teardown, _teardown_accepted
    )


def _teardown_accepted(request: TeardownRequest) -> str:
    links = ", ".join(request.vpc_link_ids) or "none"
    return (
        f"Teardown accepted: REST API {request.rest_api_id} ('{request.api_name}') will be "
        f"deleted; VpcLinks it uses: {links}."
    )


def validate_relink(task: ValidateTask, settings: Settings) -> dict[str, Any]:
    """A ``PrivateApiRelinkRequested`` event."""
    return _admit(WorkflowKind.RELINK, task, settings, validation.validate_relink, _relink_accepted)


def _relink_accepted(request: RelinkRequest) -> str:
    if request.vpc_link_id:
        target = f"VpcLink {request.vpc_link_id}"
    elif request.vpc_link_version is VpcLinkVersion.V2:
        target = f"a VPC link V2 to {request.nlb_arn}"
    else:
        target = f"{request.nlb_arn}"
    return (
        f"Relink accepted: stage '{request.stage_name}' of API {request.rest_api_id} will move "
        f"from VpcLink {request.old_vpc_link_id} to {target} once it is AVAILABLE."
    )


class Validation[Request](Protocol):
    """``domain.validation``'s three: the event's request, or ``InvalidRequest``."""

    def __call__(self, event: dict[str, Any], *, settings: Settings) -> Request: ...


def _admit[Request](
    kind: WorkflowKind,
    task: ValidateTask,
    settings: Settings,
    validate: Validation[Request],
    accepted: Callable[[Request], str],
) -> dict[str, Any]:
    """What every validate task does: validate the request (``validate(event, settings=...)``;
    an error carries the request it is about: :func:`answering`), claim it in the ledger
    exactly once and tell its acceptance, in the words ``accepted`` gives it."""
    with answering(task) as ref:
        request = milestones.validated(
            kind, ref, task, settings, partial(validate, task.event, settings=settings)
        )
        return milestones.accept(kind, request, task, accepted(request), settings)


@contextmanager
def answering(task: ValidateTask) -> Iterator[RequestRef]:
    """Bind the logs to the request the event asks for; every named error raised in the block
    carries it, since the workflow keeps the error alone when a validate task fails (never
    merged into an event that may be as large as EventBridge allows)."""
    ref = request_ref_from_event(task.event)
    bind_request(ref)
    try:
        yield ref
    except errors.ProvisionerError as error:
        error.request = ref.to_wire()
        raise
