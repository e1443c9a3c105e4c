"""Generated requests of every kind, right and wrong in every field and in combinations: each is
either accepted or rejected naming exactly the fields at fault; never a crash, never an
``InvalidRequest`` without fields, and validation creates nothing.

The generator knows which fields it broke, so the test checks the answer against it: every
field it broke is named (or counted in ``moreFields``, past the first ten), and nothing else is.
Strings run up to EventBridge's 256 KiB and carry control characters. The seed is fixed (see
``SEED``) and printed with the counts of outcomes (``pytest -s`` shows them).
"""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import pytest
from hypothesis import HealthCheck, given, seed
from hypothesis import settings as hypothesis_settings

from provisioner.domain import validation
from provisioner.domain.validation import validate_request
from tests.requests_corpus import (
    MAX_DETAIL,
    SEED,
    Case,
    World,
    check_answer,
    provision_cases,
    relink_cases,
    teardown_cases,
)

from .support import ACCOUNT, REGION

pytestmark = pytest.mark.unit

# Per kind of request: 500 generated from the fixed seed draw every generator branch many times
# over (pytest -s prints the counts); each costs a few moto calls, about 25 ms.
EXAMPLES = 500


def inventory() -> tuple[int, int]:
    """REST APIs and VpcLinks that exist (read from moto's backend: a thousand times)."""
    from moto.apigateway.models import apigateway_backends

    backend = apigateway_backends[ACCOUNT][REGION]
    return len(backend.apis), len(backend.vpc_links)


@pytest.fixture
def world(
    network: Any,
    provision: Any,
    link_status: Any,
    apigw: Any,
    untagged_nlb_arn: str,
    execute_api_endpoint: str,
    gateway_endpoint: str,
    user_pool_arn: str,
    authorizer_functions: Any,
) -> World:
    provisioned = provision()
    foreign = apigw.create_rest_api(name="hand-made")
    return World(
        untagged_nlb_arn=untagged_nlb_arn,
        vpc_endpoint_id=execute_api_endpoint,
        wrong_endpoint_id=gateway_endpoint,
        user_pool_arn=user_pool_arn,
        function_arn=authorizer_functions.permitted,
        unpermitted_function_arn=authorizer_functions.unpermitted,
        nlb_arn=network.nlb_arn,
        alb_arn=network.alb_arn,
        missing_nlb_arn=network.nlb_arn.replace("/orders-nlb/", "/ghost-nlb/"),
        foreign_account_nlb_arn=network.nlb_arn.replace(f":{ACCOUNT}:", ":210987654321:"),
        link_id=provisioned.vpc_link_id,
        request_id=provisioned.request.request_id,
        rest_api_id=provisioned.rest_api_id,
        foreign_api_id=foreign["id"],
        subnet_ids=tuple(network.subnet_ids),
    )


KINDS = {
    "provision": (
        provision_cases,
        lambda settings: lambda event: validate_request(event, settings=settings),
    ),
    "teardown": (
        teardown_cases,
        lambda settings: lambda event: validation.validate_teardown(event, settings=settings),
    ),
    "relink": (
        relink_cases,
        lambda settings: lambda event: validation.validate_relink(event, settings=settings),
    ),
}


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_every_generated_request_is_accepted_or_rejected_with_its_faults(
    world: World, settings: Any, kind: str
):
    cases, make_validate = KINDS[kind]
    validate = make_validate(settings)
    before = inventory()
    outcomes: Counter[str] = Counter()
    sizes: list[int] = []

    @seed(SEED)
    @hypothesis_settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(cases(world).filter(lambda case: len(json.dumps(case.detail)) <= MAX_DETAIL))
    def answer_is_right(case: Case) -> None:
        outcomes[check_answer(case, validate)] += 1
        sizes.append(len(json.dumps(case.detail)))
        assert inventory() == before, "validation created something"

    answer_is_right()

    print(
        f"\n{kind}: seed {SEED}, {sum(outcomes.values())} generated: "
        f"{outcomes['accepted']} accepted, {outcomes['rejected']} rejected with their fields; "
        f"details up to {max(sizes)} bytes"
    )
    assert sum(outcomes.values()) >= EXAMPLES
    assert outcomes["accepted"] and outcomes["rejected"]
