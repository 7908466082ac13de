"""Mutated browser offers for fuzzing: deterministic (seeded) edits of a real Chromium offer.

Each operator breaks an offer the way a buggy or hostile client might: lines dropped,
duplicated or reordered, bytes flipped, numbers made absurd, sections added, the whole
thing truncated or blown past the limits.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable
from pathlib import Path

DATA = Path(__file__).resolve().parent / "data"
CHROMIUM_OFFER = (DATA / "chromium_offer.sdp").read_text()
CORPUS = DATA / "sdp_corpus"

JUNK_LINES = [
    "m=audio 0 RTP/AVP 0", "m=video 9 UDP/TLS/RTP/SAVPF 96", "m=application 9 x",
    "a=group:BUNDLE 9", "a=group:BUNDLE", "a=fingerprint:sha-256 XX", "a=fingerprint:",
    "a=ice-ufrag:", "a=ice-pwd:", "x", "=", "a=rtpmap:111 opus/0/0", "a=rtpmap:111",
    "a=candidate:1 1 udp 1 999.999.1.1 70000 typ host", "a=candidate:",
    "a=ssrc:abc cname:x", "a=rtpmap:999999999999 opus/48000/2", "a=setup:bogus",
    "a=mid:" + "Z" * 300, "a=sctp-port:-1", "a=max-message-size:99999999999999999999",
    "a=fmtp:111 " + ";".join(f"k{i}=v" for i in range(500)), "a=" + "A" * 20000,
    "a=msid-semantic:", "c=IN IP4", "c=IN IP6 ::::::", "m=", "a=extmap:99999 urn:x",
    "a=rtcp-fb:* nack", "a=ssrc-group:FID 1", "o=- x x IN IP4", "t=x y", "a=mid:0",
]
ABSURD_NUMBERS = ["0", "-1", "65536", str(2**64), "9" * 40, "NaN", "1e9", ""]


def drop_line(rng: random.Random, lines: list[str]) -> list[str]:
    del lines[rng.randrange(len(lines))]
    return lines


def duplicate_line(rng: random.Random, lines: list[str]) -> list[str]:
    i = rng.randrange(len(lines))
    lines.insert(rng.randrange(len(lines)), lines[i])
    return lines


def swap_lines(rng: random.Random, lines: list[str]) -> list[str]:
    i, j = rng.randrange(len(lines)), rng.randrange(len(lines))
    lines[i], lines[j] = lines[j], lines[i]
    return lines


def insert_junk(rng: random.Random, lines: list[str]) -> list[str]:
    lines.insert(rng.randrange(len(lines) + 1), rng.choice(JUNK_LINES))
    return lines


def absurd_number(rng: random.Random, lines: list[str]) -> list[str]:
    numbered = [i for i, line in enumerate(lines) if re.search(r"\d+", line)]
    i = rng.choice(numbered)
    matches = list(re.finditer(r"\d+", lines[i]))
    m = rng.choice(matches)
    lines[i] = lines[i][:m.start()] + rng.choice(ABSURD_NUMBERS) + lines[i][m.end():]
    return lines


def flip_chars(rng: random.Random, lines: list[str]) -> list[str]:
    i = rng.randrange(len(lines))
    chars = list(lines[i])
    for _ in range(rng.randint(1, 4)):
        if chars:
            chars[rng.randrange(len(chars))] = rng.choice(
                ["\x00", "\x7f", "é", "\u202e", " ", ":", "=", "/", "\ufffd", "9", "a"])
    lines[i] = "".join(chars)
    return lines


def remove_kind(rng: random.Random, lines: list[str]) -> list[str]:
    prefix = rng.choice(["a=fingerprint", "a=ice-ufrag", "a=ice-pwd", "a=mid", "a=rtpmap",
                         "a=setup", "m=", "a=group", "a=sctp-port", "c="])
    return [line for line in lines if not line.startswith(prefix)]


def repeat_line(rng: random.Random, lines: list[str]) -> list[str]:
    i = rng.randrange(len(lines))
    return lines[:i] + [lines[i]] * rng.choice([50, 500, 5000]) + lines[i:]


def change_direction(rng: random.Random, lines: list[str]) -> list[str]:
    for i, line in enumerate(lines):
        if line in ("a=sendrecv", "a=recvonly", "a=sendonly", "a=inactive"):
            lines[i] = rng.choice(["a=sendonly", "a=inactive", "a=sendrecv", "a=bogus"])
    return lines


OPERATORS: list[Callable[[random.Random, list[str]], list[str]]] = [
    drop_line, duplicate_line, swap_lines, insert_junk, absurd_number, flip_chars,
    remove_kind, repeat_line, change_direction]


def mutate(seed: int, offer: str = CHROMIUM_OFFER) -> str:
    rng = random.Random(seed)
    lines = offer.replace("\r\n", "\n").rstrip("\n").split("\n")
    for _ in range(rng.choice([1, 1, 1, 2, 3])):
        lines = rng.choice(OPERATORS)(rng, lines) or ["v=0"]
    text = "\r\n".join(lines) + "\r\n"
    if rng.random() < 0.08:  # truncated in transit
        text = text[: rng.randrange(len(text))]
    return text


def corpus() -> list[tuple[str, str]]:
    """(name, sdp) of every offer that once broke something: replayed on every run."""
    return [(path.name, path.read_text(encoding="utf-8", errors="surrogateescape"))
            for path in sorted(CORPUS.glob("*.sdp"))]
