"""The API process of `make run`: what `chalice local --no-autoreload` runs (Chalice's own
factory, route checks and server), with a listen backlog that takes a burst of clients.

`chalice local` serves on socketserver's `HTTPServer`, whose `request_queue_size`, the
socket's listen backlog, is 5: the kernel queues at most 6 connections the server has not
accepted yet. The server accepts on one thread and handles each request on another, so
while 20 clients connect at the same moment and the request threads hold the GIL, the queue
overflows: the kernel drops further connection attempts (the client tries again a second or
more later) and can reset connections whose handshake the client saw complete
(`ConnectionResetError`). This launcher listens again with LISTEN_BACKLOG before serving
(a second `listen` on a listening socket changes its backlog), so such a burst waits in the
queue instead."""

from __future__ import annotations

import argparse
import logging
import os
import sys

from chalice.app import Chalice
from chalice.cli import run_local_server
from chalice.cli.factory import CLIFactory
from chalice.config import Config
from chalice.local import LocalDevServer

from devtools.dynamodb_local import ROOT

LISTEN_BACKLOG = 128
"""Connections the kernel holds for the server before it accepts them (Linux caps it at
`net.core.somaxconn`, 4096 by default)."""


class LocalServerFactory(CLIFactory):
    """Chalice's CLI factory, whose local server listens with LISTEN_BACKLOG."""

    def create_local_server(
        self, app_obj: Chalice, config: Config, host: str, port: int
    ) -> LocalDevServer:
        server = super().create_local_server(app_obj, config, host, port)
        server.server.socket.listen(LISTEN_BACKLOG)
        return server


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--stage", default="local")
    args = parser.parse_args()
    # As `chalice local` sets them up: the app's log lines on stdout, and the variable an
    # app reads to know it runs under the Chalice CLI.
    logging.basicConfig(stream=sys.stdout, level=logging.INFO, format="%(message)s")
    os.environ["AWS_CHALICE_CLI_MODE"] = "true"
    factory = LocalServerFactory(str(ROOT), environ=os.environ)
    run_local_server(factory, args.host, args.port, args.stage)
    return 0


if __name__ == "__main__":
    sys.exit(main())
