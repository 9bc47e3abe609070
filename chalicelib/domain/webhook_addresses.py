"""Where a webhook may be sent (SSRF): only to public addresses, over https.

The same policy answers twice: when a tenant saves `webhook_url` (the URL's form and a
literal address) and at every send (each address the host resolves to; the sender then
connects to the address it checked, so a second DNS answer cannot swap it). Local
receivers (the `local` stage's WEBHOOK_LOCAL_RECEIVERS setting) may use http and loopback
addresses; nothing else is ever relaxed.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from urllib.parse import SplitResult, urlsplit

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

SHARED_ADDRESS_SPACE = ipaddress.IPv4Network("100.64.0.0/10")
NAT64_PREFIX = ipaddress.IPv6Network("64:ff9b::/96")
LOCAL_HOST_NAMES = ("localhost", "localhost.localdomain")


@dataclass(frozen=True)
class ReceiverPolicy:
    """`local_receivers`: http and loopback addresses are allowed (local stage only)."""

    local_receivers: bool = False


def _embedded_ipv4(address: IPAddress) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address carries (mapped, 6to4, NAT64), if any."""
    if isinstance(address, ipaddress.IPv4Address):
        return None
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address in NAT64_PREFIX:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def _not_public(address: IPAddress) -> bool:
    return (
        not address.is_global
        or address.is_private
        or address.is_loopback
        or address.is_link_local
        or address.is_multicast
        or address.is_reserved
        or address.is_unspecified
        or (isinstance(address, ipaddress.IPv4Address) and address in SHARED_ADDRESS_SPACE)
    )


def address_allowed(address: IPAddress, policy: ReceiverPolicy) -> bool:
    """Whether a webhook may connect to `address`. An IPv4-mapped IPv6 address is judged as
    its IPv4 address; one that carries an IPv4 address otherwise (6to4, NAT64), by both."""
    embedded = _embedded_ipv4(address)
    mapped = isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None
    for candidate in (embedded,) if mapped else (address, embedded):
        if candidate is None:
            continue
        if policy.local_receivers and candidate.is_loopback:
            continue
        if _not_public(candidate):
            return False
    return True


def ip_address_of(text: str) -> IPAddress:
    return ipaddress.ip_address(text)


def _literal_address(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


def url_problem(url: str, policy: ReceiverPolicy) -> str | None:
    """Why `url` may not receive webhooks (None when it may): checked when it is saved.
    A host name is resolved only at send time."""
    try:
        parts: SplitResult = urlsplit(url)
        port = parts.port
    except ValueError:
        return "must be a valid URL"
    allowed_schemes = ("https", "http") if policy.local_receivers else ("https",)
    if parts.scheme not in allowed_schemes:
        return "must use https"
    if parts.username is not None or parts.password is not None:
        return "must not contain a user name or password"
    host = (parts.hostname or "").rstrip(".")
    if not host:
        return "must name a host"
    if port == 0:
        return "must not use port 0"
    literal = _literal_address(host)
    if literal is not None:
        return None if address_allowed(literal, policy) else "must be a public address"
    if not policy.local_receivers and (
        host in LOCAL_HOST_NAMES or host.endswith(".localhost") or "." not in host
    ):
        return "must be a public host name"
    return None
