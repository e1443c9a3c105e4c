"""Close the gaps between moto and the real services, one module per service.

moto 5.2 is looser than AWS exactly where this product must be strict (DESIGN.md, "Running it
without AWS"); :func:`install` patches it once per process:

* :mod:`.apigateway`: VpcLinks PENDING then AVAILABLE or FAILED on the clock (or scripted by
  polls), one target per V1 link, links in use undeletable and DELETING for a while,
  ``connectionId`` kept, tags, throttling on demand, the stage-link record; and the test hooks
  (re-exported here);
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

from emulator.fidelity import apigateway, dynamodb, elbv2, events, rate_limits, stepfunctions
from emulator.fidelity.apigateway import (
    ALREADY_ASSOCIATED,
    LinkScript,
    StageLinkChange,
    apply_control,
    fail_vpc_links,
    hold_vpc_links,
    reset_hooks,
    script_vpc_links,
    set_vpc_link_timing,
    settings,
    stage_link_changes,
    throttle,
)

__all__ = [
    "ALREADY_ASSOCIATED",
    "LinkScript",
    "StageLinkChange",
    "apply_control",
    "fail_vpc_links",
    "hold_vpc_links",
    "install",
    "rate_limits",
    "reset_hooks",
    "script_vpc_links",
    "set_vpc_link_timing",
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
        elbv2.install()
        dynamodb.install()
        events.install()
        stepfunctions.install()
        _installed = True
