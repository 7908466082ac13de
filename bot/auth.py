"""Join tokens: who may enter which room, under which name, with which rights.

A token is a JWT signed with HS256 and a server secret:

    {"aud": "interpres", "room": "standup", "name": "Ana", "speak": true, "listen": true,
     "iat": ..., "nbf": ..., "exp": ...}

Only HS256 is accepted (never `none`, never an algorithm named by the token), and `exp`,
`nbf`, `aud`, `room` and `name` are required. `interpres token` mints them; the page reads
one from its URL fragment (`#token=...`, never sent in a Referer or a server log) and sends
it as `Authorization: Bearer`.

The secret comes from INTERPRES_TOKEN_SECRET or the file named by
INTERPRES_TOKEN_SECRET_FILE; there is no default in the code.
"""

from __future__ import annotations

import os
import secrets
import time
from dataclasses import dataclass
from pathlib import Path

import jwt

ALGORITHM = "HS256"
AUDIENCE = "interpres"
MIN_SECRET_BYTES = 32
MAX_TTL = 7 * 24 * 3600
LEEWAY = 10  # seconds of clock skew tolerated on exp and nbf
REQUIRED = ["exp", "nbf", "aud", "room", "name"]


class AuthError(Exception):
    """A refused request: `status` is 401 (no valid token) or 403 (valid, not for this)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class SecretError(ValueError):
    """The configured secret is missing, unreadable or too short."""


@dataclass(frozen=True)
class Grant:
    room: str
    name: str
    speak: bool
    listen: bool


def load_secret(env: dict[str, str] | None = None) -> bytes | None:
    """The signing secret from the environment, or None when none is configured."""
    env = dict(os.environ) if env is None else env
    value = env.get("INTERPRES_TOKEN_SECRET", "")
    path = env.get("INTERPRES_TOKEN_SECRET_FILE", "")
    if value and path:
        raise SecretError("set INTERPRES_TOKEN_SECRET or INTERPRES_TOKEN_SECRET_FILE, not both")
    if path:
        try:
            value = Path(path).expanduser().read_text(encoding="utf-8").strip()
        except OSError as problem:
            raise SecretError(f"cannot read INTERPRES_TOKEN_SECRET_FILE {path}: "
                              f"{problem.strerror or problem}") from None
    if not value:
        return None
    secret = value.encode("utf-8")
    if len(secret) < MIN_SECRET_BYTES:
        raise SecretError(f"the token secret must be at least {MIN_SECRET_BYTES} bytes; make one "
                          "with: python -c 'import secrets; print(secrets.token_urlsafe(48))'")
    return secret


def new_secret() -> str:
    return secrets.token_urlsafe(48)


class TokenAuthority:
    def __init__(self, secret: bytes) -> None:
        if len(secret) < MIN_SECRET_BYTES:
            raise SecretError(f"the token secret must be at least {MIN_SECRET_BYTES} bytes")
        self._secret = secret

    def mint(self, room: str, name: str, ttl: float = 3600, listen_only: bool = False,
             now: float | None = None) -> str:
        if not 0 < ttl <= MAX_TTL:
            raise ValueError(f"ttl must be between 1 s and {MAX_TTL} s")
        issued = int(time.time() if now is None else now)
        claims = {"aud": AUDIENCE, "room": room, "name": name, "speak": not listen_only,
                  "listen": True, "iat": issued, "nbf": issued, "exp": issued + int(ttl)}
        return jwt.encode(claims, self._secret, algorithm=ALGORITHM)

    def verify(self, token: str, room: str) -> Grant:
        """The grant of a token for `room`; AuthError 401 if the token is not valid, 403 if
        it is valid but for another room."""
        try:
            claims = jwt.decode(token, self._secret, algorithms=[ALGORITHM], audience=AUDIENCE,
                                leeway=LEEWAY, options={"require": REQUIRED})
        except jwt.ExpiredSignatureError:
            raise AuthError(401, "the join token has expired: ask for a new link") from None
        except jwt.ImmatureSignatureError:
            raise AuthError(401, "the join token is not valid yet") from None
        except jwt.InvalidTokenError as problem:
            raise AuthError(401, f"invalid join token: {problem}") from None
        name = claims.get("name")
        if claims.get("room") != room:
            raise AuthError(403, "this join token is for another room")
        if not isinstance(name, str) or not name.strip() or len(name) > 48:
            raise AuthError(401, "invalid join token: name must be 1 to 48 characters")
        return Grant(room=room, name=" ".join(name.split()), speak=claims.get("speak") is True,
                     listen=claims.get("listen", True) is True)


def bearer(header: str | None) -> str | None:
    """The token of an `Authorization: Bearer <token>` header."""
    if not header:
        return None
    scheme, _, value = header.partition(" ")
    return value.strip() or None if scheme.lower() == "bearer" else None
