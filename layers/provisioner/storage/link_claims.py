"""The claim on a link key (:class:`~provisioner.storage.keys.LinkKey`): which request is
creating the VpcLink that any request with the same key would reuse.

Links are a scarce quota; ``claim`` lets exactly one of N simultaneous requests create the
link, the others wait for it and reuse it. A V1 link's key is its NLB, ``NLB#<arn>``; a V2
link's is its network, ``VPCLINKV2#<subnets>#<security groups>`` (the VPC is the subnets').
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from provisioner.contract import errors
from provisioner.storage.keys import LinkKey
from provisioner.storage.table import Table, utcnow

# How long a link claim without a link protects a request that may have crashed: more than
# the EnsureVpcLink function's timeout, less than the ASL retries LinkCreationInProgress.
CLAIM_LEASE = timedelta(seconds=60)


@dataclass(frozen=True)
class LinkClaim:
    won: bool
    holder: str
    vpc_link_id: str | None


class LinkClaims:
    """The link claims of one ledger table."""

    def __init__(self, table: Table) -> None:
        self.table = table

    def claim(
        self, key: LinkKey, request_id: str, *, replacing_link: str | None = None
    ) -> LinkClaim:
        """Try to become the one request that creates the link for ``key``.

        The claim can be taken when nobody holds it, when this request already holds it, when
        its holder never recorded a link within the lease, or (``replacing_link``) when the
        link it recorded is gone, FAILED or INACTIVE.
        """
        now = utcnow()
        condition = (
            "attribute_not_exists(pk) OR holder = :me"
            " OR (attribute_not_exists(vpcLinkId) AND claimedAt < :stale)"
        )
        values = {":me": request_id, ":stale": (now - CLAIM_LEASE).isoformat()}
        if replacing_link:
            condition += " OR vpcLinkId = :dead"
            values[":dead"] = replacing_link
        item = {
            **key.item_key,
            **dict(key.described),
            "holder": request_id,
            "claimedAt": now.isoformat(),
        }
        try:
            self.table.put(item, condition, values)
            return LinkClaim(won=True, holder=request_id, vpc_link_id=None)
        except errors.ConditionFailed:
            current = self.table.get(key.item_key) or {}
            return LinkClaim(
                won=False, holder=str(current.get("holder")), vpc_link_id=current.get("vpcLinkId")
            )

    def record_link(self, key: LinkKey, request_id: str, vpc_link_id: str) -> None:
        """The holder created the key's link (raises ``ConditionFailed`` if it lost the claim)."""
        self.table.update(
            key.item_key,
            "SET vpcLinkId = :link",
            condition="holder = :me",
            values={":link": vpc_link_id, ":me": request_id},
        )

    def release(self, key: LinkKey, vpc_link_id: str) -> None:
        """Forget the key's claim once its link is deleted (only if it still names that link)."""
        self.table.delete_if(key.item_key, "vpcLinkId = :link", {":link": vpc_link_id})

    def release_unused(self, key: LinkKey, request_id: str) -> None:
        """Give up a claim that never got a link (its CreateVpcLink failed)."""
        self.table.delete_if(
            key.item_key,
            "holder = :me AND attribute_not_exists(vpcLinkId)",
            {":me": request_id},
        )

    def get(self, key: LinkKey) -> dict[str, str] | None:
        """The claim item as it stands (for people and tests reading the ledger)."""
        found = self.table.get(key.item_key)
        return None if found is None else {name: value for name, value in found.items()}
