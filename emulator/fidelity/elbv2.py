"""ELBv2 as AWS shows it: a network load balancer's ARN reads ``loadbalancer/net/`` (moto 5.2
gives every load balancer ``loadbalancer/app/``), a gateway load balancer's ``gwy/``."""

from __future__ import annotations

import contextvars
from collections.abc import Callable
from typing import Any

from moto.elbv2 import models as elbv2_models

from emulator.fidelity.patching import wrap


def backend_of(backend: Any) -> Any:
    """The ELBv2 backend of another service's backend's account and region."""
    return elbv2_models.elbv2_backends[backend.account_id][backend.region_name]


_lb_type: contextvars.ContextVar[str | None] = contextvars.ContextVar("lb_type", default=None)
_ARN_KIND = {"network": "net", "gateway": "gwy"}


def install() -> None:
    # moto.elbv2.models' own name for moto.elbv2.utils' function (imported, so not exported)
    models: Any = elbv2_models
    make_arn = models.make_arn_for_load_balancer

    def make_arn_for_load_balancer(**kwargs: Any) -> str:
        arn: str = make_arn(**kwargs)
        kind = _ARN_KIND.get(_lb_type.get() or "")
        return arn.replace("loadbalancer/app/", f"loadbalancer/{kind}/", 1) if kind else arn

    models.make_arn_for_load_balancer = make_arn_for_load_balancer

    @wrap(elbv2_models.ELBv2Backend, "create_load_balancer")
    def _create(original: Callable[..., Any], self: Any, *args: Any, **kwargs: Any) -> Any:
        token = _lb_type.set(kwargs.get("loadbalancer_type"))
        try:
            return original(self, *args, **kwargs)
        finally:
            _lb_type.reset(token)
