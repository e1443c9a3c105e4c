"""The three workflows, described once: ``python -m statemachine`` writes ``*.asl.json``.

Amazon States Language has no way to share a state between definitions, so what the three
workflows have in common is written here once and expanded into each file: the retriers of a
Lambda task, the link-wait loop (provisioning and relink), and the failure tail (roll back,
then end ``Rejected``, ``Failed`` or ``RollbackIncomplete``; a duplicate delivery ends
``DuplicateIgnored``). The tasks tell the requester every milestone themselves
(``domain.milestones.announce``), so no state here publishes anything.

The generated files are checked in (SAM's ``DefinitionUri`` names them) and a unit test checks
they are what this module writes.
"""

from __future__ import annotations

from typing import Any

from provisioner.contract.requests import MAX_TIMEOUT_SECONDS
from provisioner.contract.vocabulary import PROVISION_REQUESTED, STAGE_VARIABLE, Status
from provisioner.domain.teardown import LINK_DELETION_DEADLINE

State = dict[str, Any]
States = dict[str, State]

# Lambda's own transient faults, retried quickly; then our transient errors (throttling, AWS
# hiccups), retried with exponential backoff and full jitter (errors.TooManyRequests, ...).
_LAMBDA_FAULTS: State = {
    "ErrorEquals": [
        "Lambda.ServiceException",
        "Lambda.AWSLambdaException",
        "Lambda.SdkClientException",
        "Lambda.TooManyRequestsException",
    ],
    "IntervalSeconds": 1,
    "MaxAttempts": 3,
    "BackoffRate": 2,
    "MaxDelaySeconds": 10,
    "JitterStrategy": "FULL",
}
_TRANSIENT: State = {
    "ErrorEquals": ["TooManyRequests", "TransientAwsError"],
    "IntervalSeconds": 2,
    "MaxAttempts": 6,
    "BackoffRate": 2,
    "MaxDelaySeconds": 60,
    "JitterStrategy": "FULL",
}
# Another request is creating this NLB's link: wait for it and reuse it.
_LINK_IN_PROGRESS: State = {
    "ErrorEquals": ["LinkCreationInProgress"],
    "IntervalSeconds": 1,
    "MaxAttempts": 20,
    "BackoffRate": 1.5,
    "MaxDelaySeconds": 10,
    "JitterStrategy": "FULL",
}


# Each workflow's TimeoutSeconds: a backstop, so that no execution polls forever if a deadline
# check is ever wrong; it ends TIMED_OUT and the stopped-execution watch answers the requester.
# The longest legitimate run: the link's deadline (at most 86,400 s, the contract's largest
# timeoutSeconds, counted from the execution's start; a teardown's link deletion, 600 s), then
# one more poll, the deployment or relink and a rollback, each at its worst (every retry above
# taken, each attempt running to the function's timeout): under an hour together. Two hours
# of margin over the deadline is above that, and far below the 25 h an execution of a
# 24-hour link request would otherwise be allowed to go on after it. The waits for API
# Gateway's turns (domain.pacing) move a link's deadline on (CreateVpcLink V2) or come before
# it starts: the margin's other hour holds about two hundred CreateVpcLink turns (15.2 s
# each, per account) or a hundred DeleteRestApi or DeleteVpcLink turns (30.2 s) ahead.
# The largest timeoutSeconds of a provisioning or a relink (contract.details' RequestDetail and
# RelinkDetail allow up to contract.requests.MAX_TIMEOUT_SECONDS), and a teardown's deadline.
LONGEST_LINK_WAIT_SECONDS = MAX_TIMEOUT_SECONDS
LINK_DELETION_SECONDS = int(LINK_DELETION_DEADLINE.total_seconds())
BACKSTOP_MARGIN_SECONDS = 7_200


def task(
    function: str,
    payload: dict[str, Any],
    *,
    result: dict[str, str] | None,
    result_path: str | None,
    next_state: str | None,
    catch: list[State],
    comment: str | None = None,
    retry_first: tuple[State, ...] = (),
) -> State:
    """A Lambda task: ``function`` is the name of its ``DefinitionSubstitutions`` entry."""
    state: State = {"Type": "Task"}
    if comment:
        state["Comment"] = comment
    state["Resource"] = "arn:aws:states:::lambda:invoke"
    state["Parameters"] = {"FunctionName": f"${{{function}FunctionArn}}", "Payload": payload}
    if result is not None:
        state["ResultSelector"] = {key: f"$.Payload.{value}" for key, value in result.items()}
    state["ResultPath"] = result_path
    state["Retry"] = [*retry_first, _LAMBDA_FAULTS, _TRANSIENT]
    state["Catch"] = catch
    if next_state is None:
        state["End"] = True
    else:
        state["Next"] = next_state
    return state


def catch_all(next_state: str, result_path: str) -> State:
    return {"ErrorEquals": ["States.ALL"], "ResultPath": result_path, "Next": next_state}


def validate(function: str, comment: str, next_state: str) -> States:
    """The first task: parse, validate and claim the request. A failure keeps the error alone,
    never merged into the event (which may be as large as EventBridge allows)."""
    return {
        f"{function}": task(
            function,
            {"event.$": "$", "executionArn.$": "$$.Execution.Id"},
            result={"request.$": "request"},
            result_path="$",
            next_state=next_state,
            comment=comment,
            catch=[
                {
                    "ErrorEquals": ["DuplicateRequest"],
                    "ResultPath": "$",
                    "Next": "DuplicateIgnored",
                },
                catch_all("ValidationFailed", "$"),
            ],
        ),
        "ValidationFailed": {
            "Type": "Pass",
            "Comment": (
                "The error names the request to answer; the event id is the requestId's default."
            ),
            "Parameters": {"error.$": "$", "id.$": "$$.Execution.Input.id"},
            "Next": "Rollback",
        },
    }


def turn_later(result_path: str, wait: str) -> State:
    """The Choice rule of a paced task's result: its ``turn`` is not null, wait for it."""
    return {"Variable": f"{result_path}.turn", "IsNull": False, "Next": wait}


def wait_for_turn(result_path: str, operation: str, next_state: str) -> State:
    """The Wait state of a turn: until the turn, rounded up to the second (``domain.pacing``)."""
    return {
        "Type": "Wait",
        "Comment": f"This stack's turn for {operation} (API Gateway's fixed rate).",
        "TimestampPath": f"{result_path}.turn.waitUntil",
        "Next": next_state,
    }


_ATTEMPT = {"retryCount.$": "$$.State.RetryCount"}


def link_wait(*, next_state: str | None, on_failure: State) -> States:
    """Find or create the link, then poll it until it is AVAILABLE (VpcLinkFailed and
    VpcLinkTimeout end it); the Wait is the poll interval, shortened to land on the deadline.

    A V2 link's CreateVpcLink is paced (``domain.vpc_links``): EnsureVpcLink may answer a
    turn, its own or that of the request that creates the link it will share; the workflow
    waits for it (``WaitForCreateVpcLinkTurn``) and calls ``EnsureVpcLinkInTurn`` with it.
    The turn is read by the Choice that reads the link's status anyway (GetVpcLinkStatus
    answers ``turn`` null), so a link made or found at once costs no state more than before."""
    ensure = {"request.$": "$.request", "startedAt.$": "$$.Execution.StartTime", **_ATTEMPT}
    selected = {"link.$": "link", "turn.$": "turn"}
    return {
        "EnsureVpcLink": task(
            "EnsureVpcLink",
            ensure,
            result=selected,
            result_path="$.linkState",
            next_state="IsLinkAvailable",
            comment=(
                "Reuse the link in service for this request (V1: on its NLB; V2: in its subnets "
                "and security groups), or create one tagged with the request id (a V2 link in "
                "its CreateVpcLink turn); LinkCreationInProgress means another request is "
                "creating it."
            ),
            retry_first=(_LINK_IN_PROGRESS,),
            catch=[on_failure],
        ),
        "IsLinkAvailable": {
            "Type": "Choice",
            "Choices": [
                turn_later("$.linkState", "WaitForCreateVpcLinkTurn"),
                {
                    "Variable": "$.linkState.link.status",
                    "StringEquals": "AVAILABLE",
                    **({"Next": next_state} if next_state else {"Next": "LinkReady"}),
                },
            ],
            "Default": "WaitForLink",
        },
        "WaitForCreateVpcLinkTurn": wait_for_turn(
            "$.linkState", "CreateVpcLink V2", "EnsureVpcLinkInTurn"
        ),
        "EnsureVpcLinkInTurn": task(
            "EnsureVpcLink",
            {**ensure, "turn.$": "$.linkState.turn"},
            result=selected,
            result_path="$.linkState",
            next_state="IsLinkAvailable",
            retry_first=(_LINK_IN_PROGRESS,),
            catch=[on_failure],
        ),
        "WaitForLink": {
            "Type": "Wait",
            "SecondsPath": "$.linkState.link.nextPollSeconds",
            "Next": "GetVpcLinkStatus",
        },
        "GetVpcLinkStatus": task(
            "GetVpcLinkStatus",
            {"request.$": "$.request", "link.$": "$.linkState.link"},
            result=selected,
            result_path="$.linkState",
            next_state="IsLinkAvailable",
            comment=(
                "Raises VpcLinkFailed (with AWS's statusMessage), VpcLinkInactive or "
                "VpcLinkTimeout; the link state says which API (V1 or V2) to ask."
            ),
            catch=[on_failure],
        ),
    }


def paced(
    name: str,
    operation: str,
    payload: dict[str, Any],
    *,
    result: dict[str, str],
    result_path: str,
    next_state: str,
    catch: list[State],
    comment: str,
    carried: dict[str, str] | None = None,
) -> States:
    """A task whose API Gateway call is paced (``provisioner.domain.pacing``): its result has a
    ``turn``, null when the call was made. A task that found its turn free goes on at once (a
    Choice more, no Wait, no Lambda); otherwise the workflow waits for the turn in a Wait
    state, where no Lambda runs, and calls the task again with it (``<name>InTurn``). The
    retry count tells the task whether its turn was spent by a failed attempt. ``carried``:
    what the task answered with its turn and is given back with it (what it did before)."""
    choice, wait, again = f"Is{operation}TurnLater", f"WaitFor{operation}Turn", f"{name}InTurn"
    carried = carried or {}
    selected = {**result, "turn.$": "turn", **{f"{key}.$": key for key in carried}}
    back = {f"{key}.$": path for key, path in carried.items()}
    return {
        name: task(
            name,
            {**payload, **_ATTEMPT},
            result=selected,
            result_path=result_path,
            next_state=choice,
            comment=comment,
            catch=catch,
        ),
        choice: {
            "Type": "Choice",
            "Choices": [turn_later(result_path, wait)],
            "Default": next_state,
        },
        wait: wait_for_turn(result_path, operation, again),
        again: task(
            name,
            {**payload, **_ATTEMPT, "turn.$": f"{result_path}.turn", **back},
            result=selected,
            result_path=result_path,
            next_state=choice,
            catch=catch,
        ),
    }


def failure_tail(workflow: str) -> States:
    """Roll back what the request created (found by its tags), tell the requester why, and end
    with the error's name; a rollback that keeps failing ends ``RollbackIncomplete`` (the
    stopped-execution watch answers then).

    The rollback's DeleteRestApi and a V2 link's DeleteVpcLink are paced: the rollback may
    answer a turn with what it did so far (``rolledBack``); the workflow waits for it
    (``WaitForRollbackTurn``) and calls ``RollbackInTurn`` with both. The turn is read by the
    Choice that reads the outcome anyway: a rollback that found its turns free costs no state
    more than before."""
    ended_with_its_error = {
        "Type": "Fail",
        "ErrorPath": "$.rollback.outcome.error.code",
        "CausePath": "$.rollback.outcome.error.message",
    }
    rollback = {"workflow": workflow, "executionArn.$": "$$.Execution.Id", "state.$": "$"}
    selected = {"outcome.$": "outcome", "turn.$": "turn", "rolledBack.$": "rolledBack"}
    incomplete = catch_all("RollbackIncomplete", "$.rollbackError")
    return {
        "Rollback": task(
            "RollbackRequest",
            {**rollback, **_ATTEMPT},
            result=selected,
            result_path="$.rollback",
            next_state="WasRejected",
            comment="Deletes what this request created and tells the requester why it failed.",
            catch=[incomplete],
        ),
        "WasRejected": {
            "Type": "Choice",
            "Comment": "A turn: the rollback waits for it (DeleteRestApi, DeleteVpcLink V2).",
            "Choices": [
                turn_later("$.rollback", "WaitForRollbackTurn"),
                {
                    "Variable": "$.rollback.outcome.status",
                    "StringEquals": Status.REJECTED.value,
                    "Next": "Rejected",
                },
            ],
            "Default": "Failed",
        },
        "WaitForRollbackTurn": wait_for_turn(
            "$.rollback", "DeleteRestApi or DeleteVpcLink V2", "RollbackInTurn"
        ),
        "RollbackInTurn": task(
            "RollbackRequest",
            {
                **rollback,
                **_ATTEMPT,
                "turn.$": "$.rollback.turn",
                "rolledBack.$": "$.rollback.rolledBack",
            },
            result=selected,
            result_path="$.rollback",
            next_state="WasRejected",
            catch=[incomplete],
        ),
        "Rejected": ended_with_its_error,
        "Failed": dict(ended_with_its_error),
        "RollbackIncomplete": {
            "Type": "Fail",
            "Comment": "The stopped-execution watch answers the requester and tries again.",
            "Error": "RollbackIncomplete",
            "CausePath": "$.rollbackError.Cause",
        },
        "DuplicateIgnored": {
            "Type": "Succeed",
            "Comment": "Another delivery of this request runs or ran it; the ledger counts it.",
        },
    }


def succeeded(result_path: str) -> State:
    return {"Type": "Succeed", "OutputPath": f"{result_path}.progress.message"}


# --- the workflows -----------------------------------------------------------------------------
def provision() -> State:
    """Validate; create the API while the link becomes AVAILABLE; deploy with ``vpcLinkId``."""
    # A branch ends with its state: {linkState: {link}} or {apiState: {api}}, or, when it
    # failed, {failure: {Error, Cause}}, so the other branch finishes first and the rollback
    # sees all it created. (Two levels deep: moto's JSONPath gives a one-element list for
    # $.branches[0].x, AWS's the object; for $.branches[0].x.y both give the object.)
    branch_failed = {
        "ErrorEquals": ["States.ALL"],
        "ResultPath": "$.failure",
        "Next": "BranchFailed",
    }
    branch_end: States = {"BranchFailed": {"Type": "Succeed"}}
    link_branch = {
        "StartAt": "EnsureVpcLink",
        "States": {
            **link_wait(next_state=None, on_failure=branch_failed),
            "LinkReady": {"Type": "Succeed"},
            **branch_end,
        },
    }
    api_branch = {
        "StartAt": "CreateApi",
        "States": {
            **paced(
                "CreateApi",
                "CreateRestApi",
                {"request.$": "$.request"},
                result={"api.$": "api"},
                result_path="$.apiState",
                next_state="ApiReady",
                comment="The tutorial: the API may be created while the link is still PENDING.",
                catch=[branch_failed],
            ),
            "ApiReady": {"Type": "Succeed"},
            **branch_end,
        },
    }
    states: States = {
        **validate(
            "ValidateRequest",
            "InvalidRequest lists every field error; nothing has been created yet. Claims the "
            "request in the ledger: a duplicate delivery ends quietly.",
            "Provision",
        ),
        "Provision": {
            "Type": "Parallel",
            "Comment": "Wait for the link and create the API at the same time.",
            "Branches": [link_branch, api_branch],
            "ResultPath": "$.branches",
            "Catch": [catch_all("Rollback", "$.error")],
            "Next": "DidBothBranchesSucceed",
        },
        "DidBothBranchesSucceed": {
            "Type": "Choice",
            "Comment": "A failed branch ends with {failure}: the rollback reads the first.",
            "Choices": [
                {
                    "Or": [
                        {"Variable": "$.branches[0].failure", "IsPresent": True},
                        {"Variable": "$.branches[1].failure", "IsPresent": True},
                    ],
                    "Next": "Rollback",
                }
            ],
            "Default": "DeployApi",
        },
        **paced(
            "DeployApi",
            "CreateDeployment",
            {
                "request.$": "$.request",
                "link.$": "$.branches[0].linkState.link",
                "api.$": "$.branches[1].apiState.api",
            },
            result={"progress.$": "progress"},
            result_path="$.done",
            next_state="Succeeded",
            comment=f"CreateDeployment sets the {STAGE_VARIABLE} stage variable in the same call.",
            catch=[catch_all("Rollback", "$.error")],
        ),
        "Succeeded": succeeded("$.done"),
        **failure_tail("PROVISION"),
    }
    return {
        "Comment": (
            "Provision a REST API with a private integration (a VPC link V1 to an NLB, or V2 to "
            f"an ALB or NLB) from one {PROVISION_REQUESTED} event. Generated by "
            "statemachine/workflows.py."
        ),
        "StartAt": "ValidateRequest",
        "TimeoutSeconds": LONGEST_LINK_WAIT_SECONDS + BACKSTOP_MARGIN_SECONDS,
        "States": states,
    }


def teardown() -> State:
    """Validate (our API only); delete it; release its links, waiting until they are gone."""
    to_rollback = catch_all("Rollback", "$.error")
    released = {
        "pending.$": "pending",
        "nextPollSeconds.$": "nextPollSeconds",
        "turn.$": "turn",
        "startedAt.$": "startedAt",
        "progress.$": "progress",
    }
    states: States = {
        **validate(
            "ValidateTeardown",
            "Refuses (InvalidRequest) any API not tagged as created by this stack: nothing is "
            "touched.",
            "DeleteApi",
        ),
        **paced(
            "DeleteApi",
            "DeleteRestApi",
            {"request.$": "$.request"},
            result={"deletedAt.$": "deletedAt"},
            result_path="$.deletion",
            next_state="ReleaseVpcLinks",
            comment="DeleteRestApi: 1 call every 30 s per account, taken in turn.",
            catch=[to_rollback],
        ),
        "ReleaseVpcLinks": task(
            "ReleaseVpcLinks",
            {"request.$": "$.request", "startedAt.$": "$.deletion.deletedAt", **_ATTEMPT},
            result=released,
            result_path="$.release",
            next_state="AreLinksGone",
            comment=(
                "Deletes our unused links (a V2 link in its DeleteVpcLink turn); called again "
                "while any is DELETING (the deadline counts from the API's deletion, not from "
                "a wait for a turn: startedAt is moved on by the waits)."
            ),
            catch=[to_rollback],
        ),
        "AreLinksGone": {
            "Type": "Choice",
            "Choices": [
                turn_later("$.release", "WaitForDeleteVpcLinkTurn"),
                {
                    "Variable": "$.release.pending",
                    "BooleanEquals": True,
                    "Next": "WaitForLinkDeletion",
                },
            ],
            "Default": "Succeeded",
        },
        "WaitForDeleteVpcLinkTurn": wait_for_turn(
            "$.release", "DeleteVpcLink V2", "ReleaseVpcLinksAgain"
        ),
        "WaitForLinkDeletion": {
            "Type": "Wait",
            "SecondsPath": "$.release.nextPollSeconds",
            "Next": "ReleaseVpcLinksAgain",
        },
        "ReleaseVpcLinksAgain": task(
            "ReleaseVpcLinks",
            {
                "request.$": "$.request",
                "startedAt.$": "$.release.startedAt",
                "turn.$": "$.release.turn",
                **_ATTEMPT,
            },
            result=released,
            result_path="$.release",
            next_state="AreLinksGone",
            comment="After a poll's wait (turn null) or in its DeleteVpcLink turn.",
            catch=[to_rollback],
        ),
        "Succeeded": succeeded("$.release"),
        **failure_tail("TEARDOWN"),
    }
    return {
        "Comment": (
            "Delete a REST API this control plane created, and its VpcLink when nothing else "
            "uses it. Generated by statemachine/workflows.py."
        ),
        "StartAt": "ValidateTeardown",
        "TimeoutSeconds": LINK_DELETION_SECONDS + BACKSTOP_MARGIN_SECONDS,
        "States": states,
    }


def relink() -> State:
    """Validate; find or create the new link and wait for it; then switch the stage."""
    to_rollback = catch_all("Rollback", "$.error")
    states: States = {
        **validate(
            "ValidateRelink",
            "Our API only; its stage; the new vpcLinkId or nlbArn.",
            "EnsureVpcLink",
        ),
        **link_wait(next_state="RelinkStage", on_failure=to_rollback),
        **paced(
            "RelinkStage",
            "DeleteVpcLink",
            {"request.$": "$.request", "link.$": "$.linkState.link"},
            result={"progress.$": "progress"},
            result_path="$.done",
            next_state="Succeeded",
            comment=(
                f"Changes the {STAGE_VARIABLE} stage variable now that the link is AVAILABLE "
                "(with a new deployment whose integrations name the new target when a V2 link is "
                "on either side); optionally deletes the old link (a V2 link in its DeleteVpcLink "
                "turn: the stage is switched first, and not again in the turn)."
            ),
            catch=[to_rollback],
            carried={"switched": "$.done.switched"},
        ),
        "Succeeded": succeeded("$.done"),
        **failure_tail("RELINK"),
    }
    return {
        "Comment": (
            "Point an API's stage at another VpcLink once it is AVAILABLE. Generated by "
            "statemachine/workflows.py."
        ),
        "StartAt": "ValidateRelink",
        "TimeoutSeconds": LONGEST_LINK_WAIT_SECONDS + BACKSTOP_MARGIN_SECONDS,
        "States": states,
    }


WORKFLOWS = {"provision": provision, "teardown": teardown, "relink": relink}
