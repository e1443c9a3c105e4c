"""The CLI's request flags become the request contract's fields (no AWS needed)."""

from __future__ import annotations

import pytest

from privateapi.__main__ import detail_from, parser

pytestmark = pytest.mark.unit


def test_the_secure_default_fields_have_flags():
    flags = "--api-name internal --nlb-arn arn:nlb --endpoint-type PRIVATE"
    flags += " --vpc-endpoint-id vpce-0123456789abcdef0 --vpc-endpoint-id vpce-0123456789abcdef1"
    flags += " --authorization COGNITO_USER_POOLS --cognito-user-pool-arn arn:pool"
    args = parser().parse_args(["request", *flags.split()])

    assert detail_from(args) == {
        "apiName": "internal",
        "nlbArn": "arn:nlb",
        "endpointType": "PRIVATE",
        "authorization": "COGNITO_USER_POOLS",
        "vpcEndpointIds": ["vpce-0123456789abcdef0", "vpce-0123456789abcdef1"],
        "cognitoUserPoolArns": ["arn:pool"],
    }


def test_a_request_without_them_says_nothing_of_them():
    args = parser().parse_args(["request", "--api-name", "orders", "--nlb-arn", "arn:nlb"])

    assert detail_from(args) == {"apiName": "orders", "nlbArn": "arn:nlb"}
