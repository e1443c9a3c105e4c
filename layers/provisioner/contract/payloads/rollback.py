"""Every workflow's failure path's payloads: the state the workflow failed in and what the
rollback has done so far."""

from typing import Any

import msgspec

from provisioner.contract.payloads import AwsError, PacedTask, RequestRef, WorkflowKind
from provisioner.contract.wire import WireStruct


class BranchFailure(msgspec.Struct, frozen=True, kw_only=True):
    """What a Parallel branch that failed ends with (``{"failure": {Error, Cause}}``)."""

    failure: AwsError | None = None


class FailedState(msgspec.Struct, frozen=True, kw_only=True):
    """The workflow state at the moment something failed.

    A validate task that failed leaves its error and the event id (the error names the request
    to answer); a later failure leaves the validated ``request`` and the ``error``, or, after
    the Parallel state, its ``branches``, one of which ended with its failure.
    """

    request: RequestRef | None = None
    id: str | None = None
    detail: Any = None
    error: AwsError | None = None
    branches: list[BranchFailure] = msgspec.field(default_factory=list)

    @property
    def the_error(self) -> AwsError:
        """The error that ended the workflow: the state's, else the first failed branch's."""
        failures = [branch.failure for branch in self.branches if branch.failure]
        error = self.error or (failures[0] if failures else None)
        return error or AwsError(Error="States.Runtime", Cause="the workflow lost its error")


class RolledBack(WireStruct, kw_only=True):
    """What a rollback has done so far, when it waits for a turn before going on (a paced
    DeleteRestApi or DeleteVpcLink): what it deleted and kept is gone from AWS's listings by
    the time it is called again, so it is told."""

    deleted: list[str] = msgspec.field(default_factory=list)
    kept: list[str] = msgspec.field(default_factory=list)
    known: dict[str, str] = msgspec.field(default_factory=dict)  # restApiId, vpcLinkId


class RollbackTask(PacedTask, kw_only=True):
    workflow: WorkflowKind
    execution_arn: str
    state: FailedState
    rolled_back: RolledBack | None = None  # by its earlier calls, before a wait for a turn
