"""How the ledger's items are keyed (one table, partition key ``pk``): the one home of the
scheme, for the ledger and for whoever reads it (the CLI, the tests). Standard library only, so
that a tool outside the functions imports it without the layer's dependencies.

* ``REQUEST#<requestId>``: a request (``storage.requests``);
* ``NLB#<arn>`` / ``VPCLINKV2#<subnets>#<security groups>``: the claim on a link key
  (``storage.link_claims``);
* ``PACE#<operation>``: the turns of one rate-limited API Gateway operation (``storage.pace``);
* ``DELIVERY#<system>#<id>``, ``TICKET#<requestId>``: ticket deliveries and write-backs
  (``storage.tickets``);
* ``ANSWER#<executionArn>``: a stopped execution whose requester was answered;
* ``WRITEBACK#<hash>``: Powertools Idempotency's record of one notification written back to its
  ticket (``tickets.writeback``): Powertools builds the key from :data:`WRITEBACK_KEY_PREFIX`,
  a ``#`` and the hash of the notification's requestId, status and timestamp.
"""

from __future__ import annotations

from typing import Any, NamedTuple

type Key = dict[str, str]

REQUEST_PREFIX = "REQUEST#"
# Powertools Idempotency's ``key_prefix``: it adds the ``#`` and the hash itself.
WRITEBACK_KEY_PREFIX = "WRITEBACK"


def request_key(request_id: str) -> Key:
    return {"pk": f"{REQUEST_PREFIX}{request_id}"}


def pace_key(operation: str) -> Key:
    return {"pk": f"PACE#{operation}"}


def delivery_key(system: str, delivery_id: str) -> Key:
    return {"pk": f"DELIVERY#{system}#{delivery_id}"}


def ticket_key(request_id: str) -> Key:
    return {"pk": f"TICKET#{request_id}"}


def answer_key(execution_arn: str) -> Key:
    return {"pk": f"ANSWER#{execution_arn}"}


class LinkKey(NamedTuple):
    """What makes two requests want the same VpcLink, as the ledger item that claims it."""

    pk: str
    # What the claim item records besides the claim itself, for people reading the ledger.
    described: tuple[tuple[str, Any], ...] = ()

    @classmethod
    def of_nlb(cls, nlb_arn: str) -> LinkKey:
        """A V1 link serves exactly one NLB (``NLB#<arn>``, as it always was: existing ledgers
        keep working)."""
        return cls(f"NLB#{nlb_arn}", (("nlbArn", nlb_arn),))

    @classmethod
    def of_v2(cls, subnet_ids: list[str], security_group_ids: list[str]) -> LinkKey:
        """A V2 link serves whatever its subnets and security groups reach: two requests with
        the same ones (in any order) share it. The VPC is the subnets' own."""
        subnets, groups = sorted(set(subnet_ids)), sorted(set(security_group_ids))
        return cls(
            f"VPCLINKV2#{','.join(subnets)}#{','.join(groups)}",
            (("subnetIds", subnets), ("securityGroupIds", groups)),
        )

    @property
    def item_key(self) -> Key:
        return {"pk": self.pk}
