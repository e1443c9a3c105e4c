"""The claim on a link key (:class:`~provisioner.storage.keys.LinkKey`): which request is
creating the VpcLink that any request with the same key would reuse.

Links are a scarce quota; ``claim`` lets exactly one of N simultaneous requests create the
link, the others wait for it and reuse it. A V1 link's key is its NLB, ``NLB#<arn>``; a V2
link's is its network, ``VPCLINKV2#<subnets>#<security groups>`` (the VPC is the subnets').
The item: ``holder``, ``claimedAt``, ``vpcLinkId`` once created, and ``turnAt`` while the
holder waits for its CreateVpcLink turn (a V2 link's, :meth:`LinkClaims.hold`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from provisioner.contract import errors
from provisioner.storage.keys import LinkKey
from provisioner.storage.table import Table, utcnow

# How long a link claim without a link protects a request that may have crashed: more than
# the EnsureVpcLink function's timeout, less than the ASL retries LinkCreationInProgress. It
# counts from the claim, or from the holder's CreateVpcLink turn while it waits for it.
CLAIM_LEASE = timedelta(seconds=60)


@dataclass(frozen=True)
class LinkClaim:
    won: bool
    holder: str
    vpc_link_id: str | None
    # The holder's CreateVpcLink turn, while it waits for it (see LinkClaims.hold)
    turn_at: datetime | None = None


class LinkClaims:
    """The link claims of one ledger table."""

    def __init__(self, table: Table) -> None:
        self.table = table

    def claim(
        self, key: LinkKey, request_id: str, *, replacing_link: str | None = None
    ) -> LinkClaim:
        """Try to become the one request that creates the link for ``key``.

        The claim can be taken when nobody holds it, when this request already holds it, when
        its holder never recorded a link within the lease (counted from the claim and from the
        turn it waits for, if any), or (``replacing_link``) when the link it recorded is gone,
        FAILED or INACTIVE. Taken again by its holder, the claim counts from now, and no turn
        is waited for any more: the holder makes its call within its function's time, or
        holds the claim until a new turn again.
        """
        now = utcnow()
        condition = (
            "attribute_not_exists(pk) OR holder = :me"
            " OR (attribute_not_exists(vpcLinkId) AND claimedAt < :stale"
            " AND (attribute_not_exists(turnAt) OR turnAt < :stale))"
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
            turn_at = current.get("turnAt")
            return LinkClaim(
                won=False,
                holder=str(current.get("holder")),
                vpc_link_id=current.get("vpcLinkId"),
                turn_at=datetime.fromisoformat(turn_at) if isinstance(turn_at, str) else None,
            )

    def hold(self, key: LinkKey, request_id: str, *, turn_at: datetime) -> bool:
        """The holder waits for its CreateVpcLink turn at ``turn_at`` (a V2 link's, paced):
        its claim is held until the lease after it, and the others read when to look again.
        False if the claim is no longer this request's, or has its link already."""
        try:
            self.table.update(
                key.item_key,
                "SET turnAt = :turn",
                condition="holder = :me AND attribute_not_exists(vpcLinkId)",
                values={":turn": turn_at.isoformat(), ":me": request_id},
            )
        except errors.ConditionFailed:
            return False
        return True

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
