"""Every error the workflow can see, by name.

The class name of each exception is the error name the state machine matches in its
``Retry`` and ``Catch`` blocks (the Lambda runtime reports it as ``errorType``), so these
names are a contract with ``statemachine/*.asl.json``: rename one only together with the ASL.

``str(error)`` is a small JSON document (``message``, ``remedy`` and, for invalid input,
``fields``). The Lambda runtime passes it on as ``errorMessage``; the rollback task reads it
back from the ``Cause`` to tell the requester what went wrong and what to do about it.
"""

from __future__ import annotations

import json
from typing import Any, ClassVar, NamedTuple

from provisioner.contract.vocabulary import EXPOSE_TAG, EXPOSE_TAG_VALUE

# An error never grows with its input: a 100 KB field name or 2,000 unknown fields still make
# an error of a few kilobytes, which every workflow state and notification can carry.
MAX_LISTED_FIELDS = 10
_MAX_FIELD_NAME = 200
_MAX_RULE = 400


def _bounded(text: str, limit: int) -> str:
    return text if len(text) <= limit else f"{text[: limit - 30]}... ({len(text)} characters)"


class _BrokenRule(NamedTuple):
    field: str
    rule: str


class FieldError(_BrokenRule):
    """One rule one field broke, named so a requester can fix the event (a NamedTuple, not a
    frozen dataclass: a cold start defines it for about a third of the instructions)."""

    __slots__ = ()

    def __new__(cls, field: str, rule: str) -> FieldError:
        return super().__new__(cls, _bounded(field, _MAX_FIELD_NAME), _bounded(rule, _MAX_RULE))

    def as_dict(self) -> dict[str, str]:
        return {"field": self.field, "rule": self.rule}


class ProvisionerError(Exception):
    """Base of every named error; ``retryable`` ones are retried by the ASL with backoff."""

    retryable: ClassVar[bool] = False
    default_remedy: ClassVar[str] = "Fix the cause above and send the request again."

    def __init__(
        self,
        message: str,
        *,
        remedy: str | None = None,
        fields: list[FieldError] | None = None,
        more_fields: int = 0,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.remedy = remedy or self.default_remedy
        self.fields = list(fields or [])
        self.more_fields = more_fields
        self.request: dict[str, str] | None = None  # who to answer (set by the validate tasks)

    @property
    def code(self) -> str:
        return type(self).__name__

    def as_dict(self) -> dict[str, Any]:
        details: dict[str, Any] = {"message": self.message, "remedy": self.remedy}
        if self.fields:
            details["fields"] = [f.as_dict() for f in self.fields]
        if self.more_fields:
            details["moreFields"] = self.more_fields
        if self.request:
            details["request"] = self.request
        return details

    def __str__(self) -> str:
        return json.dumps(self.as_dict(), separators=(",", ":"))


# --- the requester's input -------------------------------------------------------------------
class InvalidRequest(ProvisionerError):
    default_remedy = "Correct the fields listed and send the request again; nothing was created."

    @classmethod
    def of(cls, fields: list[FieldError]) -> InvalidRequest:
        """Every field at fault, the first :data:`MAX_LISTED_FIELDS` of them listed."""
        shown, more = fields[:MAX_LISTED_FIELDS], max(0, len(fields) - MAX_LISTED_FIELDS)
        listed = "; ".join(f"{f.field}: {f.rule}" for f in shown)
        noun = "field is" if len(fields) == 1 else "fields are"
        others = f" (and {more} more)" if more else ""
        return cls(
            f"{len(fields)} {noun} invalid: {listed}{others}", fields=shown, more_fields=more
        )


class ExposureNotAllowed(InvalidRequest):
    """The load balancer's owner has not consented to its exposure (the tag
    ``private-api:expose=true``); an ``InvalidRequest`` like any other: REJECTED, nothing
    created, the field named. Raised when that is all that is wrong with the request."""

    default_remedy = (
        f"Ask the load balancer's owner to tag it {EXPOSE_TAG}={EXPOSE_TAG_VALUE} (aws elbv2 "
        f"add-tags --resource-arns <arn> --tags Key={EXPOSE_TAG},Value={EXPOSE_TAG_VALUE}), "
        "then send the request again; nothing was created."
    )


class DuplicateRequestConflict(ProvisionerError):
    """The requestId was used before for a different request (the ledger keeps each request's
    fingerprint): REJECTED like invalid input, and the request that owns the id is left alone.
    """

    default_remedy = "Use a new requestId for a different request; nothing was changed."


class DuplicateRequest(ProvisionerError):
    """A second delivery of a request already running or done: the workflow ends quietly."""

    default_remedy = "Nothing to do: the first delivery of this request is being handled."


# --- the VpcLink's lifecycle -----------------------------------------------------------------
class VpcLinkFailed(ProvisionerError):
    """The link cannot serve: API Gateway reported it FAILED (its ``statusMessage`` is quoted),
    it was deleted while the workflow waited for it, or the link the request named is gone.
    The request FAILS and what it created is rolled back."""

    default_remedy = (
        "Check that the NLB exists in this account and region, is a network load balancer, "
        "and is not already associated with another VPC endpoint service; then request again."
    )


class VpcLinkInactive(ProvisionerError):
    """A VPC link V2 went INACTIVE (60 days without traffic): it is not gone, but no stage may
    be pointed at it until requests through it have made it AVAILABLE again."""

    default_remedy = (
        "API Gateway deleted the link's network interfaces after 60 days without traffic and "
        "re-creates them, in a few minutes, when requests through it resume: send traffic "
        "through an API that uses it, or send this request again to get a link in service."
    )


class VpcLinkTimeout(ProvisionerError):
    """Past the request's ``timeoutSeconds`` the link was still PENDING (or, in a teardown,
    still DELETING ten minutes on): the wait loop gives up and the request FAILS."""

    default_remedy = (
        "VpcLinks typically take 2-4 minutes; request again with a larger timeoutSeconds, "
        "or check the link in the API Gateway console."
    )


# --- AWS said no -------------------------------------------------------------------------------
class QuotaExceeded(ProvisionerError):
    """AWS's LimitExceededException: an account quota is reached, which no retry lifts."""

    default_remedy = (
        "Delete unused VpcLinks or REST APIs, or ask for a quota increase in Service Quotas "
        "(20 VpcLinks and 600 regional REST APIs per account and region by default)."
    )


class AccessDenied(ProvisionerError):
    """The function's role may not make the call: the template's policies and the call
    disagree, a fault of the deployment that the requester can only report."""

    default_remedy = "The control plane's IAM role lacks a permission; tell its operators."


class ResourceNotFound(ProvisionerError):
    """AWS answered that what a call names does not exist. The adapters turn it into None where
    absence is an answer (``clients.if_found``); raised, it fails the request."""

    default_remedy = "A resource disappeared while the request ran; send the request again."


class AwsRequestRejected(ProvisionerError):
    """API Gateway answered BadRequestException: AWS's message is passed on verbatim."""

    default_remedy = "Correct the request as AWS's message says and send it again."


class StageNotSafe(ProvisionerError):
    """The stage would point at a link that does not serve: the link is not AVAILABLE when the
    stage is to be pointed at it, or, read back after the deployment or the switch, the stage's
    ``vpcLinkId`` does not name it. The request FAILS rather than report an API that cannot
    answer."""

    default_remedy = "The stage was not pointed at a link that is not AVAILABLE; request again."


class ConditionFailed(ProvisionerError):
    """A DynamoDB condition did not hold (``storage.table``). The ledger's stores and the domain
    handle the conditions they expect to fail (a request seen before, a turn taken, a claim
    held); one they do not expect fails the task, and the workflow's catch-all rolls the
    request back: a link claim lost because its lease ran out before ``record_link``, a
    milestone for a request the ledger does not have.

    ``item``: the item as it stood (DynamoDB's JSON), when the write asked for it with
    ``ReturnValuesOnConditionCheckFailure=ALL_OLD``."""

    item: dict[str, Any] | None = None


# --- transient: the ASL retries these with exponential backoff and full jitter ---------------
class TooManyRequests(ProvisionerError):
    """AWS throttled a call (429, ``TooManyRequestsException`` and the like) beyond botocore's
    own retries, or refused a paced call in each of its turns (``pacing.MAX_TURNS``)."""

    retryable = True
    default_remedy = (
        "API Gateway throttled the control plane; it retried and gave up. Request again."
    )


class TransientAwsError(ProvisionerError):
    """A 5xx, a timeout or API Gateway's "concurrent modification" conflict: the same call
    is expected to succeed a little later."""

    retryable = True
    default_remedy = "AWS had a transient fault; request again in a few minutes."


class LinkCreationInProgress(ProvisionerError):
    """Another request is creating the VpcLink for this NLB right now: wait and reuse it."""

    retryable = True
    default_remedy = "Another request kept creating this NLB's VpcLink too long; request again."


ERRORS_BY_NAME: dict[str, type[ProvisionerError]] = {
    cls.__name__: cls
    for cls in (
        InvalidRequest,
        ExposureNotAllowed,
        VpcLinkFailed,
        VpcLinkInactive,
        VpcLinkTimeout,
        QuotaExceeded,
        AccessDenied,
        ResourceNotFound,
        AwsRequestRejected,
        StageNotSafe,
        DuplicateRequestConflict,
        DuplicateRequest,
        ConditionFailed,
        TooManyRequests,
        TransientAwsError,
        LinkCreationInProgress,
    )
}
