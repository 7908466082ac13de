import os
import subprocess
import sys

import pytest

from bot.auth import AuthError, SecretError, TokenAuthority, bearer, load_secret
from bot.limits import RateLimiter

SECRET = b"0123456789abcdef0123456789abcdef"


def test_a_minted_token_verifies_for_its_room_only():
    authority = TokenAuthority(SECRET)
    token = authority.mint("standup", "  Ana   García ", listen_only=True)
    grant = authority.verify(token, "standup")
    assert (grant.room, grant.name, grant.speak, grant.listen) == (
        "standup", "Ana García", False, True)
    with pytest.raises(AuthError) as refused:
        authority.verify(token, "other")
    assert refused.value.status == 403


def test_clock_skew_is_tolerated_a_little():
    authority = TokenAuthority(SECRET)
    import time
    now = time.time()
    assert authority.verify(authority.mint("r", "n", ttl=60, now=now - 65), "r")  # 5 s late
    with pytest.raises(AuthError, match="expired"):
        authority.verify(authority.mint("r", "n", ttl=60, now=now - 90), "r")
    with pytest.raises(AuthError, match="not valid yet"):
        authority.verify(authority.mint("r", "n", now=now + 60), "r")


def test_ttl_and_secret_bounds():
    with pytest.raises(ValueError):
        TokenAuthority(SECRET).mint("r", "n", ttl=0)
    with pytest.raises(SecretError):
        TokenAuthority(b"short")


def test_secret_from_environment_or_file(tmp_path):
    assert load_secret({}) is None
    assert load_secret({"INTERPRES_TOKEN_SECRET": SECRET.decode()}) == SECRET
    path = tmp_path / "secret"
    path.write_text(SECRET.decode() + "\n")
    assert load_secret({"INTERPRES_TOKEN_SECRET_FILE": str(path)}) == SECRET
    with pytest.raises(SecretError, match="not both"):
        load_secret({"INTERPRES_TOKEN_SECRET": "x" * 40,
                     "INTERPRES_TOKEN_SECRET_FILE": str(path)})
    with pytest.raises(SecretError, match="cannot read"):
        load_secret({"INTERPRES_TOKEN_SECRET_FILE": str(tmp_path / "missing")})
    with pytest.raises(SecretError, match="at least 32 bytes"):
        load_secret({"INTERPRES_TOKEN_SECRET": "too short"})


def test_bearer_header():
    assert bearer("Bearer abc") == "abc"
    assert bearer("bearer  abc ") == "abc"
    assert bearer("Basic abc") is None
    assert bearer("Bearer ") is None
    assert bearer(None) is None


def test_rate_limiter_bursts_then_refills():
    limiter = RateLimiter(per_minute=60, burst=3)
    assert [limiter.acquire("ip", 0.0) for _ in range(3)] == [0.0, 0.0, 0.0]
    wait = limiter.acquire("ip", 0.0)
    assert wait == pytest.approx(1.0)  # one token a second
    assert limiter.acquire("other", 0.0) == 0.0  # per key
    assert limiter.acquire("ip", 1.0) == 0.0
    assert limiter.acquire("ip", 1.0) > 0


def test_rate_limiter_memory_is_bounded_under_a_flood_of_addresses():
    limiter = RateLimiter(per_minute=60, burst=2, max_keys=100)
    for i in range(10_000):
        limiter.acquire(f"10.0.{i // 256}.{i % 256}", i * 0.001)
    assert len(limiter._buckets) <= 100


def cli(*args: str, **env: str) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("INTERPRES_TOKEN")}
    return subprocess.run([sys.executable, "-m", "bot", *args], capture_output=True, text=True,
                          env={**clean, **env}, timeout=60)


def test_token_command_mints_what_the_server_accepts():
    done = cli("token", "--room", "standup", "--name", "Ana", "--listen-only", "--url",
               "https://meet.example.org/", INTERPRES_TOKEN_SECRET=SECRET.decode())
    assert done.returncode == 0, done.stderr
    token, link = done.stdout.split()
    assert link == f"https://meet.example.org/?room=standup#token={token}"
    assert not TokenAuthority(SECRET).verify(token, "standup").speak


def test_token_command_and_public_serve_need_a_secret():
    done = cli("token", "--room", "r", "--name", "n")
    assert done.returncode == 2 and "INTERPRES_TOKEN_SECRET" in done.stderr
    done = cli("serve", "--host", "0.0.0.0", "--port", "1")
    assert done.returncode == 2 and "needs join tokens" in done.stderr
