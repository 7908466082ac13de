"""Validate a browser's SDP offer before any RTCPeerConnection exists.

A LocalRoom offer must have exactly the media sections the page creates (audio sendrecv,
audio recvonly, one data channel), bundled, with ICE credentials and a DTLS fingerprint.
Anything else is refused with a reason a developer can act on.
"""

from __future__ import annotations

import re

MAX_SDP_BYTES = 32 * 1024
MAX_LINES = 400
MAX_LINE = 4096
# RFC 8122 fingerprint: a hash name, then hex byte pairs separated by colons.
FINGERPRINT = re.compile(r"^a=fingerprint:(sha-1|sha-224|sha-256|sha-384|sha-512) "
                         r"[0-9A-Fa-f]{2}(:[0-9A-Fa-f]{2}){15,63}$")
# RFC 8839: ice-char = ALPHA / DIGIT / "+" / "/"; ufrag 4..256, pwd 22..256 characters.
ICE_UFRAG = re.compile(r"^a=ice-ufrag:[A-Za-z0-9+/]{4,256}$")
ICE_PWD = re.compile(r"^a=ice-pwd:[A-Za-z0-9+/]{22,256}$")
MID = re.compile(r"^a=mid:[A-Za-z0-9_.~-]{1,32}$")  # RFC 8843: at most 16 bytes advised
MEDIA = re.compile(r"^m=(audio|video|application|text|message) \d{1,5}(/\d{1,5})? "
                   r"[A-Za-z0-9/_.-]{1,64}( [A-Za-z0-9_.-]{1,64}){1,64}$")
DIRECTIONS = {"a=sendrecv", "a=sendonly", "a=recvonly", "a=inactive"}


class SdpError(ValueError):
    pass


def check_offer(sdp: str) -> None:
    if not isinstance(sdp, str) or not sdp:
        raise SdpError("sdp must be a non-empty string")
    if len(sdp.encode("utf-8", "replace")) > MAX_SDP_BYTES:
        raise SdpError(f"sdp larger than {MAX_SDP_BYTES} bytes")
    lines = [line.rstrip("\r") for line in sdp.split("\n") if line.strip()]
    if len(lines) > MAX_LINES:
        raise SdpError(f"sdp has more than {MAX_LINES} lines")
    if not lines or lines[0] != "v=0":
        raise SdpError("sdp must start with v=0")
    if any(len(line) < 2 or line[1] != "=" or not line[0].isalpha() for line in lines):
        raise SdpError("sdp lines must look like x=...")
    if any(len(line) > MAX_LINE for line in lines):
        raise SdpError(f"sdp lines must be under {MAX_LINE} characters")
    if any(not line.isprintable() for line in lines):
        raise SdpError("sdp lines must not hold control characters")
    sections: list[list[str]] = [[]]
    for line in lines:
        if line.startswith("m="):
            sections.append([])
        sections[-1].append(line)
    session, media = sections[0], sections[1:]
    for section in media:
        if not MEDIA.match(section[0]) or int(section[0].split()[1].split("/")[0]) > 65535:
            raise SdpError(f"malformed media line {section[0][:60]!r}")
    kinds = [m[0].split()[0][2:] for m in media]
    if kinds.count("audio") != 2 or kinds.count("application") != 1 or len(kinds) != 3:
        raise SdpError("expected exactly two audio sections and one data channel "
                       f"(got {', '.join(kinds) or 'none'})")
    mids = []
    for section in media:
        attrs = session + section
        ufrags = [a for a in attrs if a.startswith("a=ice-ufrag:")]
        pwds = [a for a in attrs if a.startswith("a=ice-pwd:")]
        if not ufrags or not pwds:
            raise SdpError("every media section needs ICE credentials (a=ice-ufrag, a=ice-pwd)")
        if not all(ICE_UFRAG.match(a) for a in ufrags) or not all(
                ICE_PWD.match(a) for a in pwds):
            raise SdpError("malformed ICE credentials (ufrag 4-256, pwd 22-256 ice-chars)")
        prints = [a for a in attrs if a.startswith("a=fingerprint:")]
        if not prints:
            raise SdpError("every media section needs a DTLS fingerprint (a=fingerprint)")
        if not all(FINGERPRINT.match(a) for a in prints):
            raise SdpError("malformed DTLS fingerprint (a=fingerprint:sha-256 AB:CD:...)")
        found = [a for a in section if a.startswith("a=mid:")]
        if len(found) != 1 or not MID.match(found[0]):
            raise SdpError("every media section needs one a=mid of 1-32 token characters")
        if len([a for a in section if a in DIRECTIONS]) > 1:
            raise SdpError("a media section may state one direction")
        mids.append(found[0][6:])
    if len(set(mids)) != len(mids):
        raise SdpError("media sections must have distinct a=mid values")
    bundle = next((a for a in session if a.startswith("a=group:BUNDLE")), None)
    if bundle is not None and sorted(bundle.split()[1:]) != sorted(mids):
        raise SdpError("a=group:BUNDLE does not list exactly the media sections' mids")
