"""API Gateway's control-plane rate limits, seeded faults, and a record of every call.

moto answers every API Gateway call at once, as often as it is asked; AWS does not. This module
is the gate every API Gateway request passes (REST v1 ``apigateway`` and ``apigatewayv2``; the
patch is :func:`emulator.fidelity.apigateway._patch_throttling`), in this order:

1. the scripted ``throttle(operation, times)`` hook (:func:`emulator.fidelity.throttle`);
2. the seeded probabilistic faults (:func:`inject_faults`, ``POST /_emulator/faults``);
3. AWS's rate limits (:data:`RATES`, :data:`TOTAL_RATE`), unless switched off (:func:`enable`).

A call refused at any step never reaches moto and takes no token; every call is recorded
(:func:`calls`, ``POST /_emulator/api-calls``) with its time on the embedded AWS's clock.

What AWS documents, and what is reproduced
------------------------------------------
* **The rates.** "API Gateway quotas for creating, deploying and managing an API", fixed per
  account and not adjustable (https://docs.aws.amazon.com/apigateway/latest/developerguide/
  limits.html#api-gateway-control-service-limits-table): CreateRestApi 1 request every 3 s for a
  Regional or private API, every 30 s for an edge-optimized one; CreateDeployment every 5 s;
  DeleteRestApi every 30 s; CreateVpcLink (V2) every 15 s; DeleteVpcLink (V2) every 30 s;
  CreateResource and DeleteResource 5 per second; GetResources 5 every 2 s; and the rest of the
  table (:data:`RATES`). "Other operations: no quota up to the total account quota"; "Total
  operations: 10 requests per second with a burst quota of 40 requests per second".
  The page says "per account"; the emulator keeps one set of buckets per account and region
  (API Gateway is a regional service, like its other account quotas on that page).
* **The algorithm.** API Gateway throttles "using the token bucket algorithm" (same page, the
  account-level quota). Each limit here is a bucket of ``burst`` tokens refilled at
  ``per_second``: "1 request every 5 seconds" holds 1 token and gains one every 5 s; "5 requests
  every 2 seconds" holds 5 and gains 2.5 per second; the total holds 40 and gains 10 per second.
  A call takes a token from its operation's bucket (if the table names it) and from the total
  (the table calls it "total operations", so every call counts, listed or not); one missing
  token refuses the call and neither bucket is touched. Buckets start full.
  The page does not say whether the two CreateRestApi rows share a bucket: here they do not.
  An API whose ``endpointConfiguration`` names no type is edge-optimized ("the default endpoint
  type for API Gateway REST APIs", developerguide/api-gateway-api-endpoint-types.html);
  ImportRestApi's ``endpointConfigurationTypes`` parameter likewise defaults to EDGE.
* **The refusal.** HTTP 429, error code ``TooManyRequestsException`` (both botocore models: REST
  ``apigateway`` "The request has reached its throttling limit", ``apigatewayv2`` "A limit has
  been exceeded"; the V2 reference's tables name the 429 model ``LimitExceededException``, but
  botocore's only 429 error shape there is ``TooManyRequestsException``), message
  ``Too Many Requests`` (as captured from AWS in aws/aws-sdk-js#1014 and claudiajs/claudia#18).
  rest-json carries the code in the ``x-amzn-ErrorType`` header, which is where botocore's
  RestJSONParser reads it; the body is ``{"message": "Too Many Requests"}``.
  **No ``Retry-After`` header**: the REST model declares one (``retryAfterSeconds``), but a
  botocore maintainer checked and API Gateway does not send it (boto/botocore#750, 2016-01-11),
  and no capture since shows one.
* **The 5xx of the probabilistic faults.** ``ServiceUnavailableException``, HTTP 503, the one
  server error the REST API's model declares ("The requested service is not available ... Retry
  after the specified time period", e.g. on CreateDeployment); the V2 model declares none, so V2
  calls get the same. Its message text is not documented: ``Service Unavailable`` here.

Everything runs on :data:`emulator.engine.clock.CLOCK`: with the clock stopped a test steps it
(``aws.clock.advance(5)``) and a refused CreateDeployment succeeds, with no real time spent.
"""

from __future__ import annotations

import json
import random
import threading
import uuid
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from typing import Any

from emulator.engine.clock import CLOCK

REST = "apigateway"  # botocore's name for the REST API (v1) control plane
V2 = "apigatewayv2"  # HTTP and WebSocket APIs, and VPC links V2
TOTAL = "total operations"
EDGE = " (edge-optimized)"  # suffix of the bucket of an edge-optimized CreateRestApi / Import

THROTTLED = (429, "TooManyRequestsException", "Too Many Requests")
UNAVAILABLE = (503, "ServiceUnavailableException", "Service Unavailable")
CONTROL_PATHS = frozenset({"rate-limits", "faults", "api-calls"})
RECORD_LIMIT = 100_000  # calls kept (oldest dropped): `make local` can run for days
# The clock is a float of epoch seconds: steps of it are exact only to ~2.4e-7 s (one ulp at
# 1.8e9), so a token due within a microsecond counts as there (0.1 s x 10/s is one token).
_SLACK_SECONDS = 1e-6

Answer = tuple[int, dict[str, Any], Any]


@dataclass(frozen=True)
class Rate:
    """A token bucket: at most ``burst`` tokens, ``per_second`` added back every second."""

    burst: int
    per_second: float
    quota: str  # as the quotas page words it

    def to_json(self) -> dict[str, Any]:
        return {"burst": self.burst, "perSecond": self.per_second, "quota": self.quota}


def _every(seconds: float, requests: int = 1) -> Rate:
    noun = "request" if requests == 1 else "requests"
    return Rate(requests, requests / seconds, f"{requests} {noun} every {seconds:g} seconds")


def _per_second(requests: int) -> Rate:
    noun = "request" if requests == 1 else "requests"
    return Rate(requests, float(requests), f"{requests} {noun} per second")


RATES: dict[tuple[str, str], Rate] = {
    (REST, "CreateApiKey"): _per_second(5),
    (REST, "CreateDeployment"): _every(5),
    (REST, "CreateDocumentationVersion"): _every(20),
    (REST, "CreateDomainName"): _every(30),
    (REST, "CreateResource"): _per_second(5),
    (REST, "CreateRestApi"): _every(3),
    (REST, "CreateRestApi" + EDGE): _every(30),
    (REST, "DeleteApiKey"): _per_second(5),
    (REST, "DeleteDomainName"): _every(30),
    (REST, "DeleteResource"): _per_second(5),
    (REST, "DeleteRestApi"): _every(30),
    (REST, "GetResources"): _every(2, 5),
    (REST, "ImportDocumentationParts"): _every(30),
    (REST, "ImportRestApi"): _every(3),
    (REST, "ImportRestApi" + EDGE): _every(30),
    (REST, "PutRestApi"): _per_second(1),
    (REST, "UpdateAccount"): _every(20),
    (REST, "UpdateDomainName"): _every(30),
    (REST, "UpdateUsagePlan"): _every(20),
    (V2, "CreateVpcLink"): _every(15),
    (V2, "DeleteVpcLink"): _every(30),
}
"""The per-operation quotas, keyed by (botocore service, bucket): the operation's name, with
:data:`EDGE` appended for an edge-optimized CreateRestApi / ImportRestApi."""

TOTAL_RATE = Rate(40, 10.0, "10 requests per second with a burst quota of 40 requests per second")


@dataclass
class _Bucket:
    rate: Rate
    tokens: float
    stamp: float

    def refill(self, now: float) -> None:
        if now > self.stamp:  # a clock restarted behind the stamp refills nothing meanwhile
            gained = (now - self.stamp) * self.rate.per_second
            self.tokens = min(float(self.rate.burst), self.tokens + gained)
        self.stamp = now

    def has_token(self) -> bool:
        return self.tokens + _SLACK_SECONDS * self.rate.per_second >= 1

    def take(self) -> None:
        self.tokens = max(0.0, self.tokens - 1)


@dataclass(frozen=True)
class ApiCall:
    """One API Gateway call the emulator answered.

    ``time``: the embedded AWS's clock when it arrived; ``status``: the HTTP status answered;
    ``throttled``: answered 429; ``cause``: None if moto answered it, else who refused it
    (``rate-limit``, ``throttle-hook``, ``fault``); ``limit``: the bucket that had no token
    (an operation's name, ``CreateRestApi (edge-optimized)``, or ``total operations``)."""

    time: float
    service: str
    operation: str
    account: str
    region: str
    status: int
    throttled: bool
    cause: str | None = None
    limit: str | None = None


@dataclass(frozen=True)
class Faults:
    """A share of the calls of ``operations`` (None: every operation) answered 429 or 503."""

    operations: frozenset[str] | None
    throttle_share: float
    error_share: float
    seed: int

    def applies_to(self, operation: str) -> bool:
        return self.operations is None or operation in self.operations

    def to_json(self) -> dict[str, Any]:
        operations: str | list[str] = "*" if self.operations is None else sorted(self.operations)
        return {
            "operations": operations,
            "throttleShare": self.throttle_share,
            "errorShare": self.error_share,
            "seed": self.seed,
        }


_lock = threading.Lock()
_enabled = True
# (account, region, service, bucket): the total's service is "" (v1 and v2 share it)
_buckets: dict[tuple[str, str, str, str], _Bucket] = {}
_faults: Faults | None = None
# one generator per operation (see inject_faults), made on its first call
_draws: dict[str, random.Random] = {}
_calls: deque[ApiCall] = deque(maxlen=RECORD_LIMIT)


# --- public API --------------------------------------------------------------------------------
def enable(enabled: bool = True) -> None:
    """Turn AWS's rate limits on (the default) or off; faults and the record are unaffected."""
    global _enabled
    with _lock:
        _enabled = bool(enabled)


def enabled() -> bool:
    return _enabled


def inject_faults(
    operations: Iterable[str] | str,
    *,
    throttle_share: float = 0.0,
    error_share: float = 0.0,
    seed: int = 0,
) -> None:
    """Answer ``throttle_share`` of the calls of ``operations`` (``"*"``: all) with 429
    TooManyRequestsException and ``error_share`` with 503 ServiceUnavailableException, drawn
    from a generator per operation seeded with ``seed`` and the operation's name: one draw per
    call, so the n-th call of an operation gets the same answer whatever calls of other
    operations came in between (concurrent requests interleave their calls differently from
    run to run). No operations (``[]``) turns the faults off."""
    global _faults
    faults = _faults_from(operations, throttle_share, error_share, seed)
    with _lock:
        _faults = faults
        _draws.clear()


def faults() -> Faults | None:
    return _faults


def calls(operation: str | None = None) -> list[ApiCall]:
    """Every API Gateway call answered since the last reset (of ``operation`` if given), in
    the order they were answered (each with the clock's time when it arrived)."""
    with _lock:
        return [call for call in _calls if operation is None or call.operation == operation]


def reset() -> None:
    """Full buckets, no faults, an empty record (:func:`emulator.fidelity.reset_hooks`); the
    on/off switch is kept, like the link timings."""
    global _faults
    with _lock:
        _buckets.clear()
        _faults = None
        _draws.clear()
        _calls.clear()


def describe() -> dict[str, Any]:
    """What ``POST /_emulator/rate-limits`` answers."""
    return {
        "enabled": _enabled,
        "total": TOTAL_RATE.to_json(),
        "rates": [
            {"service": service, "operation": bucket, **rate.to_json()}
            for (service, bucket), rate in RATES.items()
        ],
    }


def apply_control(path: str, body: dict[str, Any]) -> dict[str, Any]:
    """``POST /_emulator/<path>`` for this module's :data:`CONTROL_PATHS`:

    * ``rate-limits``: ``{"enabled": false}`` turns the limits off (``true``: on); answers
      :func:`describe`;
    * ``faults``: ``{"operations": [...] | "*", "throttleShare": 0.3, "errorShare": 0.05,
      "seed": 7}`` (see :func:`inject_faults`; ``{"operations": []}`` turns them off, no
      ``operations`` only reads); answers the faults in force, ``{"operations": []}`` if none;
    * ``api-calls``: optional ``{"operation": "CreateDeployment"}``; answers ``{"calls": [...]}``
      (:class:`ApiCall` fields).
    """
    if path == "rate-limits":
        if "enabled" in body:
            if not isinstance(body["enabled"], bool):
                raise TypeError(f"enabled must be true or false, not {body['enabled']!r}")
            enable(body["enabled"])
        return describe()
    if path == "faults":
        if "operations" in body:
            inject_faults(
                body["operations"],
                throttle_share=body.get("throttleShare", 0.0),
                error_share=body.get("errorShare", 0.0),
                seed=body.get("seed", 0),
            )
        current = _faults
        return current.to_json() if current is not None else {"operations": []}
    if path == "api-calls":
        return {"calls": [asdict(call) for call in calls(body.get("operation"))]}
    raise KeyError(path)


# --- the gate ----------------------------------------------------------------------------------
def answer(
    response: Any,
    original: Callable[[Any], Answer],
    scripted_throttle: Callable[[str], bool],
) -> Answer:
    """Answer one API Gateway request: refused (see the module's docstring) or moto's answer.
    ``response`` is moto's response object for the request (v1 or v2), ``original`` its
    ``call_action``, ``scripted_throttle(operation)`` the ``throttle()`` hook's verdict."""
    operation = str(response._get_action() or "Unknown")
    service = str(response.service_name)
    account, region = str(response.current_account), str(response.region)
    now = CLOCK.time()

    def record(status: int, cause: str | None = None, limit: str | None = None) -> None:
        throttled = status == 429
        call = ApiCall(now, service, operation, account, region, status, throttled, cause, limit)
        with _lock:
            _calls.append(call)

    refusal: tuple[int, str, str] | None = None
    cause: str | None = None
    limit: str | None = None
    if scripted_throttle(operation):
        refusal, cause = THROTTLED, "throttle-hook"
    else:
        with _lock:
            refusal = _fault(operation)
            if refusal is not None:
                cause = "fault"
            elif _enabled:
                limited = _limited(response, service, operation)
                limit = _take_tokens(account, region, limited, now)
                if limit is not None:
                    refusal, cause = THROTTLED, "rate-limit"
    if refusal is not None:
        record(refusal[0], cause, limit)
        return _error(*refusal)
    try:
        status, headers, body = original(response)
    except BaseException:
        record(500)
        raise
    record(int(status))
    return status, headers, body


def _fault(operation: str) -> tuple[int, str, str] | None:
    current = _faults
    if current is None or not current.applies_to(operation):
        return None
    draws = _draws.get(operation)
    if draws is None:
        draws = _draws[operation] = random.Random(f"{current.seed}:{operation}")
    draw = draws.random()
    if draw < current.throttle_share:
        return THROTTLED
    if draw < current.throttle_share + current.error_share:
        return UNAVAILABLE
    return None


def _take_tokens(
    account: str, region: str, limited: tuple[str, str] | None, now: float
) -> str | None:
    """Take a token from the operation's bucket (if the table limits it) and one from the
    total; or, if either is empty, take none and return the name of the empty one."""
    buckets = [(TOTAL, _bucket((account, region, "", TOTAL), TOTAL_RATE, now))]
    if limited is not None:
        buckets.insert(0, (limited[1], _bucket((account, region, *limited), RATES[limited], now)))
    for name, bucket in buckets:
        bucket.refill(now)
        if not bucket.has_token():
            return name
    for _, bucket in buckets:
        bucket.take()
    return None


def _bucket(key: tuple[str, str, str, str], rate: Rate, now: float) -> _Bucket:
    bucket = _buckets.get(key)
    if bucket is None:
        bucket = _buckets[key] = _Bucket(rate, float(rate.burst), now)
    return bucket


def _limited(response: Any, service: str, operation: str) -> tuple[str, str] | None:
    """The :data:`RATES` key of a call the quotas table limits, else None."""
    name = operation
    edge_aware = service == REST and operation in ("CreateRestApi", "ImportRestApi")
    if edge_aware and _edge_optimized(response, operation):
        name += EDGE
    return (service, name) if (service, name) in RATES else None


def _edge_optimized(response: Any, operation: str) -> bool:
    if operation == "ImportRestApi":
        types = response.querystring.get("endpointConfigurationTypes") or ["EDGE"]
        return "EDGE" in [str(value).upper() for value in types]
    try:
        request = json.loads(response.body or "{}")
    except ValueError:
        return True
    configuration = request.get("endpointConfiguration") if isinstance(request, dict) else None
    types = (configuration or {}).get("types") or ["EDGE"]
    return "EDGE" in [str(value).upper() for value in types]


def _error(status: int, code: str, message: str) -> Answer:
    headers = {
        "status": str(status),
        "x-amzn-ErrorType": code,
        "x-amzn-RequestId": str(uuid.uuid4()),  # not moto's ids: they would shift its sequence
        "Content-Type": "application/json",
    }
    return status, headers, json.dumps({"message": message})


def _faults_from(
    operations: Iterable[str] | str, throttle_share: Any, error_share: Any, seed: Any
) -> Faults | None:
    if isinstance(operations, str):
        if operations != "*":
            raise ValueError(f'operations must be a list of names or "*", not {operations!r}')
        names: frozenset[str] | None = None
    else:
        names = frozenset(operations)
        if not all(isinstance(name, str) for name in names):
            raise TypeError(f"operations must be names of operations, not {sorted(names)!r}")
        if not names:
            return None
    shares = [float(throttle_share), float(error_share)]
    if not all(0.0 <= share <= 1.0 for share in shares) or sum(shares) > 1.0:
        raise ValueError(f"shares must be between 0 and 1 and add up to 1 at most: {shares}")
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise TypeError(f"seed must be an integer, not {seed!r}")
    return Faults(names, shares[0], shares[1], seed)
