"""Is a delivery from the ticket system? An HMAC-SHA256 of the raw body, keyed with the
system's webhook secret, checked before anything is parsed and in constant time.

* Jira (Cloud and Data Center, webhooks with a secret): ``X-Hub-Signature: sha256=<hex>``.
* GitHub: ``X-Hub-Signature-256: sha256=<hex>`` (the SHA-1 ``X-Hub-Signature`` is ignored).
* ServiceNow has no signed webhooks: the Business Rule that posts the request computes
  ``GlideCertificateEncryption().generateMac(gs.base64Encode(secret), "HmacSHA256", body)``
  (the key given base64-encoded, the MAC answered in base64) and sends it as
  ``X-ServiceNow-Signature`` (README, "Requests from tickets", has the whole script).

A secret is JSON ``{"current": ..., "previous": ...}`` in Secrets Manager: during a rotation a
delivery signed with either is accepted, so no delivery is dropped while the ticket system
changes over. Header names are compared without regard to case (Function URLs lowercase them).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from provisioner.contract.vocabulary import TicketSystem


@dataclass(frozen=True)
class SignatureScheme:
    header: str
    prefix: str
    encoding: str  # "hex" or "base64"


SCHEMES: dict[TicketSystem, SignatureScheme] = {
    TicketSystem.JIRA: SignatureScheme("x-hub-signature", "sha256=", "hex"),
    TicketSystem.GITHUB: SignatureScheme("x-hub-signature-256", "sha256=", "hex"),
    TicketSystem.SERVICENOW: SignatureScheme("x-servicenow-signature", "", "base64"),
}


def header(headers: Mapping[str, str], name: str) -> str | None:
    wanted = name.lower()
    return next((value for key, value in headers.items() if key.lower() == wanted), None)


def sign(system: TicketSystem, secret: str, body: bytes) -> str:
    """The header value the system would send for ``body`` (tests, samples, ``make local``)."""
    scheme = SCHEMES[system]
    digest = hmac.new(secret.encode(), body, hashlib.sha256).digest()
    encoded = digest.hex() if scheme.encoding == "hex" else base64.b64encode(digest).decode()
    return scheme.prefix + encoded


def signature_header(system: TicketSystem) -> str:
    return SCHEMES[system].header


def is_signed(
    system: TicketSystem, headers: Mapping[str, str], body: bytes, secrets: Iterable[str]
) -> bool:
    """True when the signature header is a MAC of ``body`` under one of ``secrets`` (empty
    secrets never match). Every secret is tried, so the time taken does not tell which."""
    scheme = SCHEMES[system]
    given = header(headers, scheme.header)
    if not given or not given.startswith(scheme.prefix):
        return False
    received = _decode(given.removeprefix(scheme.prefix).strip(), scheme.encoding)
    if received is None:
        return False
    matched = False
    for secret in secrets:
        if secret:
            expected = hmac.new(secret.encode(), body, hashlib.sha256).digest()
            matched |= hmac.compare_digest(expected, received)
    return matched


def _decode(value: str, encoding: str) -> bytes | None:
    try:
        if encoding == "hex":
            return bytes.fromhex(value)
        return base64.b64decode(value, validate=True)
    except (ValueError, binascii.Error):
        return None
