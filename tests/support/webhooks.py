"""A webhook receiver on 127.0.0.1 and the Standard Webhooks verification, written from the
specification (shared by the moto integration tests and the end-to-end tests)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

SECRET_KEY = b"a local test key of 24 b"
SECRET = "whsec_" + base64.b64encode(SECRET_KEY).decode()


@dataclass
class Receiver:
    """A webhook endpoint: records what it receives, answers `status`."""

    status: int = 200
    received: list[dict[str, Any]] = field(default_factory=list)
    url: str = ""


@contextmanager
def running_receiver(path: str) -> Iterator[Receiver]:
    """A receiver serving `path` on a free port of 127.0.0.1 until the block ends."""
    state = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            state.received.append(
                {"body": body, "headers": dict(self.headers.items()), "answer": state.status}
            )
            self.send_response(state.status)
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_address[1]}{path}"
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield state
    finally:
        server.shutdown()


def standard_webhooks_valid(delivery: dict[str, Any]) -> bool:
    """The Standard Webhooks verification: the key is the base64 after `whsec_`; the
    signature is base64 HMAC-SHA256 of "{id}.{timestamp}.{body}", sent as `v1,{signature}`
    (several may be sent, separated by spaces)."""
    headers = {name.lower(): value for name, value in delivery["headers"].items()}
    key = base64.b64decode(SECRET.removeprefix("whsec_"))
    signed = f"{headers['webhook-id']}.{headers['webhook-timestamp']}.".encode() + delivery["body"]
    expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    offered = [
        sig.split(",", 1)[1]
        for sig in headers["webhook-signature"].split()
        if sig.startswith("v1,")
    ]
    return any(hmac.compare_digest(expected, sig) for sig in offered)
