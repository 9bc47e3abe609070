"""Sends one webhook POST under the receiver policy (chalicelib/domain/webhook_addresses):
the host is resolved once, every address it resolves to must be allowed, and the
connection goes to the address that was checked (Host header and TLS SNI name the host),
so a second DNS answer cannot redirect it (DNS rebinding). Redirects are not followed: a
3xx is a failed delivery. Failures carry a generic reason, never the socket's own text
(which would make `last_error` a port scanner).
"""

from __future__ import annotations

import http.client
import socket
import ssl
from collections.abc import Callable
from urllib.parse import urlsplit

from chalicelib.domain.webhook_addresses import ReceiverPolicy, address_allowed, ip_address_of

TIMEOUT_SECONDS = 5.0

Resolver = Callable[[str, int], list[str]]


class DeliveryFailed(Exception):
    """A webhook was not delivered; `reason` is safe to show the tenant."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def resolve(host: str, port: int) -> list[str]:
    try:
        answers = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError):
        raise DeliveryFailed("receiver host not found") from None
    return list(dict.fromkeys(str(answer[4][0]) for answer in answers))


class _PinnedHTTPConnection(http.client.HTTPConnection):
    """Connects to `address`, whatever `host` (sent as Host) resolves to now."""

    def __init__(self, host: str, port: int, address: str, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout)
        self.address = address

    def connect(self) -> None:
        self.sock = socket.create_connection((self.address, self.port), self.timeout)


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    """As _PinnedHTTPConnection, with TLS verified against `host` (SNI and certificate)."""

    def __init__(self, host: str, port: int, address: str, timeout: float) -> None:
        self.tls = ssl.create_default_context()
        super().__init__(host, port, timeout=timeout, context=self.tls)
        self.address = address

    def connect(self) -> None:
        raw = socket.create_connection((self.address, self.port), self.timeout)
        self.sock = self.tls.wrap_socket(raw, server_hostname=self.host)


def _reason(failure: OSError) -> str:
    if isinstance(failure, TimeoutError):
        return "timeout"
    if isinstance(failure, ConnectionRefusedError):
        return "receiver refused the connection"
    if isinstance(failure, ssl.SSLError | ssl.CertificateError):
        return "receiver TLS failed"
    return "receiver unreachable"


def post_webhook(
    url: str,
    body: bytes,
    headers: dict[str, str],
    policy: ReceiverPolicy,
    resolver: Resolver = resolve,
    timeout: float = TIMEOUT_SECONDS,
) -> int:
    """POSTs `body` and answers the receiver's status; raises DeliveryFailed when the URL or
    any address of its host is not allowed, or the connection fails."""
    parts = urlsplit(url)
    secure = parts.scheme == "https"
    if not secure and not (parts.scheme == "http" and policy.local_receivers):
        raise DeliveryFailed("receiver address not allowed")
    host = parts.hostname or ""
    port = parts.port or (443 if secure else 80)
    addresses = resolver(host, port)
    if not addresses or not all(
        address_allowed(ip_address_of(address), policy) for address in addresses
    ):
        raise DeliveryFailed("receiver address not allowed")
    target = addresses[0]
    connection_type = _PinnedHTTPSConnection if secure else _PinnedHTTPConnection
    connection = connection_type(host, port, target, timeout)
    path = parts.path or "/"
    if parts.query:
        path = f"{path}?{parts.query}"
    try:
        connection.request("POST", path, body=body, headers=headers)
        response = connection.getresponse()
        response.read(64 * 1024)
        return int(response.status)
    except OSError as failure:
        raise DeliveryFailed(_reason(failure)) from None
    except http.client.HTTPException:
        raise DeliveryFailed("receiver answered malformed HTTP") from None
    finally:
        connection.close()
