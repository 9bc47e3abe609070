"""Sending a webhook under the receiver policy: every resolved address checked, the
connection made to the checked address, no redirects, generic failure reasons. The
receivers are local HTTP servers; resolvers are fakes (no DNS, no network)."""

from __future__ import annotations

import contextlib
import socket
import ssl
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from chalicelib.domain.webhook_addresses import ReceiverPolicy
from chalicelib.services.webhook_transport import DeliveryFailed, post_webhook

DEPLOYED = ReceiverPolicy(local_receivers=False)
LOCAL = ReceiverPolicy(local_receivers=True)


@dataclass
class LocalReceiver:
    port: int = 0
    status: int = 200
    location: str | None = None
    requests: list[dict[str, str]] = field(default_factory=list)


@pytest.fixture
def local_receiver() -> Iterator[LocalReceiver]:
    state = LocalReceiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers["Content-Length"]))
            state.requests.append({"path": self.path, "host": self.headers["Host"]})
            self.send_response(state.status)
            if state.location:
                self.send_header("Location", state.location)
            self.end_headers()

        def do_GET(self) -> None:
            state.requests.append({"path": self.path, "host": self.headers["Host"]})
            self.send_response(200)
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.port = server.server_address[1]
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield state
    server.shutdown()


def resolves_to(*addresses: str):  # type: ignore[no-untyped-def]
    calls: list[str] = []

    def resolver(host: str, port: int) -> list[str]:
        calls.append(host)
        return list(addresses)

    resolver.calls = calls  # type: ignore[attr-defined]
    return resolver


@pytest.mark.parametrize(
    "addresses",
    [("10.0.0.5",), ("93.184.216.34", "127.0.0.1"), ("169.254.169.254",), ("::ffff:10.0.0.1",)],
)
def test_a_host_resolving_to_any_private_address_is_refused(addresses: tuple[str, ...]) -> None:
    # Given a public-looking host whose DNS answer includes a non-public address
    resolver = resolves_to(*addresses)
    # When a webhook is sent to it in a deployed stage
    with pytest.raises(DeliveryFailed) as refused:
        post_webhook("https://hooks.example.com/crm", b"{}", {}, DEPLOYED, resolver)
    # Then nothing is sent and the reason is generic
    assert refused.value.reason == "receiver address not allowed"


def test_http_is_refused_in_deployed_stages() -> None:
    with pytest.raises(DeliveryFailed) as refused:
        post_webhook("http://hooks.example.com/crm", b"{}", {}, DEPLOYED, resolves_to("8.8.8.8"))
    assert refused.value.reason == "receiver address not allowed"


def test_the_connection_goes_to_the_checked_address_with_the_host_named(
    local_receiver: LocalReceiver,
) -> None:
    # Given a host name that resolves (once) to the local receiver's address
    resolver = resolves_to("127.0.0.1")
    url = f"http://receiver.example:{local_receiver.port}/hooks?x=1"
    # When a webhook is sent (local receivers allowed)
    status = post_webhook(url, b"{}", {"Content-Type": "application/json"}, LOCAL, resolver)
    # Then it reached the checked address, naming the host, after one resolution
    assert status == 200
    assert local_receiver.requests == [
        {"path": "/hooks?x=1", "host": f"receiver.example:{local_receiver.port}"}
    ]
    assert resolver.calls == ["receiver.example"]  # type: ignore[attr-defined]


def test_a_redirect_is_not_followed(local_receiver: LocalReceiver) -> None:
    # Given a receiver that redirects elsewhere
    local_receiver.status = 302
    local_receiver.location = f"http://127.0.0.1:{local_receiver.port}/elsewhere"
    url = f"http://127.0.0.1:{local_receiver.port}/hooks"
    # When a webhook is sent
    status = post_webhook(url, b"{}", {}, LOCAL, resolves_to("127.0.0.1"))
    # Then the 3xx is the answer and the redirect target was never asked
    assert status == 302
    assert [r["path"] for r in local_receiver.requests] == ["/hooks"]


def test_connection_failures_have_generic_reasons() -> None:
    # Given a local port where nothing listens
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    # When a webhook is sent there
    with pytest.raises(DeliveryFailed) as failed:
        post_webhook(f"http://127.0.0.1:{port}/x", b"{}", {}, LOCAL, resolves_to("127.0.0.1"))
    # Then the reason carries no socket text
    assert failed.value.reason == "receiver refused the connection"
    assert "Errno" not in str(failed.value)


def _self_signed(directory: Path, host: str) -> tuple[Path, Path]:
    """A certificate for `host` that no trust store knows (moto depends on cryptography)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host)])
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(host)]), critical=False)
        .sign(key, hashes.SHA256())
    )
    certificate_file, key_file = directory / "cert.pem", directory / "key.pem"
    certificate_file.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return certificate_file, key_file


def test_https_names_the_host_in_sni_and_verifies_its_certificate(tmp_path: Path) -> None:
    # Given a TLS server on 127.0.0.1 with a certificate for receiver.example that no trust
    # store knows, recording the name each client asks for
    certificate, key = _self_signed(tmp_path, "receiver.example")
    server_names: list[str | None] = []
    tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    tls.load_cert_chain(certificate, key)
    tls.sni_callback = lambda connection, name, context: server_names.append(name)
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]

    def accept_one() -> None:
        connection, _ = listener.accept()
        with contextlib.suppress(OSError), tls.wrap_socket(connection, server_side=True):
            pass

    thread = threading.Thread(target=accept_one, daemon=True)
    thread.start()
    # When a webhook is sent to https://receiver.example (resolved to 127.0.0.1)
    with pytest.raises(DeliveryFailed) as failed:
        post_webhook(
            f"https://receiver.example:{port}/hooks", b"{}", {}, LOCAL, resolves_to("127.0.0.1")
        )
    thread.join(timeout=5)
    listener.close()
    # Then the handshake named the host, and the untrusted certificate stopped the send
    assert server_names == ["receiver.example"]
    assert failed.value.reason == "receiver TLS failed"
