"""500 mutated Chromium offers, the corpus of past failures, and broken bodies, against the
real offer endpoint: every one is answered 4xx with a JSON error (or, if the mutation left a
valid offer, 200), never 5xx, and nothing leaks: peers, tasks' exceptions, files, threads."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import http.client
import json
import logging
import os
import threading
import urllib.parse

import pytest

from bot.server import create_app
from tests.conftest import loopback_config
from tests.sdp_mutations import CHROMIUM_OFFER, corpus, mutate
from tests.server_runner import running_server

pytestmark = pytest.mark.slow
MUTATIONS = 500


def post_raw(url: str, data: bytes, content_type: str = "application/json"
             ) -> tuple[int, bytes]:
    """POST and read the answer even when the server answers (413) and closes before the
    body is all sent, which urllib reports as a broken pipe."""
    parts = urllib.parse.urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    try:
        conn.putrequest("POST", parts.path)
        conn.putheader("Content-Type", content_type)
        conn.putheader("Content-Length", str(len(data)))
        conn.endheaders()
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            conn.send(data)
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def offer_body(sdp) -> bytes:
    return json.dumps({"type": "offer", "sdp": sdp, "name": "Fuzz", "listen": "en"},
                      ensure_ascii=False).encode("utf-8", "surrogateescape")


class Errors(logging.Handler):
    """Every ERROR logged anywhere (asyncio's "Task exception was never retrieved" too)."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def resources() -> tuple[int, int]:
    return len(os.listdir("/proc/self/fd")), threading.active_count()


def test_mutated_offers_and_broken_bodies_get_clean_refusals(engines):
    errors = Errors()
    logging.getLogger().addHandler(errors)

    async def main() -> dict[int, int]:
        config = loopback_config()
        from dataclasses import replace
        app = create_app(replace(config, joins_per_minute=100_000), engines=engines)
        async with running_server(app) as url:
            state = app.state.interpres
            offer = f"{url}/api/rooms/fuzz/offer"

            async def leave_everyone() -> None:
                for room in list(state.rooms.rooms.values()):
                    await room.close()

            # Warm-up: one valid offer, so lazily made pools and caches exist at baseline.
            status, body = await asyncio.to_thread(post_raw, offer, offer_body(CHROMIUM_OFFER))
            assert status == 200, body
            await leave_everyone()
            await asyncio.sleep(0.5)
            gc.collect()
            baseline = resources()

            cases = [offer_body(mutate(seed)) for seed in range(MUTATIONS)]
            cases += [offer_body(sdp) for _, sdp in corpus()]
            cases += [b"", b"\x00\xff\xfe" * 100, b'{"type": "offer", "sdp": "v=0\\r\\n',
                      offer_body(CHROMIUM_OFFER)[:-40], b"[]", b"null", b"12",
                      offer_body(None), offer_body(12), offer_body(["v=0"]),
                      offer_body("v=0\r\n" * 100_000), b"{" * 10_000]
            statuses: dict[int, int] = {}
            for data in cases:
                status, body = await asyncio.to_thread(post_raw, offer, data)
                statuses[status] = statuses.get(status, 0) + 1
                assert status < 500, (status, body, data[:300])
                if status == 200:
                    await leave_everyone()  # a mutation that left a valid offer
                else:
                    assert "error" in json.loads(body), body
            await leave_everyone()
            for _ in range(50):
                await asyncio.sleep(0.1)
                gc.collect()
                if not state.peer_connections and resources() <= baseline:
                    break
            assert not state.peer_connections and not state.rooms.rooms
            files, threads = resources()
            assert files <= baseline[0] + 2 and threads <= baseline[1] + 2, (baseline,
                                                                            resources())
            return statuses

    try:
        statuses = asyncio.run(main())
    finally:
        logging.getLogger().removeHandler(errors)
    assert not errors.records, [r.getMessage() for r in errors.records][:5]
    print("statuses:", statuses)
    assert statuses.get(400, 0) + statuses.get(413, 0) > MUTATIONS * 0.5, statuses
