"""Generated request events, right and wrong in every field and in combinations, each knowing
which fields it made wrong: the corpus the bad-input tests draw from (unit and workflow).

Strings run up to EventBridge's 256 KiB and carry control characters.
"""

from __future__ import annotations

import json
import string
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from hypothesis import strategies as st

from provisioner.contract.errors import FieldError, InvalidRequest
from tests.unit.support import eventbridge_event

SEED = 20261121
MAX_TEXT = 16 * 1024  # one long string (the padding case reaches 256 KiB)
MAX_DETAIL = 256 * 1024 - 200  # what is left for Detail once Source and DetailType are in
CONTROL = "\x00\x01\t\n\r\x1b\x1f\x7f"
SAFE_TEXT = string.ascii_letters + string.digits + " -_.@äöüéß東京"
REQUESTER_FIELDS = ("requestId", "ticketId", "requestedBy")


@dataclass
class Case:
    """A request ``detail`` and the fields the generator made wrong in it."""

    clean: bool = False
    detail: dict[str, Any] = field(default_factory=dict)
    faults: set[str] = field(default_factory=set)

    def wrong(self, name: str, value: Any) -> None:
        self.detail[name] = value
        self.faults.add(f"detail.{name}")


# --- values -------------------------------------------------------------------------------------
def text(alphabet: str, min_size: int, max_size: int) -> st.SearchStrategy[str]:
    return st.text(alphabet=alphabet, min_size=min_size, max_size=max_size)


def huge(longer_than: int = 0) -> st.SearchStrategy[str]:
    """Longer than ``longer_than``, up to 16 KiB: drawn as a length and repeated (Hypothesis
    draws long text slowly)."""
    return st.builds(lambda n: "x" * n, st.integers(longer_than + 1, MAX_TEXT))


def with_control(inner: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    return st.builds(
        lambda left, control, right: left + control + right, inner, st.sampled_from(CONTROL), inner
    )


NOT_A_STRING = st.one_of(
    st.integers(), st.booleans(), st.lists(st.integers(), max_size=3), st.just({"a": 1})
)
VALID = {
    "requestId": text(string.ascii_letters + string.digits + "._-", 1, 64),
    "ticketId": text(SAFE_TEXT, 1, 128),
    "requestedBy": text(SAFE_TEXT, 1, 256),
    "apiName": text(string.ascii_letters + string.digits + "-_ ", 0, 127).map(lambda s: "a" + s),
    "stageName": text(string.ascii_letters + string.digits + "-_", 1, 128),
    "endpointType": st.sampled_from(["REGIONAL", "EDGE"]),  # PRIVATE: see endpoint_type
    "endpointUrl": st.sampled_from(["http://orders.internal", "https://x.example.com:8443/v1"]),
    "httpMethod": st.sampled_from(["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "ANY"]),
    "proxyAllPaths": st.booleans(),
    "timeoutSeconds": st.integers(1, 86_400),
    "keepVpcLink": st.booleans(),
    "deleteOldLink": st.booleans(),
    "tags": st.dictionaries(
        text(string.ascii_letters + " _.:/=+-@", 1, 20).filter(
            lambda k: not k.lower().startswith(("aws:", "provisioner:"))
        ),
        text(string.ascii_letters + string.digits + " ", 0, 30),
        max_size=5,
    ),
}
INVALID = {
    "requestId": st.one_of(
        st.just(""), huge(64), with_control(VALID["requestId"]), st.just("a/b"), NOT_A_STRING
    ),
    "ticketId": st.one_of(st.just(""), huge(128), with_control(VALID["ticketId"]), NOT_A_STRING),
    "requestedBy": st.one_of(huge(256), with_control(VALID["requestedBy"]), NOT_A_STRING),
    "apiName": st.one_of(
        st.just(""), st.just("   "), huge(128), with_control(VALID["apiName"]), NOT_A_STRING
    ),
    "stageName": st.one_of(st.just("no spaces"), huge(128), with_control(st.just("s")), st.just(7)),
    "endpointType": st.one_of(st.just("GLOBAL"), st.just("regional"), st.just(1)),
    "endpointUrl": st.one_of(st.just("ftp://x"), st.just("not a url"), st.just(3)),
    "httpMethod": st.one_of(st.just("FETCH"), st.just("get"), st.just(True)),
    "proxyAllPaths": st.one_of(st.just("true"), st.just(1), st.just("yes")),
    "timeoutSeconds": st.one_of(
        st.just(0), st.just(86_401), st.just("10"), st.just(True), st.just(1.5)
    ),
    "keepVpcLink": st.one_of(st.just("true"), st.just(0)),
    "deleteOldLink": st.one_of(st.just("false"), st.just(1)),
    "tags": st.one_of(
        st.just({"aws:team": "x"}),
        st.just({"provisioner:request-id": "x"}),
        st.builds(lambda c: {f"team{c}": "x"}, st.sampled_from(CONTROL)),
        st.builds(lambda c: {"team": f"x{c}"}, st.sampled_from(CONTROL)),
        st.just({"k" * 129: "x"}),
        st.just({"team": "v" * 257}),
        st.just({f"t{index}": "x" for index in range(41)}),
        st.just({"team": 1}),
        st.just(["team"]),
    ),
}
SNAKE_CASE_AND_TYPOS = [
    *("stage_name", "timeout_seconds", "http_method", "proxy_all_paths", "endpoint_type"),
    *("ticket_id", "requested_by", "api_name", "colour", "nlbarn", "Tags"),
]
UNKNOWN_KEYS = st.one_of(
    st.sampled_from(SNAKE_CASE_AND_TYPOS),
    text(string.ascii_letters + "\n\t", 1, 30),
    st.builds(lambda n: "k" * n, st.integers(200, 100_000)),
)


def fields_of(draw: Any, case: Case, names: tuple[str, ...], *, required: tuple[str, ...] = ()):
    """Each field absent, right or wrong (never wrong in a clean case)."""
    modes = ["absent", "valid"] if case.clean else ["absent", "valid", "invalid"]
    for name in names:
        mode = draw(st.sampled_from(modes))
        if mode == "valid":
            case.detail[name] = draw(VALID[name])
        elif mode == "invalid":
            case.wrong(name, draw(INVALID[name]))
        elif name in required:
            case.faults.add(f"detail.{name}")


def unknown_fields(draw: Any, case: Case, known: set[str]) -> None:
    """Fields the contract does not have; or padding up to EventBridge's limit."""
    if case.clean:
        return
    for key in draw(st.lists(UNKNOWN_KEYS, max_size=3)):
        if key not in known and key not in case.detail:
            case.wrong(key, draw(st.one_of(st.integers(), huge())))
    if draw(st.integers(0, 9)) == 0:
        room = MAX_DETAIL - len(json.dumps({**case.detail, "padding": ""}))
        if room > 0:
            case.wrong("padding", "x" * room)


def choose(draw: Any, case: Case, clean: list[str], faulty: list[str]) -> str:
    return str(draw(st.sampled_from(clean if case.clean else clean + faulty)))


def new_case(draw: Any) -> Case:
    """Half the cases are clean (every field right): the other half wrong somewhere."""
    return Case(clean=draw(st.booleans()))


# --- the three kinds of request ---------------------------------------------------------------
@dataclass(frozen=True)
class World:
    """What exists in AWS for the generated requests to name (or to name wrongly). A world
    without one of the optional resources gets no case that needs it."""

    nlb_arn: str
    alb_arn: str
    missing_nlb_arn: str
    foreign_account_nlb_arn: str
    link_id: str
    request_id: str  # a provisioning that created an API (with one stage, "prod")
    rest_api_id: str
    foreign_api_id: str  # an API this control plane did not create
    untagged_nlb_arn: str | None = None  # its owner did not tag it private-api:expose=true
    vpc_endpoint_id: str | None = None  # an Interface endpoint of execute-api
    wrong_endpoint_id: str | None = None  # a Gateway endpoint of S3
    user_pool_arn: str | None = None
    function_arn: str | None = None  # API Gateway may invoke it
    unpermitted_function_arn: str | None = None
    subnet_ids: tuple[str, ...] = ()  # the load balancers' subnets (a V2 link's default)


MISSING_ENDPOINT = "vpce-0000000000000000a"
MISSING_POOL = "arn:aws:cognito-idp:us-east-1:123456789012:userpool/us-east-1_Missing0"
SOME_FUNCTION = "arn:aws:lambda:us-east-1:123456789012:function:some-authorizer"
FOREIGN_FUNCTION = "arn:aws:lambda:us-east-1:210987654321:function:their-authorizer"


def endpoint_type(draw: Any, case: Case, world: World) -> None:
    """``endpointType`` and ``vpcEndpointIds``: PRIVATE needs them, nothing else takes them."""
    clean = ["absent", "REGIONAL", "EDGE"] + (["PRIVATE"] if world.vpc_endpoint_id else [])
    faulty = ["invalid", "private-alone", "endpoints-not-private", "malformed", "missing"]
    faulty += ["wrong-type"] if world.wrong_endpoint_id else []
    mode = choose(draw, case, clean, faulty)
    if mode == "absent":
        return
    if mode in ("REGIONAL", "EDGE"):
        case.detail["endpointType"] = mode
    elif mode == "invalid":
        case.wrong("endpointType", draw(INVALID["endpointType"]))
    elif mode == "endpoints-not-private":
        if draw(st.booleans()):
            case.detail["endpointType"] = draw(st.sampled_from(["REGIONAL", "EDGE"]))
        case.wrong("vpcEndpointIds", [world.vpc_endpoint_id or MISSING_ENDPOINT])
    else:
        case.detail["endpointType"] = "PRIVATE"
        if mode == "PRIVATE":
            case.detail["vpcEndpointIds"] = [world.vpc_endpoint_id]
        elif mode == "private-alone":
            case.faults.add("detail.vpcEndpointIds")
        elif mode == "malformed":
            ids = st.sampled_from([[], "vpce-1", ["vpce-XYZ"], [MISSING_ENDPOINT] * 11, [1]])
            case.wrong("vpcEndpointIds", draw(ids))
        elif mode == "missing":
            case.wrong("vpcEndpointIds", [MISSING_ENDPOINT])
        else:
            case.wrong("vpcEndpointIds", [world.vpc_endpoint_id, world.wrong_endpoint_id])


def authorization(draw: Any, case: Case, world: World) -> None:
    """``authorization`` and its authorizer's fields (``NONE`` is refused: the tests' stack
    does not allow unauthenticated APIs)."""
    clean = ["absent", "AWS_IAM"]
    clean += ["cognito"] if world.user_pool_arn else []
    clean += ["custom"] if world.function_arn else []
    faulty = ["NONE", "invalid", "cognito-alone", "custom-alone", "pools-elsewhere"]
    faulty += ["function-elsewhere", "malformed-pools", "malformed-function", "missing-pool"]
    faulty += ["foreign-function"] + (["unpermitted"] if world.unpermitted_function_arn else [])
    mode = choose(draw, case, clean, faulty)
    if mode == "NONE":
        case.wrong("authorization", "NONE")
    elif mode == "invalid":
        case.wrong("authorization", draw(st.sampled_from(["IAM", "aws_iam", "API_KEY", 3])))
    elif mode in ("AWS_IAM", "pools-elsewhere", "function-elsewhere"):
        _iam(draw, case, world, mode)
    elif mode in ("cognito", "cognito-alone", "malformed-pools", "missing-pool"):
        _cognito(draw, case, world, mode)
    elif mode != "absent":
        _custom(draw, case, world, mode)


def _iam(draw: Any, case: Case, world: World, mode: str) -> None:
    if mode == "AWS_IAM" or draw(st.booleans()):
        case.detail["authorization"] = "AWS_IAM"
    if mode == "pools-elsewhere":
        case.wrong("cognitoUserPoolArns", [world.user_pool_arn or MISSING_POOL])
    elif mode == "function-elsewhere":
        case.wrong("authorizerFunctionArn", world.function_arn or SOME_FUNCTION)


def _cognito(draw: Any, case: Case, world: World, mode: str) -> None:
    case.detail["authorization"] = "COGNITO_USER_POOLS"
    if mode == "cognito":
        case.detail["cognitoUserPoolArns"] = [world.user_pool_arn]
    elif mode == "cognito-alone":
        case.faults.add("detail.cognitoUserPoolArns")
    elif mode == "malformed-pools":
        malformed = [[], MISSING_POOL, ["arn:aws:cognito-idp:x"], [MISSING_POOL] * 6]
        case.wrong("cognitoUserPoolArns", draw(st.sampled_from(malformed)))
    else:
        case.wrong("cognitoUserPoolArns", [MISSING_POOL])


def _custom(draw: Any, case: Case, world: World, mode: str) -> None:
    case.detail["authorization"] = "CUSTOM"
    if mode == "custom":
        case.detail["authorizerFunctionArn"] = world.function_arn
    elif mode == "custom-alone":
        case.faults.add("detail.authorizerFunctionArn")
    elif mode == "malformed-function":
        function = st.one_of(st.just("arn:aws:lambda:x"), st.just(7), huge())
        case.wrong("authorizerFunctionArn", draw(function))
    elif mode == "foreign-function":
        case.wrong("authorizerFunctionArn", FOREIGN_FUNCTION)
    else:
        case.wrong("authorizerFunctionArn", world.unpermitted_function_arn)


NEW_PROVISION_FIELDS = {
    "authorization",
    "cognitoUserPoolArns",
    "authorizerFunctionArn",
    "vpcEndpointIds",
}


@st.composite
def provision_cases(draw: Any, world: World) -> Case:
    case = new_case(draw)
    fields_of(draw, case, REQUESTER_FIELDS)
    fields_of(draw, case, ("apiName",), required=("apiName",))
    names = ("stageName", "endpointUrl", "httpMethod", "proxyAllPaths", "timeoutSeconds", "tags")
    fields_of(draw, case, names)
    endpoint_type(draw, case, world)
    authorization(draw, case, world)
    faulty = ["malformed", "missing", "alb", "foreign", "no-link", "neither", "both", *V2_FAULTS]
    faulty += ["untagged"] if world.untagged_nlb_arn else []
    target = choose(draw, case, ["nlb", "link", *V2_TARGETS], faulty)
    if target == "nlb":
        case.detail["nlbArn"] = world.nlb_arn
    elif target in V2_TARGETS or target in V2_FAULTS:
        v2_target(draw, case, world, target)
    elif target == "link":
        case.detail["vpcLinkId"] = world.link_id
    elif target == "no-link":
        case.wrong("vpcLinkId", "nolink123")
    elif target == "neither":
        case.faults.add("detail.nlbArn")
    elif target == "both":
        case.detail["nlbArn"] = world.nlb_arn
        case.wrong("vpcLinkId", world.link_id)
    else:
        arn = {
            "malformed": draw(st.one_of(st.just("arn:aws:nope"), huge(), st.just(5))),
            "missing": world.missing_nlb_arn,
            "alb": world.alb_arn,
            "foreign": world.foreign_account_nlb_arn,
            "untagged": world.untagged_nlb_arn,
        }[target]
        case.wrong("nlbArn", arn)
    unknown_fields(draw, case, {*VALID, *NEW_PROVISION_FIELDS, "nlbArn", "vpcLinkId", *V2_FIELDS})
    return case


# VPC links V2 (issue 13): targets named by targetArn, link versions, a V2 link's network.
V2_FIELDS = ("targetArn", "vpcLinkVersion", "subnetIds", "securityGroupIds")
V2_TARGETS = ["target-nlb", "target-alb", "nlb-v2", "alb-v2-subnets"]
V2_FAULTS = ["alb-v1", "v1-subnets", "nlb-and-target", "bad-version", "bad-subnets"]


def v2_target(draw: Any, case: Case, world: World, target: str) -> None:
    """A target of the V2 contract: right (``V2_TARGETS``) or wrong in one known field."""
    if target in V2_TARGETS:
        right = {
            "target-nlb": {"targetArn": world.nlb_arn},
            "target-alb": {"targetArn": world.alb_arn}
            | ({"vpcLinkVersion": "V2"} if draw(st.booleans()) else {}),
            "nlb-v2": {"nlbArn": world.nlb_arn, "vpcLinkVersion": "V2"},
            "alb-v2-subnets": {"targetArn": world.alb_arn, "subnetIds": list(world.subnet_ids[:1])},
        }
        case.detail.update(right[target])
    else:
        v2_fault(draw, case, world, target)


BAD_SUBNETS = [[], "subnet-0123456789abcdef0", ["sg-01234567"], ["subnet-0123456789abcdef9"]]


def v2_fault(draw: Any, case: Case, world: World, target: str) -> None:
    """A V2 target wrong in exactly one field, which ``case`` records."""
    if target == "v1-subnets":
        case.detail.update(nlbArn=world.nlb_arn, vpcLinkVersion="V1")
        if draw(st.booleans()):
            case.wrong("subnetIds", [f"subnet-{'0' * 8}"])
        else:
            case.wrong("securityGroupIds", ["sg-0123456789abcdef0"])
    elif target == "nlb-and-target":
        case.detail["nlbArn"] = world.nlb_arn
        case.wrong("targetArn", world.alb_arn)
    else:
        case.detail["targetArn"] = world.alb_arn
        wrong = {
            "alb-v1": ("vpcLinkVersion", st.just("V1")),
            "bad-version": ("vpcLinkVersion", st.sampled_from(["V3", "v2", 2, ""])),
            "bad-subnets": ("subnetIds", st.sampled_from(BAD_SUBNETS)),
        }
        name, values = wrong[target]
        case.wrong(name, draw(values))


def _api_target(draw: Any, case: Case, world: World) -> bool:
    """targetRequestId or restApiId; True when it names our API."""
    target = choose(
        draw, case, ["request", "api"], ["unknown-request", "foreign", "malformed", "neither"]
    )
    if target == "request":
        case.detail["targetRequestId"] = world.request_id
    elif target == "api":
        case.detail["restApiId"] = world.rest_api_id
    elif target == "unknown-request":
        case.wrong("targetRequestId", "never-seen")
    elif target == "foreign":
        case.wrong("restApiId", world.foreign_api_id)
    elif target == "malformed":
        case.wrong(draw(st.sampled_from(["targetRequestId", "restApiId"])), draw(huge(64)))
    else:
        case.faults.add("detail.targetRequestId")
    return target in ("request", "api")


@st.composite
def teardown_cases(draw: Any, world: World) -> Case:
    case = new_case(draw)
    fields_of(draw, case, REQUESTER_FIELDS)
    fields_of(draw, case, ("keepVpcLink",))
    _api_target(draw, case, world)
    unknown_fields(draw, case, {"targetRequestId", "restApiId", "keepVpcLink", *VALID})
    return case


@st.composite
def relink_cases(draw: Any, world: World) -> Case:
    case = new_case(draw)
    fields_of(draw, case, REQUESTER_FIELDS)
    fields_of(draw, case, ("timeoutSeconds", "deleteOldLink", "tags"))
    ours = _api_target(draw, case, world)
    stage = choose(draw, case, ["absent", "prod"], ["unknown", "malformed"])
    if stage == "prod":
        case.detail["stageName"] = "prod"
    elif stage == "unknown" and ours:  # only a found API can be told it has no such stage
        case.wrong("stageName", "nope")
    elif stage == "malformed":
        case.wrong("stageName", "no spaces")
    untagged = ["untagged"] if world.untagged_nlb_arn else []
    target = choose(
        draw, case, ["nlb", "link", "target-alb"], ["missing", "no-link", "neither", *untagged]
    )
    if target == "nlb":
        case.detail["nlbArn"] = world.nlb_arn
    elif target == "target-alb":
        case.detail["targetArn"] = world.alb_arn
    elif target == "untagged":
        case.wrong("nlbArn", world.untagged_nlb_arn)
    elif target == "link":
        case.detail["vpcLinkId"] = world.link_id
    elif target == "missing":
        case.wrong("nlbArn", world.missing_nlb_arn)
    elif target == "no-link":
        case.wrong("vpcLinkId", "nolink123")
    else:
        case.faults.add("detail.nlbArn")
    known = {"targetRequestId", "restApiId", "stageName", "nlbArn", "vpcLinkId", *VALID, *V2_FIELDS}
    unknown_fields(draw, case, known)
    return case


# --- the property ---------------------------------------------------------------------------------
def named(fault: str) -> str:
    """The name a field error gives ``fault`` (long names are cut the same way)."""
    return FieldError(fault, "").field


def check_answer(case: Case, validate: Callable[[dict[str, Any]], Any]) -> str:
    """ "accepted" or "rejected", having checked the answer against the faults made."""
    event = eventbridge_event(case.detail)
    try:
        validate(event)
    except InvalidRequest as error:
        listed = [problem.field for problem in error.fields]
        assert listed, "an InvalidRequest without fields"
        assert all(problem.rule for problem in error.fields)
        expected = {named(fault) for fault in case.faults}
        assert expected, f"rejected although nothing is wrong: {error}"
        for listed_field in listed:  # nothing named that is not at fault
            assert any(
                listed_field == fault or listed_field.startswith(fault + ".") for fault in expected
            ), (listed_field, expected)
        if not error.more_fields:  # every fault named (past ten, some are only counted)
            for fault in expected:
                assert any(f == fault or f.startswith(fault + ".") for f in listed), (fault, listed)
        assert len(str(error)) < 16 * 1024
        return "rejected"
    assert not case.faults, f"accepted although {sorted(case.faults)} are wrong"
    return "accepted"
