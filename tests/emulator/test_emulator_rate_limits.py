"""API Gateway's control-plane rate limits, seeded faults and the call record, over HTTP.

The clock stands still: a call in "the same second" is simply the next call, and a test steps
the clock to where the next token is due. The fixture's embedded AWS is built with
``rate_limits=False`` (the emulator's other tests are not about rates); every test here turns
them on first, as an out-of-process test would, and ``aws.reset()`` turns them off again.
"""

from __future__ import annotations

import urllib.error
from itertools import pairwise
from typing import Any

import pytest
from botocore.exceptions import ClientError

from emulator import fidelity
from emulator.engine.runtime import EmbeddedAws
from emulator.fidelity import rate_limits

pytestmark = pytest.mark.unit


@pytest.fixture(autouse=True)
def limits_on(aws: EmbeddedAws) -> EmbeddedAws:
    aws.control("rate-limits", enabled=True)
    return aws


def _deployable_api(aws: EmbeddedAws) -> str:
    """A Regional REST API with one MOCK method: something CreateDeployment accepts."""
    apigw = aws.client("apigateway")
    api_id = apigw.create_rest_api(name="api", endpointConfiguration={"types": ["REGIONAL"]})["id"]
    root = apigw.get_resources(restApiId=api_id)["items"][0]["id"]
    apigw.put_method(restApiId=api_id, resourceId=root, httpMethod="GET", authorizationType="NONE")
    apigw.put_integration(restApiId=api_id, resourceId=root, httpMethod="GET", type="MOCK")
    return str(api_id)


def _refusal(call: Any, **kwargs: Any) -> dict[str, Any]:
    with pytest.raises(ClientError) as caught:
        call(**kwargs)
    return caught.value.response  # type: ignore[no-any-return]


def _status(call: Any, **kwargs: Any) -> int:
    try:
        return int(call(**kwargs)["ResponseMetadata"]["HTTPStatusCode"])
    except ClientError as error:
        return int(error.response["ResponseMetadata"]["HTTPStatusCode"])


def test_second_create_deployment_in_the_same_second_is_refused_as_api_gateway_refuses_it(
    aws: EmbeddedAws,
) -> None:
    # Given a deployable API and one CreateDeployment just answered
    api_id = _deployable_api(aws)
    apigw = aws.client("apigateway")
    bodies: list[bytes] = []
    apigw.meta.events.register(
        "before-parse.api-gateway.CreateDeployment",
        lambda response_dict, **_: bodies.append(response_dict["body"]),
    )
    apigw.create_deployment(restApiId=api_id, stageName="prod")

    # When a second one comes in the same emulated second
    refused = _refusal(apigw.create_deployment, restApiId=api_id, stageName="prod")

    # Then it gets API Gateway's 429, as botocore parses it, and no Retry-After
    assert refused["ResponseMetadata"]["HTTPStatusCode"] == 429
    assert refused["Error"] == {"Code": "TooManyRequestsException", "Message": "Too Many Requests"}
    assert bodies[-1] == b'{"message": "Too Many Requests"}'
    headers = refused["ResponseMetadata"]["HTTPHeaders"]
    assert headers["x-amzn-errortype"] == "TooManyRequestsException"
    assert "retry-after" not in headers
    # and the refusal took no token: the next one is due 5 s after the first, not the second
    aws.clock.advance(4.5)
    assert _status(apigw.create_deployment, restApiId=api_id, stageName="prod") == 429
    aws.clock.advance(0.5)
    assert apigw.create_deployment(restApiId=api_id, stageName="prod")["id"]


@pytest.mark.parametrize(
    ("endpoint_types", "seconds"),
    [(None, 30), (["EDGE"], 30), (["REGIONAL"], 3), (["PRIVATE"], 3)],
    ids=["default-is-edge", "edge", "regional", "private"],
)
def test_create_rest_api_waits_for_its_endpoint_types_period(
    aws: EmbeddedAws, endpoint_types: list[str] | None, seconds: float
) -> None:
    apigw = aws.client("apigateway")
    kwargs: dict[str, Any] = {"name": "api"}
    if endpoint_types:
        kwargs["endpointConfiguration"] = {"types": endpoint_types}
    apigw.create_rest_api(**kwargs)

    assert _status(apigw.create_rest_api, **kwargs) == 429
    aws.clock.advance(seconds - 0.5)
    assert _status(apigw.create_rest_api, **kwargs) == 429
    aws.clock.advance(0.5)
    assert _status(apigw.create_rest_api, **kwargs) < 300  # moto answers 200, AWS 201


def test_vpc_links_v2_are_created_every_15_seconds_and_deleted_every_30(aws: EmbeddedAws) -> None:
    subnet = "subnet-0123456789abcdef0"  # moto's V2 links check no subnet; the rates are tested
    v2 = aws.client("apigatewayv2")
    first = v2.create_vpc_link(Name="first", SubnetIds=[subnet])["VpcLinkId"]

    refused = _refusal(v2.create_vpc_link, Name="second", SubnetIds=[subnet])
    assert refused["Error"]["Code"] == "TooManyRequestsException"
    aws.clock.advance(15)
    second = v2.create_vpc_link(Name="second", SubnetIds=[subnet])["VpcLinkId"]

    v2.delete_vpc_link(VpcLinkId=first)
    assert _status(v2.delete_vpc_link, VpcLinkId=second) == 429
    aws.clock.advance(29)
    assert _status(v2.delete_vpc_link, VpcLinkId=second) == 429
    aws.clock.advance(1)
    assert _status(v2.delete_vpc_link, VpcLinkId=second) < 300  # moto answers 200, AWS 202


def test_all_operations_share_10_per_second_with_a_burst_of_40(aws: EmbeddedAws) -> None:
    apigw = aws.client("apigateway")
    statuses = [_status(apigw.get_rest_apis) for _ in range(41)]
    assert statuses == [200] * 40 + [429]
    assert rate_limits.calls()[-1].limit == "total operations"

    aws.clock.advance(0.1)  # one token
    assert [_status(apigw.get_rest_apis) for _ in range(2)] == [200, 429]
    aws.clock.advance(1)  # ten more
    assert [_status(apigw.get_vpc_links) for _ in range(11)] == [200] * 10 + [429]


def test_a_call_refused_by_the_total_takes_no_token_from_its_own_limit(aws: EmbeddedAws) -> None:
    api_id = _deployable_api(aws)
    apigw = aws.client("apigateway")
    while _status(apigw.get_rest_apis) == 200:  # bounded: the bucket holds 40
        pass

    assert _status(apigw.create_deployment, restApiId=api_id, stageName="prod") == 429
    assert rate_limits.calls("CreateDeployment")[-1].limit == "total operations"
    aws.clock.advance(0.1)  # one token in the total; CreateDeployment's own is still there
    assert _status(apigw.create_deployment, restApiId=api_id, stageName="prod") == 201


def test_each_account_and_region_has_its_own_buckets(aws: EmbeddedAws) -> None:
    east = aws.client("apigateway")
    while _status(east.get_rest_apis) == 200:
        pass

    west = aws.client("apigateway", region_name="us-west-2")
    assert _status(west.get_rest_apis) == 200
    assert _status(east.get_rest_apis) == 429


def test_switched_off_nothing_is_refused_and_reset_restores_the_constructed_switch(
    aws: EmbeddedAws,
) -> None:
    api_id = _deployable_api(aws)
    apigw = aws.client("apigateway")
    assert aws.control("rate-limits", enabled=False)["enabled"] is False

    deployments = [_status(apigw.create_deployment, restApiId=api_id, stageName="p") for _ in "abc"]
    assert deployments == [201, 201, 201]
    assert {_status(apigw.get_rest_apis) for _ in range(45)} == {200}

    fidelity.rate_limits.enable(True)
    assert _status(apigw.create_deployment, restApiId=api_id, stageName="p") == 201
    assert _status(apigw.create_deployment, restApiId=api_id, stageName="p") == 429
    aws.reset()  # the fixture's EmbeddedAws was built with rate_limits=False
    assert not rate_limits.enabled()
    assert rate_limits.calls() == []


def test_the_throttle_hook_comes_first_and_takes_no_token(aws: EmbeddedAws) -> None:
    api_id = _deployable_api(aws)
    apigw = aws.client("apigateway")
    fidelity.throttle("CreateDeployment")

    assert _status(apigw.create_deployment, restApiId=api_id, stageName="prod") == 429
    assert _status(apigw.create_deployment, restApiId=api_id, stageName="prod") == 201
    causes = [(c.status, c.cause) for c in rate_limits.calls("CreateDeployment")]
    assert causes == [(429, "throttle-hook"), (201, None)]


def test_seeded_faults_answer_the_asked_share_and_repeat_exactly(aws: EmbeddedAws) -> None:
    # Given a share of GetRestApis calls faulted, seeded (the rates off: 200 calls at once)
    aws.control("rate-limits", enabled=False)
    asked = {"operations": ["GetRestApis"], "throttleShare": 0.3, "errorShare": 0.05, "seed": 7}
    assert aws.control("faults", **asked) == asked
    apigw = aws.client("apigateway")

    # When 200 calls are made
    statuses = [_status(apigw.get_rest_apis) for _ in range(200)]

    # Then what the seed gives: 55 throttled, 14 unavailable, about the asked shares
    assert (statuses.count(429), statuses.count(503)) == (55, 14)
    assert 40 <= statuses.count(429) <= 80 and 2 <= statuses.count(503) <= 20
    assert statuses.count(200) == 200 - 55 - 14
    # other operations are untouched
    assert {_status(apigw.get_vpc_links) for _ in range(10)} == {200}
    # the same seed gives the same answers, call for call
    rate_limits.inject_faults(["GetRestApis"], throttle_share=0.3, error_share=0.05, seed=7)
    assert [_status(apigw.get_rest_apis) for _ in range(40)] == statuses[:40]
    # and no operations turns the faults off
    assert aws.control("faults", operations=[]) == {"operations": []}
    assert {_status(apigw.get_rest_apis) for _ in range(10)} == {200}


def test_an_operations_faults_do_not_depend_on_the_calls_of_others_in_between(
    aws: EmbeddedAws,
) -> None:
    # Given faults on every operation, seeded (the rates off)
    aws.control("rate-limits", enabled=False)
    asked = {"operations": "*", "throttleShare": 0.3, "errorShare": 0.05, "seed": 5}
    apigw = aws.client("apigateway")
    aws.control("faults", **asked)
    alone = [_status(apigw.get_rest_apis) for _ in range(30)]

    # When the same calls are made again with calls of another operation between them
    aws.control("faults", **asked)
    interleaved = []
    for n in range(30):
        for _ in range(n % 3):
            _status(apigw.get_vpc_links)
        interleaved.append(_status(apigw.get_rest_apis))

    # Then the n-th GetRestApis gets the same answer (concurrent requests interleave their
    # calls differently from run to run; a test's seed must not depend on it)
    assert interleaved == alone
    assert {429, 200} <= set(alone)


def test_fault_answers_are_throttling_and_service_unavailable(aws: EmbeddedAws) -> None:
    apigw = aws.client("apigateway")
    aws.control("faults", operations="*", throttleShare=1.0)
    assert _refusal(apigw.get_rest_apis)["Error"]["Code"] == "TooManyRequestsException"

    aws.control("faults", operations="*", errorShare=1.0)
    unavailable = _refusal(apigw.get_rest_apis)
    assert unavailable["ResponseMetadata"]["HTTPStatusCode"] == 503
    assert unavailable["Error"]["Code"] == "ServiceUnavailableException"
    assert [c.cause for c in rate_limits.calls()] == ["fault", "fault"]


def test_the_throttle_control_has_the_same_probabilistic_mode(aws: EmbeddedAws) -> None:
    # Given the faults asked of /_emulator/throttle, with shares instead of a count
    apigw = aws.client("apigateway")
    asked = {"operations": ["GetRestApis"], "throttleShare": 1.0, "errorShare": 0.0, "seed": 3}

    # Then they are the faults in force, answered as /_emulator/faults answers them
    assert aws.control("throttle", **asked) == asked
    assert aws.control("faults") == asked
    assert _status(apigw.get_rest_apis) == 429
    assert [c.cause for c in rate_limits.calls()] == ["fault"]
    # ... and no operations turns them off
    assert aws.control("throttle", operations=[]) == {"operations": []}
    assert _status(apigw.get_rest_apis) == 200


def test_a_bad_fault_request_is_refused(aws: EmbeddedAws) -> None:
    with pytest.raises(urllib.error.HTTPError) as caught:
        aws.control("faults", operations=["GetRestApis"], throttleShare=0.8, errorShare=0.3)
    assert caught.value.code == 400
    assert rate_limits.faults() is None


def test_the_call_record_shows_every_create_deployment_five_seconds_apart(
    aws: EmbeddedAws,
) -> None:
    # Given a caller that retries CreateDeployment one emulated second after each 429
    api_id = _deployable_api(aws)
    apigw = aws.client("apigateway")
    deployed = 0
    for _ in range(20):
        if _status(apigw.create_deployment, restApiId=api_id, stageName="prod") == 201:
            deployed += 1
            if deployed == 3:
                break
        else:
            aws.clock.advance(1)

    # Then the record (Python and HTTP alike) has every call, with its emulated time
    recorded = aws.control("api-calls", operation="CreateDeployment")["calls"]
    assert recorded == [vars(call) for call in rate_limits.calls("CreateDeployment")]
    answered = [call["time"] for call in recorded if not call["throttled"]]
    assert len(answered) == 3
    assert [round(later - earlier, 6) for earlier, later in pairwise(answered)] == [5, 5]
    refused = [call for call in recorded if call["throttled"]]
    assert len(refused) == 10  # at t0..t4 and t5..t9
    assert {(c["status"], c["cause"], c["limit"]) for c in refused} == {
        (429, "rate-limit", "CreateDeployment")
    }
    first = recorded[0]
    assert (first["service"], first["account"], first["region"]) == (
        "apigateway",
        "123456789012",
        "us-east-1",
    )
