"""`make run`: DynamoDB Local (data under .local/), the tables, the admin key, and
`chalice local`'s server on 127.0.0.1. Ctrl-C stops everything it started.

The API process is `python -m devtools.local_api`: what `chalice local --no-autoreload`
runs, with a listen backlog for bursts of clients (see there). Chalice's reloader watches
the whole project, data under `.local/` included. Instead a `CodeWatcher`
(devtools/code_watcher.py) polls the code alone (`WATCH_PATHS`, default app.py, chalicelib/
and .chalice/config.json) and restarts the API process when it changes; `--no-autoreload`
turns that off too."""

from __future__ import annotations

import argparse
import os
import secrets
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import FrameType
from typing import Any

import boto3

from devtools.code_watcher import CodeWatcher, watched_paths_from
from devtools.dynamodb_local import ROOT, DynamoDBLocal, free_port
from devtools.local_schedule import LocalSchedule
from devtools.stage import stage_environment
from devtools.stream_runner import LocalStreamRunner, local_queues
from devtools.tables import ensure_tables, table_names

LOCAL_DIR = Path(os.environ.get("LOCAL_DIR", ROOT / ".local"))
WATCH_INTERVAL_SECONDS = 1.0


def _secret_file(path: Path, make: str) -> str:
    """Read a secret kept under .local/, creating it (mode 600) on first run."""
    if not path.exists():
        path.touch(mode=0o600)
        path.write_text(make + "\n")
    path.chmod(0o600)
    return path.read_text().strip()


def prepare(environment: dict[str, str]) -> None:
    """Create the tables if absent, and the platform-admin key on first run."""
    from chalicelib.services.tenants import register_platform_key
    from chalicelib.settings import reset_settings

    client = boto3.client(
        "dynamodb",
        endpoint_url=environment["DYNAMODB_ENDPOINT"],
        region_name=environment["AWS_DEFAULT_REGION"],
        aws_access_key_id=environment["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=environment["AWS_SECRET_ACCESS_KEY"],
    )
    for name in ensure_tables(client, table_names(environment)):
        print(f"created table {name}")
    admin_key = _secret_file(LOCAL_DIR / "admin-key", "crm_admin_" + secrets.token_urlsafe(32))
    os.environ.update(environment)
    reset_settings()
    register_platform_key(admin_key)


def local_sqs() -> Any:
    """SQS for the runner's process: moto's in-process SQS (no server, no network); every
    DynamoDB call still goes to DynamoDB Local. The stream and queue functions, which run in
    this process, send to and read the queues directly; the API process sends (a merge's
    continuation) to the same queues through moto's server (`local_sqs_server`)."""
    from moto import mock_aws

    mock = mock_aws(
        config={
            "core": {
                "mock_credentials": False,
                "passthrough": {"services": ["dynamodb", "dynamodbstreams"]},
            }
        }
    )
    mock.start()
    return boto3.client(
        "sqs",
        region_name="us-east-1",
        aws_access_key_id="local",
        aws_secret_access_key="local",
    )


def local_sqs_server() -> Any:
    """moto's server on 127.0.0.1, for the API process (`chalice local`), which cannot
    reach this process's mock: it acts on the same state as the mock (moto's documented
    behaviour), so the API's sends land in the queues the runner reads."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=free_port(), verbose=False)
    server.start()
    return server


def local_stream_runner(environment: dict[str, str], sqs: Any) -> LocalStreamRunner:
    """The stream runner for the stack's DynamoDB Local (see devtools/stream_runner.py)."""
    arguments = {
        "endpoint_url": environment["DYNAMODB_ENDPOINT"],
        "region_name": environment["AWS_DEFAULT_REGION"],
        "aws_access_key_id": environment["AWS_ACCESS_KEY_ID"],
        "aws_secret_access_key": environment["AWS_SECRET_ACCESS_KEY"],
    }
    return LocalStreamRunner(
        boto3.client("dynamodb", **arguments),
        boto3.client("dynamodbstreams", **arguments),
        LOCAL_DIR,
        environ={**os.environ, **environment},
        sqs=sqs,
    )


def _stop_group(process: subprocess.Popen[bytes]) -> None:
    """Stop the API process and anything it started (they share a process group)."""
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=10)
    except ProcessLookupError:
        return
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


class ApiServer:
    """`chalice local`'s server without its reloader (devtools/local_api.py) as a
    subprocess, restarted by `serve` when the watcher sees the code change. Each start and
    restart is one line of the stack's log."""

    def __init__(self, port: int, environment: dict[str, str]) -> None:
        self.port = port
        self.environment = environment
        self.process: subprocess.Popen[bytes] | None = None
        self.restarts = 0

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "devtools.local_api",
                "--stage",
                "local",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
            ],
            cwd=ROOT,
            env={**os.environ, **self.environment},
            start_new_session=True,
        )
        print(f"API process {self.process.pid} started (restarts: {self.restarts})", flush=True)

    def stop(self) -> None:
        if self.process is not None:
            _stop_group(self.process)

    def restart(self, changed: list[Path]) -> None:
        self.restarts += 1
        shown = ", ".join(str(path) for path in changed[:3])
        more = f" and {len(changed) - 3} more" if len(changed) > 3 else ""
        print(f"code changed ({shown}{more}): restarting the API", flush=True)
        self.stop()
        self.start()

    def serve(self, watcher: CodeWatcher | None) -> int:
        """Run until the API exits (without a watcher) or until stopped (with one: an API
        that exits, say on a syntax error, starts again at the next code change)."""
        self.start()
        while True:
            assert self.process is not None
            if watcher is None:
                return self.process.wait()
            try:
                code = self.process.wait(timeout=WATCH_INTERVAL_SECONDS)
            except subprocess.TimeoutExpired:
                changed = watcher.changed()
            else:
                print(f"API process exited ({code}); waiting for a code change", flush=True)
                changed = _next_change(watcher)
            if changed:
                self.restart(changed)


def _next_change(watcher: CodeWatcher) -> list[Path]:
    while not (changed := watcher.changed()):
        time.sleep(WATCH_INTERVAL_SECONDS)
    return changed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
    parser.add_argument(
        "--dynamodb-port", type=int, default=int(os.environ.get("DDB_PORT", "8001"))
    )
    parser.add_argument(
        "--no-autoreload",
        action="store_true",
        help="do not restart the API when the code changes (see WATCH_PATHS)",
    )
    args = parser.parse_args()

    LOCAL_DIR.mkdir(parents=True, exist_ok=True)
    database = DynamoDBLocal(args.dynamodb_port, LOCAL_DIR / "dynamodb").start()
    print(f"DynamoDB Local on {database.endpoint} (data in {LOCAL_DIR / 'dynamodb'})")
    api: ApiServer | None = None
    schedule: LocalSchedule | None = None
    streams: LocalStreamRunner | None = None
    sqs_server: Any = None

    def stop(signum: int, frame: FrameType | None) -> None:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        raise KeyboardInterrupt

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    try:
        environment = stage_environment("local")
        environment["DYNAMODB_ENDPOINT"] = database.endpoint
        environment["RATE_LIMIT_IN_APP"] = os.environ.get("RATE_LIMIT_IN_APP", "true")
        environment["CURSOR_SECRET"] = _secret_file(
            LOCAL_DIR / "cursor-secret", secrets.token_urlsafe(48)
        )
        # The audit chain's key: made (mode 600) by the chain's first digest.
        environment["AUDIT_SIGNING_KEY_FILE"] = str(LOCAL_DIR / "audit-signing-key.pem")

        environment["WEBHOOK_BACKOFF_SECONDS"] = os.environ.get("WEBHOOK_BACKOFF_SECONDS", "1")
        # Import files: sent to the API, read by the runner's import worker (one directory).
        environment["IMPORTS_DIR"] = str(LOCAL_DIR / "imports")
        sqs = local_sqs()
        environment.update(local_queues(sqs))
        sqs_server = local_sqs_server()
        prepare(environment)
        schedule = LocalSchedule()
        for name in schedule.start():
            print(f"scheduled function {name} runs locally")
        streams = local_stream_runner(environment, sqs)
        for name in streams.start():
            print(
                f"stream or queue function {name} runs locally "
                f"(stream failures: {LOCAL_DIR}/stream-failures.jsonl)"
            )
        base = f"http://127.0.0.1:{args.port}"
        print(
            f"\nAPI on {base}  (docs: {base}/docs)\n"
            f"Platform-admin key in {LOCAL_DIR / 'admin-key'}. Create a tenant with:\n"
            f"  curl -s -X POST {base}/v1/admin/tenants \\\n"
            f'    -H "Authorization: Bearer $(cat {LOCAL_DIR / "admin-key"})" \\\n'
            "    -H 'Content-Type: application/json' \\\n"
            """    -d '{"name": "Acme", "plan": "free"}'\n""",
            flush=True,
        )
        watcher = (
            None
            if args.no_autoreload
            else CodeWatcher(watched_paths_from(os.environ.get("WATCH_PATHS")))
        )
        if watcher is not None:
            print("restarts the API when these change: " + ", ".join(map(str, watcher.roots)))
        # The API's SQS calls (botocore reads AWS_ENDPOINT_URL_SQS) reach moto's queues here.
        sqs_url = "http://{}:{}".format(*sqs_server.get_host_and_port())
        api = ApiServer(args.port, {**environment, "AWS_ENDPOINT_URL_SQS": sqs_url})
        return api.serve(watcher)
    except KeyboardInterrupt:
        return 0
    finally:
        if api is not None:
            api.stop()
        if schedule is not None:
            schedule.stop()
        if streams is not None:
            streams.stop()
        if sqs_server is not None:
            sqs_server.stop()
        database.stop()
        print("stopped DynamoDB Local and the API")


if __name__ == "__main__":
    sys.exit(main())
