"""Time-limited TURN credentials, the coturn REST-API scheme (`use-auth-secret` in coturn).

username = "<expiry unix time>:<user>", password = base64(HMAC-SHA1(secret, username)).
coturn recomputes the HMAC with the same shared secret and refuses expired usernames, so
the server hands out credentials that die on their own and never stores any.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from dataclasses import dataclass

MAX_TTL = 3600  # credentials live an hour at most


@dataclass(frozen=True)
class TurnServer:
    urls: tuple[str, ...]  # e.g. ("turn:turn.example.org:3478?transport=udp", "turns:...")
    secret: bytes
    ttl: int = MAX_TTL

    def credentials(self, user: str, now: float | None = None,
                    ttl: int | None = None) -> dict[str, object]:
        """An RTCIceServer dict (what a browser's RTCPeerConnection takes)."""
        lifetime = min(ttl if ttl is not None else self.ttl, MAX_TTL)
        expiry = int((time.time() if now is None else now) + lifetime)
        username = f"{expiry}:{user}"
        digest = hmac.new(self.secret, username.encode(), hashlib.sha1).digest()
        return {"urls": list(self.urls), "username": username,
                "credential": base64.b64encode(digest).decode(), "ttl": lifetime}


def ice_servers(turn: TurnServer | None, user: str) -> list[dict[str, object]]:
    if turn is None:
        return []
    entry = turn.credentials(user)
    entry.pop("ttl")
    return [entry]


def aiortc_servers(turn: TurnServer | None, user: str) -> list:
    """The same for aiortc's RTCConfiguration."""
    from aiortc import RTCIceServer

    return [RTCIceServer(urls=s["urls"], username=s["username"], credential=s["credential"])
            for s in ice_servers(turn, user)]
