"""Close the gaps between moto and the real services, one module per service.

moto 5.2 is looser than AWS exactly where this product must be strict (README, "Running it
without AWS"); :func:`install` patches it once per process:

* :mod:`.apigateway`: VpcLinks PENDING then AVAILABLE or FAILED on the clock (or scripted by
  polls), one target per V1 link, links in use undeletable and DELETING for a while,
  ``connectionId`` and ``integrationTarget`` kept, tags, throttling on demand, the stage-link
  record; and the test hooks (re-exported here);
* :mod:`.apigatewayv2`: VPC links V2 PENDING then AVAILABLE or FAILED on the clock (or scripted
  by polls), DELETING, INACTIVE on demand, undeletable while a REST API uses them; REST
  integrations refused without ``integrationTarget`` when they use one;
* :mod:`.rate_limits`: API Gateway's control-plane rate limits (on unless switched off), seeded
  faults, and the record of every API Gateway call, all on the embedded AWS's clock;
* :mod:`.elbv2`: network load balancers' ``loadbalancer/net/`` ARNs;
* :mod:`.dynamodb`: conditional writes applied atomically;
* :mod:`.events`: PutEvents refuses what EventBridge refuses; events carry the clock's time;
* :mod:`.stepfunctions`: the interpreter on the embedded AWS's clock, parsed definitions
  cached, status-change events on the default bus.
"""

from __future__ import annotations

import threading
from typing import Any

from emulator.fidelity import (
    apigateway,
    apigatewayv2,
    dynamodb,
    elbv2,
    events,
    rate_limits,
    stepfunctions,
)
from emulator.fidelity.apigateway import (
    ALREADY_ASSOCIATED,
    NLB_ARN_MALFORMED,
    LinkScript,
    StageLinkChange,
    fail_vpc_links,
    hold_vpc_links,
    script_vpc_links,
    set_vpc_link_timing,
    settings,
    stage_link_changes,
    throttle,
)
from emulator.fidelity.apigatewayv2 import (
    integration_target_required,
    make_vpc_link_v2_inactive,
    reactivate_vpc_link_v2,
    script_vpc_links_v2,
    set_vpc_link_v2_timing,
)

__all__ = [
    "ALREADY_ASSOCIATED",
    "NLB_ARN_MALFORMED",
    "LinkScript",
    "StageLinkChange",
    "apply_control",
    "fail_vpc_links",
    "hold_vpc_links",
    "install",
    "integration_target_required",
    "make_vpc_link_v2_inactive",
    "rate_limits",
    "reactivate_vpc_link_v2",
    "reset_hooks",
    "script_vpc_links",
    "script_vpc_links_v2",
    "set_vpc_link_timing",
    "set_vpc_link_v2_timing",
    "settings",
    "stage_link_changes",
    "throttle",
]

_lock = threading.Lock()
_installed = False


def install(pending_seconds: float | None = None, deleting_seconds: float | None = None) -> None:
    """Patch moto once per process; later calls only update the link timings."""
    global _installed
    apigateway.install(pending_seconds, deleting_seconds)
    with _lock:
        if _installed:
            return
        apigatewayv2.install()  # after apigateway's: it wraps its PutIntegration patch
        elbv2.install()
        dynamodb.install()
        events.install()
        stepfunctions.install()
        _installed = True


def reset_hooks() -> None:
    """Forget every test hook of V1 and V2 links (V1 timings are kept; V2 links take the V1
    periods again), pending throttles and the stage-link record."""
    apigateway.reset_hooks()
    apigatewayv2.reset_hooks()


def apply_control(path: str, body: dict[str, Any]) -> dict[str, Any]:
    """A ``POST /_emulator/<path>`` control (:func:`.apigateway.apply_control`); ``vpclinks``
    also takes the V2 keys (``v2PendingSeconds``, ``v2Script``, ``v2Inactive``, ...:
    :func:`.apigatewayv2.apply_control`), checked and applied first."""
    if path not in ("vpclinks", "reset-hooks"):
        return apigateway.apply_control(path, body)
    links_v2 = apigatewayv2.apply_control(path, body)
    return {**apigateway.apply_control(path, body), **links_v2}
