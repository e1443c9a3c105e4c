"""Which resources a request created: everything we create carries these two tags."""

from __future__ import annotations

from provisioner.contract.vocabulary import MANAGED_BY_TAG, REQUEST_ID_TAG
from provisioner.runtime.settings import Settings


def ownership_tags(request_id: str, tags: dict[str, str], settings: Settings) -> dict[str, str]:
    """The requester's tags plus ours: how rollback and teardown find a request's resources."""
    return {**tags, REQUEST_ID_TAG: request_id, MANAGED_BY_TAG: settings.stack_name}


def created_by(tags: dict[str, str], request_id: str, settings: Settings) -> bool:
    """Created by this control plane (this stack) for this request."""
    return managed_here(tags, settings) and tags.get(REQUEST_ID_TAG) == request_id


def managed_here(tags: dict[str, str], settings: Settings) -> bool:
    """Created by this control plane (this stack), for any request."""
    return tags.get(MANAGED_BY_TAG) == settings.stack_name
