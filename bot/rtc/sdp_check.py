"""Validate a browser's SDP offer before any RTCPeerConnection exists.

A LocalRoom offer must have exactly the media sections the page creates (audio sendrecv,
audio recvonly, one data channel), bundled, with ICE credentials and a DTLS fingerprint.
Anything else is refused with a reason a developer can act on.
"""

from __future__ import annotations

MAX_SDP_BYTES = 32 * 1024
MAX_LINES = 400


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
    sections: list[list[str]] = [[]]
    for line in lines:
        if line.startswith("m="):
            sections.append([])
        sections[-1].append(line)
    session, media = sections[0], sections[1:]
    kinds = [m[0].split()[0][2:] for m in media]
    if kinds.count("audio") != 2 or kinds.count("application") != 1 or len(kinds) != 3:
        raise SdpError("expected exactly two audio sections and one data channel "
                       f"(got {', '.join(kinds) or 'none'})")
    mids = []
    for section in media:
        attrs = session + section
        if not any(a.startswith("a=ice-ufrag:") for a in attrs) or not any(
                a.startswith("a=ice-pwd:") for a in attrs):
            raise SdpError("every media section needs ICE credentials (a=ice-ufrag, a=ice-pwd)")
        if not any(a.startswith("a=fingerprint:") for a in attrs):
            raise SdpError("every media section needs a DTLS fingerprint (a=fingerprint)")
        mid = next((a[6:] for a in section if a.startswith("a=mid:")), None)
        if mid is None:
            raise SdpError("every media section needs a=mid")
        mids.append(mid)
    bundle = next((a for a in session if a.startswith("a=group:BUNDLE")), None)
    if bundle is not None and sorted(bundle.split()[1:]) != sorted(mids):
        raise SdpError("a=group:BUNDLE does not list exactly the media sections' mids")
