"""TURN: credentials minted by the server, checked by a real coturn (Debian's, in a network
namespace, started with deploy/coturn/turnserver.conf), used by a relay-only aiortc peer."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import replace

import pytest
from aiortc import (
    RTCConfiguration,
    RTCIceServer,
    RTCIceTransportPolicy,
    RTCPeerConnection,
    RTCSessionDescription,
)

from bot.auth import TokenAuthority
from bot.pipeline.engines import Engines
from bot.server import create_app
from bot.turn import MAX_TTL, TurnServer
from tests.conftest import loopback_config
from tests.janus_net import offering_only
from tests.rtc_client import post_json
from tests.server_runner import running_server
from tests.turn_net import HOST_IP, SECRET, Coturn, coturn_namespace

pytestmark = pytest.mark.slow


def test_credentials_follow_the_coturn_rest_scheme() -> None:
    turn = TurnServer(("turn:turn.example.org:3478",), b"secret", ttl=7200)
    entry = turn.credentials("ana", now=1_000_000)
    assert entry["ttl"] == MAX_TTL  # capped at an hour
    assert entry["username"] == f"{1_000_000 + MAX_TTL}:ana"
    expected = hmac.new(b"secret", entry["username"].encode(), hashlib.sha1).digest()
    assert entry["credential"] == base64.b64encode(expected).decode()
    assert entry["urls"] == ["turn:turn.example.org:3478"]


@pytest.fixture(scope="module")
def coturn(tmp_path_factory) -> Iterator[Coturn]:
    with offering_only(HOST_IP), coturn_namespace(tmp_path_factory.mktemp("coturn")) as running:
        yield running


def relay_only(entry: dict) -> RTCPeerConnection:
    server = RTCIceServer(urls=entry["urls"], username=entry["username"],
                          credential=entry["credential"])
    return RTCPeerConnection(RTCConfiguration(iceServers=[server],
                                              iceTransportPolicy=RTCIceTransportPolicy.RELAY))


async def offer_candidates(entry: dict) -> list[str]:
    pc = relay_only(entry)
    try:
        pc.addTransceiver("audio", direction="sendrecv")
        await pc.setLocalDescription(await pc.createOffer())
        return [line for line in pc.localDescription.sdp.splitlines()
                if line.startswith("a=candidate")]
    finally:
        await pc.close()


def test_coturn_refuses_expired_and_forged_credentials(coturn: Coturn) -> None:
    good = TurnServer((coturn.url,), SECRET.encode())
    forged = TurnServer((coturn.url,), b"not-the-secret-of-this-coturn-000")

    async def main() -> None:
        valid = await offer_candidates(good.credentials("ana"))
        assert any("typ relay" in c for c in valid), valid
        expired = await offer_candidates(good.credentials("ana", now=time.time() - 7200))
        assert expired == []
        assert await offer_candidates(forged.credentials("ana")) == []

    asyncio.run(main())
    # coturn said no to both (not a timeout, not an unreachable server).
    assert coturn.log.read_text(errors="replace").count("check_stun_auth: Cannot find") >= 2


def test_a_relay_only_peer_joins_with_credentials_from_the_server(coturn: Coturn,
                                                                  engines: Engines) -> None:
    secret = b"join-token-secret-for-the-turn-test!!"
    config = replace(loopback_config(), ice_addresses=(HOST_IP,), token_secret=secret,
                     turn=TurnServer((coturn.url,), SECRET.encode(), ttl=600))
    token = TokenAuthority(secret).mint("turnroom", "Ana")

    def ice(url: str, token: str | None) -> tuple[int, dict]:
        request = urllib.request.Request(f"{url}/api/ice?room=turnroom",
                                         headers={"Authorization": f"Bearer {token}"}
                                         if token else {})
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read())

    async def main() -> None:
        async with running_server(create_app(config, engines=engines)) as url:
            status, body = await asyncio.to_thread(ice, url, None)
            assert status == 401  # no token, no credentials
            status, body = await asyncio.to_thread(ice, url, token)
            assert status == 200 and body["ttl"] == 600
            [entry] = body["iceServers"]
            assert entry["urls"] == [coturn.url] and entry["username"].endswith(":Ana")
            expiry = int(entry["username"].split(":")[0])
            assert 0 < expiry - time.time() <= 600

            pc = relay_only(entry)
            pc.addTransceiver("audio", direction="sendrecv")
            pc.addTransceiver("audio", direction="recvonly")
            channel = pc.createDataChannel("captions")
            opened = asyncio.Event()
            channel.on("open", opened.set)
            await pc.setLocalDescription(await pc.createOffer())
            offer = pc.localDescription.sdp
            assert "typ relay" in offer and "typ host" not in offer
            status, answer = await asyncio.to_thread(
                post_json, f"{url}/api/rooms/turnroom/offer",
                {"sdp": offer, "type": "offer", "name": "Ana", "speak": "en", "listen": "fr"},
                {"Authorization": f"Bearer {token}"})
            assert status == 200, answer
            await pc.setRemoteDescription(RTCSessionDescription(answer["sdp"], "answer"))
            await asyncio.wait_for(opened.wait(), 20)  # media and data through the relay
            assert pc.connectionState == "connected"
            await pc.close()

    asyncio.run(main())
