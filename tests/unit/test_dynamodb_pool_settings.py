"""DYNAMODB_MAX_POOL_CONNECTIONS: the shared DynamoDB client keeps a connection for every
thread that calls it at once (else botocore warns "Connection pool is full" and discards)."""

from __future__ import annotations

import pytest

from chalicelib.services.campaigns import SEND_WORKERS
from chalicelib.services.loyalty import BATCH_WORKERS
from chalicelib.settings import Settings, SettingsError
from devtools.stage import stage_environment
from tests.support.settings import DEPLOYED_ENVIRON


def _pool(environ: dict[str, str]) -> int:
    return Settings.from_environ({**DEPLOYED_ENVIRON, **environ}).dynamodb_max_pool_connections


def test_a_deployed_function_keeps_a_connection_for_each_thread_of_one_invocation() -> None:
    # A Lambda container serves one request at a time; its widest fan-out is its threads
    assert _pool({}) >= max(SEND_WORKERS, BATCH_WORKERS)


def test_the_local_stage_keeps_more_for_chalice_locals_request_threads() -> None:
    # `chalice local` serves every request on a thread of its own (20 clients: 20 threads)
    local = _pool({**stage_environment("local"), "CURSOR_SECRET": "c" * 40})
    assert local == 64 and local > _pool({})


@pytest.mark.parametrize("value", ["0", "-1", "many"])
def test_an_unusable_pool_size_is_refused(value: str) -> None:
    with pytest.raises(SettingsError, match="DYNAMODB_MAX_POOL_CONNECTIONS"):
        _pool({"DYNAMODB_MAX_POOL_CONNECTIONS": value})
