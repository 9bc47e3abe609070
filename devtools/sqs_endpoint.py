"""moto's in-process SQS, served over HTTP on 127.0.0.1 for the API process.

`make run` keeps its queues in moto's in-process SQS (devtools/run_local.py, `local_sqs`),
which only the runner's own process reaches. The API process (`chalice local`) sends to a
queue too: a merge not done within its request hands the rest to the merge queue (issue
16). This endpoint takes the API's SQS calls (botocore's JSON protocol, `X-Amz-Target:
AmazonSQS.<Operation>`) and makes them on the runner's SQS client; the API process is
pointed at it by `AWS_ENDPOINT_URL_SQS`, which botocore reads. One request at a time.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

from botocore import xform_name
from botocore.exceptions import ClientError, ParamValidationError

TARGET_PREFIX = "AmazonSQS."
CONTENT_TYPE = "application/x-amz-json-1.0"


class LocalSqsEndpoint:
    """An HTTP server on 127.0.0.1 (a free port) answering SQS calls with `sqs`."""

    def __init__(self, sqs: Any) -> None:
        self._sqs = sqs
        self._server = HTTPServer(("127.0.0.1", 0), _handler_for(sqs))
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> LocalSqsEndpoint:
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)


def answer(sqs: Any, target: str, body: bytes) -> tuple[int, dict[str, Any]]:
    """The status and JSON body of one SQS call (`target` as in `X-Amz-Target`)."""
    operation = target.removeprefix(TARGET_PREFIX)
    if not target.startswith(TARGET_PREFIX) or operation not in _operations(sqs):
        return 400, _error("UnsupportedOperation", f"not an SQS operation: {target!r}")
    try:
        parameters = json.loads(body or b"{}")
        result = getattr(sqs, xform_name(operation))(**parameters)
    except ClientError as error:
        details = error.response.get("Error", {})
        status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 400)
        return int(status), _error(details.get("Code", "ClientError"), details.get("Message"))
    except (ParamValidationError, ValueError, TypeError) as error:
        return 400, _error("InvalidParameterValue", str(error))
    result.pop("ResponseMetadata", None)
    return 200, result


def _operations(sqs: Any) -> list[str]:
    return list(sqs.meta.service_model.operation_names)


def _error(code: str, message: str | None) -> dict[str, Any]:
    return {"__type": f"com.amazonaws.sqs#{code}", "message": message or code}


def _handler_for(sqs: Any) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            status, body = answer(
                sqs, self.headers.get("X-Amz-Target", ""), self.rfile.read(length)
            )
            encoded = json.dumps(body, default=str).encode()
            self.send_response(status)
            self.send_header("Content-Type", CONTENT_TYPE)
            self.send_header("Content-Length", str(len(encoded)))
            self.end_headers()
            self.wfile.write(encoded)

        def log_message(self, format: str, *args: Any) -> None:
            """Quiet: the stack's output is the API's and the runner's."""

    return Handler
